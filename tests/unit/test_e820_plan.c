/*
 * The E820 planner (lib/e820_*.c): sanitising, the plan's categories and
 * lists, Linux's remap counts on QEMU's maps, conflicts, storage errors,
 * and applying a plan to a hosted P2M. Every successful plan is also run
 * through the fuzzers' invariant checker (tests/fuzz/e820_check.c), which
 * compares the sanitised map with an independent per-page model.
 */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "helper_p2m.h"
#include "p2m/e820.h"

/* The checker is shared with the fuzz targets; built into this test. */
#include "../fuzz/e820_check.c"

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)
#define TiB (1024ull * GiB)
#define PFN(b) ((uint64_t)(b) >> 12)

/* [a, last] inclusive, as the logs print it. */
static struct p2m_e820_entry E(uint64_t a, uint64_t last, uint32_t t)
{
	struct p2m_e820_entry e = { a, last + 1 - a, t };

	return e;
}

/* [a, b) exclusive. */
static struct p2m_e820_entry X(uint64_t a, uint64_t b, uint32_t t)
{
	struct p2m_e820_entry e = { a, b - a, t };

	return e;
}

struct run {
	struct plan_check_store st;
	struct p2m_e820_plan p;
	struct p2m_e820_input in;
	int rc;
};

static void run_plan(struct run *r, const struct p2m_e820_entry *m, size_t n, bool dom0,
		     uint64_t nr, uint64_t max)
{
	p2m_e820_input_init(&r->in, dom0);
	r->in.map = m;
	r->in.nr_map = n;
	r->in.nr_pages = nr;
	r->in.max_pages = max;
	plan_check_store_init(&r->st, n + 8);
}

static int go(struct run *r)
{
	r->rc = plan_check_run(&r->in, &r->st, &r->p);
	return r->rc;
}

static void done(struct run *r)
{
	plan_check_store_free(&r->st);
}

static void expect_range(const struct p2m_e820_range *x, uint64_t s, uint64_t e)
{
	assert_int_equal(x->start, s);
	assert_int_equal(x->end, e);
}

/* The example of Linux's patch "Consider E820 non-RAM and E820 gaps as
 * 1-1 mappings" (xen-devel, January 2011): RAM to 1 GiB, RAM to 1029 MB,
 * ACPI, a reserved hole, RAM from 2001 MB: the identity range is
 * 1029 MB-2001 MB. */
static void gaps_1to1_example(void **state)
{
	struct p2m_e820_entry m[] = {
		X(0, 1 * GiB, P2M_E820_RAM),
		X(1 * GiB, 1029 * MiB, P2M_E820_RAM),
		X(1029 * MiB, 1030 * MiB, P2M_E820_ACPI),
		X(1500 * MiB, 1600 * MiB, P2M_E820_RESERVED),
		X(2001 * MiB, 3 * GiB, P2M_E820_RAM),
	};
	struct run r;

	(void)state;
	run_plan(&r, m, 5, false, PFN(2 * GiB), PFN(2 * GiB));
	r.in.end = PFN(3 * GiB);
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.nr_identity, 1);
	expect_range(&r.p.identity[0], PFN(1029 * MiB), PFN(2001 * MiB));
	/* The two RAM entries merge; sanitised map has 4 ranges. */
	assert_int_equal(r.p.nr_map, 4);
	expect_range(&r.p.map[0], 0, PFN(1029 * MiB));
	/* The frames under [1029M, 2G) moved to RAM from 2 GiB up. */
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_SRC], PFN(2001 * MiB) - PFN(1029 * MiB));
	assert_int_equal(r.p.nr_remap, 1);
	assert_int_equal(r.p.remap[0].src, PFN(1029 * MiB));
	assert_int_equal(r.p.remap[0].dst, PFN(2 * GiB));
	done(&r);
}

/* A worked example derived by hand from Linux's arch/x86/xen/setup.c
 * (xen_memory_setup, xen_remap_memory), not captured from a boot. */
