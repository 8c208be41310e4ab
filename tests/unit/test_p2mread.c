/*
 * libp2mread (include/p2mread/read.h) on page tables and trees built by
 * hand in a small frame store, so that every path of the saver's walks is
 * reached: correct reads in list and tree mode; the saver's trims
 * (including its level-2 arithmetic that loses the last window when the
 * list does not start at L2 index 0); every refusal with the saver's
 * wording; what a malicious guest tries (a cycle in the tables, a
 * self-map, a leaf that is the L4, a list over the M2P, max_pfn at 2^52);
 * the generation moving once (re-read) and on every read (retries
 * exhausted); and a P2M built by libp2m on the hosted platform read back
 * exactly through the list and through the tree.
 *
 * The store checks the reader's side of the contract in every test: it
 * never asks for mfn 0 or above max_mfn, holds at most P2MR_MAX_MAPPINGS
 * views and returns every view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"
#include "p2m/entry.h"
#include "p2mread/read.h"

#define NFRAMES 4096
#define PRESENT (X86_PTE_PRESENT | X86_PTE_RW)
#define GIB ((uint64_t)1 << 30)
#define VA0 0x7f0000000000ull

/* Frame mfn is store[mfn] while mfn < next_mfn; mfn 0 is never made. */
static uint64_t (*store)[512];
static xen_pfn_t next_mfn;
static unsigned held, most_held;
static struct arch_shared_info *bump; /* generation moved by each map */

static const void *map(void *ctx, uint64_t mfn)
{
	(void)ctx;
	if (mfn == 0 || mfn >= NFRAMES)
		fail_msg("the reader asked for mfn %#llx, outside [1, max_mfn]",
			 (unsigned long long)mfn);
	if (bump)
		bump->p2m_generation += 2;
	if (mfn >= next_mfn)
		return NULL;
	if (++held > most_held)
		most_held = held;
	return store[mfn];
}

static void unmap(void *ctx, uint64_t mfn, const void *page)
{
	(void)ctx;
	assert_ptr_equal(page, store[mfn]);
	assert_true(held > 0);
	held--;
}

static unsigned waits;

static void wait_cb(void *ctx, unsigned attempt)
{
	(void)ctx;
	assert_int_equal(attempt, waits + 2);
	waits++;
}

static const struct p2mr_frames frames = {
	.map = map, .unmap = unmap, .wait = wait_cb, .max_mfn = NFRAMES - 1,
};

