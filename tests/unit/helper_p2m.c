/* Shared helpers of the libp2m unit tests: see helper_p2m.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"

static void platform_cfg(struct fx *f, const struct hosted_config *cfg)
{
	char err[256];

	memset(f, 0, sizeof(*f));
	f->h = hosted_create(cfg, err, sizeof(err));
	if (!f->h)
		fail_msg("hosted platform: %s", err);
	hosted_platform(f->h, &f->plat);
}

void fx_platform(struct fx *f)
{
	platform_cfg(f, NULL);
}

void fx_init(struct fx *f, uint64_t capacity, bool tree)
{
	fx_init_cfg(f, NULL, capacity, tree);
}

void fx_init_cfg(struct fx *f, const struct hosted_config *cfg, uint64_t capacity,
		 bool tree)
{
	int rc;

	platform_cfg(f, cfg);
	rc = p2m_create(&f->p, &f->plat, capacity, tree);
	if (rc)
		fail_msg("p2m_create(%#llx): %d %s", (unsigned long long)capacity, rc,
			 p2m_last_error(&f->p));
	f->created = true;
	fx_check_accounting(f);
}

uint64_t fx_live(struct fx *f)
{
	struct hosted_stats st;

	hosted_get_stats(f->h, &st);
	return st.live_frames - (f->list_held ? f->list_pages : 0);
}

void fx_list_new(struct fx *f, const uint64_t *v, uint64_t n)
{
	f->list_pages = (n + P2M_PER_PAGE - 1) / P2M_PER_PAGE;
	f->list_frames = malloc(f->list_pages * sizeof(xen_pfn_t));
	assert_non_null(f->list_frames);
	assert_int_equal(hosted_list_new(f->h, f->list_pages, f->list_frames, &f->list_va), 0);
	memcpy(f->list_va, v, n * sizeof(uint64_t));
	f->list_held = true;
}

void fx_list_adopted(struct fx *f)
{
	f->list_held = false;
}

static void list_drop(struct fx *f)
{
	if (f->list_held)
		f->plat.free_frames(f->plat.ctx, f->list_pages, f->list_frames);
	hosted_list_unmap(f->h, f->list_va, f->list_pages);
	free(f->list_frames);
	f->list_frames = NULL;
	f->list_va = NULL;
	f->list_held = false;
}

void fx_check_accounting(struct fx *f)
{
	struct p2m_stats st;

	p2m_get_stats(&f->p, &st);
	if (fx_live(f) != st.bytes / 4096)
		fail_msg("platform holds %llu frames, libp2m accounts for %llu "
			 "(leaves %llu tables %llu mids %llu meta %llu shared %llu)",
			 (unsigned long long)fx_live(f), (unsigned long long)(st.bytes / 4096),
			 (unsigned long long)st.private_leaves, (unsigned long long)st.private_tables,
			 (unsigned long long)st.mid_pages, (unsigned long long)st.meta_pages,
			 (unsigned long long)st.shared_pages);
}

void fx_fini(struct fx *f)
{
	if (f->created) {
		fx_check_accounting(f);
		p2m_destroy(&f->p);
		f->created = false;
		if (fx_live(f) != 0)
			fail_msg("%llu frames still live after p2m_destroy",
				 (unsigned long long)fx_live(f));
	}
	/* After p2m_destroy: a frame of a held list that libp2m freed would
	 * show above as a count below zero. */
	if (f->list_frames)
		list_drop(f);
	hosted_destroy(f->h);
	f->h = NULL;
}

void snap_take(struct fx *f, struct snap *s)
{
	s->n = f->p.capacity;
	s->raw = malloc(s->n * sizeof(uint64_t));
	assert_non_null(s->raw);
	for (uint64_t i = 0; i < s->n; i++)
		s->raw[i] = p2m_raw(&f->p, i);
	s->max_pfn = p2m_max_pfn(&f->p);
	p2m_get_stats(&f->p, &s->st);
}

