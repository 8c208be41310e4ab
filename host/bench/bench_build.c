/*
 * Build workload: a dom0's flat initial list (RAM with the holes below
 * 4 GiB) turned into each implementation's final structure, against
 * memcpy of the same bytes in the same run.
 *
 * The reference is memcpy into fresh pages (mapped just before, like the
 * frames a copying build fills, so both pay the first-touch faults);
 * memcpy into pages already touched is printed too, as the bare
 * bandwidth. Timed: ours = p2m_create + p2m_build_adopt, the list being
 * in frames of the platform as a guest's builder hands it over (written
 * before the clock starts, as Xen has written it); ours-copy = p2m_create
 * + p2m_build from the same list in ordinary memory; linux = the rebuild
 * with its reservation and shared pages; tree = the tree with its pool.
 * The hosted platform itself is made before the clock starts;
 * destruction is not timed.
 *
 * Memory: the P2M's peak during the build (the initial list's pages,
 * which a guest holds until it frees them, plus every frame libp2m holds,
 * counted at each allocation through the timed platform) against the
 * final P2M (p2m_get_stats).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

enum { B_MEMCPY, B_MEMCPY_HOT, B_OURS, B_OURS_COPY, B_LINUX, B_TREE, B_COUNT };
static const char *const bname[B_COUNT] = { "memcpy", "memcpy-hot", "ours", "ours-copy",
					    "linux", "tree" };

struct sample {
	double ns;         /* whole build */
	double plat_ns;    /* in platform calls */
	double faults;     /* minor page faults */
	double op_ns[BP_NOPS];
	double peak, final; /* ours: P2M frames at the peak and at the end */
};

/* ours (adopt) or ours-copy: create and build over a timed platform. */
static int run_ours(int k, const struct bench_layout *L, struct sample *out)
{
	uint64_t pages = (L->n + P2M_PER_PAGE - 1) / P2M_PER_PAGE, t0, f0;
	struct bench_timed_plat tp;
	struct p2m_platform hplat, plat;
	struct bench_list bl = { 0 };
	struct p2m_stats st;
	struct bench_ours o;
	void *host;
	int rc;

	memset(&o, 0, sizeof(o));
	host = bench_hosted_new(&hplat);
	if (!host)
		return -P2M_ENOMEM;
	if (k == B_OURS && (rc = bench_list_new(host, L->flat, L->n, &bl))) {
		bench_hosted_free(host);
		return rc;
	}
	bench_plat_timed(&tp, &hplat, &plat);
	tp.frames = tp.peak_frames = (int64_t)pages;
	f0 = bench_minflt();
	t0 = bench_now_ns();
	rc = p2m_create(&o.p, &plat, L->n, false);
	if (!rc)
		rc = k == B_OURS ? p2m_build_adopt(&o.p, bl.va, bl.frames, L->n)
				 : p2m_build(&o.p, L->flat, L->n);
	out->ns = (double)(bench_now_ns() - t0);
	out->plat_ns = (double)tp.ns;
	out->faults = (double)(bench_minflt() - f0);
	for (int op = 0; op < BP_NOPS; op++)
		out->op_ns[op] = (double)tp.op_ns[op];
	if (rc)
		fprintf(stderr, "p2m bench: build (%s): %s\n", bname[k], p2m_last_error(&o.p));
	bench_list_free(host, &bl, rc != 0);
	if (!rc) {
		p2m_get_stats(&o.p, &st);
		out->peak = (double)tp.peak_frames * 4096;
		out->final = (double)st.bytes;
		p2m_destroy(&o.p);
	}
	bench_hosted_free(host);
	return rc;
}