static int setup(void **state)
{
	(void)state;
	store = calloc(NFRAMES, sizeof(*store));
	next_mfn = 1;
	held = most_held = waits = 0;
	bump = NULL;
	return store ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(store);
	assert_int_equal(held, 0);
	assert_true(most_held <= P2MR_MAX_MAPPINGS);
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

static uint64_t pte(xen_pfn_t mfn)
{
	return ((uint64_t)mfn << 12) | PRESENT;
}

static xen_pfn_t mfn_of(uint64_t e)
{
	return (e & X86_PTE_MFN_MASK) >> 12;
}

static unsigned idx(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;
}

/* The table under entry i of table t, made if absent. */
static xen_pfn_t child(xen_pfn_t t, unsigned i)
{
	if (!(store[t][i] & X86_PTE_PRESENT))
		store[t][i] = pte(new_frame(0));
	return mfn_of(store[t][i]);
}

static xen_pfn_t l2_of(xen_pfn_t root, uint64_t va)
{
	return child(child(root, idx(va, 4)), idx(va, 3));
}

/* A list of `windows` 2 MiB windows at va: window w's slots all map one
 * leaf whose entries are 0x1000 * (w + 1) + i, through its own L1; from
 * window `shared_from` on, one shared L1 maps one missing leaf. */
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
		xen_pfn_t l1, leaf;

		if (w >= shared_from) {
			if (!shared_l1)
				shared_l1 = new_frame(pte(shared_leaf) & ~(uint64_t)X86_PTE_RW);
			store[l2_of(l->root, wva)][idx(wva, 2)] = pte(shared_l1);
			continue;
		}
		l1 = child(l2_of(l->root, wva), idx(wva, 2));
		leaf = new_frame(0);
		for (int i = 0; i < 512; i++)
			store[leaf][i] = 0x1000 * (w + 1) + (uint64_t)i;
		for (unsigned s = 0; s < 512; s++)
			store[l1][s] = pte(leaf);
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

/* The entries of the hand-made structures: window w reads 0x1000 *
 * (w + 1) + pfn % 512. */
struct seen {
	uint64_t leaves, bad, first_bad, next;
	unsigned attempt;
};

static int check_leaf(void *arg, const struct p2mr_leaf *l)
{
	struct seen *s = arg;
	uint64_t w = l->first / W;

	if (l->attempt != s->attempt) { /* a re-read starts again at pfn 0 */
		assert_int_equal(l->first, 0);
		s->attempt = l->attempt;
		s->leaves = s->bad = s->next = 0;
	}
	assert_int_equal(l->first, s->next);
	assert_int_equal(l->index * 512, l->first);
	assert_ptr_equal(l->entries, store[l->mfn]);
	s->next = l->first + l->n;
	for (unsigned i = 0; i < l->n; i++)
		if (l->entries[i] != 0x1000 * (w + 1) + (l->first + i) % 512 && !s->bad++)
			s->first_bad = l->first + i;
	s->leaves++;
	return 0;
}

static int read_seen(struct arch_shared_info *a, const struct p2mr_options *o,
		     struct seen *s, struct p2mr_result *res)
{
	*s = (struct seen){ .attempt = 1 };
	return p2mr_read(a, &frames, o, check_leaf, s, res);
}

static void list_aligned_reads_everything(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_result res;
	struct seen s;

	(void)state;
	make_list(&l, VA0, 3, 3);
	publish(&a, &l, 3 * W);
	assert_int_equal(read_seen(&a, NULL, &s, &res), 0);
	assert_int_equal(res.mode, P2MR_MODE_LIST);
	assert_int_equal(res.published, 3 * W);
	assert_int_equal(res.count, 3 * W);
	assert_int_equal(res.leaves, 3 * 512);
	assert_int_equal(s.leaves, 3 * 512);
	assert_int_equal(s.next, 3 * W);
	assert_int_equal(s.bad, 0);
	assert_int_equal(res.attempts, 1);
	assert_string_equal(res.error, "");
	/* A count inside the last leaf: n of the last leaf is the rest. */
	a.max_pfn = 3 * W - 100;
	assert_int_equal(read_seen(&a, NULL, &s, &res), 0);
	assert_int_equal(s.next, 3 * W - 100);
	assert_int_equal(res.leaves, 3 * 512);
}

static void list_unaligned_loses_last_window(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_result res;
	struct seen s;

	(void)state;
	/* L2 index 5: the saver's trim compares the relative index of the
	 * last distinct L1 with the absolute end index and drops the last
	 * window although all three are distinct. */
	make_list(&l, VA0 + 5 * (2u << 20), 3, 3);
	publish(&a, &l, 3 * W);
	assert_int_equal(read_seen(&a, NULL, &s, &res), 0);
	assert_int_equal(res.published, 3 * W);
	assert_int_equal(res.count, 2 * W);
	assert_int_equal(s.leaves, 2 * 512);
	assert_int_equal(s.bad, 0);
}

static void list_trailing_shared_trimmed(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_result res;
	struct seen s;

	(void)state;
	make_list(&l, VA0, 4, 2);
	publish(&a, &l, 4 * W);
	assert_int_equal(read_seen(&a, NULL, &s, &res), 0);
	/* [A, B, S, S]: the run of S, first one included, is dropped. */
	assert_int_equal(res.count, 2 * W);
	assert_int_equal(s.bad, 0);
	/* A single trailing shared window is the last distinct one: kept. */
	next_mfn = 1;
	make_list(&l, VA0, 3, 2);
	publish(&a, &l, 3 * W);
	assert_int_equal(p2mr_read(&a, &frames, NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.count, 3 * W);
	assert_int_equal(res.leaves, 3 * 512);
}

static void expect(struct arch_shared_info *a, const struct p2mr_options *o, int err,
		   const char *msg)
{
	struct p2mr_result res;
	int rc = p2mr_read(a, &frames, o, NULL, NULL, &res);

	if (rc != -err || strcmp(res.error, msg))
		fail_msg("rc %d (%s) \"%s\"\n  expected %d (%s) \"%s\"", rc, p2mr_strerror(rc),
			 res.error, -err, p2mr_strerror(err), msg);
	if (err && err != P2MR_ELEAF_MAP && err != P2MR_EGENERATION)
		assert_int_equal(res.leaves, 0); /* refused before any entry */
}

static void list_refusals(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_options limit = { .max_pfn = W };
	xen_pfn_t l3, l2, l1;

	(void)state;
	make_list(&l, VA0, 2, 2);
	publish(&a, &l, 2 * W);
	l3 = mfn_of(store[l.root][idx(VA0, 4)]);
	l2 = mfn_of(store[l3][idx(VA0, 3)]);
	l1 = mfn_of(store[l2][idx(VA0, 2)]);
	expect(&a, NULL, 0, "");

	store[l1][7] = 0;
	expect(&a, NULL, P2MR_EPT_ENTRY,
	       "Bad mfn 0 during page table walk for vaddr 0x7f0000007000 at level 1 of p2m list (entry not present)");
	store[l1][7] = pte(NFRAMES);
	expect(&a, NULL, P2MR_EPT_ENTRY,
	       "Bad mfn 0x1000 during page table walk for vaddr 0x7f0000007000 at level 1 of p2m list");
	store[l1][7] = store[l1][6];
	store[l2][idx(VA0, 2)] |= X86_PTE_PSE;
	expect(&a, NULL, P2MR_ESUPERPAGE,
	       "Cannot migrate superpage (L2[0]: 0x0000000000005083) mapping the p2m list at vaddr 0x7f0000000000");
	store[l2][idx(VA0, 2)] &= ~X86_PTE_PSE;
	store[l.root][idx(VA0, 4)] = pte(NFRAMES);
	expect(&a, NULL, P2MR_EPT_ENTRY,
	       "Bad mfn 0x1000 during page table walk for vaddr 0x7f0000000000 at level 4 of p2m list");
	store[l.root][idx(VA0, 4)] = pte(NFRAMES - 1); /* in range, no frame */
	expect(&a, NULL, P2MR_EPT_MAP,
	       "Failed to map 1 page table pages for p2m list (level 3 table at mfn 0xfff)");
	store[l.root][idx(VA0, 4)] = pte(l3);
	expect(&a, NULL, 0, "");

	a.p2m_cr3 = xen_pfn_to_cr3(NFRAMES);
	expect(&a, NULL, P2MR_ECR3, "Bad p2m_cr3 value 0x1000000");
	a.p2m_cr3 = 0x10; /* nonzero, but frame 0: the saver asserts */
	expect(&a, NULL, P2MR_ECR3, "Bad p2m_cr3 value 0x10");
	a.p2m_cr3 = xen_pfn_to_cr3(NFRAMES - 1);
	expect(&a, NULL, P2MR_EPT_MAP,
	       "Failed to map 1 page table pages for p2m list (level 4 table at mfn 0xfff)");
	a.p2m_cr3 = xen_pfn_to_cr3(l.root);
	a.p2m_vaddr = 0x00007fffffffe000ull; /* runs off the lower half */
	expect(&a, NULL, P2MR_EVADDR,
	       "Bad virtual p2m address range 0x7fffffffe000-0x8000003fdfff");
	a.p2m_vaddr = 0xffffffffffe00000ull; /* wraps */
	expect(&a, NULL, P2MR_EVADDR,
	       "Bad virtual p2m address range 0xffffffffffe00000-0x1fffff");
	a.p2m_vaddr = VA0;
	expect(&a, &limit, P2MR_ELIMIT, "max_pfn 0x80000 exceeds the reader's limit 0x40000");
	a.max_pfn = 0;
	expect(&a, NULL, P2MR_ENOP2M, "max_pfn is 0: the guest has published no P2M");
}

/* The list and M2P: no range touching [0xffff800000000000,
 * 0xffff87ffffffffff], from either side or inside. */
static void list_over_the_m2p(void **state)
{
	struct list l;
	struct arch_shared_info a;

	(void)state;
	make_list(&l, VA0, 1, 1);
	publish(&a, &l, W);
	a.p2m_vaddr = P2MR_HYPERVISOR_START - 0x100000; /* ends inside the M2P */
	expect(&a, NULL, P2MR_EVADDR,
	       "Bad virtual p2m address range 0xffff7ffffff00000-0xffff8000000fffff");
	a.p2m_vaddr = P2MR_HYPERVISOR_START + 0x1000; /* inside */
	expect(&a, NULL, P2MR_EVADDR,
	       "Bad virtual p2m address range 0xffff800000001000-0xffff800000200fff");
	a.p2m_vaddr = P2MR_HYPERVISOR_LAST + 1 - 0x1000; /* the last page */
	expect(&a, NULL, P2MR_EVADDR,
	       "Bad virtual p2m address range 0xffff87fffffff000-0xffff8800001fefff");
	/* Just above it is the kernel's half: accepted (no tables there). */
	a.p2m_vaddr = P2MR_HYPERVISOR_LAST + 1;
	expect(&a, NULL, P2MR_EPT_ENTRY,
	       "Bad mfn 0 during page table walk for vaddr 0x880000000000 at level 4 of p2m list (entry not present)");
}

static void max_pfn_at_2_52(void **state)
{
	struct list l;
	struct arch_shared_info a;

	(void)state;
	make_list(&l, VA0, 1, 1);
	publish(&a, &l, (uint64_t)1 << 52);
	/* 2^43 leaves: 2^55 bytes of list, more than a canonical half. */
	a.p2m_vaddr = 0;
	expect(&a, NULL, P2MR_EVADDR, "Bad virtual p2m address range 0-0x7fffffffffffff");
	a.max_pfn = ~(uint64_t)0; /* frames * 4096 must not wrap into range */
	expect(&a, NULL, P2MR_EVADDR, "Bad virtual p2m address range 0-0xffffffffffffffff");
	/* Representable but beyond the caller's limit (default 2^32). */
	a.max_pfn = (uint64_t)1 << 40;
	expect(&a, NULL, P2MR_ELIMIT, "max_pfn 0x10000000000 exceeds the reader's limit 0x100000000");
	/* The tree: its own refusal. */
	a.p2m_cr3 = 0;
	a.max_pfn = (uint64_t)1 << 52;
	expect(&a, NULL, P2MR_ETREE_SIZE, "max_pfn 0xfffffffffffff too large for p2m tree");
}

/* The guest's tables point back up: each is refused, none loops. */
static void cycle_self_map_and_leaf_l4(void **state)
{
	struct list l;
	struct arch_shared_info a;
	xen_pfn_t l3, l2, l1;
	uint64_t e;

	(void)state;
	make_list(&l, VA0, 1, 1);
	publish(&a, &l, W);
	l3 = mfn_of(store[l.root][idx(VA0, 4)]);
	l2 = mfn_of(store[l3][idx(VA0, 3)]);
	l1 = mfn_of(store[l2][idx(VA0, 2)]);
	/* Self-map: the L4 names itself. */
	e = store[l.root][idx(VA0, 4)];
	store[l.root][idx(VA0, 4)] = pte(l.root);
	expect(&a, NULL, P2MR_ELOOP,
	       "Loop in the p2m list's page tables: the level 4 entry for vaddr 0x7f0000000000 names mfn 0x2, the level 4 table of the same walk");
	store[l.root][idx(VA0, 4)] = e;
	/* A cycle: the L2 names the L3 above it (L3 -> L2 -> L3). */
	e = store[l2][idx(VA0, 2)];
	store[l2][idx(VA0, 2)] = pte(l3);
	expect(&a, NULL, P2MR_ELOOP,
	       "Loop in the p2m list's page tables: the level 2 entry for vaddr 0x7f0000000000 names mfn 0x3, the level 3 table of the same walk");
	store[l2][idx(VA0, 2)] = e;
	/* A leaf that is the L4. */
	store[l1][3] = pte(l.root);
	expect(&a, NULL, P2MR_ELOOP,
	       "Loop in the p2m list's page tables: the level 1 entry for vaddr 0x7f0000003000 names mfn 0x2, the level 4 table of the same walk");
	/* A leaf that is its own L1. */
	store[l1][3] = pte(l1);
	expect(&a, NULL, P2MR_ELOOP,
	       "Loop in the p2m list's page tables: the level 1 entry for vaddr 0x7f0000003000 names mfn 0x5, the level 1 table of the same walk");
	store[l1][3] = store[l1][2];
	expect(&a, NULL, 0, "");
	/* In the tree: a frame list list naming itself, a leaf that is its
	 * frame list. */
	a.p2m_cr3 = 0;
	a.pfn_to_mfn_frame_list_list = new_frame(0);
	store[a.pfn_to_mfn_frame_list_list][0] = a.pfn_to_mfn_frame_list_list;
	expect(&a, NULL, P2MR_ELOOP,
	       "Loop in the p2m tree: entry 0 of the frame list list names itself (mfn 0x7)");
	store[a.pfn_to_mfn_frame_list_list][0] = new_frame(0);
	store[next_mfn - 1][5] = next_mfn - 1;
	for (int i = 0; i < 5; i++)
		store[next_mfn - 1][i] = l1;
	expect(&a, NULL, P2MR_ELOOP,
	       "Loop in the p2m tree: leaf 5 is mfn 0x8, the frame list above it");
}

/* A tree of `mids` frame lists, the last `shared` of them one shared
 * frame list whose leaves are one missing leaf. */
static xen_pfn_t make_tree(unsigned mids, unsigned shared)
{
	xen_pfn_t top = new_frame(0), missing = new_frame(P2M_INVALID), shmid = 0;

	for (unsigned m = 0; m < mids; m++) {
		xen_pfn_t mid, leaf;

		if (m >= mids - shared) {
			if (!shmid)
				shmid = new_frame(missing);
			store[top][m] = shmid;
			continue;
		}
		mid = new_frame(0);
		store[top][m] = mid;
		leaf = new_frame(0);
		for (int j = 0; j < 512; j++)
			store[leaf][j] = 0x1000 * (m + 1) + (uint64_t)j;
		for (unsigned i = 0; i < 512; i++)
			store[mid][i] = leaf;
	}
	for (unsigned m = mids; m < 512; m++)
		store[top][m] = shmid ? shmid : store[top][0];
	return top;
}

static void tree_reads_and_trims(void **state)
{
	struct arch_shared_info a;
	struct p2mr_options tree = { .tree_only = true };
	struct p2mr_result res;
	struct seen s;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.pfn_to_mfn_frame_list_list = make_tree(4, 2);
	a.max_pfn = 4 * W;
	assert_int_equal(read_seen(&a, NULL, &s, &res), 0);
	assert_int_equal(res.mode, P2MR_MODE_TREE);
	/* [A, B, S, S]: the tree's trim keeps the first S. */
	assert_int_equal(res.count, 3 * W);
	assert_int_equal(s.leaves, 3 * 512);
	/* Window 2 is the shared one: ~0, which check_leaf counts as bad. */
	assert_int_equal(s.bad, W);
	assert_int_equal(s.first_bad, 2 * W);
	/* tree_only ignores p2m_cr3 (which would be refused). */
	a.p2m_cr3 = xen_pfn_to_cr3(12345);
	assert_int_equal(p2mr_read(&a, &frames, &tree, NULL, NULL, &res), 0);
	assert_int_equal(res.mode, P2MR_MODE_TREE);
	expect(&a, NULL, P2MR_ECR3, "Bad p2m_cr3 value 0x3039000");
}

static void tree_refusals(void **state)
{
	struct arch_shared_info a;
	xen_pfn_t top, mid1;

	(void)state;
	memset(&a, 0, sizeof(a));
	top = make_tree(2, 0);
	a.pfn_to_mfn_frame_list_list = top;
	a.max_pfn = 2 * W;
	expect(&a, NULL, 0, "");
	a.max_pfn = P2M_TREE_PFNS + 1;
	expect(&a, NULL, P2MR_ETREE_SIZE, "max_pfn 0x8000000 too large for p2m tree");
	a.max_pfn = 2 * W;
	a.pfn_to_mfn_frame_list_list = (xen_pfn_t)P2M_INVALID;
	expect(&a, NULL, P2MR_EFLL_MFN, "Bad mfn 0xffffffffffffffff for p2m frame list list");
	a.pfn_to_mfn_frame_list_list = 0;
	expect(&a, NULL, P2MR_EFLL_MFN, "Bad mfn 0 for p2m frame list list");
	a.pfn_to_mfn_frame_list_list = NFRAMES - 1;
	expect(&a, NULL, P2MR_EFLL_MAP, "Failed to map p2m frame list list at 0xfff");
	a.pfn_to_mfn_frame_list_list = top;
	mid1 = store[top][1];
	store[top][1] = 0;
	expect(&a, NULL, P2MR_EFLL_ENTRY, "Bad mfn 0 at index 1 (of 2) in p2m frame list list");
	store[top][1] = NFRAMES - 1;
	expect(&a, NULL, P2MR_EFL_MAP, "Failed to map p2m frame list (index 1, mfn 0xfff)");
	store[top][1] = mid1;
	store[store[top][0]][3] = NFRAMES + 1;
	expect(&a, NULL, P2MR_EFL_ENTRY, "Bad mfn 0x1001 at index 3 (of 1024) in p2m frame list");
	store[store[top][0]][3] = NFRAMES - 1;
	expect(&a, NULL, P2MR_ELEAF_MAP, "Failed to map p2m frames (leaf 3, mfn 0xfff)");
}

/* The callback stops the read: its value comes back in res.stop. */
static int stop_at_3(void *arg, const struct p2mr_leaf *l)
{
	(void)arg;
	return l->index == 3 ? 7 : 0;
}

/* The generation moves once, during the first read's leaves. */
static struct arch_shared_info *move_once;

static int move_then_check(void *arg, const struct p2mr_leaf *l)
{
	if (move_once && l->index == 100) {
		move_once->p2m_generation += 2;
		move_once = NULL;
	}
	return check_leaf(arg, l);
}

/* Leaves handed out by each attempt; the generation moves at leaf 100 of
 * the first. */
static unsigned per_attempt[3];

static int count_and_move(void *arg, const struct p2mr_leaf *l)
{
	per_attempt[l->attempt < 3 ? l->attempt : 0]++;
	return move_then_check(arg, l);
}

/* An attempt the generation voids stops at the next poll (every 512
 * leaves), not at the end of the list. */
static void generation_stops_early(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_result res;
	struct seen s = { .attempt = 1 };

	(void)state;
	make_list(&l, VA0, 2, 2);
	publish(&a, &l, 2 * W);
	a.p2m_generation = 4;
	move_once = &a;
	memset(per_attempt, 0, sizeof(per_attempt));
	assert_int_equal(p2mr_read(&a, &frames, NULL, count_and_move, &s, &res), 0);
	assert_int_equal(res.attempts, 2);
	assert_int_equal(per_attempt[1], 512);
	assert_int_equal(per_attempt[2], 1024);
	assert_int_equal(s.leaves, 1024);
	assert_int_equal(s.bad, 0);
	assert_int_equal(res.generation, 6);
}

static void generation(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_options two = { .attempts = 2 };
	struct p2mr_result res;
	struct seen s = { .attempt = 1 };

	(void)state;
	make_list(&l, VA0, 1, 1);
	publish(&a, &l, W);
	a.p2m_generation = 10;
	assert_int_equal(p2mr_read(&a, &frames, NULL, stop_at_3, NULL, &res), -P2MR_ESTOPPED);
	assert_int_equal(res.stop, 7);
	assert_int_equal(res.leaves, 4);
	assert_string_equal(res.error, "read stopped by the caller at leaf 3 (7)");

	/* Moved once: read again, all of it, and succeed. */
	move_once = &a;
	assert_int_equal(p2mr_read(&a, &frames, NULL, move_then_check, &s, &res), 0);
	assert_int_equal(res.attempts, 2);
	assert_int_equal(waits, 1);
	assert_int_equal(s.attempt, 2);
	assert_int_equal(s.leaves, 512);
	assert_int_equal(res.generation, 12);

	/* Moving on every read (every map bumps it): retries exhausted. */
	bump = &a;
	waits = 0;
	/* 3 maps per attempt (L4, L3, L2 of the window scan): the move is
	 * seen at the first poll, before any leaf. */
	expect(&a, &two, P2MR_EGENERATION,
	       "p2m generation count changed. Migration aborted. (2 reads; the last began at generation 0x12, ended at 0x18)");
	assert_int_equal(waits, 1);
	/* A structural refusal seen while it moved is a torn read: retried,
	 * and reported as the generation's, not as the structure's. */
	a.p2m_vaddr = VA0 + GIB; /* no tables there */
	waits = 0;
	expect(&a, NULL, P2MR_EGENERATION,
	       "p2m generation count changed. Migration aborted. (4 reads; the last began at generation 0x24, ended at 0x28)");
	a.p2m_vaddr = VA0;
	bump = NULL;
	/* Odd: an update in progress; nothing is read at all. */
	a.p2m_generation = 13;
	waits = 0;
	expect(&a, &two, P2MR_EGENERATION,
	       "p2m generation count changed. Migration aborted. (2 reads; the last began at generation 0xd, ended at 0xd)");
	/* In tree mode (no p2m_cr3) the generation means nothing. */
	a.p2m_cr3 = 0;
	a.pfn_to_mfn_frame_list_list = make_tree(1, 0);
	expect(&a, NULL, 0, "");
}

/* libp2m on the hosted platform: what it publishes reads back exactly,
 * through the list and through the tree. */
static const void *hosted_map(void *ctx, uint64_t mfn)
{
	uint64_t *page = malloc(4096);

	if (page && hosted_read_frame(ctx, mfn, page)) {
		free(page);
		return NULL;
	}
	return page;
}

static void hosted_unmap(void *ctx, uint64_t mfn, const void *page)
{
	(void)ctx;
	(void)mfn;
	free((void *)page);
}

struct expect_p2m {
	struct fx *f;
	uint64_t entries, bad;
};

static int compare_leaf(void *arg, const struct p2mr_leaf *l)
{
	struct expect_p2m *x = arg;

	for (unsigned i = 0; i < l->n; i++) {
		uint64_t pfn = l->first + i, want = p2m_raw(&x->f->p, pfn);

		/* Identity served by a shared leaf reads ~0 (the shared page
		 * cannot hold per-pfn values): what the tools understand. */
		if (x->f->p.kinds[pfn / S] != P2M_SLOT_PRIVATE)
			want = P2M_INVALID;
		if (l->entries[i] != want && !x->bad++)
			print_error("pfn %#llx reads %#llx, the P2M holds %#llx\n",
				    (unsigned long long)pfn, (unsigned long long)l->entries[i],
				    (unsigned long long)want);
		x->entries++;
	}
	return 0;
}

static void libp2m_reads_back(void **state)
{
	struct fx f;
	struct arch_shared_info arch;
	struct p2mr_frames hf = { .map = hosted_map, .unmap = hosted_unmap,
				  .max_mfn = HOSTED_MFN_BASE + HOSTED_MAX_FRAMES - 1 };
	struct p2mr_options tree = { .tree_only = true };
	struct p2mr_result res;

	(void)state;
	fx_init(&f, 6 * W, true);
	hf.ctx = f.h;
	for (uint64_t pfn = 0; pfn < 0xa0; pfn++)
		assert_int_equal(p2m_set(&f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, 0xa0, 0x60), 0);
	for (uint64_t pfn = 0x100; pfn < 2 * W + 5 * S; pfn += 3)
		assert_int_equal(p2m_set(&f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, 3 * W, W), 0);
	assert_int_equal(p2m_set(&f.p, 5 * W + 9, ram_of(9)), 0);
	p2m_publish(&f.p, &arch, false);
	for (int t = 0; t < 2; t++) {
		struct expect_p2m x = { &f, 0, 0 };

		assert_int_equal(p2mr_read(&arch, &hf, t ? &tree : NULL, compare_leaf, &x, &res), 0);
		assert_int_equal(res.mode, t ? P2MR_MODE_TREE : P2MR_MODE_LIST);
		assert_int_equal(res.published, p2m_max_pfn(&f.p));
		assert_int_equal(res.count, p2m_max_pfn(&f.p));
		assert_int_equal(x.entries, p2m_max_pfn(&f.p));
		assert_int_equal(x.bad, 0);
	}
	fx_fini(&f);
}

/* The saver's leaf check (frames.m2p): p2m[m2p[leaf]] == leaf. */
static uint64_t m2p_of[NFRAMES];

static int m2p_cb(void *ctx, uint64_t mfn, uint64_t *pfn)
{
	(void)ctx;
	if (mfn >= NFRAMES || m2p_of[mfn] == P2M_INVALID)
		return -1;
	*pfn = m2p_of[mfn];
	return 0;
}

static void leaf_m2p_check(void **state)
{
	struct list l;
	struct arch_shared_info a;
	struct p2mr_result res;
	struct p2mr_frames fm = frames;
	xen_pfn_t leaf0, leaf1;

	(void)state;
	fm.m2p = m2p_cb;
	for (unsigned i = 0; i < NFRAMES; i++)
		m2p_of[i] = P2M_INVALID;
	make_list(&l, VA0, 2, 2);
	publish(&a, &l, 2 * W);
	leaf0 = mfn_of(store[mfn_of(store[l2_of(l.root, VA0)][0])][0]);
	leaf1 = mfn_of(store[mfn_of(store[l2_of(l.root, VA0 + (2u << 20))][1])][0]);
	/* Each leaf is the RAM frame of a pfn whose entry names it. */
	store[leaf0][5] = leaf0;
	store[leaf1][7] = leaf1;
	m2p_of[leaf0] = 5;
	m2p_of[leaf1] = W + 7;
	assert_int_equal(p2mr_read(&a, &fm, NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.leaves, 2 * 512);
	/* Without m2p the check is not made. */
	m2p_of[leaf1] = P2M_INVALID;
	assert_int_equal(p2mr_read(&a, &frames, NULL, NULL, NULL, &res), 0);
	assert_int_equal(p2mr_read(&a, &fm, NULL, NULL, NULL, &res), -P2MR_ELEAF_M2P);
	assert_string_equal(res.error, "Bad mfn in p2m_frame_list[512] (mfn 0x8 has no M2P entry)");
	assert_int_equal(res.leaves, 0);
	m2p_of[leaf1] = 2 * W;
	assert_int_equal(p2mr_read(&a, &fm, NULL, NULL, NULL, &res), -P2MR_ELEAF_M2P);
	assert_string_equal(res.error,
			    "Bad mfn in p2m_frame_list[512] (mfn 0x8: M2P gives pfn 0x80000, beyond max_pfn 0x7ffff)");
	m2p_of[leaf1] = W + 6;
	assert_int_equal(p2mr_read(&a, &fm, NULL, NULL, NULL, &res), -P2MR_ELEAF_M2P);
	assert_string_equal(res.error,
			    "Bad mfn in p2m_frame_list[512] (mfn 0x8: M2P gives pfn 0x40006, whose entry is 0x2006)");
	assert_string_equal(p2mr_strerror(P2MR_ELEAF_M2P), "ELEAF_M2P");
}

static void arguments(void **state)
{
	struct arch_shared_info a = { 0 };
	struct p2mr_frames none = { 0 };
	struct p2mr_result res;

	(void)state;
	assert_int_equal(p2mr_read(&a, &frames, NULL, NULL, NULL, NULL), -P2MR_EINVAL);
	assert_int_equal(p2mr_read(NULL, &frames, NULL, NULL, NULL, &res), -P2MR_EINVAL);
	assert_int_equal(p2mr_read(&a, &none, NULL, NULL, NULL, &res), -P2MR_EINVAL);
	assert_string_equal(res.error, "no shared_info or no frame map/unmap operations");
	assert_string_equal(p2mr_strerror(-P2MR_ELOOP), "ELOOP");
	assert_string_equal(p2mr_strerror(P2MR_EGENERATION), "EGENERATION");
	assert_string_equal(p2mr_strerror(P2MR_NERRORS), "?");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(list_aligned_reads_everything),
		T(list_unaligned_loses_last_window),
		T(list_trailing_shared_trimmed),
		T(list_refusals),
		T(list_over_the_m2p),
		T(max_pfn_at_2_52),
		T(cycle_self_map_and_leaf_l4),
		T(tree_reads_and_trims),
		T(tree_refusals),
		T(generation_stops_early),
		T(generation),
		T(libp2m_reads_back),
		T(leaf_m2p_check),
		T(arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