void snap_expect_same(struct fx *f, const struct snap *s)
{
	assert_int_equal(f->p.capacity, s->n);
	for (uint64_t i = 0; i < s->n; i++) {
		uint64_t e = p2m_raw(&f->p, i);

		if (e != s->raw[i])
			fail_msg("pfn %#llx reads %#llx, was %#llx", (unsigned long long)i,
				 (unsigned long long)e, (unsigned long long)s->raw[i]);
	}
	assert_int_equal(p2m_max_pfn(&f->p), s->max_pfn);
	assert_int_equal(p2m_generation(&f->p) & 1, 0);
}

void snap_free(struct snap *s)
{
	free(s->raw);
	s->raw = NULL;
}

unsigned fx_inject_each(enum fx_inject what, uint64_t capacity, bool tree,
			fx_setup_fn setup, fx_op_fn op, fx_check_fn check, void *arg)
{
	return fx_inject_each_partial(what, capacity, tree, setup, op, check, NULL, arg);
}

unsigned fx_inject_each_partial(enum fx_inject what, uint64_t capacity, bool tree,
				fx_setup_fn setup, fx_op_fn op, fx_check_fn check,
				fx_failed_fn failed, void *arg)
{
	unsigned failures = 0;

	for (uint64_t n = 1;; n++) {
		struct fx f;
		struct snap s;
		bool pending;
		int rc;

		assert_true(n < 10000);
		fx_init(&f, capacity, tree);
		if (setup)
			setup(&f, arg);
		fx_check_accounting(&f);
		snap_take(&f, &s);
		if (what == FX_INJECT_ALLOC)
			hosted_fail_nth_alloc(f.h, n);
		else
			hosted_fail_nth_map(f.h, n);
		rc = op(&f, arg);
		pending = what == FX_INJECT_ALLOC ? hosted_alloc_failure_pending(f.h)
						  : hosted_map_failure_pending(f.h);
		hosted_fail_nth_alloc(f.h, 0);
		hosted_fail_nth_map(f.h, 0);
		if (pending) {
			/* The call needed fewer than n platform calls: done. */
			if (rc)
				fail_msg("without injection the call failed: %d %s", rc,
					 p2m_last_error(&f.p));
			fx_check_accounting(&f);
			if (check)
				check(&f, arg);
			snap_free(&s);
			fx_fini(&f);
			return failures;
		}
		failures++;
		if (rc == 0)
			fail_msg("%s failure %llu injected, yet the call returned 0",
				 what == FX_INJECT_ALLOC ? "allocation" : "mapping",
				 (unsigned long long)n);
		if (what == FX_INJECT_ALLOC && rc != -P2M_ENOMEM)
			fail_msg("allocation failure %llu: error %d (%s), expected ENOMEM",
				 (unsigned long long)n, rc, p2m_last_error(&f.p));
		if (what == FX_INJECT_MAP && rc != -P2M_EMAP)
			fail_msg("mapping failure %llu: error %d (%s), expected EMAP",
				 (unsigned long long)n, rc, p2m_last_error(&f.p));
		assert_true(p2m_last_error(&f.p)[0] != '\0');
		if (failed)
			failed(&f, &s, arg);
		else
			snap_expect_same(&f, &s);
		fx_check_accounting(&f);
		snap_free(&s);
		fx_fini(&f);
	}
}

struct dumpbuf {
	char *s;
	size_t len, cap;
};

static void dump_out(void *arg, const char *s, size_t n)
{
	struct dumpbuf *d = arg;

	if (d->len + n + 1 > d->cap) {
		d->cap = (d->len + n + 1) * 2;
		d->s = realloc(d->s, d->cap);
		assert_non_null(d->s);
	}
	memcpy(d->s + d->len, s, n);
	d->len += n;
	d->s[d->len] = '\0';
}

char *fx_dump(struct fx *f, uint64_t end)
{
	struct dumpbuf d = { NULL, 0, 0 };

	dump_out(&d, "", 0);
	p2m_dump(&f->p, end, dump_out, &d);
	return d.s;
}
