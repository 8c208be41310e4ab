/*
 * The benchmark's baselines and harness (host/bench/): the 3-level tree
 * and the model of Linux's linear list must hold exactly the map they
 * were built from (else their timings mean nothing), must agree with
 * libp2m after the same updates, and the Linux cost model must charge
 * extra memory as Linux does. Then every workload of the benchmark runs
 * once at a tiny size and produces rows, targets and its three files.
 * No timing is asserted: speed is reported by `p2m bench`, not tested.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bench/bench.h"

struct all {
	struct bench_layout L;
	struct bench_tree tree;
	struct bench_linux lx;
	void *lx_host;
	struct p2m_platform lx_plat;
	struct bench_ours ours;
};

static void build_all(struct all *a, uint64_t gib)
{
	memset(a, 0, sizeof(*a));
	assert_int_equal(bench_layout_lookup(&a->L, gib), 0);
	assert_int_equal(bench_tree_build(&a->tree, a->L.flat, a->L.n, a->L.n), 0);
	a->lx_host = bench_hosted_new(&a->lx_plat);
	assert_non_null(a->lx_host);
	assert_int_equal(bench_linux_build(&a->lx, &a->lx_plat, a->L.flat, a->L.n, a->L.n), 0);
	assert_int_equal(bench_ours_create(&a->ours, a->L.n), 0);
	assert_int_equal(p2m_build(&a->ours.p, a->L.flat, a->L.n), 0);
}

static void free_all(struct all *a)
{
	bench_ours_destroy(&a->ours);
	bench_linux_destroy(&a->lx);
	bench_hosted_free(a->lx_host);
	bench_tree_destroy(&a->tree);
	bench_layout_free(&a->L);
}

/* Every pfn, and a few beyond the capacity (identity for all). */
static void check_agree(struct all *a)
{
	for (uint64_t p = 0; p < a->L.n + 1000; p++) {
		uint64_t want = p < a->L.n ? a->L.flat[p] : p2m_identity_entry(p);

		if (bench_tree_raw(&a->tree, p) != want || bench_linux_raw(&a->lx, p) != want ||
		    p2m_raw(&a->ours.p, p) != want)
			fail_msg("pfn %#llx: list %#llx tree %#llx linux %#llx ours %#llx",
				 (unsigned long long)p, (unsigned long long)want,
				 (unsigned long long)bench_tree_raw(&a->tree, p),
				 (unsigned long long)bench_linux_raw(&a->lx, p),
				 (unsigned long long)p2m_raw(&a->ours.p, p));
	}
}

static void baselines_hold_the_map(void **state)
{
	struct all a;

	(void)state;
	build_all(&a, 4);
	/* The layout really has the three kinds, in shared slots. */
	assert_int_equal(a.L.flat[a.L.identity.first], p2m_identity_entry(a.L.identity.first));
	assert_int_equal(a.L.flat[a.L.missing.first], P2M_INVALID);
	assert_true(a.tree.leaves < a.L.n / P2M_PER_PAGE);     /* holes are shared */
	assert_true(a.lx.private_leaves < a.L.n / P2M_PER_PAGE);
	/* Linux's slow path really walks: the L1 entry of an identity pfn
	 * names the identity leaf, of a RAM pfn a writable private leaf. */
	assert_int_equal((bench_linux_walk(&a.lx, a.L.identity.first) & X86_PTE_MFN_MASK) >> 12,
			 a.lx.identity_leaf);
	assert_true(bench_linux_walk(&a.lx, 0) & X86_PTE_RW);
	check_agree(&a);
	free_all(&a);
}

static void baselines_agree_after_updates(void **state)
{
	struct all a;
	uint64_t seed = 7;

	(void)state;
	build_all(&a, 4);
	for (int i = 0; i < 3000; i++) {
		uint64_t p = bench_rand(&seed) % a.L.n, v;

		switch (i % 4) {
		case 0:
			v = bench_ram_mfn(p + 99);
			break;
		case 1:
			v = P2M_INVALID;
			break;
		case 2:
			v = p2m_identity_entry(p);
			break;
		default:
			v = p2m_foreign_entry(p ^ 0x55);
			break;
		}
		a.L.flat[p] = v;
		assert_int_equal(bench_tree_set(&a.tree, p, v), 0);
		assert_int_equal(bench_linux_set(&a.lx, p, v), 0);
		assert_int_equal(p2m_set(&a.ours.p, p, v), 0);
	}
	/* First writes into shared slots allocated private pages. */
	assert_true(a.lx.private_leaves > 0 && a.tree.leaves > 0);
	check_agree(&a);
	free_all(&a);
}

