/*
 * The guest's INIT_P2M walk (guest/common/init_p2m_walk.c) against page
 * tables laid out as Xen 4.17's dom0 builder lays them
 * (xen/arch/x86/pv/dom0_build.c, setup_pv_physmap): from the list's VA
 * upwards, a 1 GiB page where the CPU has them, the VA is 1 GiB aligned
 * and a whole GiB of list is left; else a 2 MiB page under the same
 * rules; else an L1 and 4 KiB pages. Frames come from a machine
 * allocator that aligns each chunk to its size; pfns are handed out in
 * allocation order from first_p2m_pfn (tables first, as on a real
 * boot: "pfns 0x400-0x402 are the L3, L2 and L1"). A real 1 GiB-page
 * layout needs a dom0 of 512 GiB or more, too big for every CI run:
 * this is where the 1 GiB, 2 MiB and 4 KiB mixes are proven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/init_p2m_walk.h"
#include "platform/x86_pte.h"

#define GIB_FRAMES (1ull << 18)
#define MIB2_FRAMES 512ull
#define MAX_MFN (1ull << 21)        /* an 8 GiB machine */
#define MAX_TABLES 64

struct machine {
	uint64_t *m2p;              /* mfn -> pfn, ~0: none */
	uint64_t next_mfn, next_pfn;
	uint64_t table_mfn[MAX_TABLES];
	uint64_t table[MAX_TABLES][512];
	unsigned nr_tables, maps, unmaps;
};

static struct machine *mc;

static uint64_t alloc(uint64_t frames)
{
	uint64_t mfn = (mc->next_mfn + frames - 1) & ~(frames - 1), k;

	assert_true(mfn + frames <= MAX_MFN);
	for (k = 0; k < frames; k++)
		mc->m2p[mfn + k] = mc->next_pfn++;
	mc->next_mfn = mfn + frames;
	return mfn;
}

static uint64_t *new_table(uint64_t *mfn)
{
	assert_true(mc->nr_tables < MAX_TABLES);
	*mfn = alloc(1);
	mc->table_mfn[mc->nr_tables] = *mfn;
	memset(mc->table[mc->nr_tables], 0, sizeof(mc->table[0]));
	return mc->table[mc->nr_tables++];
}

static uint64_t *table_of(uint64_t mfn)
{
	for (unsigned i = 0; i < mc->nr_tables; i++)
		if (mc->table_mfn[i] == mfn)
			return mc->table[i];
	return NULL;
}

#define E_TABLE (X86_PTE_PRESENT | X86_PTE_RW | X86_PTE_USER | X86_PTE_ACCESSED | X86_PTE_DIRTY)
#define E_LEAF  (X86_PTE_PRESENT | X86_PTE_USER | X86_PTE_ACCESSED | X86_PTE_DIRTY) /* read-only */

/* Xen's setup_pv_physmap for a list of `bytes` at a 1 GiB aligned VA
 * (only offsets matter); returns the L3's mfn. */
static uint64_t xen_layout(uint64_t bytes, bool page1gb, uint64_t first_pfn)
{
	uint64_t l3_mfn, va = 0, l2_mfn = 0, l1_mfn = 0;
	uint64_t *l3, *l2 = NULL, *l1 = NULL;

	mc->next_pfn = first_pfn;
	l3 = new_table(&l3_mfn);
	while (va < bytes) {
		unsigned i3 = (unsigned)(va >> 30) & 511, i2 = (unsigned)(va >> 21) & 511;
		unsigned i1 = (unsigned)(va >> 12) & 511;

		if (!l3[i3]) {
			if (page1gb && !(va & ((1ull << 30) - 1)) && bytes - va >= (1ull << 30)) {
				l3[i3] = (alloc(GIB_FRAMES) << 12) | E_LEAF | X86_PTE_PSE;
				va += 1ull << 30;
				continue;
			}
			l2 = new_table(&l2_mfn);
			l3[i3] = (l2_mfn << 12) | E_TABLE;
		}
		if (!l2[i2]) {
			if (!(va & ((1ull << 21) - 1)) && bytes - va >= (1ull << 21)) {
				l2[i2] = (alloc(MIB2_FRAMES) << 12) | E_LEAF | X86_PTE_PSE;
				va += 1ull << 21;
				continue;
			}
			l1 = new_table(&l1_mfn);
			l2[i2] = (l1_mfn << 12) | E_TABLE;
		}
		if (!l1[i1])
			l1[i1] = (alloc(1) << 12) | E_LEAF;
		va += 4096;
	}
	return l3_mfn;
}

static const uint64_t *map(void *ctx, uint64_t mfn)
{
	(void)ctx;
	mc->maps++;
	return table_of(mfn);
}

static void unmap(void *ctx, const uint64_t *t)
{
	(void)ctx;
	(void)t;
	mc->unmaps++;
}

static bool m2p(void *ctx, uint64_t mfn, uint64_t *pfn)
{
	(void)ctx;
	if (mfn >= MAX_MFN || mc->m2p[mfn] == ~0ull)
		return false;
	*pfn = mc->m2p[mfn];
	return true;
}

/* The leaves come in VA order, from page 0 without a gap (what the
 * guest's adopting build relies on to name each list page's frame). */
static uint64_t next_page, tables_seen;

static void leaf(void *ctx, uint64_t page, uint64_t mfn, uint64_t count)
{
	(void)ctx;
	(void)mfn;
	assert_int_equal(page, next_page);
	next_page += count;
}

static void table(void *ctx, uint64_t mfn)
{
	(void)ctx;
	(void)mfn;
	tables_seen++;
}

static const struct ipw_ops ops = { NULL, map, unmap, m2p, leaf, table };

