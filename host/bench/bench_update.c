/*
 * Update workload, on the lookup map of the first pfn space:
 *
 *   store     a new mfn into random RAM pfns (private pages): one store
 *   first     the first write into each of K shared missing slots
 *             (allocate-on-write: a leaf per slot, a table per window);
 *             every round uses slots never written before, since linux
 *             and tree never give a page back
 *   return    the same slots set missing again as one range: ours gives
 *             the leaves (and whole windows) back to the shared pages;
 *             linux and tree have no such call and store ~0 pfn by pfn,
 *             keeping their pages (the KiB they keep is reported)
 *
 * flat has no shared slots: its rows are plain stores, the floor.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

enum { U_OURS, U_FLAT, U_TREE, U_LINUX, U_COUNT };
static const char *const uname_[U_COUNT] = { "ours", "flat", "tree", "linux" };

struct uimpls {
	struct bench_layout L;
	struct bench_tree tree;
	struct bench_linux lx;
	void *lx_host;
	struct p2m_platform lx_hplat, lx_plat;
	struct bench_timed_plat lx_timed;
	struct bench_ours ours;
};

static int set_one(struct uimpls *m, int k, uint64_t pfn, uint64_t v)
{
	switch (k) {
	case U_OURS:
		return p2m_set(&m->ours.p, pfn, v);
	case U_FLAT:
		__atomic_store_n(&m->L.flat[pfn], v, __ATOMIC_RELAXED);
		return 0;
	case U_TREE:
		return bench_tree_set(&m->tree, pfn, v);
	default:
		return bench_linux_set(&m->lx, pfn, v);
	}
}

static void ufree(struct uimpls *m)
{
	bench_ours_destroy(&m->ours);
	if (m->lx_host) {
		bench_linux_destroy(&m->lx);
		bench_hosted_free(m->lx_host);
	}
	bench_tree_destroy(&m->tree);
	bench_layout_free(&m->L);
}

static int ubuild(struct uimpls *m, uint64_t gib)
{
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = bench_layout_lookup(&m->L, gib)))
		return rc;
	if ((rc = bench_tree_build(&m->tree, m->L.flat, m->L.n, m->L.n)))
		return rc;
	if (!(m->lx_host = bench_hosted_new(&m->lx_hplat)))
		return -P2M_ENOMEM;
	bench_plat_timed(&m->lx_timed, &m->lx_hplat, &m->lx_plat);
	if ((rc = bench_linux_build(&m->lx, &m->lx_plat, m->L.flat, m->L.n, m->L.n)))
		return rc;
	if ((rc = bench_ours_create(&m->ours, m->L.n)))
		return rc;
	return p2m_build(&m->ours.p, m->L.flat, m->L.n);
}

static uint64_t private_bytes(struct uimpls *m, int k)
{
	struct p2m_stats st;

	switch (k) {
	case U_OURS:
		p2m_get_stats(&m->ours.p, &st);
		return st.bytes;
	case U_TREE:
		return bench_tree_bytes(&m->tree);
	case U_LINUX:
		return bench_linux_bytes(&m->lx);
	default:
		return m->L.n * 8;
	}
}

static void add_rows(struct bench_report *r, const char *wl, double ns[U_COUNT][BENCH_MAX_ROUNDS],
		     unsigned rounds, const char *unit, const char *rate_unit)
{
	for (int k = 0; k < U_COUNT; k++) {
		double med = bench_median(ns[k], rounds);
		struct bench_row *row = bench_row_add(r, "update", wl, uname_[k], unit, med);

		row->min = ns[k][0];
		snprintf(row->rate_unit, sizeof(row->rate_unit), "%s", rate_unit);
		row->rate = med > 0 ? 1e3 / med : 0;
	}
}

/* Samples of the shared-slot workload: first writes, then giving back. */
struct first_write {
	double ns[U_COUNT][BENCH_MAX_ROUNDS];     /* first write, per slot */
	double back[U_COUNT][BENCH_MAX_ROUNDS];   /* range back to shared, per slot */
	double plat[2][BENCH_MAX_ROUNDS];         /* in platform calls: ours, linux */
	double flt[U_COUNT][BENCH_MAX_ROUNDS];    /* minor faults per slot */
	double kept[U_COUNT];                     /* private bytes still held */
	uint64_t opsum[BP_NOPS];                  /* ours, per platform operation */
};