static void linux_worked_example(void **state)
{
	struct p2m_e820_entry m[] = {
		X(0, 0x9f000, P2M_E820_RAM),
		X(0x9f000, 1 * MiB, P2M_E820_RESERVED),
		X(1 * MiB, 3 * GiB, P2M_E820_RAM),
		X(4 * GiB, 64 * GiB, P2M_E820_RAM),
	};
	struct run r;

	(void)state;
	run_plan(&r, m, 4, true, 0x200000, 0x200000);
	r.in.end = 0x8000000;   /* Linux's list capacity in the example */
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], 0x40061);
	assert_int_equal(r.p.extra_budget, 0x40061);   /* Linux's extra_pages */
	assert_int_equal(r.p.nr_remap, 2);
	assert_int_equal(r.p.remap[0].src, 0x9f);
	assert_int_equal(r.p.remap[0].dst, 0x200000);
	assert_int_equal(r.p.remap[0].count, 0x61);
	assert_int_equal(r.p.remap[1].src, 0xc0000);
	assert_int_equal(r.p.remap[1].dst, 0x200061);
	assert_int_equal(r.p.remap[1].count, 0x40000);
	assert_int_equal(r.p.pfns[P2M_E820_C_EXTRA], 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_RELEASED], 0);
	/* Layout: as Linux's dump, with the discarded RAM missing. */
	assert_int_equal(p2m_e820_category_of(&r.p, 0x9e), P2M_E820_C_RAM);
	assert_int_equal(p2m_e820_category_of(&r.p, 0xc1234), P2M_E820_C_REMAP_SRC);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x200010), P2M_E820_C_REMAP_DST);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x240061), P2M_E820_C_UNUSED);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x1000000), P2M_E820_C_IDENTITY);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x7ffffff), P2M_E820_C_IDENTITY);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x8000000), P2M_E820_NCAT);
	done(&r);
}

/* The map Xen 4.17 hands a dom0 under QEMU (XENMEM_machine_memory_map:
 * Xen's map plus the IOAPIC and LAPIC entries), as a Debian Linux 6.1
 * dom0 printed it (docs/design.md, "The lab"). */
static size_t qemu_map(struct p2m_e820_entry *m, uint64_t mem)
{
	size_t n = 0;
	uint64_t low = mem > 3 * GiB ? 0xbffdffff : mem - 0x20001;

	m[n++] = E(0, 0x9fbff, P2M_E820_RAM);
	m[n++] = E(0x9fc00, 0x9ffff, P2M_E820_RESERVED);
	m[n++] = E(0xf0000, 0xfffff, P2M_E820_RESERVED);
	m[n++] = E(0x100000, low, P2M_E820_RAM);
	m[n++] = E(low + 1, low + 0x20000, P2M_E820_RESERVED);
	m[n++] = E(0xfec00000, 0xfec00fff, P2M_E820_RESERVED);
	m[n++] = E(0xfee00000, 0xfeefffff, P2M_E820_RESERVED);
	m[n++] = E(0xfffc0000, 0xffffffff, P2M_E820_RESERVED);
	if (mem > 3 * GiB)
		m[n++] = X(4 * GiB, mem + 1 * GiB, P2M_E820_RAM);
	m[n++] = E(0xfd00000000, 0xffffffffff, P2M_E820_RESERVED);
	return n;
}

static void qemu_case(uint64_t mem, uint64_t dom0_mem, uint64_t remapped, uint64_t top)
{
	struct p2m_e820_entry m[16];
	size_t n = qemu_map(m, mem);
	struct run r;

	run_plan(&r, m, n, true, PFN(dom0_mem), PFN(dom0_mem));
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], remapped);
	assert_int_equal(r.p.pfns[P2M_E820_C_RELEASED], 0);
	/* Linux's E820 then says "usable" up to here. */
	assert_int_equal(r.p.remap[r.p.nr_remap - 1].dst + r.p.remap[r.p.nr_remap - 1].count,
			 PFN(top));
	done(&r);
}

static void qemu_linux_counts(void **state)
{
	(void)state;
	qemu_case(2 * GiB, 1 * GiB, 97, 0x40061000);
	qemu_case(6 * GiB, 5 * GiB, 262273, 0x180081000);
	qemu_case(64 * GiB, 62 * GiB, 262273, 0xfc0081000);
}

/* DMI tables in a reserved entry that does not start or end on a page. */
static void unaligned_dmi(void **state)
{
	struct p2m_e820_entry m[] = {
		E(0, 0x9d3ff, P2M_E820_RAM),
		E(0x9d400, 0x9ffff, P2M_E820_RESERVED),
		E(0x100000, 0x6c5cefff, P2M_E820_RAM),
		E(0x6c5cf000, 0x6c5cf017, P2M_E820_RESERVED),
		E(0x6c5cf018, 0x6cf0efff, P2M_E820_RAM),
		X(0x6cf0f100, 0x6cf0f200, P2M_E820_ACPI),
		X(0x6cf0f200, 0x7f000800, P2M_E820_RAM),
	};
	struct run r;

	(void)state;
	run_plan(&r, m, 7, true, 0x70000, 0x70000);
	assert_int_equal(go(&r), 0);
	/* The page holding the 24-byte table and the one holding ACPI data
	 * become identity; the RAM page after them stays RAM. */
	assert_int_equal(p2m_e820_category_of(&r.p, 0x6c5ce), P2M_E820_C_RAM);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x6c5cf), P2M_E820_C_REMAP_SRC);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x6c5d0), P2M_E820_C_RAM);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x6cf0f), P2M_E820_C_REMAP_SRC);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x6cf10), P2M_E820_C_RAM);
	/* 0x9d400 rounds down: pfn 0x9d is not RAM. The RAM ending at
	 * 0x7f000800 loses its partial last page. */
	assert_int_equal(p2m_e820_category_of(&r.p, 0x9c), P2M_E820_C_RAM);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x9d), P2M_E820_C_REMAP_SRC);
	assert_int_equal(r.p.map_top, 0x7f000);
	done(&r);
}

