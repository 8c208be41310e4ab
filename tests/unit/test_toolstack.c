/*
 * The toolstack reader itself (host/common/toolstack.c), on page tables
 * and trees built by hand in a synthetic frame store, so that every path
 * of the saver's walks is reached: correct reads in list and tree mode,
 * the saver's trailing-duplicate trims (including its level-2 arithmetic
 * that loses the last GiB when the list does not start at L2 index 0),
 * PSE entries, non-present entries, bad mfns at each level, generation
 * changes during a read and an early stop of the callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/toolstack.h"
#include "p2m/entry.h"
#include "p2m/error.h"
#include "platform/hosted.h"

#define NFRAMES 4096
#define PRESENT (P2M_PTE_PRESENT | P2M_PTE_RW)
#define W_PFNS ((uint64_t)1 << 18)

/* Frame mfn is store[mfn]; mfn 0 is never handed out. */
static uint64_t (*store)[512];
static xen_pfn_t next_mfn;

static int read_frame(void *ctx, xen_pfn_t mfn, void *buf)
{
	(void)ctx;
	if (mfn == 0 || mfn >= next_mfn)
		return -P2M_ERANGE;
	memcpy(buf, store[mfn], 4096);
	return 0;
}

static xen_pfn_t new_frame(uint64_t fill)
{
	xen_pfn_t m = next_mfn++;

	assert_true(m < NFRAMES);
	for (int i = 0; i < 512; i++)
		store[m][i] = fill;
	return m;
}

static void frames(struct ts_frames *fr)
{
	fr->ctx = NULL;
	fr->read_frame = read_frame;
	fr->max_mfn = NFRAMES - 1;
}

static int setup(void **state)
{
	(void)state;
	store = calloc(NFRAMES, sizeof(*store));
	next_mfn = 1;
	return store ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(store);
	return 0;
}

static unsigned idx(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;
}

/* The table under entry i of table t, made if absent. */
static xen_pfn_t child(xen_pfn_t t, unsigned i)
{
	if (!(store[t][i] & P2M_PTE_PRESENT))
		store[t][i] = ((uint64_t)new_frame(0) << 12) | PRESENT;
	return (store[t][i] & P2M_PTE_MFN_MASK) >> 12;
}

static xen_pfn_t l1_of(xen_pfn_t root, uint64_t va)
{
	return child(child(child(root, idx(va, 4)), idx(va, 3)), idx(va, 2));
}

/* A list of `windows` windows at va: window w's slots all map leaf[w]
 * (entry value: pfn * 2 for window 0's leaf, etc.) through its own L1,
 * or through L1 `shared_l1` for the windows from `shared_from` on. */
struct list {
	xen_pfn_t root;
	uint64_t va;
};

static void make_list(struct list *l, uint64_t va, unsigned windows, unsigned shared_from)
{
	xen_pfn_t shared_l1 = 0, shared_leaf = new_frame(P2M_INVALID);

	l->root = new_frame(0);
	l->va = va;
	for (unsigned w = 0; w < windows; w++) {
		uint64_t wva = va + (uint64_t)w * (2u << 20);
		xen_pfn_t l1;

		if (w >= shared_from) {
			if (!shared_l1) {
				shared_l1 = new_frame(0);
				for (int i = 0; i < 512; i++)
					store[shared_l1][i] = ((uint64_t)shared_leaf << 12) | P2M_PTE_PRESENT;
			}
			child(child(l->root, idx(wva, 4)), idx(wva, 3));
			store[child(child(l->root, idx(wva, 4)), idx(wva, 3))][idx(wva, 2)] =
				((uint64_t)shared_l1 << 12) | PRESENT;
			continue;
		}
		l1 = l1_of(l->root, wva);
		for (unsigned s = 0; s < 512; s++) {
			/* One distinct leaf per window, seen at all its slots, with
			 * entries naming the window: enough to check the order. */
			if (s == 0) {
				xen_pfn_t leaf = new_frame(0);

				for (int i = 0; i < 512; i++)
					store[leaf][i] = 0x1000 * (w + 1) + (uint64_t)i;
				store[l1][0] = ((uint64_t)leaf << 12) | PRESENT;
			} else {
				store[l1][s] = store[l1][0];
			}
		}
	}
}