static bool walk(uint64_t l3, uint64_t lo, uint64_t hi, struct ipw_result *r)
{
	next_page = tables_seen = 0;
	return init_p2m_walk(&ops, l3, lo, hi, r);
}

static int setup(void **state)
{
	(void)state;
	mc = calloc(1, sizeof(*mc));
	if (!mc)
		return -1;
	mc->m2p = malloc(MAX_MFN * sizeof(uint64_t));
	if (!mc->m2p)
		return -1;
	memset(mc->m2p, 0xff, MAX_MFN * sizeof(uint64_t));
	mc->next_mfn = 0x1234; /* nothing is aligned by accident */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(mc->m2p);
	free(mc);
	return 0;
}

/* A list of `pages` guest pfns (8 bytes each) laid out by Xen. */
struct layout {
	uint64_t l3, lo, hi;
};

static struct layout lay_out(uint64_t nr_pages, bool page1gb)
{
	struct layout l;

	l.lo = 0x400;
	l.l3 = xen_layout(nr_pages * 8, page1gb, l.lo);
	l.hi = mc->next_pfn;
	return l;
}

static void expect(const struct ipw_result *r, uint64_t g, uint64_t m, uint64_t k,
		   uint64_t tables)
{
	assert_int_equal(r->pages_1g, g);
	assert_int_equal(r->pages_2m, m);
	assert_int_equal(r->pages_4k, k);
	assert_int_equal(r->tables, tables);
	assert_int_equal(r->pages, g * GIB_FRAMES + m * MIB2_FRAMES + k);
	assert_int_equal(r->outside, 0);
	assert_int_equal(r->bad_entries, 0);
	assert_int_equal(mc->maps, mc->unmaps);
	assert_int_equal(next_page, r->pages);
	assert_int_equal(tables_seen, r->tables);
}

/* 512 MiB dom0: a 1 MiB list, 4 KiB pages only (L3, L2, L1). */
static void small_list_4k(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out(131072, true);

	(void)state;
	assert_true(walk(l.l3, l.lo, l.hi, &r));
	expect(&r, 0, 0, 256, 3);
	assert_int_equal(l.hi - l.lo, 259); /* the lab's nr_p2m_frames */
}

/* A dom0 of 513 GiB + 3 MiB... scaled: 1 GiB + 2 MiB + 1 MiB of list
 * (2^27 + 2^18 + 2^17 pfns): one 1 GiB page, one 2 MiB page, 256 4 KiB
 * pages, and the L3, one L2 and one L1. */
static void mix_1g_2m_4k(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out((1ull << 27) + (1ull << 18) + (1ull << 17), true);

	(void)state;
	assert_true(walk(l.l3, l.lo, l.hi, &r));
	expect(&r, 1, 1, 256, 3);
}

/* The same list on a CPU without 1 GiB pages: 2 MiB pages only, plus
 * the tail in 4 KiB pages (the 590 GiB case of the scale runs). */
static void mix_2m_4k_without_1g(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out((1ull << 27) + (1ull << 18) + (1ull << 17), false);

	(void)state;
	assert_true(walk(l.l3, l.lo, l.hi, &r));
	expect(&r, 0, 513, 256, 4);
}

/* Two whole GiB (a 1 TiB dom0) and a tail of 12 KiB: two 1 GiB pages,
 * then an L2 and L1 for three 4 KiB pages. */
static void two_gib_and_small_tail(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out((1ull << 28) + 1536, true);

	(void)state;
	assert_true(walk(l.l3, l.lo, l.hi, &r));
	expect(&r, 2, 0, 3, 3);
}

/* A frame under a 1 GiB page whose M2P names a pfn outside the range
 * is found, and the walk fails. */
static void frame_outside_is_found(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out((1ull << 27) + 1024, true);
	uint64_t big = x86_pte_mfn(table_of(l.l3)[0]);

	(void)state;
	mc->m2p[big + 12345] = l.hi + 7;
	assert_false(walk(l.l3, l.lo, l.hi, &r));
	assert_int_equal(r.outside, 1);
	assert_int_equal(r.pages_1g, 1);
}

/* A range one frame too long (or short) does not match. */
static void range_must_match(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out((1ull << 27) + (1ull << 18), true);

	(void)state;
	assert_true(walk(l.l3, l.lo, l.hi, &r));
	assert_false(walk(l.l3, l.lo, l.hi + 1, &r));
	assert_false(walk(l.l3, l.lo + 1, l.hi, &r));
	assert_true(r.outside > 0); /* the L3 itself is pfn lo */
}

/* A 1 GiB entry whose address is not 1 GiB aligned (only the PAT bit
 * may be set below it) is a bad entry, not silently rounded. */
static void misaligned_superpage_is_bad(void **state)
{
	struct ipw_result r;
	struct layout l = lay_out((1ull << 27), true);
	uint64_t *l3 = table_of(l.l3);

	(void)state;
	l3[0] |= 1ull << 12; /* PAT: allowed */
	assert_true(walk(l.l3, l.lo, l.hi, &r));
	l3[0] += 1ull << 13;  /* address bit 13: not allowed */
	assert_false(walk(l.l3, l.lo, l.hi, &r));
	assert_int_equal(r.bad_entries, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(small_list_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(mix_1g_2m_4k, setup, teardown),
		cmocka_unit_test_setup_teardown(mix_2m_4k_without_1g, setup, teardown),
		cmocka_unit_test_setup_teardown(two_gib_and_small_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(frame_outside_is_found, setup, teardown),
		cmocka_unit_test_setup_teardown(range_must_match, setup, teardown),
		cmocka_unit_test_setup_teardown(misaligned_superpage_is_bad, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