/* Hundreds of holes, of sizes that are not multiples of 512. */
static void hundreds_of_holes(void **state)
{
	enum { N = 400 };
	struct p2m_e820_entry *m = calloc(2 * N + 2, sizeof(*m));
	uint64_t pfn = 0x100, holes = 0;
	size_t n = 0;
	struct run r;

	(void)state;
	assert_non_null(m);
	m[n++] = X(0, 0x100000, P2M_E820_RAM);
	for (int i = 0; i < N; i++) {
		uint64_t ram = 1000 + (uint64_t)i * 37, hole = 1 + (uint64_t)(i % 13) * 41;

		m[n++] = X(pfn << 12, (pfn + ram) << 12, P2M_E820_RAM);
		pfn += ram;
		m[n++] = X(pfn << 12, (pfn + hole) << 12, i & 1 ? P2M_E820_RESERVED : P2M_E820_NVS);
		pfn += hole;
		holes += hole;
	}
	m[n++] = X(pfn << 12, (pfn + 0x100000) << 12, P2M_E820_RAM);
	run_plan(&r, m, n, false, pfn, pfn);
	r.in.limit = 0;
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_SRC], holes);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], holes);
	assert_int_equal(r.p.nr_remap, N);
	assert_int_equal(r.p.remap[N - 1].dst + r.p.remap[N - 1].count, pfn + holes);
	/* N holes plus everything above the map. */
	assert_int_equal(r.p.nr_identity, N + 1);
	done(&r);
	free(m);
}

/* Holes of 513 and 262145 pfns, starting off every boundary. */
static void odd_hole_sizes(void **state)
{
	struct p2m_e820_entry m[] = {
		X(0, PFN(0) + 0x1001ull * 4096, P2M_E820_RAM),
		X(0x1001ull * 4096, (0x1001ull + 513) * 4096, P2M_E820_RESERVED),
		X((0x1001ull + 513) * 4096, 0x50001ull * 4096, P2M_E820_RAM),
		X(0x50001ull * 4096, (0x50001ull + 262145) * 4096, P2M_E820_ACPI),
		X((0x50001ull + 262145) * 4096, 8 * GiB, P2M_E820_RAM),
	};
	struct run r;

	(void)state;
	run_plan(&r, m, 5, true, PFN(4 * GiB), PFN(4 * GiB));
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], 513 + 262145 + 0x60);
	expect_range(&r.p.identity[1], 0x1001, 0x1001 + 513);
	expect_range(&r.p.identity[2], 0x50001, 0x50001 + 262145);
	done(&r);
}

/* No RAM above nr_pages: the frames under the hole are released. */
static void release_path(void **state)
{
	struct p2m_e820_entry m[] = {
		X(0, 3 * GiB, P2M_E820_RAM),
		X(3 * GiB, 4 * GiB, P2M_E820_RESERVED),
	};
	struct p2m_e820_entry m2[] = {
		X(0, 3 * GiB, P2M_E820_RAM),
		X(4 * GiB, 4 * GiB + 100 * 4096, P2M_E820_RAM),
	};
	struct run r;

	(void)state;
	run_plan(&r, m, 2, false, PFN(4 * GiB), PFN(4 * GiB));
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_RELEASED], PFN(1 * GiB));
	assert_int_equal(r.p.nr_remap, 0);
	assert_int_equal(r.p.nr_release, 1);
	expect_range(&r.p.release[0], PFN(3 * GiB), PFN(4 * GiB));
	assert_int_equal(r.p.release[0].kind, P2M_E820_C_RELEASED);
	done(&r);

	/* Room for 100 pages only: the first 100 move, the rest go back. */
	run_plan(&r, m2, 2, false, PFN(4 * GiB), PFN(8 * GiB));
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], 100);
	assert_int_equal(r.p.pfns[P2M_E820_C_RELEASED], PFN(1 * GiB) - 100);
	assert_int_equal(r.p.pfns[P2M_E820_C_EXTRA], 0);
	expect_range(&r.p.release[0], PFN(3 * GiB) + 100, PFN(4 * GiB));
	done(&r);
}