static void publish(struct arch_shared_info *a, const struct list *l, uint64_t count)
{
	memset(a, 0, sizeof(*a));
	a->max_pfn = count;
	a->p2m_cr3 = xen_pfn_to_cr3(l->root);
	a->p2m_vaddr = l->va;
	a->pfn_to_mfn_frame_list_list = (xen_pfn_t)P2M_INVALID;
}

struct seen {
	uint64_t leaves, bad;
	uint64_t first_bad;
};

static int check_leaf(void *arg, uint64_t first, const uint64_t *e, unsigned n, xen_pfn_t leaf)
{
	struct seen *s = arg;
	uint64_t w = first >> 18;

	(void)leaf;
	for (unsigned i = 0; i < n; i++)
		if (e[i] != 0x1000 * (w + 1) + (first + i) % 512 && !s->bad++)
			s->first_bad = first + i;
	s->leaves++;
	return 0;
}

#define GIB ((uint64_t)1 << 30)

static void list_aligned_reads_everything(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct ts_frames fr;
	struct ts_result res;
	struct seen s = { 0 };

	(void)state;
	frames(&fr);
	make_list(&l, 0x7f0000000000ull, 3, 3);
	publish(&a, &l, 3 * W_PFNS);
	assert_int_equal(ts_read_p2m(&a, &fr, NULL, check_leaf, &s, &res), 0);
	assert_int_equal(res.mode, TS_MODE_LIST);
	assert_int_equal(res.saver_count, 3 * W_PFNS);
	assert_int_equal(s.leaves, 3 * 512);
	assert_int_equal(s.bad, 0);
	assert_false(res.gen_changed);
}

static void list_unaligned_loses_last_gib(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct ts_frames fr;
	struct ts_result res;
	struct seen s = { 0 };

	(void)state;
	frames(&fr);
	/* L2 index 5: the saver's level-2 trim compares the relative index
	 * of the last distinct L1 with the absolute end index, and drops the
	 * last window although all three are distinct. */
	make_list(&l, 0x7f0000000000ull + 5 * (2u << 20), 3, 3);
	publish(&a, &l, 3 * W_PFNS);
	assert_int_equal(ts_read_p2m(&a, &fr, NULL, check_leaf, &s, &res), 0);
	assert_int_equal(res.count, 3 * W_PFNS);
	assert_int_equal(res.saver_count, 2 * W_PFNS);
	assert_int_equal(s.leaves, 2 * 512);
	assert_int_equal(s.bad, 0);
}

