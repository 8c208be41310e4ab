/*
 * "ours": libp2m over a hosted platform of its own, and fresh hosted
 * platforms for the baselines that map a list (linux). Each
 * implementation gets its own memfd, so the memory figures of one never
 * include another's frames.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "platform/hosted.h"

void *bench_hosted_new(struct p2m_platform *plat)
{
	char err[256] = "";
	struct hosted *h = hosted_create(NULL, err, sizeof(err));

	if (!h) {
		fprintf(stderr, "p2m bench: hosted platform: %s\n", err);
		return NULL;
	}
	hosted_platform(h, plat);
	return h;
}

void bench_hosted_free(void *host)
{
	if (host)
		hosted_destroy(host);
}

int bench_ours_create(struct bench_ours *o, uint64_t capacity)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->host = bench_hosted_new(&o->hplat);
	if (!o->host)
		return -P2M_ENOMEM;
	bench_plat_timed(&o->timed, &o->hplat, &o->plat);
	rc = p2m_create(&o->p, &o->plat, capacity, false);
	if (rc) {
		fprintf(stderr, "p2m bench: p2m_create: %s\n", p2m_last_error(&o->p));
		bench_hosted_free(o->host);
		o->host = NULL;
	}
	return rc;
}

int bench_list_new(void *host, const uint64_t *flat, uint64_t n, struct bench_list *bl)
{
	int rc;

	bl->pages = (n + P2M_PER_PAGE - 1) / P2M_PER_PAGE;
	bl->frames = malloc(bl->pages * sizeof(xen_pfn_t));
	bl->va = NULL;
	if (!bl->frames)
		return -P2M_ENOMEM;
	rc = hosted_list_new(host, bl->pages, bl->frames, &bl->va);
	if (rc) {
		fprintf(stderr, "p2m bench: initial list: %s\n", hosted_last_error(host));
		free(bl->frames);
		bl->frames = NULL;
		return rc;
	}
	memcpy(bl->va, flat, n * sizeof(uint64_t));
	return 0;
}

void bench_list_free(void *host, struct bench_list *bl, bool held)
{
	struct p2m_platform plat;

	if (!bl->frames)
		return;
	if (held) {
		hosted_platform(host, &plat);
		plat.free_frames(plat.ctx, bl->pages, bl->frames);
	}
	hosted_list_unmap(host, bl->va, bl->pages);
	free(bl->frames);
	bl->frames = NULL;
	bl->va = NULL;
}

void bench_ours_destroy(struct bench_ours *o)
{
	if (!o->host)
		return;
	p2m_destroy(&o->p);
	bench_hosted_free(o->host);
	memset(o, 0, sizeof(*o));
}

/* ---- a platform that times its inner platform's calls ---- */

static struct bench_timed_plat *T(void *ctx)
{
	return ctx;
}

const char *const bench_plat_op_name[BP_NOPS] = {
	"alloc_frames", "free_frames", "frame_map", "frame_unmap", "reserve",
	"release", "make_table", "drop_table", "set_window", "map_frames",
};

#define TIMED(op, call)                                                \
	do {                                                           \
		uint64_t t0_ = bench_now_ns(), d_;                     \
		call;                                                  \
		d_ = bench_now_ns() - t0_;                             \
		__atomic_fetch_add(&t->ns, d_, __ATOMIC_RELAXED);      \
		__atomic_fetch_add(&t->calls, 1, __ATOMIC_RELAXED);    \
		__atomic_fetch_add(&t->op_ns[op], d_, __ATOMIC_RELAXED); \
		__atomic_fetch_add(&t->op_calls[op], 1, __ATOMIC_RELAXED); \
	} while (0)