/* Memory above 512 GiB, for a domU with and without Linux's limit. */
static void above_512g(void **state)
{
	struct p2m_e820_entry m[] = { X(0, 1 * TiB, P2M_E820_RAM) };
	struct run r;

	(void)state;
	run_plan(&r, m, 1, false, PFN(600 * GiB), PFN(800 * GiB));
	assert_int_equal(r.in.limit, P2M_E820_LIMIT_512G);
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_RAM], PFN(512 * GiB));
	assert_int_equal(r.p.pfns[P2M_E820_C_TRIMMED], PFN(88 * GiB));
	assert_int_equal(r.p.pfns[P2M_E820_C_EXTRA], 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_UNUSED], PFN(424 * GiB));
	assert_int_equal(r.p.nr_release, 1);
	assert_int_equal(r.p.release[0].kind, P2M_E820_C_TRIMMED);
	done(&r);

	run_plan(&r, m, 1, false, PFN(600 * GiB), PFN(800 * GiB));
	r.in.limit = 0;
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_RAM], PFN(600 * GiB));
	assert_int_equal(r.p.pfns[P2M_E820_C_EXTRA], PFN(200 * GiB));
	assert_int_equal(r.p.pfns[P2M_E820_C_UNUSED], PFN(224 * GiB));
	assert_int_equal(r.p.nr_extra, 1);
	expect_range(&r.p.extra[0], PFN(600 * GiB), PFN(800 * GiB));
	done(&r);

	/* dom0 is never limited by default. */
	run_plan(&r, m, 1, true, PFN(600 * GiB), PFN(600 * GiB));
	assert_int_equal(r.in.limit, 0);
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_TRIMMED], 0);
	done(&r);
}

/* The balloon gets at most EXTRA_RATIO times the allocation. */
static void extra_clamp(void **state)
{
	struct p2m_e820_entry m[] = { X(0, 64 * GiB, P2M_E820_RAM) };
	struct run r;

	(void)state;
	run_plan(&r, m, 1, false, PFN(1 * GiB), PFN(60 * GiB));
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_EXTRA], PFN(10 * GiB));
	done(&r);
}

/* Overlaps, order, zero sizes, sub-page RAM, dom0 UNUSABLE, the ISA
 * hole, RAM entries meeting inside a page. */
static void sanitise(void **state)
{
	struct p2m_e820_entry m[] = {
		X(4 * MiB + 512 * KiB, 6 * MiB, P2M_E820_ACPI),
		X(4 * MiB, 5 * MiB, P2M_E820_RESERVED),
		X(0, 16 * MiB, P2M_E820_RAM),
		X(20 * MiB, 20 * MiB, P2M_E820_RESERVED),          /* empty */
		X(30 * MiB + 100, 30 * MiB + 2000, P2M_E820_RAM),  /* sub-page */
		X(32 * MiB, 33 * MiB, P2M_E820_UNUSABLE),
		X(40 * MiB, 40 * MiB + 6000, P2M_E820_RAM),
		X(40 * MiB + 6000, 41 * MiB, P2M_E820_RAM),
		X(8 * MiB, 9 * MiB, P2M_E820_NVS),
		X(8 * MiB + 4096, 8 * MiB + 8192, P2M_E820_RESERVED),
	};
	struct p2m_e820_range out[P2M_E820_MAP_CAP(10)];
	struct p2m_e820_input in;
	struct p2m_e820_plan p;

	(void)state;
	p2m_e820_input_init(&in, false);
	in.map = m;
	in.nr_map = 10;
	p2m_e820_plan_init(&p, out, P2M_E820_MAP_CAP(10));
	assert_int_equal(p2m_e820_sanitize(&in, &p), 0);
	assert_int_equal(p.dropped, 2);
	expect_range(&out[0], 0, PFN(4 * MiB));
	assert_int_equal(out[0].kind, P2M_E820_RAM);
	expect_range(&out[1], PFN(4 * MiB), PFN(4 * MiB + 512 * KiB));
	assert_int_equal(out[1].kind, P2M_E820_RESERVED);
	expect_range(&out[2], PFN(4 * MiB + 512 * KiB), PFN(6 * MiB));
	assert_int_equal(out[2].kind, P2M_E820_ACPI);
	expect_range(&out[3], PFN(6 * MiB), PFN(8 * MiB));
	expect_range(&out[4], PFN(8 * MiB), PFN(9 * MiB));        /* NVS beats reserved */
	assert_int_equal(out[4].kind, P2M_E820_NVS);
	expect_range(&out[5], PFN(9 * MiB), PFN(16 * MiB));
	expect_range(&out[6], PFN(32 * MiB), PFN(33 * MiB));
	assert_int_equal(out[6].kind, P2M_E820_UNUSABLE);          /* domU */
	expect_range(&out[7], PFN(40 * MiB), PFN(41 * MiB));       /* merged */
	assert_int_equal(p.nr_map, 8);

	/* dom0: UNUSABLE is RAM, 640K-1M reserved. */
	p2m_e820_input_init(&in, true);
	in.map = m;
	in.nr_map = 10;
	p2m_e820_plan_init(&p, out, P2M_E820_MAP_CAP(10));
	assert_int_equal(p2m_e820_sanitize(&in, &p), 0);
	expect_range(&out[0], 0, 0xa0);
	expect_range(&out[1], 0xa0, 0x100);
	assert_int_equal(out[1].kind, P2M_E820_RESERVED);
	assert_int_equal(out[8].kind, P2M_E820_RAM);
	expect_range(&out[8], PFN(32 * MiB), PFN(33 * MiB));
}

