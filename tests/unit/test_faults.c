/*
 * Double faults: every structural call (create, set, ranges, prepare,
 * build, the adopting build, foreign, publish, suspend, resume) run with
 * every single and every pair of failing platform calls, frame_map included (the driver is
 * in helper_fault.c). Each case prints how many runs it made.
 *
 * Small P2Ms keep the number of calls, and so of pairs, small enough for
 * CI: every pair that can fire is run, none is sampled. Suspend makes
 * 1554 calls (an M2P look-up per record): its runs share one P2M, which a
 * cancelled resume brings back to the starting state (ff_case.reset).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_fault.h"
#include "p2m/migrate.h"

static uint64_t total_runs;

static void run(const struct ff_case *c)
{
	struct ff_counts n;

	ff_run_case(c, &n);
	assert_true(n.clean_calls > 0 || c->op != NULL);
	total_runs += 1 + n.singles + n.pairs;
}

/* --- starting states --- */

/* Window 1 identity, slot 0 private, published. */
static void setup_mixed(struct ff *x)
{
	assert_int_equal(p2m_set_range_identity(&x->f.p, W, W), 0);
	assert_int_equal(p2m_set(&x->f.p, 3, 0x77), 0);
	assert_int_equal(p2m_publish(&x->f.p, &x->arch, false), 0);
}

/* --- create --- */

static int op_create(struct ff *x)
{
	return p2m_create(&x->f.p, &x->plat, 2 * W, true);
}

static void check_create(struct ff *x)
{
	assert_int_equal(p2m_raw(&x->f.p, 5), P2M_INVALID);
}

static void faults_create(void **state)
{
	/* Every pair runs: a failed create frees the meta area's frames
	 * without reading the meta chain back through frame_map (it reads it
	 * where create built it, lib/create.c), so a frame_map failing in
	 * its rollback cannot lose them. */
	const struct ff_case c = { .name = "p2m_create", .create = true, .op = op_create,
				   .check = check_create, .retry = true };

	(void)state;
	run(&c);
}

/* --- set and prepare --- */

static int op_set_shared_window(struct ff *x)
{
	return p2m_set(&x->f.p, W + 700, 0x1234);
}

static void check_set_shared_window(struct ff *x)
{
	assert_int_equal(p2m_raw(&x->f.p, W + 700), 0x1234);
	assert_int_equal(p2m_raw(&x->f.p, W + 701), p2m_identity_entry(W + 701));
	assert_true(p2m_max_pfn(&x->f.p) > W + 700);
	assert_int_equal(x->arch.max_pfn, p2m_max_pfn(&x->f.p));
}

static int op_set_private_window(struct ff *x)
{
	return p2m_set(&x->f.p, 5 * S + 1, 0x4321);
}

static int op_prepare(struct ff *x)
{
	return p2m_prepare(&x->f.p, 2 * W + 9);
}