static int run_one(int k, const struct bench_layout *L, void *hot, struct sample *out)
{
	size_t bytes = L->n * 8;
	struct bench_timed_plat tp;
	uint64_t t0, f0 = bench_minflt();
	double nsv = 0, *ns = &nsv;
	int rc = 0;

	memset(&tp, 0, sizeof(tp));

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
	} else if (k == B_OURS || k == B_OURS_COPY) {
		return run_ours(k, L, out);
	} else if (k == B_LINUX) {
		struct bench_linux l;
		struct p2m_platform hplat, plat;
		void *host = bench_hosted_new(&hplat);

		if (!host)
			return -P2M_ENOMEM;
		bench_plat_timed(&tp, &hplat, &plat);
		f0 = bench_minflt();
		t0 = bench_now_ns();
		rc = bench_linux_build(&l, &plat, L->flat, L->n, L->n);
		*ns = (double)(bench_now_ns() - t0);
		*out = (struct sample){ *ns, (double)tp.ns, (double)(bench_minflt() - f0), { 0 }, 0, 0 };
		bench_linux_destroy(&l);
		bench_hosted_free(host);
		return rc;
	} else {
		struct bench_tree t;

		t0 = bench_now_ns();
		rc = bench_tree_build(&t, L->flat, L->n, L->n);
		*ns = (double)(bench_now_ns() - t0);
		bench_tree_destroy(&t);
	}
	*out = (struct sample){ *ns, 0, (double)(bench_minflt() - f0), { 0 }, 0, 0 };
	return rc;
}

/* The P2M's peak memory during the build against the final P2M. */
static void report_peak(struct bench_report *r, const char *wl,
			struct sample (*smp)[BENCH_MAX_ROUNDS], unsigned rounds)
{
	for (int k = B_OURS; k <= B_OURS_COPY; k++) {
		double pk[BENCH_MAX_ROUNDS], fin[BENCH_MAX_ROUNDS];
		struct bench_row *row;

		for (unsigned i = 0; i < rounds; i++) {
			pk[i] = smp[k][i].peak;
			fin[i] = smp[k][i].final;
		}
		row = bench_row_add(r, "build", "build: peak P2M memory", bname[k], "MiB",
				    bench_median(pk, rounds) / (1 << 20));
		row->ratio = bench_median(fin, rounds) > 0
				     ? row->value * (1 << 20) / bench_median(fin, rounds)
				     : -1;
		strcpy(row->ref, "final P2M");
		if (k == B_OURS)
			bench_target_add(r, "build peak memory vs final", wl, row->ratio, 1.05, true);
	}
	bench_row_add(r, "build", "build: final P2M memory", "ours", "MiB",
		      smp[B_OURS][0].final / (1 << 20));
}

/* The rows and targets of one build workload from its samples. */
static void report_build(const struct bench_opts *o, struct bench_report *r, const char *wl,
			 struct sample (*smp)[BENCH_MAX_ROUNDS], unsigned rounds, uint64_t bytes)
{
	double ns[B_COUNT][BENCH_MAX_ROUNDS], plat[B_COUNT][BENCH_MAX_ROUNDS], flt[B_COUNT][BENCH_MAX_ROUNDS];