/* Xen-placed objects under non-RAM. */
static void conflicts(void **state)
{
	struct p2m_e820_entry m[] = {
		X(0, 0x9f000, P2M_E820_RAM),
		X(0x9f000, 1 * MiB, P2M_E820_RESERVED),
		X(1 * MiB, 64 * MiB, P2M_E820_RAM),
		X(64 * MiB, 65 * MiB, P2M_E820_NVS),
		X(68 * MiB, 4 * GiB, P2M_E820_RAM),
	};
	struct run r;
	char msg[256];

	(void)state;
	/* All in RAM: none. */
	run_plan(&r, m, 5, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ 0x100, 0x3a00 };
	r.in.objects[P2M_E820_OBJ_START_INFO] = (struct p2m_e820_object){ 0x4a00, 1 };
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.nr_conflicts, 0);
	done(&r);

	/* The initial list under NVS and the initrd in the gap: relocated,
	 * to RAM clear of every object. */
	run_plan(&r, m, 5, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ 0x100, 0x3a00 };
	r.in.objects[P2M_E820_OBJ_P2M_LIST] = (struct p2m_e820_object){ PFN(64 * MiB), 0x200 };
	r.in.objects[P2M_E820_OBJ_INITRD] = (struct p2m_e820_object){ PFN(66 * MiB), 0x100 };
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.nr_conflicts, 2);
	assert_int_equal(r.p.conflicts[0].object, P2M_E820_OBJ_P2M_LIST);
	assert_int_equal(r.p.conflicts[0].action, P2M_E820_RELOCATE);
	assert_int_equal(r.p.conflicts[0].reason, P2M_E820_UNDER_ENTRY);
	assert_int_equal(r.p.conflicts[0].range_type, P2M_E820_NVS);
	assert_int_equal(r.p.conflicts[0].target, 0x3b00);
	assert_int_equal(r.p.conflicts[1].object, P2M_E820_OBJ_INITRD);
	assert_int_equal(r.p.conflicts[1].reason, P2M_E820_UNDER_GAP);
	assert_int_equal(r.p.conflicts[1].target, 0x3d00);
	p2m_e820_describe_conflict(&r.p.conflicts[0], msg, sizeof(msg));
	assert_non_null(strstr(msg, "initial P2M list"));
	assert_non_null(strstr(msg, "ACPI NVS"));
	assert_non_null(strstr(msg, "relocate it to pfn 0x3b00"));
	done(&r);

	/* Kernel, page tables, start_info under non-RAM: fatal, named (a
	 * domU: dom0's NVS would move, see nvs_moved_for_dom0). */
	for (int o = P2M_E820_OBJ_KERNEL; o <= P2M_E820_OBJ_START_INFO; o++) {
		if (o == P2M_E820_OBJ_P2M_LIST)
			continue;
		run_plan(&r, m, 5, false, PFN(1 * GiB), PFN(1 * GiB));
		r.in.objects[o] = (struct p2m_e820_object){ PFN(63 * MiB), 0x200 };
		assert_int_equal(go(&r), -P2M_ECONFLICT);
		assert_int_equal(r.p.fatal, 1);
		assert_int_equal(r.p.conflicts[0].action, P2M_E820_FATAL);
		assert_non_null(strstr(r.p.error, p2m_e820_object_name(o)));
		assert_non_null(strstr(r.p.error, "ACPI NVS [mem 0x4000000-0x40fffff]"));
		done(&r);
	}

	/* No room to relocate: fatal. */
	run_plan(&r, m, 5, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_INITRD] = (struct p2m_e820_object){ PFN(64 * MiB), PFN(900 * MiB) };
	assert_int_equal(go(&r), -P2M_ECONFLICT);
	assert_non_null(strstr(r.p.error, "no RAM to relocate it to"));
	done(&r);

	/* An object outside the allocation is bad input. */
	run_plan(&r, m, 5, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ PFN(1 * GiB) - 1, 2 };
	assert_int_equal(go(&r), -P2M_EINVAL);
	assert_non_null(strstr(r.p.error, "kernel"));
	done(&r);
}

/* Linux 6.12: dom0's ACPI NVS under the kernel, its page tables or
 * start_info moves to the top of RAM above nr_pages; its old pfns keep
 * Xen's frames; the new ones map the NVS frames (the old pfns). */