static void faults_set_prepare(void **state)
{
	const struct ff_case c[] = {
		{ .name = "p2m_set (shared window)", .capacity = 3 * W, .tree = true,
		  .setup = setup_mixed, .op = op_set_shared_window, .check = check_set_shared_window,
		  .retry = true },
		{ .name = "p2m_set (private window)", .capacity = 3 * W, .tree = true,
		  .setup = setup_mixed, .op = op_set_private_window, .retry = true },
		{ .name = "p2m_prepare", .capacity = 3 * W, .tree = true, .setup = setup_mixed,
		  .op = op_prepare, .retry = true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		run(&c[i]);
}

/* --- ranges --- */

static void setup_ram(struct ff *x)
{
	for (uint64_t pfn = W - 2 * S; pfn < W + 2 * S; pfn += 37)
		assert_int_equal(p2m_set(&x->f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set(&x->f.p, 2 * W + 5, 0x66), 0);
	assert_int_equal(p2m_publish(&x->f.p, &x->arch, false), 0);
}

#define RANGE_A (W - 2 * S + 1)
#define RANGE_N (W + 4 * S)

static int op_range_identity(struct ff *x)
{
	return p2m_set_range_identity(&x->f.p, RANGE_A, RANGE_N);
}

static int op_range_missing(struct ff *x)
{
	return p2m_set_range_missing(&x->f.p, RANGE_A, RANGE_N);
}

/* A range stops part-way on a mapping failure (p2m.h): every pfn of it
 * holds its old or its new value, every other pfn its old one. */
static void range_judge(struct ff *x, const struct snap *before, bool identity)
{
	for (uint64_t pfn = 0; pfn < before->n; pfn++) {
		uint64_t e = p2m_raw(&x->f.p, pfn);
		uint64_t want = identity ? p2m_identity_entry(pfn) : P2M_INVALID;

		if (e == before->raw[pfn] || (pfn >= RANGE_A && pfn < RANGE_A + RANGE_N && e == want))
			continue;
		fail_msg("pfn %#llx reads %#llx after a failed range, was %#llx",
			 (unsigned long long)pfn, (unsigned long long)e,
			 (unsigned long long)before->raw[pfn]);
	}
	assert_int_equal(p2m_max_pfn(&x->f.p), before->max_pfn);
}

static void range_identity_judge(struct ff *x, const struct snap *before)
{
	range_judge(x, before, true);
}

static void range_missing_judge(struct ff *x, const struct snap *before)
{
	range_judge(x, before, false);
}

static void check_range_identity(struct ff *x)
{
	for (uint64_t pfn = RANGE_A; pfn < RANGE_A + RANGE_N; pfn += 97)
		assert_int_equal(p2m_raw(&x->f.p, pfn), p2m_identity_entry(pfn));
	assert_int_equal(p2m_raw(&x->f.p, RANGE_A - 1), ram_of(RANGE_A - 1));
}

static void faults_ranges(void **state)
{
	const struct ff_case c[] = {
		{ .name = "p2m_set_range_identity", .capacity = 3 * W, .tree = true,
		  .setup = setup_ram, .op = op_range_identity, .check = check_range_identity,
		  .partial = range_identity_judge, .retry = true },
		{ .name = "p2m_set_range_missing", .capacity = 3 * W, .tree = true,
		  .setup = setup_ram, .op = op_range_missing, .partial = range_missing_judge,
		  .retry = true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		run(&c[i]);
}

/* --- build --- */

#define BUILD_N (2 * W + S / 2)

/* Window 0: RAM, identity, RAM, then missing; window 1 all identity;
 * window 2: half a slot of RAM. */
static uint64_t build_value(uint64_t pfn)
{
	if (pfn < 2 * S || (pfn >= 3 * S && pfn < 4 * S) || pfn >= 2 * W)
		return ram_of(pfn);
	if ((pfn >= 2 * S && pfn < 3 * S) || (pfn >= W && pfn < 2 * W))
		return p2m_identity_entry(pfn);
	return P2M_INVALID;
}

static int op_build(struct ff *x)
{
	uint64_t *v = malloc(BUILD_N * sizeof(uint64_t));
	int rc;

	assert_non_null(v);
	for (uint64_t pfn = 0; pfn < BUILD_N; pfn++)
		v[pfn] = build_value(pfn);
	rc = p2m_build(&x->f.p, v, BUILD_N);
	free(v);
	return rc;
}

static void check_build(struct ff *x)
{
	for (uint64_t pfn = 0; pfn < 3 * W; pfn += 7)
		assert_int_equal(p2m_raw(&x->f.p, pfn),
				 pfn < BUILD_N ? build_value(pfn) : P2M_INVALID);
	assert_int_equal(p2m_max_pfn(&x->f.p), (BUILD_N + S - 1) / S * S);
	/* The frame lists name the leaves (also after a retry that hung a
	 * frame list a failure had parked). */
	ff_check_names(x);
}

static void faults_build(void **state)
{
	const struct ff_case c = { .name = "p2m_build", .capacity = 3 * W, .tree = true,
				   .op = op_build, .check = check_build, .retry = true };

	(void)state;
	run(&c);
}

/* The number of the first call of kind op that a clean p2m_build makes
 * (the window 0's set_window: its install). */
static uint64_t build_first_call_of(int op)
{
	for (uint64_t i = 1;; i++) {
		struct ff x;
		int fired;

		ff_init(&x, 3 * W, true);
		ff_arm(&x, i, 0);
		assert_int_not_equal(op_build(&x), 0);
		fired = x.fired[0];
		ff_disarm(&x);
		ff_fini(&x);
		if (fired == op)
			return i;
	}
}

/* Found by the simulator (p2m sim --fault map:5): the install of window 0
 * fails at set_window, which parks its frame list; the build is retried.
 * The retry must hang the parked frame list naming the window's leaves
 * (it named the shared missing leaf, so a later join of a private slot
 * freed that leaf while it was mapped everywhere). */
static void build_retry_after_parked_frame_list(void **state)
{
	uint64_t call = build_first_call_of(FF_SET_WINDOW);
	struct ff x;

	(void)state;
	ff_init(&x, 3 * W, true);
	ff_arm(&x, call, 0);
	assert_int_equal(op_build(&x), -P2M_EMAP);
	ff_disarm(&x);
	assert_non_null(strstr(p2m_last_error(&x.f.p), "window 0"));
	assert_true(x.f.p.windows[0].table == 0 && x.f.p.windows[0].mid != 0); /* parked */
	assert_int_equal(op_build(&x), 0);
	check_build(&x);
	/* A whole slot of the window given to identity frees its leaf, the
	 * one the frame list names. */
	assert_int_equal(p2m_set_range_identity(&x.f.p, 0, S), 0);
	fx_check_accounting(&x.f);
	ff_check_names(&x);
	assert_int_equal(p2m_raw(&x.f.p, 5 * S), P2M_INVALID);
	assert_int_equal(p2m_raw(&x.f.p, 3 * S + 1), ram_of(3 * S + 1));
	ff_fini(&x);
}

/* --- the adopting build: the same list in frames of the platform --- */

static uint64_t *build_list(void)
{
	uint64_t *v = malloc(BUILD_N * sizeof(uint64_t));

	assert_non_null(v);
	for (uint64_t pfn = 0; pfn < BUILD_N; pfn++)
		v[pfn] = build_value(pfn);
	return v;
}

static void setup_adopt(struct ff *x)
{
	uint64_t *v = build_list();

	fx_list_new(&x->f, v, BUILD_N);
	free(v);
}

/* A failed adopt leaves every frame of the list the caller's: live,
 * unchanged, mapped nowhere in the list window. */
static int op_adopt(struct ff *x)
{
	uint64_t pages = x->f.list_pages, *v;
	xen_pfn_t *g = malloc(pages * sizeof(xen_pfn_t));
	int rc;

	assert_non_null(g);
	for (uint64_t k = 0; k < pages; k++)
		g[k] = ff_guest(x, x->f.list_frames[k]);
	rc = p2m_build_adopt(&x->f.p, x->f.list_va, g, BUILD_N);
	free(g);
	if (rc == 0) {
		fx_list_adopted(&x->f);
		return 0;
	}
	v = build_list();
	assert_memory_equal(x->f.list_va, v, BUILD_N * sizeof(uint64_t));
	free(v);
	for (uint64_t k = 0; k < pages; k++) {
		xen_pfn_t mfn;
		uint64_t pte;

		assert_true(hosted_is_frame(x->f.h, x->f.list_frames[k]));
		if (hosted_va_to_mfn(x->f.h, (uint64_t)(uintptr_t)(x->f.p.list + k * S), &mfn, &pte) == 0)
			assert_int_not_equal(mfn, x->f.list_frames[k]);
	}
	return rc;
}

static void check_adopt(struct ff *x)
{
	check_build(x);
	for (uint64_t k = 0; k < x->f.list_pages; k++)
		assert_int_equal(hosted_is_frame(x->f.h, x->f.list_frames[k]),
				 x->f.p.kinds[k] == P2M_SLOT_PRIVATE);
}

static void faults_adopt(void **state)
{
	const struct ff_case c = { .name = "p2m_build_adopt", .capacity = 3 * W, .tree = true,
				   .setup = setup_adopt, .op = op_adopt, .check = check_adopt,
				   .retry = true };

	(void)state;
	run(&c);
}

/* --- foreign --- */

static const uint64_t grant_pfns[3] = { 7, W + 3, 2 * W + S + 1 };

static int op_foreign(struct ff *x)
{
	static const uint64_t mfns[3] = { 0x4000, 0x4001, 0x4002 };

	return p2m_set_foreign(&x->f.p, grant_pfns, mfns, 3);
}

static void setup_foreign(struct ff *x)
{
	assert_int_equal(p2m_set(&x->f.p, 3, 0x77), 0);
	assert_int_equal(p2m_publish(&x->f.p, &x->arch, false), 0);
}

static void check_foreign(struct ff *x)
{
	for (int i = 0; i < 3; i++)
		assert_int_equal(p2m_raw(&x->f.p, grant_pfns[i]), p2m_foreign_entry(0x4000 + i));
	assert_true(x->arch.max_pfn > 2 * W + S + 1);
}

static void faults_foreign(void **state)
{
	const struct ff_case c = { .name = "p2m_set_foreign", .capacity = 3 * W, .tree = true,
				   .setup = setup_foreign, .op = op_foreign,
				   .check = check_foreign, .retry = true };

	(void)state;
	run(&c);
}

/* --- publish --- */

static int op_publish(struct ff *x)
{
	return p2m_publish(&x->f.p, &x->arch, false);
}

static void check_publish(struct ff *x)
{
	assert_int_equal(x->arch.pfn_to_mfn_frame_list_list, x->f.p.top_mfn);
	assert_int_equal(x->arch.p2m_vaddr, (unsigned long)(uintptr_t)x->f.p.list);
}

static void faults_publish(void **state)
{
	/* Publishing makes no fallible platform call: one clean run. */
	const struct ff_case c = { .name = "p2m_publish", .capacity = 3 * W, .tree = true,
				   .op = op_publish, .check = check_publish, .retry = true };

	(void)state;
	run(&c);
}

/* --- suspend and resume --- */

/* A mixed P2M whose frames are its own RAM pfns (the last 2 slots). */
static void setup_guest(struct ff *x)
{
	setup_mixed(x);
	assert_int_equal(p2m_set(&x->f.p, 2 * W + 3 * S, 0x99), 0);
	ff_adopt(x, 3 * W - 2 * S, 2 * S);
}

static int op_suspend(struct ff *x)
{
	return p2m_suspend(&x->f.p);
}

static void check_suspend(struct ff *x)
{
	assert_true(x->f.p.suspended);
	assert_int_equal(p2m_set_range_missing(&x->f.p, 0, W), -P2M_EBUSY);
}

/* Back to setup_guest's state: a cancelled suspend gets the same mfns
 * back; published again. */
static void reset_suspend(struct ff *x)
{
	assert_int_equal(p2m_resume(&x->f.p, false), 0);
	assert_int_equal(p2m_publish(&x->f.p, &x->arch, false), 0);
}

static void setup_suspended(struct ff *x)
{
	setup_guest(x);
	assert_int_equal(p2m_suspend(&x->f.p), 0);
	ff_restore(x, 0x3a5000);
	x->arch = (struct arch_shared_info){ 0 };
}

static int op_resume(struct ff *x)
{
	return p2m_resume(&x->f.p, true);
}

static void check_resume(struct ff *x)
{
	assert_false(x->f.p.suspended);
	ff_check_names(x);
	assert_int_equal(p2m_set(&x->f.p, 2 * W + 700, 0x55), 0);
	ff_check_names(x);
}

static void faults_suspend_resume(void **state)
{
	const struct ff_case c[] = {
		/* 1554 calls, almost all M2P look-ups of records: every one
		 * fails once. One P2M serves every run (a cancelled resume
		 * brings it back, checked), so a run costs no create, setup
		 * and snapshot of its own. */
		{ .name = "p2m_suspend", .capacity = 3 * W, .tree = true, .setup = setup_guest,
		  .op = op_suspend, .check = check_suspend, .records = true, .retry = true,
		  .reset = reset_suspend },
		{ .name = "p2m_resume (new domain)", .capacity = 3 * W, .tree = true,
		  .setup = setup_suspended, .op = op_resume, .check = check_resume,
		  .records = true, .retry = true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		run(&c[i]);
}

static int report(void **state)
{
	(void)state;
	print_message("fault runs in all: %llu\n", (unsigned long long)total_runs);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(faults_create),
		cmocka_unit_test(faults_set_prepare),
		cmocka_unit_test(faults_ranges),
		cmocka_unit_test(faults_build),
		cmocka_unit_test(build_retry_after_parked_frame_list),
		cmocka_unit_test(faults_adopt),
		cmocka_unit_test(faults_foreign),
		cmocka_unit_test(faults_publish),
		cmocka_unit_test(faults_suspend_resume),
	};

	return cmocka_run_group_tests(tests, NULL, report);
}