static void linux_model_charges_extra_memory(void **state)
{
	struct bench_layout L;
	struct bench_linux_cost with, without;
	uint64_t extra = 8 * BENCH_GIB_PFNS;

	(void)state;
	assert_int_equal(bench_layout_dom0(&L, 4, 8), 0);
	assert_int_equal(L.missing.first, L.n);
	assert_int_equal(L.missing.n, extra);
	bench_linux_model_cost(L.flat, L.n, L.n + extra, L.n, extra, &with);
	bench_linux_model_cost(L.flat, L.n, L.n, 0, 0, &without);
	/* 8 bytes per pfn of extra memory: 2 MiB of leaves per GiB, plus a
	 * table per GiB window. */
	assert_int_equal(with.leaves - without.leaves, extra / P2M_PER_PAGE);
	assert_int_equal(with.tables - without.tables, 8);
	/* The tree shares the missing space: no leaf for it. */
	assert_true(bench_tree_model_bytes(L.flat, L.n, L.n + extra) <
		    bench_tree_model_bytes(L.flat, L.n, L.n) + 4 * 4096 + 8192);
	bench_layout_free(&L);
}

/* Linux's extra memory stops at 10 times the allocation (less the frames
 * remapped from under holes): a huge capacity is not charged in full. */
static void linux_model_caps_extra_memory(void **state)
{
	struct bench_layout L;
	struct bench_linux_cost with, without;
	uint64_t ram = 0, extra, wanted = 100 * BENCH_GIB_PFNS;

	(void)state;
	assert_int_equal(bench_layout_dom0(&L, 4, 0), 0);
	for (uint64_t pfn = 0; pfn < L.n; pfn++)
		ram += L.flat[pfn] != P2M_INVALID && L.flat[pfn] != p2m_identity_entry(pfn);
	extra = bench_linux_extra_pfns(L.flat, L.n, wanted);
	assert_int_equal(extra, 10 * ram - (L.n - ram));
	assert_true(extra < wanted);
	/* Under the cap nothing changes. */
	assert_int_equal(bench_linux_extra_pfns(L.flat, L.n, 8 * BENCH_GIB_PFNS),
			 8 * BENCH_GIB_PFNS);
	bench_linux_model_cost(L.flat, L.n, L.n + wanted, L.n, extra, &with);
	bench_linux_model_cost(L.flat, L.n, L.n, 0, 0, &without);
	assert_int_equal(with.leaves - without.leaves, (extra + P2M_PER_PAGE - 1) / P2M_PER_PAGE);
	bench_layout_free(&L);
}

static long file_size(const char *path)
{
	FILE *f = fopen(path, "r");
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

static void every_workload_runs(void **state)
{
	struct bench_opts o;
	struct bench_report r;
	char dir[] = "/tmp/p2m-bench-test-XXXXXX", csv[64], json[64], svg[64];
	FILE *f;
	char head[8] = "";

	(void)state;
	memset(&o, 0, sizeof(o));
	o.rounds = 1;
	o.lookups = 4096;
	o.nspaces = 1;
	o.space_gib[0] = 4;
	o.build_gib = 2;
	o.update_gib = 4;
	o.update_slots = 16;
	o.readers = 1;
	o.conc_seconds = 0.02;
	o.dom0_ram_gib = 2;
	o.dom0_extra_gib = 2;
	o.holes = 20;
	o.holes_gib = 2;
	o.cap_tib = 1;
	o.cap_ram_gib = 2;
	bench_report_init(&r);
	assert_int_equal(bench_lookups(&o, &r), 0);
	assert_int_equal(bench_updates(&o, &r), 0);
	assert_int_equal(bench_build(&o, &r), 0);
	assert_int_equal(bench_memory(&o, &r), 0);
	assert_int_equal(bench_concurrency(&o, &r), 0);
	/* 6 lookup workloads x 4 implementations, and targets for them */
	assert_non_null(bench_row_find(&r, "lookup", "random ram 4GiB", "ours"));
	assert_non_null(bench_row_find(&r, "lookup", "sequential missing 4GiB", "linux"));
	assert_non_null(bench_row_find(&r, "memory", "extra memory, per GiB", "ours"));
	assert_true(r.ntargets >= 8);
	/* ours gives a returned range's pages back; linux keeps them */
	assert_true(bench_row_find(&r, "update", "memory kept after return", "ours")->value <
		    bench_row_find(&r, "update", "memory kept after return", "linux")->value);

	assert_non_null(mkdtemp(dir));
	snprintf(csv, sizeof(csv), "%s/b.csv", dir);
	snprintf(json, sizeof(json), "%s/b.json", dir);
	snprintf(svg, sizeof(svg), "%s/b.svg", dir);
	assert_int_equal(bench_write_csv(&r, csv), 0);
	assert_int_equal(bench_write_json(&r, &o, json), 0);
	assert_int_equal(bench_write_svg(&r, svg), 0);
	assert_true(file_size(csv) > 1000 && file_size(json) > 1000 && file_size(svg) > 1000);
	f = fopen(svg, "r");
	assert_non_null(f);
	assert_non_null(fgets(head, sizeof(head), f));
	fclose(f);
	assert_memory_equal(head, "<svg", 4);
	unlink(csv);
	unlink(json);
	unlink(svg);
	rmdir(dir);
	bench_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(baselines_hold_the_map),
		cmocka_unit_test(baselines_agree_after_updates),
		cmocka_unit_test(linux_model_charges_extra_memory),
		cmocka_unit_test(linux_model_caps_extra_memory),
		cmocka_unit_test(every_workload_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