static const struct p2m_e820_entry nvs_map[] = {
	{ 0, 0x9f000, P2M_E820_RAM },
	{ 0x9f000, 0x61000, P2M_E820_RESERVED },
	{ 1 * MiB, 63 * MiB, P2M_E820_RAM },
	{ 64 * MiB, 1 * MiB, P2M_E820_NVS },
	{ 68 * MiB, 4 * GiB - 68 * MiB, P2M_E820_RAM },
};

static void nvs_moved_for_dom0(void **state)
{
	const uint64_t src = PFN(64 * MiB), dst = PFN(4 * GiB) - 256;
	struct run r;
	struct fx f;

	(void)state;
	for (int o = P2M_E820_OBJ_KERNEL; o <= P2M_E820_OBJ_START_INFO; o++) {
		if (o == P2M_E820_OBJ_P2M_LIST)
			continue;
		run_plan(&r, nvs_map, 5, true, PFN(1 * GiB), PFN(1 * GiB));
		r.in.objects[o] = (struct p2m_e820_object){ PFN(63 * MiB), 0x200 };
		assert_int_equal(go(&r), 0);
		assert_int_equal(r.p.nr_conflicts, 0);
		assert_int_equal(r.p.nr_moved, 1);
		assert_int_equal(r.p.moved[0].src, src);
		assert_int_equal(r.p.moved[0].dst, dst);
		assert_int_equal(r.p.moved[0].count, 256);
		assert_int_equal(p2m_e820_category_of(&r.p, src), P2M_E820_C_RAM);
		assert_int_equal(p2m_e820_category_of(&r.p, src + 255), P2M_E820_C_RAM);
		assert_int_equal(p2m_e820_category_of(&r.p, dst - 1), P2M_E820_C_UNUSED);
		assert_int_equal(p2m_e820_category_of(&r.p, dst), P2M_E820_C_NVS_MOVED);
		assert_int_equal(r.p.pfns[P2M_E820_C_NVS_MOVED], 256);
		/* Under holes: the ISA hole (97) and the gap (768), not NVS. */
		assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_SRC], 97 + 768);
		/* The firmware's map is kept as it was. */
		assert_int_equal(r.p.map[3].kind, P2M_E820_NVS);
		done(&r);
	}
	/* Applied: the new pfns hold the NVS frames. */
	run_plan(&r, nvs_map, 5, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ PFN(63 * MiB), 0x200 };
	assert_int_equal(go(&r), 0);
	fx_init(&f, r.p.end, false);
	assert_int_equal(p2m_e820_apply(&f.p, &r.p), 0);
	for (uint64_t i = 0; i < 256; i++)
		assert_int_equal(p2m_raw(&f.p, dst + i), src + i);
	assert_int_equal(p2m_kind_of(&f.p, dst - 1), P2M_KIND_MISSING);
	assert_int_equal(p2m_kind_of(&f.p, dst + 256), P2M_KIND_IDENTITY);
	/* A move beyond the capacity is refused, naming it. */
	r.p.moved[0].dst = f.p.capacity - 255;
	assert_int_equal(p2m_e820_apply(&f.p, &r.p), -P2M_ERANGE);
	assert_non_null(strstr(p2m_last_error(&f.p), "moved NVS pfns"));
	fx_fini(&f);
	done(&r);

	/* A domU's NVS never moves (no frames behind it). */
	run_plan(&r, nvs_map, 5, false, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ PFN(63 * MiB), 0x200 };
	assert_int_equal(go(&r), -P2M_ECONFLICT);
	assert_int_equal(r.p.nr_moved, 0);
	done(&r);

	/* No RAM range ends 256 pfns above nr_pages: it stays fatal. */
	run_plan(&r, nvs_map, 5, true, PFN(4 * GiB) - 255, PFN(4 * GiB) - 255);
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ PFN(63 * MiB), 0x200 };
	assert_int_equal(go(&r), -P2M_ECONFLICT);
	assert_int_equal(r.p.nr_moved, 0);
	assert_non_null(strstr(r.p.error, "ACPI NVS"));
	done(&r);
}