static void list_trailing_shared_trimmed(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct ts_frames fr;
	struct ts_result res;
	struct seen s = { 0 };

	(void)state;
	frames(&fr);
	make_list(&l, 0x7f0000000000ull, 4, 2);
	publish(&a, &l, 4 * W_PFNS);
	assert_int_equal(ts_read_p2m(&a, &fr, NULL, check_leaf, &s, &res), 0);
	/* [A, B, S, S]: the run of S, first one included, is dropped. */
	assert_int_equal(res.saver_count, 2 * W_PFNS);
	assert_int_equal(s.bad, 0);
	/* A single trailing shared window is kept. */
	next_mfn = 1;
	make_list(&l, 0x7f0000000000ull, 3, 2);
	publish(&a, &l, 3 * W_PFNS);
	s = (struct seen){ 0 };
	assert_int_equal(ts_read_p2m(&a, &fr, NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.saver_count, 3 * W_PFNS);
}

static void expect(struct arch_shared_info *a, const struct ts_options *opt, int err,
		   const char *needle)
{
	struct ts_frames fr;
	struct ts_result res;
	int rc;

	frames(&fr);
	rc = ts_read_p2m(a, &fr, opt, NULL, NULL, &res);
	if (rc != -err || !strstr(res.error, needle))
		fail_msg("rc %d \"%s\", expected %d \"%s\"", rc, res.error, -err, needle);
}

static void list_errors(void **state)
{
	struct list l;
	struct arch_shared_info a;
	uint64_t va = 0x7f0000000000ull;
	xen_pfn_t l3, l2, l1;

	(void)state;
	make_list(&l, va, 2, 2);
	publish(&a, &l, 2 * W_PFNS);
	l3 = (store[l.root][idx(va, 4)] & P2M_PTE_MFN_MASK) >> 12;
	l2 = (store[l3][idx(va, 3)] & P2M_PTE_MFN_MASK) >> 12;
	l1 = (store[l2][idx(va, 2)] & P2M_PTE_MFN_MASK) >> 12;

	store[l1][7] = 0;
	expect(&a, NULL, P2M_ECHECK, "Bad mfn 0 during page table walk for vaddr 0x7f0000007000 at level 1 of p2m list (entry not present)");
	store[l1][7] = store[l1][6];
	store[l2][idx(va, 2)] |= P2M_PTE_PSE;
	expect(&a, NULL, P2M_ECHECK, "Superpage at level 2 for vaddr 0x7f0000000000");
	store[l2][idx(va, 2)] &= ~P2M_PTE_PSE;
	store[l.root][idx(va, 4)] = ((uint64_t)NFRAMES << 12) | PRESENT;
	expect(&a, NULL, P2M_ECHECK, "Bad mfn 0x1000 during page table walk for vaddr 0x7f0000000000 at level 4");
	store[l.root][idx(va, 4)] = ((uint64_t)(NFRAMES - 1) << 12) | PRESENT;
	expect(&a, NULL, P2M_EMAP, "Failed to map 1 page table pages for p2m list");
	store[l.root][idx(va, 4)] = ((uint64_t)l3 << 12) | PRESENT;
	expect(&a, NULL, 0, ""); /* repaired */

	a.p2m_cr3 = xen_pfn_to_cr3(NFRAMES);
	expect(&a, NULL, P2M_ERANGE, "Bad p2m_cr3 value 0x1000000");
	a.p2m_cr3 = xen_pfn_to_cr3(l.root);
	a.p2m_vaddr = 0xffff800000000000ull;
	expect(&a, NULL, P2M_ERANGE, "Bad virtual p2m address range 0xffff800000000000-0xffff8000003fffff");
	a.p2m_vaddr = 0x00007fffffffe000ull;
	expect(&a, NULL, P2M_ERANGE, "Bad virtual p2m address range");
	a.p2m_vaddr = va;
	a.max_pfn = 0;
	expect(&a, NULL, P2M_EINVAL, "max_pfn is 0");
}

/* A tree of `mids` frame lists (the last `shared` of them one shared
 * frame list whose leaves are one missing leaf). */
static xen_pfn_t make_tree(unsigned mids, unsigned shared)
{
	xen_pfn_t top = new_frame(0), missing = new_frame(P2M_INVALID), shmid = 0;

	for (unsigned m = 0; m < mids; m++) {
		xen_pfn_t mid;

		if (m >= mids - shared) {
			if (!shmid)
				shmid = new_frame(missing);
			store[top][m] = shmid;
			continue;
		}
		mid = new_frame(0);
		store[top][m] = mid;
		for (unsigned i = 0; i < 512; i++) {
			xen_pfn_t leaf = i == 0 ? new_frame(0) : (xen_pfn_t)store[mid][0];

			if (i == 0)
				for (int j = 0; j < 512; j++)
					store[leaf][j] = 0x1000 * (m + 1) + (uint64_t)j;
			store[mid][i] = leaf;
		}
	}
	for (unsigned m = mids; m < 512; m++)
		store[top][m] = shmid ? shmid : store[top][0];
	return top;
}

static void tree_reads_and_trims(void **state)
{
	struct arch_shared_info a;
	struct ts_frames fr;
	struct ts_options tree = { .tree_only = true };
	struct ts_result res;
	struct seen s = { 0 };

	(void)state;
	frames(&fr);
	memset(&a, 0, sizeof(a));
	a.pfn_to_mfn_frame_list_list = make_tree(4, 2);
	a.max_pfn = 4 * W_PFNS;
	assert_int_equal(ts_read_p2m(&a, &fr, NULL, check_leaf, &s, &res), 0);
	assert_int_equal(res.mode, TS_MODE_TREE);
	/* [A, B, S, S]: the tree trim keeps the first S. */
	assert_int_equal(res.saver_count, 3 * W_PFNS);
	assert_int_equal(s.leaves, 3 * 512);
	/* Window 2 is the shared one: ~0, which check_leaf counts as bad. */
	assert_int_equal(s.bad, W_PFNS);
	assert_int_equal(s.first_bad, 2 * W_PFNS);
	/* tree_only also ignores a p2m_cr3. */
	a.p2m_cr3 = xen_pfn_to_cr3(12345);
	assert_int_equal(ts_read_p2m(&a, &fr, &tree, NULL, NULL, &res), 0);
	assert_int_equal(res.mode, TS_MODE_TREE);
	a.p2m_cr3 = 0;
}

static void tree_errors(void **state)
{
	struct arch_shared_info a;
	xen_pfn_t top, mid1;

	(void)state;
	memset(&a, 0, sizeof(a));
	top = make_tree(2, 0);
	a.pfn_to_mfn_frame_list_list = top;
	a.max_pfn = 2 * W_PFNS;
	expect(&a, NULL, 0, "");
	a.max_pfn = P2M_TREE_PFNS + 1;
	expect(&a, NULL, P2M_ERANGE, "max_pfn 0x8000000 too large for p2m tree");
	a.max_pfn = 2 * W_PFNS;
	a.pfn_to_mfn_frame_list_list = (xen_pfn_t)P2M_INVALID;
	expect(&a, NULL, P2M_ECHECK, "Bad mfn 0xffffffffffffffff for p2m frame list list");
	a.pfn_to_mfn_frame_list_list = 0;
	expect(&a, NULL, P2M_ECHECK, "Bad mfn 0 for p2m frame list list");
	a.pfn_to_mfn_frame_list_list = NFRAMES - 1;
	expect(&a, NULL, P2M_EMAP, "Failed to map p2m frame list list at 0xfff");
	a.pfn_to_mfn_frame_list_list = top;
	mid1 = store[top][1];
	store[top][1] = 0;
	expect(&a, NULL, P2M_ECHECK, "Bad mfn 0 at index 1 (of 2) in p2m frame list list");
	store[top][1] = mid1;
	store[store[top][0]][3] = NFRAMES + 1;
	expect(&a, NULL, P2M_ECHECK, "Bad mfn 0x1001 at index 3 (of 1024) in p2m frame list");
}

static struct arch_shared_info *bump_arch;

static int bump_gen(void *arg, uint64_t first, const uint64_t *e, unsigned n, xen_pfn_t leaf)
{
	(void)arg;
	(void)e;
	(void)n;
	(void)leaf;
	if (first == 512)
		bump_arch->p2m_generation += 2;
	return first == 1024 ? 7 : 0;
}

static void generation_and_early_stop(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct ts_frames fr;
	struct ts_result res;

	(void)state;
	frames(&fr);
	make_list(&l, 0x7f0000000000ull, 1, 1);
	publish(&a, &l, W_PFNS);
	a.p2m_generation = 10;
	bump_arch = &a;
	assert_int_equal(ts_read_p2m(&a, &fr, NULL, bump_gen, NULL, &res), 7);
	assert_int_equal(res.gen_before, 10);
	assert_int_equal(res.gen_after, 12);
	assert_true(res.gen_changed);
	assert_int_equal(res.leaves, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(list_aligned_reads_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(list_unaligned_loses_last_gib, setup, teardown),
		cmocka_unit_test_setup_teardown(list_trailing_shared_trimmed, setup, teardown),
		cmocka_unit_test_setup_teardown(list_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(tree_reads_and_trims, setup, teardown),
		cmocka_unit_test_setup_teardown(tree_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(generation_and_early_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
