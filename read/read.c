/*
 * libp2mread's entry point: the attempts, the generation rule, the views
 * and the messages (see include/p2mread/read.h for the contract).
 *
 * One attempt loads the shared_info fields once, walks (list.c or
 * tree.c) and releases every view. In list mode the generation is loaded
 * before and after: an odd start or a move means the guest changed the
 * list's mapping while we read, so whatever we saw (success or refusal)
 * is discarded and the read starts again, at most `attempts` times.
 */
#include <stdarg.h>

#include "internal.h"
#include "p2m/fmt.h"

static const char *const names[P2MR_NERRORS] = {
	[P2MR_OK] = "OK",
	[P2MR_EINVAL] = "EINVAL",
	[P2MR_ENOP2M] = "ENOP2M",
	[P2MR_ELIMIT] = "ELIMIT",
	[P2MR_ETREE_SIZE] = "ETREE_SIZE",
	[P2MR_EFLL_MFN] = "EFLL_MFN",
	[P2MR_EFLL_MAP] = "EFLL_MAP",
	[P2MR_EFLL_ENTRY] = "EFLL_ENTRY",
	[P2MR_EFL_MAP] = "EFL_MAP",
	[P2MR_EFL_ENTRY] = "EFL_ENTRY",
	[P2MR_ECR3] = "ECR3",
	[P2MR_EVADDR] = "EVADDR",
	[P2MR_EPT_MAP] = "EPT_MAP",
	[P2MR_EPT_ENTRY] = "EPT_ENTRY",
	[P2MR_ESUPERPAGE] = "ESUPERPAGE",
	[P2MR_ELOOP] = "ELOOP",
	[P2MR_ELEAF_MAP] = "ELEAF_MAP",
	[P2MR_EGENERATION] = "EGENERATION",
	[P2MR_ESTOPPED] = "ESTOPPED",
	[P2MR_ELEAF_M2P] = "ELEAF_M2P",
};

const char *p2mr_strerror(int err)
{
	if (err < 0)
		err = -err;
	return err < P2MR_NERRORS ? names[err] : "?";
}

struct rd_hex rd_hex(uint64_t v)
{
	struct rd_hex h;

	if (v)
		p2m_snprintf(h.s, sizeof(h.s), "%#llx", (unsigned long long)v);
	else
		h.s[0] = '0', h.s[1] = '\0';
	return h;
}

int rd_fail(struct rd *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p2m_vsnprintf(r->res->error, sizeof(r->res->error), fmt, ap);
	va_end(ap);
	return -code;
}

const uint64_t *rd_view(struct rd *r, unsigned slot, uint64_t mfn)
{
	struct rd_view *v = &r->v[slot];

	if (v->page && v->mfn == mfn)
		return v->page;
	if (v->page)
		r->fr->unmap(r->fr->ctx, v->mfn, v->page);
	v->page = (void *)0;
	/* The walks check every mfn first; this is the last line. */
	if (mfn == 0 || mfn > r->fr->max_mfn)
		return (void *)0;
	v->page = r->fr->map(r->fr->ctx, mfn);
	v->mfn = mfn;
	if (v->page)
		r->res->maps++;
	return v->page;
}

void rd_drop(struct rd *r)
{
	for (unsigned i = 0; i < P2MR_MAX_MAPPINGS; i++)
		if (r->v[i].page) {
			r->fr->unmap(r->fr->ctx, r->v[i].mfn, r->v[i].page);
			r->v[i].page = (void *)0;
		}
}

int rd_hand_out(struct rd *r, uint64_t index, uint64_t mfn)
{
	const uint64_t *page = rd_view(r, 0, mfn);
	struct p2mr_leaf leaf;
	uint64_t left;
	int rc;

	if (!page)
		return rd_fail(r, P2MR_ELEAF_MAP, "Failed to map p2m frames (leaf %llu, mfn %s)",
			       (unsigned long long)index, RD_HEX(mfn));
	r->res->leaves++;
	if (!r->fn)
		return 0;
	left = r->res->count - index * RD_FPP;
	leaf.first = index * RD_FPP;
	leaf.index = index;
	leaf.mfn = mfn;
	leaf.entries = page;
	leaf.n = left < RD_FPP ? (unsigned)left : (unsigned)RD_FPP;
	leaf.attempt = r->attempt;
	rc = r->fn(r->arg, &leaf);
	if (rc) {
		r->res->stop = rc;
		return rd_fail(r, P2MR_ESTOPPED, "read stopped by the caller at leaf %llu (%d)",
			       (unsigned long long)index, rc);
	}
	return 0;
}