/* Linux moves at most 4 NVS ranges; a fifth under the kernel is fatal. */
static void nvs_moved_at_most_four(void **state)
{
	struct p2m_e820_entry m[8];
	struct run r;

	(void)state;
	m[0] = X(0, 0x9f000, P2M_E820_RAM);
	m[1] = X(1 * MiB, 4 * GiB, P2M_E820_RAM);
	for (int k = 0; k < 5; k++)
		m[2 + k] = X((64 + 2 * k) * MiB, (65 + 2 * k) * MiB, P2M_E820_NVS);
	run_plan(&r, m, 7, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ PFN(64 * MiB), PFN(10 * MiB) };
	assert_int_equal(go(&r), -P2M_ECONFLICT);
	assert_int_equal(r.p.nr_moved, P2M_E820_MAX_MOVED);
	/* Stacked below one another at the top of RAM. */
	assert_int_equal(r.p.moved[0].dst, PFN(4 * GiB) - 256);
	assert_int_equal(r.p.moved[3].dst, PFN(4 * GiB) - 4 * 256);
	assert_non_null(strstr(r.p.error, "ACPI NVS [mem 0x4800000-0x48fffff]"));
	done(&r);

	/* Four: all moved, no conflict. */
	run_plan(&r, m, 6, true, PFN(1 * GiB), PFN(1 * GiB));
	r.in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ PFN(64 * MiB), PFN(10 * MiB) };
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.nr_moved, 4);
	assert_int_equal(r.p.pfns[P2M_E820_C_NVS_MOVED], 4 * 256);
	done(&r);
}

/* Newer Linux reserves 512 KiB-1 MiB for dom0 (the iBFT window): the
 * 31 pages 0x80-0x9e are then remapped too. Off by default, as in the
 * Debian 6.1 kernel whose count (262273) the boots reproduce. */
static void ibft_window(void **state)
{
	struct p2m_e820_entry m[16];
	size_t n = qemu_map(m, 6 * GiB);
	struct run r;

	(void)state;
	run_plan(&r, m, n, true, PFN(5 * GiB), PFN(5 * GiB));
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], 262273);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x80), P2M_E820_C_RAM);
	done(&r);

	run_plan(&r, m, n, true, PFN(5 * GiB), PFN(5 * GiB));
	r.in.ibft = true;
	assert_int_equal(go(&r), 0);
	assert_int_equal(r.p.pfns[P2M_E820_C_REMAP_DST], 262273 + 31);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x7f), P2M_E820_C_RAM);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x80), P2M_E820_C_REMAP_SRC);
	assert_int_equal(r.p.map[1].start, 0x80);
	assert_int_equal(r.p.map[1].kind, P2M_E820_RESERVED);
	done(&r);

	/* A domU has no ISA hole, so no iBFT window either. */
	run_plan(&r, m, n, false, PFN(5 * GiB), PFN(5 * GiB));
	r.in.ibft = true;
	assert_int_equal(go(&r), 0);
	assert_int_equal(p2m_e820_category_of(&r.p, 0x80), P2M_E820_C_RAM);
	done(&r);
}

/* A deterministic "firmware" of n overlapping entries of mixed types in
 * scrambled order, some empty, some sub-page. */
static struct p2m_e820_entry *many_entries(size_t n)
{
	struct p2m_e820_entry *m = calloc(n, sizeof(*m));
	static const uint32_t types[] = { P2M_E820_RAM, P2M_E820_RAM, P2M_E820_RAM,
					  P2M_E820_RESERVED, P2M_E820_ACPI, P2M_E820_NVS,
					  P2M_E820_UNUSABLE, 13 };
	uint64_t x = 88172645463325252ull;

	assert_non_null(m);
	for (size_t k = 0; k < n; k++) {
		size_t i = (k * 7919) % n;     /* n is not a multiple of 7919 */

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		m[k].addr = (uint64_t)i * 4 * MiB + (x % (2 * MiB)) + (x >> 40 & 1 ? 0 : 100);
		m[k].size = (x >> 8) % (6 * MiB) + (x >> 41 & 1 ? 0 : 123);
		if ((x >> 50) % 97 == 0)
			m[k].size = 0;
		m[k].type = types[(x >> 20) % 8];
	}
	return m;
}

/*
 * Maps far beyond 4096 entries plan, and their plans pass every
 * invariant. Timing is not asserted (no timed tests); the figure is
 * printed for the record. The sanitiser is O(n log n): the sweep pushes
 * and pops each entry once.
 */
