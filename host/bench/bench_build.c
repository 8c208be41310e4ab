/*
 * Build workload: a dom0's flat initial list (RAM with the holes below
 * 4 GiB) turned into each implementation's final structure, against
 * memcpy of the same bytes in the same run.
 *
 * The reference is memcpy into fresh pages (mapped just before, like the
 * frames a build fills, so both pay the first-touch faults); memcpy into
 * pages already touched is printed too, as the bare bandwidth. Timed:
 * ours = p2m_create + p2m_build (the hosted platform itself is made
 * before the clock starts); linux = the rebuild with its reservation and
 * shared pages; tree = the tree with its pool. Destruction is not timed.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

enum { B_MEMCPY, B_MEMCPY_HOT, B_OURS, B_LINUX, B_TREE, B_COUNT };
static const char *const bname[B_COUNT] = { "memcpy", "memcpy-hot", "ours", "linux", "tree" };

static int run_one(int k, const struct bench_layout *L, void *hot, double *ns)
{
	size_t bytes = L->n * 8;
	uint64_t t0;
	int rc = 0;

	if (k == B_MEMCPY) {
		void *dst = bench_pages(bytes);

		if (!dst)
			return -P2M_ENOMEM;
		t0 = bench_now_ns();
		memcpy(dst, L->flat, bytes);
		*ns = (double)(bench_now_ns() - t0);
		bench_pages_free(dst, bytes);
	} else if (k == B_MEMCPY_HOT) {
		t0 = bench_now_ns();
		memcpy(hot, L->flat, bytes);
		*ns = (double)(bench_now_ns() - t0);
	} else if (k == B_OURS) {
		struct bench_ours o;
		void *host;
		struct p2m_platform plat;

		memset(&o, 0, sizeof(o));
		host = bench_hosted_new(&plat);
		if (!host)
			return -P2M_ENOMEM;
		t0 = bench_now_ns();
		rc = p2m_create(&o.p, &plat, L->n, false);
		if (!rc)
			rc = p2m_build(&o.p, L->flat, L->n);
		*ns = (double)(bench_now_ns() - t0);
		if (rc)
			fprintf(stderr, "p2m bench: build: %s\n", p2m_last_error(&o.p));
		else
			p2m_destroy(&o.p);
		bench_hosted_free(host);
	} else if (k == B_LINUX) {
		struct bench_linux l;
		struct p2m_platform plat;
		void *host = bench_hosted_new(&plat);

		if (!host)
			return -P2M_ENOMEM;
		t0 = bench_now_ns();
		rc = bench_linux_build(&l, &plat, L->flat, L->n, L->n);
		*ns = (double)(bench_now_ns() - t0);
		bench_linux_destroy(&l);
		bench_hosted_free(host);
	} else {
		struct bench_tree t;

		t0 = bench_now_ns();
		rc = bench_tree_build(&t, L->flat, L->n, L->n);
		*ns = (double)(bench_now_ns() - t0);
		bench_tree_destroy(&t);
	}
	return rc;
}

int bench_build(const struct bench_opts *o, struct bench_report *r)
{
	struct bench_layout L;
	double ns[B_COUNT][16];
	unsigned rounds = o->rounds > 16 ? 16 : o->rounds;
	char wl[48];
	void *hot;
	int rc;

	if ((rc = bench_layout_dom0(&L, o->build_gib, 0)))
		return rc;
	hot = bench_pages(L.n * 8);
	if (!hot) {
		bench_layout_free(&L);
		return -P2M_ENOMEM;
	}
	memset(hot, 0, L.n * 8);
	snprintf(wl, sizeof(wl), "build %" PRIu64 "GiB guest (%" PRIu64 " MiB list)",
		 o->build_gib, (L.n * 8) >> 20);
	for (unsigned round = 0; round < rounds; round++) {
		for (int j = 0; j < B_COUNT; j++) {
			int k = (int)((round + (unsigned)j) % B_COUNT);

			if ((rc = run_one(k, &L, hot, &ns[k][round]))) {
				fprintf(stderr, "p2m bench: build by %s failed (%d)\n", bname[k], rc);
				goto out;
			}
			bench_note_rss(r);
		}
	}
	for (int k = 0; k < B_COUNT; k++) {
		double med = bench_median(ns[k], rounds);
		struct bench_row *row = bench_row_add(r, "build", wl, bname[k], "ms", med / 1e6);

		strcpy(row->rate_unit, "GB/s");
		row->rate = med > 0 ? (double)(L.n * 8) / med : 0;
	}
	bench_log(o, "%s: done", wl);
	/* ratios of throughput: memcpy time / build time */
	{
		struct bench_row *mc = bench_row_find(r, "build", wl, "memcpy");
		struct bench_row *ours = bench_row_find(r, "build", wl, "ours");

		for (size_t i = 0; i < r->nrows; i++) {
			struct bench_row *row = &r->rows[i];

			if (strcmp(row->section, "build") || strcmp(row->workload, wl))
				continue;
			row->ratio = mc->value / row->value;
			strcpy(row->ref, "memcpy");
		}
		bench_target_add(r, "build speed vs memcpy", wl, mc->value / ours->value, 0.7, false);
	}
out:
	bench_pages_free(hot, L.n * 8);
	bench_layout_free(&L);
	return rc;
}
