/*
 * The host's toolstack reader (toolstack.h): libp2mread over frames read
 * by copy (ts_copies). "Mapping" a frame copies it into a free buffer of a
 * small pool (libp2mread holds at most P2MR_MAX_MAPPINGS at once);
 * unmapping frees the buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/toolstack.h"
#include "platform/hosted.h"

static const void *copy_map(void *ctx, uint64_t mfn)
{
	struct ts_copies *c = ctx;

	for (unsigned i = 0; i < P2MR_MAX_MAPPINGS; i++)
		if (!c->used[i]) {
			if (c->fr->read_frame(c->fr->ctx, mfn, c->page[i]))
				return NULL;
			c->used[i] = true;
			return c->page[i];
		}
	return NULL;
}

static void copy_unmap(void *ctx, uint64_t mfn, const void *page)
{
	struct ts_copies *c = ctx;

	(void)mfn;
	for (unsigned i = 0; i < P2MR_MAX_MAPPINGS; i++)
		if (page == c->page[i])
			c->used[i] = false;
}

static int copy_m2p(void *ctx, uint64_t mfn, uint64_t *pfn)
{
	struct ts_copies *c = ctx;

	return c->fr->m2p(c->fr->ctx, mfn, pfn);
}

void ts_copies_frames(struct ts_copies *c, const struct ts_frames *fr, struct p2mr_frames *out)
{
	memset(c->used, 0, sizeof(c->used));
	c->fr = fr;
	*out = (struct p2mr_frames){ .ctx = c, .map = copy_map, .unmap = copy_unmap,
				     .m2p = fr->m2p ? copy_m2p : NULL, .max_mfn = fr->max_mfn };
}

/* ts_read_p2m's state: the buffers and the caller's leaf function. */
struct copies {
	struct ts_copies c;
	ts_leaf_fn fn;
	void *arg;
};

static int hosted_read(void *ctx, xen_pfn_t mfn, void *buf)
{
	return hosted_read_frame(ctx, mfn, buf);
}

void ts_frames_hosted(struct ts_frames *f, struct hosted *h, xen_pfn_t max_mfn)
{
	f->ctx = h;
	f->read_frame = hosted_read;
	f->max_mfn = max_mfn ? max_mfn : HOSTED_MFN_BASE + HOSTED_MAX_FRAMES - 1;
	f->m2p = NULL;
}

int ts_hosted_m2p(void *hosted, uint64_t mfn, uint64_t *pfn)
{
	xen_pfn_t p;
	int rc = hosted_m2p(hosted, mfn, &p);

	if (rc == 0)
		*pfn = p;
	return rc;
}

static int leaf_cb(void *arg, const struct p2mr_leaf *l)
{
	struct copies *c = arg;

	return c->fn(c->arg, l->first, l->entries, l->n, l->mfn);
}

int ts_read_p2m(const struct arch_shared_info *arch, const struct ts_frames *fr,
		const struct ts_options *opt, ts_leaf_fn fn, void *arg,
		struct ts_result *res)
{
	struct copies *c = calloc(1, sizeof(*c));
	struct p2mr_frames pf;
	struct p2mr_options po = { 0 };
	struct p2mr_result pr;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!c) {
		strcpy(res->error, "Cannot allocate the reader's frame buffers");
		return -P2MR_EINVAL;
	}
	if (opt)
		po = (struct p2mr_options){ opt->max_pfn, opt->attempts, opt->tree_only };
	ts_copies_frames(&c->c, fr, &pf);
	c->fn = fn;
	c->arg = arg;
	rc = p2mr_read(arch, &pf, &po, fn ? leaf_cb : NULL, c, &pr);
	free(c);
	res->mode = (enum ts_mode)pr.mode;
	res->count = pr.published;
	res->saver_count = pr.count;
	res->leaves = pr.leaves;
	res->maps = pr.maps;
	res->attempts = pr.attempts;
	res->gen_before = pr.gen_before;
	res->gen_after = pr.gen_after;
	res->gen_changed = rc == -P2MR_EGENERATION;
	memcpy(res->error, pr.error, sizeof(res->error));
	return rc == -P2MR_ESTOPPED ? pr.stop : rc;
}

struct into_array {
	uint64_t *a;
};

static int copy_leaf(void *arg, uint64_t first, const uint64_t *e, unsigned n, xen_pfn_t leaf)
{
	struct into_array *ia = arg;

	(void)leaf;
	for (unsigned i = 0; i < n; i++)
		ia->a[first + i] = __atomic_load_n(&e[i], __ATOMIC_RELAXED);
	return 0;
}

int ts_read_p2m_array(const struct arch_shared_info *arch, const struct ts_frames *fr,
		      const struct ts_options *opt, uint64_t **out, struct ts_result *res)
{
	uint64_t count = __atomic_load_n(&arch->max_pfn, __ATOMIC_ACQUIRE);
	uint64_t cap = opt && opt->max_pfn ? opt->max_pfn : P2MR_DEFAULT_MAX_PFN;
	struct ts_options o = opt ? *opt : (struct ts_options){ 0 };
	struct into_array ia;
	int rc;

	*out = NULL;
	memset(res, 0, sizeof(*res));
	if (count > cap) {
		snprintf(res->error, sizeof(res->error),
			 "max_pfn %#llx exceeds the reader's limit %#llx",
			 (unsigned long long)count, (unsigned long long)cap);
		return -P2MR_ELIMIT;
	}
	ia.a = malloc((count ? count : 1) * sizeof(uint64_t));
	if (!ia.a) {
		snprintf(res->error, sizeof(res->error), "Cannot allocate %llu entries",
			 (unsigned long long)count);
		return -P2MR_EINVAL;
	}
	memset(ia.a, 0xff, (count ? count : 1) * sizeof(uint64_t));
	/* The array holds count entries: a guest raising max_pfn meanwhile
	 * must not make the reader write past it. */
	o.max_pfn = count ? count : 1;
	rc = ts_read_p2m(arch, fr, &o, copy_leaf, &ia, res);
	if (rc) {
		free(ia.a);
		return rc;
	}
	*out = ia.a;
	return 0;
}