static void twenty_thousand_entries(void **state)
{
	static const size_t sizes[] = { 4096, 20000 };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		size_t n = sizes[k];
		struct p2m_e820_entry *m = many_entries(n);
		struct timespec t0, t1;
		struct run r;

		run_plan(&r, m, n, true, PFN(64 * GiB), PFN(128 * GiB));
		assert_int_equal(go(&r), 0);
		assert_true(r.p.nr_map > n / 4);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(p2m_e820_plan(&r.in, &r.p), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message("%zu entries: sanitised into %zu ranges, planned in %.2f ms\n", n,
			      r.p.nr_map, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			      (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
		done(&r);
		free(m);
	}
}

/* Lists too small, NULL lists counted, bad input. */
static void storage_and_input_errors(void **state)
{
	struct p2m_e820_entry m[16];
	size_t n = qemu_map(m, 6 * GiB);
	struct p2m_e820_range map[P2M_E820_MAP_CAP(16)], ident[1], small[2];
	struct p2m_e820_input in;
	struct p2m_e820_plan p;
	struct p2m_e820_entry wrap = { 0xfffffffffffff000ull, 0x2000, P2M_E820_RAM };

	(void)state;
	p2m_e820_input_init(&in, true);
	in.map = m;
	in.nr_map = n;
	in.nr_pages = PFN(5 * GiB);
	p2m_e820_plan_init(&p, map, P2M_E820_MAP_CAP(16));
	assert_int_equal(p2m_e820_plan(&in, &p), 0);   /* lists NULL: counted */
	assert_int_equal(p.nr_identity, 3);
	assert_int_equal(p.nr_remap, 2);
	assert_int_equal(p.pfns[P2M_E820_C_REMAP_DST], 262273);

	p.identity = ident;
	p.identity_cap = 1;
	assert_int_equal(p2m_e820_plan(&in, &p), -P2M_ENOSPC);
	assert_non_null(strstr(p.error, "identity list: 3 entries needed, room for 1"));

	p2m_e820_plan_init(&p, small, 2);
	assert_int_equal(p2m_e820_plan(&in, &p), -P2M_ENOSPC);
	assert_non_null(strstr(p.error, "sanitised map"));

	p2m_e820_plan_init(&p, map, P2M_E820_MAP_CAP(16));
	in.map = &wrap;
	in.nr_map = 1;
	assert_int_equal(p2m_e820_plan(&in, &p), -P2M_EINVAL);
	assert_non_null(strstr(p.error, "entry 0"));

	in.map = m;
	in.nr_map = P2M_E820_MAX_ENTRIES + 1;
	assert_int_equal(p2m_e820_plan(&in, &p), -P2M_EINVAL);
	in.nr_map = n;
	in.end = 5;
	assert_int_equal(p2m_e820_plan(&in, &p), -P2M_EINVAL);
	assert_non_null(strstr(p.error, "below nr_pages"));
}

/* The plan applied to a P2M: identity and missing through libp2m. */
static void apply_to_p2m(void **state)
{
	struct p2m_e820_entry m[16];
	size_t n = qemu_map(m, 6 * GiB);
	struct run r;
	struct fx f;

	(void)state;
	run_plan(&r, m, n, true, PFN(5 * GiB), PFN(6 * GiB));
	r.in.end = 8 * W;
	assert_int_equal(go(&r), 0);
	assert_true(r.p.nr_extra > 0);
	fx_init(&f, 8 * W, false);
	/* Start from all identity so that "missing" must be written. */
	assert_int_equal(p2m_set_range_identity(&f.p, 0, 8 * W), 0);
	assert_int_equal(p2m_e820_apply(&f.p, &r.p), 0);
	for (uint64_t pfn = 0; pfn < 8 * W; pfn += 61) {
		enum p2m_e820_category c = p2m_e820_category_of(&r.p, pfn);
		enum p2m_kind k = p2m_kind_of(&f.p, pfn);

		if (c == P2M_E820_C_IDENTITY || c == P2M_E820_C_REMAP_SRC ||
		    c == P2M_E820_C_RELEASED)
			assert_int_equal(k, P2M_KIND_IDENTITY);
		else if (c == P2M_E820_C_EXTRA)
			assert_int_equal(k, P2M_KIND_MISSING);
	}
	assert_int_equal(p2m_kind_of(&f.p, 0x9f), P2M_KIND_IDENTITY);
	assert_int_equal(p2m_kind_of(&f.p, r.p.extra[0].start), P2M_KIND_MISSING);
	/* Again: idempotent. */
	assert_int_equal(p2m_e820_apply(&f.p, &r.p), 0);
	fx_check_accounting(&f);

	/* Extra beyond the capacity is refused, naming it. */
	r.p.extra[0].end = 9 * W;
	assert_int_equal(p2m_e820_apply(&f.p, &r.p), -P2M_ERANGE);
	assert_non_null(strstr(p2m_last_error(&f.p), "beyond the capacity"));
	fx_fini(&f);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gaps_1to1_example),
		cmocka_unit_test(linux_worked_example),
		cmocka_unit_test(qemu_linux_counts),
		cmocka_unit_test(unaligned_dmi),
		cmocka_unit_test(hundreds_of_holes),
		cmocka_unit_test(odd_hole_sizes),
		cmocka_unit_test(release_path),
		cmocka_unit_test(above_512g),
		cmocka_unit_test(extra_clamp),
		cmocka_unit_test(sanitise),
		cmocka_unit_test(conflicts),
		cmocka_unit_test(storage_and_input_errors),
		cmocka_unit_test(apply_to_p2m),
		cmocka_unit_test(nvs_moved_for_dom0),
		cmocka_unit_test(nvs_moved_at_most_four),
		cmocka_unit_test(ibft_window),
		cmocka_unit_test(twenty_thousand_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