/* One implementation's first writes into K shared slots from pfn first. */
static int first_write_one(struct uimpls *m, int k, unsigned round, uint64_t first, uint64_t K,
			   struct first_write *fw)
{
	uint64_t op0[BP_NOPS], t0;
	int rc;

	if (k == U_OURS) {
		fw->plat[0][round] = (double)m->ours.timed.ns;
		memcpy(op0, m->ours.timed.op_ns, sizeof(op0));
	}
	if (k == U_LINUX)
		fw->plat[1][round] = (double)m->lx_timed.ns;
	fw->flt[k][round] = (double)bench_minflt();
	t0 = bench_now_ns();
	for (uint64_t s = 0; s < K; s++) {
		uint64_t pfn = first + s * P2M_PER_PAGE + (s * 37) % P2M_PER_PAGE;

		if ((rc = set_one(m, k, pfn, bench_ram_mfn(pfn))))
			return rc;
	}
	fw->ns[k][round] = (double)(bench_now_ns() - t0) / (double)K;
	fw->flt[k][round] = ((double)bench_minflt() - fw->flt[k][round]) / (double)K;
	if (k == U_OURS) {
		fw->plat[0][round] = ((double)m->ours.timed.ns - fw->plat[0][round]) / (double)K;
		for (int op = 0; op < BP_NOPS; op++)
			fw->opsum[op] += m->ours.timed.op_ns[op] - op0[op];
	}
	if (k == U_LINUX)
		fw->plat[1][round] = ((double)m->lx_timed.ns - fw->plat[1][round]) / (double)K;
	return 0;
}

/* One round: first writes into K fresh shared slots by every
 * implementation (in rotating order), then the same slots given back. */
static int first_write_round(struct uimpls *m, unsigned round, uint64_t K, struct first_write *fw)
{
	uint64_t first = m->L.missing.first + (uint64_t)round * K * P2M_PER_PAGE;
	uint64_t b0[U_COUNT];
	int rc = 0;

	for (int j = 0; j < U_COUNT; j++) {
		int k = (int)((round + (unsigned)j) % U_COUNT);

		b0[k] = private_bytes(m, k);
		if ((rc = first_write_one(m, k, round, first, K, fw)))
			return rc;
	}
	for (int j = 0; j < U_COUNT; j++) {
		int k = (int)((round + (unsigned)j) % U_COUNT);
		uint64_t t0 = bench_now_ns();

		if (k == U_OURS) {
			rc = p2m_set_range_missing(&m->ours.p, first, K * P2M_PER_PAGE);
		} else {
			for (uint64_t p = first; p < first + K * P2M_PER_PAGE && !rc; p++)
				rc = set_one(m, k, p, P2M_INVALID);
		}
		if (rc)
			return rc;
		fw->back[k][round] = (double)(bench_now_ns() - t0) / (double)K;
		fw->kept[k] += (double)private_bytes(m, k) - (double)b0[k];
	}
	return 0;
}