static int t_alloc(void *c, size_t n, xen_pfn_t *m)
{
	struct bench_timed_plat *t = T(c);
	int rc;

	TIMED(BP_ALLOC, rc = t->inner.alloc_frames(t->inner.ctx, n, m));
	if (rc == 0) {
		int64_t now = __atomic_add_fetch(&t->frames, (int64_t)n, __ATOMIC_RELAXED);

		if (now > t->peak_frames)
			t->peak_frames = now;
	}
	return rc;
}

static void t_free(void *c, size_t n, const xen_pfn_t *m)
{
	struct bench_timed_plat *t = T(c);

	TIMED(BP_FREE, t->inner.free_frames(t->inner.ctx, n, m));
	__atomic_sub_fetch(&t->frames, (int64_t)n, __ATOMIC_RELAXED);
}

static void *t_map(void *c, xen_pfn_t m)
{
	struct bench_timed_plat *t = T(c);
	void *v;

	TIMED(BP_MAP, v = t->inner.frame_map(t->inner.ctx, m));
	return v;
}

static void t_unmap(void *c, void *v)
{
	struct bench_timed_plat *t = T(c);

	TIMED(BP_UNMAP, t->inner.frame_unmap(t->inner.ctx, v));
}

static int t_reserve(void *c, size_t b, void **base)
{
	struct bench_timed_plat *t = T(c);
	int rc;

	TIMED(BP_RESERVE, rc = t->inner.reserve(t->inner.ctx, b, base));
	return rc;
}

static void t_release(void *c, void *base, size_t b)
{
	struct bench_timed_plat *t = T(c);

	TIMED(BP_RELEASE, t->inner.release(t->inner.ctx, base, b));
}

static int t_make_table(void *c, xen_pfn_t table, xen_pfn_t leaf)
{
	struct bench_timed_plat *t = T(c);
	int rc;

	TIMED(BP_MAKE_TABLE, rc = t->inner.make_table(t->inner.ctx, table, leaf));
	return rc;
}

static void t_drop_table(void *c, xen_pfn_t table)
{
	struct bench_timed_plat *t = T(c);

	TIMED(BP_DROP_TABLE, t->inner.drop_table(t->inner.ctx, table));
}

static int t_set_window(void *c, void *va, xen_pfn_t table)
{
	struct bench_timed_plat *t = T(c);
	int rc;

	TIMED(BP_SET_WINDOW, rc = t->inner.set_window(t->inner.ctx, va, table));
	return rc;
}

static int t_map_frames(void *c, void *va, size_t n, const xen_pfn_t *m, unsigned fl)
{
	struct bench_timed_plat *t = T(c);
	int rc;

	TIMED(BP_MAP_FRAMES, rc = t->inner.map_frames(t->inner.ctx, va, n, m, fl));
	return rc;
}

static int t_m2p(void *c, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	struct bench_timed_plat *t = T(c);

	return t->inner.m2p(t->inner.ctx, mfn, pfn);
}

static xen_pfn_t t_root(void *c)
{
	struct bench_timed_plat *t = T(c);

	return t->inner.root_table(t->inner.ctx);
}

static void t_lock(void *c)
{
	struct bench_timed_plat *t = T(c);

	t->inner.lock(t->inner.ctx);
}

static void t_unlock(void *c)
{
	struct bench_timed_plat *t = T(c);

	t->inner.unlock(t->inner.ctx);
}

void bench_plat_timed(struct bench_timed_plat *t, const struct p2m_platform *inner,
		      struct p2m_platform *out)
{
	memset(t, 0, sizeof(*t));
	t->inner = *inner;
	*out = (struct p2m_platform){
		.ctx = t, .alloc_frames = t_alloc, .free_frames = t_free,
		.frame_map = t_map, .frame_unmap = t_unmap, .reserve = t_reserve,
		.release = t_release, .make_table = t_make_table,
		.drop_table = t_drop_table, .set_window = t_set_window,
		.map_frames = t_map_frames, .m2p = t_m2p, .root_table = t_root,
		.lock = t_lock, .unlock = t_unlock,
	};
}