int rd_check_leaf_m2p(struct rd *r, uint64_t index, uint64_t mfn,
		      int (*lookup)(struct rd *r, uint64_t slot, uint64_t *leaf))
{
	uint64_t pfn, leaf, e;
	const uint64_t *page;
	int rc;

	if (!r->fr->m2p)
		return 0;
	if (r->fr->m2p(r->fr->ctx, mfn, &pfn) != 0)
		return rd_fail(r, P2MR_ELEAF_M2P,
			       "Bad mfn in p2m_frame_list[%llu] (mfn %s has no M2P entry)",
			       (unsigned long long)index, RD_HEX(mfn));
	if (pfn >= r->res->count)
		return rd_fail(r, P2MR_ELEAF_M2P,
			       "Bad mfn in p2m_frame_list[%llu] (mfn %s: M2P gives pfn %s, beyond max_pfn %s)",
			       (unsigned long long)index, RD_HEX(mfn), RD_HEX(pfn),
			       RD_HEX(r->res->count - 1));
	r->in_check = true;
	rc = lookup(r, pfn / RD_FPP, &leaf);
	r->in_check = false;
	if (rc)
		return rc;
	page = rd_view(r, 0, leaf);
	if (!page)
		return rd_fail(r, P2MR_ELEAF_MAP, "Failed to map p2m frames (leaf %llu, mfn %s)",
			       (unsigned long long)(pfn / RD_FPP), RD_HEX(leaf));
	e = rd_load(&page[pfn % RD_FPP]);
	if (e != mfn)
		return rd_fail(r, P2MR_ELEAF_M2P,
			       "Bad mfn in p2m_frame_list[%llu] (mfn %s: M2P gives pfn %s, whose entry is %s)",
			       (unsigned long long)index, RD_HEX(mfn), RD_HEX(pfn), RD_HEX(e));
	return 0;
}

int rd_poll(struct rd *r, uint64_t x)
{
	uint64_t g;

	if (!r->generation || x % RD_FPP)
		return 0;
	g = __atomic_load_n(r->generation, __ATOMIC_ACQUIRE);
	if (g == r->g0)
		return 0;
	return rd_fail(r, P2MR_EGENERATION, "p2m generation moved during the read (%s -> %s)",
		       RD_HEX(r->g0), RD_HEX(g));
}

int rd_check_limit(struct rd *r)
{
	if (r->count <= r->max_pfn)
		return 0;
	return rd_fail(r, P2MR_ELIMIT, "max_pfn %s exceeds the reader's limit %s", RD_HEX(r->count),
		       RD_HEX(r->max_pfn));
}

/* One read. *moved: the generation says the list changed meanwhile. */
static int attempt(struct rd *r, const struct arch_shared_info *s, bool tree_only, bool *moved)
{
	struct p2mr_result *res = r->res;
	uint64_t g0 = __atomic_load_n(&s->p2m_generation, __ATOMIC_ACQUIRE);
	bool gen_valid;
	int rc;

	r->count = __atomic_load_n(&s->max_pfn, __ATOMIC_ACQUIRE);
	r->fll = __atomic_load_n(&s->pfn_to_mfn_frame_list_list, __ATOMIC_ACQUIRE);
	r->cr3 = __atomic_load_n(&s->p2m_cr3, __ATOMIC_ACQUIRE);
	r->vaddr = __atomic_load_n(&s->p2m_vaddr, __ATOMIC_ACQUIRE);
	gen_valid = r->cr3 != 0;
	r->generation = gen_valid ? &s->p2m_generation : (void *)0;
	r->g0 = g0;
	res->mode = gen_valid && !tree_only ? P2MR_MODE_LIST : P2MR_MODE_TREE;
	res->published = r->count;
	res->count = res->leaves = 0;
	res->gen_before = res->gen_after = g0;
	res->error[0] = '\0';
	if (gen_valid && (g0 & 1)) {
		*moved = true;
		return rd_fail(r, P2MR_EGENERATION,
			       "p2m generation %s is odd: an update is in progress",
			       RD_HEX(g0));
	}
	if (r->count == 0)
		rc = rd_fail(r, P2MR_ENOP2M, "max_pfn is 0: the guest has published no P2M");
	else if (res->mode == P2MR_MODE_LIST)
		rc = rd_list(r);
	else
		rc = rd_tree(r);
	rd_drop(r);
	res->gen_after = __atomic_load_n(&s->p2m_generation, __ATOMIC_ACQUIRE);
	*moved = gen_valid && res->gen_after != g0;
	if (!*moved)
		res->generation = g0;
	return rc;
}

int p2mr_read(const struct arch_shared_info *shared, const struct p2mr_frames *frames,
	      const struct p2mr_options *opt, p2mr_leaf_fn fn, void *arg,
	      struct p2mr_result *res)
{
	struct rd r = { 0 };
	unsigned attempts = opt && opt->attempts ? opt->attempts : P2MR_DEFAULT_ATTEMPTS;
	bool tree_only = opt && opt->tree_only, moved = false;
	int rc = 0;

	if (!res)
		return -P2MR_EINVAL;
	*res = (struct p2mr_result){ 0 };
	r.res = res;
	if (!shared || !frames || !frames->map || !frames->unmap)
		return rd_fail(&r, P2MR_EINVAL, "no shared_info or no frame map/unmap operations");
	r.fr = frames;
	r.fn = fn;
	r.arg = arg;
	r.max_pfn = opt && opt->max_pfn ? opt->max_pfn : P2MR_DEFAULT_MAX_PFN;
	for (r.attempt = 1; r.attempt <= attempts; r.attempt++) {
		if (r.attempt > 1 && frames->wait)
			frames->wait(frames->ctx, r.attempt);
		res->attempts = r.attempt;
		rc = attempt(&r, shared, tree_only, &moved);
		if (!moved || rc == -P2MR_ESTOPPED)
			return rc;
	}
	return rd_fail(&r, P2MR_EGENERATION,
		       "p2m generation count changed. Migration aborted. (%u reads; the last began at generation %s, ended at %s)",
		       attempts, RD_HEX(res->gen_before), RD_HEX(res->gen_after));
}