static void first_write_rows(struct bench_report *r, struct first_write *fw,
			     unsigned rounds, uint64_t K)
{
	const char *wl = "first write, shared slot";
	struct bench_row *row;

	add_rows(r, wl, fw->ns, rounds, "ns/slot", "Mslots/s");
	row = bench_row_add(r, "update", "first write: in platform calls", "ours",
			    "ns/slot", bench_median(fw->plat[0], rounds));
	row->ratio = row->value / bench_row_find(r, "update", wl, "ours")->value;
	strcpy(row->ref, "of write");
	row = bench_row_add(r, "update", "first write: in platform calls", "linux",
			    "ns/slot", bench_median(fw->plat[1], rounds));
	row->ratio = row->value / bench_row_find(r, "update", wl, "linux")->value;
	strcpy(row->ref, "of write");
	for (int op = 0; op < BP_NOPS; op++) {
		char w3[48];

		if (!fw->opsum[op])
			continue;
		snprintf(w3, sizeof(w3), "first write: ours in %s", bench_plat_op_name[op]);
		bench_row_add(r, "update", w3, "ours", "ns/slot",
			      (double)fw->opsum[op] / (double)(K * rounds));
	}
	for (int k = 0; k < U_COUNT; k++)
		bench_row_add(r, "update", "first write: page faults", uname_[k],
			      "faults/slot", bench_median(fw->flt[k], rounds));
	add_rows(r, "return range to shared", fw->back, rounds, "ns/slot", "Mslots/s");
	for (int k = 0; k < U_COUNT; k++)
		if (k != U_FLAT) {
			/* private memory allocated by `first` and still held after
			 * `return`, per slot written */
			bench_row_add(r, "update", "memory kept after return", uname_[k],
				      "KiB/slot", fw->kept[k] / 1024 / (double)(K * rounds));
		}
}

/* Stores into private pages at the pfns idx[0, nstore), per round. */
static int store_rounds(struct uimpls *m, const uint64_t *idx, uint64_t nstore, unsigned rounds,
			double (*ns)[BENCH_MAX_ROUNDS])
{
	int rc;

	for (unsigned round = 0; round < rounds; round++)
		for (int j = 0; j < U_COUNT; j++) {
			int k = (int)((round + (unsigned)j) % U_COUNT);
			uint64_t t0 = bench_now_ns();

			for (uint64_t i = 0; i < nstore; i++)
				if ((rc = set_one(m, k, idx[i], bench_ram_mfn(idx[i] + round + 1))))
					return rc;
			ns[k][round] = (double)(bench_now_ns() - t0) / (double)nstore;
		}
	return 0;
}

int bench_updates(const struct bench_opts *o, struct bench_report *r)
{
	struct uimpls m;
	unsigned rounds = o->rounds > BENCH_MAX_ROUNDS ? BENCH_MAX_ROUNDS : o->rounds;
	uint64_t K = o->update_slots, nstore = o->lookups;
	uint64_t *idx = NULL, gib = o->update_gib;
	double ns[U_COUNT][BENCH_MAX_ROUNDS];
	static struct first_write fw;
	char wl[48];
	int rc;

	memset(&fw, 0, sizeof(fw));
	if ((rc = ubuild(&m, gib))) {
		fprintf(stderr, "p2m bench: update: cannot build the %" PRIu64 " GiB map (%d)\n",
			gib, rc);
		goto out;
	}
	/* Fresh slots for every round: K * rounds slots of the missing region. */
	if (K * rounds > m.L.missing.n / P2M_PER_PAGE)
		K = m.L.missing.n / P2M_PER_PAGE / rounds;
	idx = bench_pages(nstore * 8);
	if (!idx) {
		rc = -P2M_ENOMEM;
		goto out;
	}
	{
		uint64_t seed = 0x51ed2701ull;

		for (uint64_t i = 0; i < nstore; i++)
			idx[i] = m.L.ram.first + bench_rand(&seed) % m.L.ram.n;
	}
	if ((rc = store_rounds(&m, idx, nstore, rounds, ns)))
		goto fail;
	snprintf(wl, sizeof(wl), "store, random RAM %" PRIu64 "GiB", gib);
	add_rows(r, wl, ns, rounds, "ns/store", "Mstores/s");
	/* first writes into shared slots, then the same slots given back */
	for (unsigned round = 0; round < rounds; round++)
		if ((rc = first_write_round(&m, round, K, &fw)))
			goto fail;
	first_write_rows(r, &fw, rounds, K);
	bench_rows_ratio(r, "update", "flat");
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "p2m bench: update failed (%d)%s%s\n", rc,
		m.ours.host ? ": " : "", m.ours.host ? p2m_last_error(&m.ours.p) : "");
out:
	bench_pages_free(idx, nstore * 8);
	ufree(&m);
	return rc;
}