	for (int k = 0; k < B_COUNT; k++)
		for (unsigned i = 0; i < rounds; i++) {
			ns[k][i] = smp[k][i].ns;
			plat[k][i] = smp[k][i].plat_ns;
			flt[k][i] = smp[k][i].faults;
		}
	for (int k = 0; k < B_COUNT; k++) {
		double med = bench_median(ns[k], rounds);
		struct bench_row *row = bench_row_add(r, "build", wl, bname[k], "ms", med / 1e6);

		row->min = ns[k][0] / 1e6;
		strcpy(row->rate_unit, "GB/s");
		row->rate = med > 0 ? (double)bytes / med : 0;
	}
	bench_log(o, "%s: done", wl);
	/* ratios of throughput: memcpy time / build time */
	{
		/* values, not row pointers: adding rows may move the rows */
		double mc = bench_row_find(r, "build", wl, "memcpy")->value;
		double ours = bench_row_find(r, "build", wl, "ours")->value;
		double hot = bench_row_find(r, "build", wl, "memcpy-hot")->value;
		char w2[48];

		for (size_t i = 0; i < r->nrows; i++) {
			struct bench_row *row = &r->rows[i];

			if (strcmp(row->section, "build") || strcmp(row->workload, wl))
				continue;
			row->ratio = mc / row->value;
			strcpy(row->ref, "memcpy");
		}
		bench_target_add(r, "build time vs memcpy", wl, ours / mc, 0.1, true);
		bench_target_add(r, "build vs memcpy, touched dst", wl, hot / ours, 0.7, false);
		report_peak(r, wl, smp, rounds);
		/* where the time goes */
		snprintf(w2, sizeof(w2), "build: in platform calls");
		for (int k = B_OURS; k <= B_LINUX; k++) {
			double all = bench_row_find(r, "build", wl, bname[k])->value;
			struct bench_row *row = bench_row_add(r, "build", w2, bname[k], "ms",
							      bench_median(plat[k], rounds) / 1e6);

			row->ratio = all > 0 ? row->value / all : -1;
			strcpy(row->ref, "of build");
		}
		for (int op = 0; op < BP_NOPS; op++) {
			double v[BENCH_MAX_ROUNDS];

			for (unsigned i = 0; i < rounds; i++)
				v[i] = smp[B_OURS][i].op_ns[op];
			if (bench_median(v, rounds) < 1e5)   /* below 0.1 ms: omit */
				continue;
			snprintf(w2, sizeof(w2), "build: ours in %s", bench_plat_op_name[op]);
			bench_row_add(r, "build", w2, "ours", "ms", bench_median(v, rounds) / 1e6);
		}
		snprintf(w2, sizeof(w2), "build: minor page faults");
		for (int k = 0; k < B_COUNT; k++)
			bench_row_add(r, "build", w2, bname[k], "faults/MiB",
				      bench_median(flt[k], rounds) / (double)(bytes >> 20));
		/* A guest's frames are populated before its P2M is built: price
		 * the faults out at what one costs memcpy in this run (fresh
		 * minus touched, per fault). An estimate, labelled so. */
		{
			double mf = bench_median(flt[B_MEMCPY], rounds);
			double per = mf > 0 ? (mc - hot) / mf : 0;

			snprintf(w2, sizeof(w2), "build, faults priced out (est.)");
			for (int k = B_OURS; k < B_COUNT; k++) {
				double ms = bench_row_find(r, "build", wl, bname[k])->value -
					    per * bench_median(flt[k], rounds);
				struct bench_row *row = bench_row_add(r, "build", w2, bname[k], "ms",
								      ms > 0 ? ms : 0);

				strcpy(row->rate_unit, "GB/s");
				row->rate = ms > 0 ? (double)bytes / (ms * 1e6) : 0;
				row->ratio = ms > 0 ? hot / ms : -1;
				strcpy(row->ref, "memcpy-hot");
			}
		}
	}
}

int bench_build(const struct bench_opts *o, struct bench_report *r)
{
	struct bench_layout L;
	struct sample smp[B_COUNT][BENCH_MAX_ROUNDS];
	unsigned rounds = o->build_rounds && o->build_rounds < o->rounds ? o->build_rounds : o->rounds;
	char wl[48];
	void *hot;

	if (rounds > BENCH_MAX_ROUNDS)
		rounds = BENCH_MAX_ROUNDS;
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

			if ((rc = run_one(k, &L, hot, &smp[k][round]))) {
				fprintf(stderr, "p2m bench: build by %s failed (%d)\n", bname[k], rc);
				goto out;
			}
			bench_note_rss(r);
		}
	}
	report_build(o, r, wl, smp, rounds, L.n * 8);
out:
	bench_pages_free(hot, L.n * 8);
	bench_layout_free(&L);
	return rc;
}
