/*
 * The guests the workloads run on, as flat initial lists (the form Xen
 * hands a PV guest): RAM entries are mfns (bench_ram_mfn), holes carry
 * identity entries, absent memory ~0. Every implementation is built from
 * the same list, so they hold the same map.
 */
#define _GNU_SOURCE
#include <string.h>

#include "bench/bench.h"

static int alloc_flat(struct bench_layout *L, uint64_t n)
{
	memset(L, 0, sizeof(*L));
	L->flat = bench_pages(n * 8);
	L->n = n;
	return L->flat ? 0 : -P2M_ENOMEM;
}

static void fill(struct bench_layout *L, uint64_t first, uint64_t n, int kind)
{
	for (uint64_t p = first; p < first + n && p < L->n; p++)
		L->flat[p] = kind == 0 ? bench_ram_mfn(p) :
			     kind == 1 ? P2M_INVALID : p2m_identity_entry(p);
}

int bench_layout_lookup(struct bench_layout *L, uint64_t gib)
{
	uint64_t n = gib * BENCH_GIB_PFNS;

	if (alloc_flat(L, n))
		return -P2M_ENOMEM;
	L->ram = (struct bench_range){ 0, n / 4 };
	L->identity = (struct bench_range){ n / 4, 3 * n / 8 };
	L->missing = (struct bench_range){ 5 * n / 8, n - 5 * n / 8 };
	fill(L, L->ram.first, L->ram.n, 0);
	fill(L, L->identity.first, L->identity.n, 2);
	fill(L, L->missing.first, L->missing.n, 1);
	return 0;
}

/* A server's low memory: RAM up to 640 KiB, the legacy hole (identity) to
 * 1 MiB, RAM to 3 GiB, the PCI hole (identity) to 4 GiB with a few
 * reserved pages inside RAM (ACPI tables) also identity. */
static void low_holes(struct bench_layout *L)
{
	fill(L, 0xa0, 0x60, 2);                          /* 640K..1M */
	fill(L, 0xbf000, 0x40, 2);                       /* ACPI, unaligned */
	fill(L, 0xc0000, 0x40000, 2);                    /* 3G..4G */
}

int bench_layout_dom0(struct bench_layout *L, uint64_t ram_gib,
		      uint64_t extra_gib)
{
	uint64_t ram = ram_gib * BENCH_GIB_PFNS;
	/* RAM moved above the PCI hole keeps its size: the list is 1 GiB
	 * longer than the RAM. The extra space above it is missing and is
	 * not part of the initial list (Xen's list ends with the RAM). */
	uint64_t top = ram + BENCH_GIB_PFNS;

	if (alloc_flat(L, top))
		return -P2M_ENOMEM;
	fill(L, 0, top, 0);
	low_holes(L);
	L->ram = (struct bench_range){ 0, top };
	L->identity = (struct bench_range){ 0xc0000, 0x40000 };
	L->missing = (struct bench_range){ top, extra_gib * BENCH_GIB_PFNS };
	return 0;
}

int bench_layout_holes(struct bench_layout *L, uint64_t gib, unsigned holes)
{
	uint64_t n = gib * BENCH_GIB_PFNS;
	uint64_t seed = 0x4f1bbcdcbfa53e0bull;
	uint64_t step;

	if (alloc_flat(L, n))
		return -P2M_ENOMEM;
	fill(L, 0, n, 0);
	low_holes(L);
	step = n / (holes + 1);
	for (unsigned i = 1; i <= holes; i++) {
		/* 4 KiB .. 64 MiB, anywhere in its stretch */
		uint64_t len = 1 + bench_rand(&seed) % (1u << (bench_rand(&seed) % 15));
		uint64_t at = (uint64_t)i * step + bench_rand(&seed) % (step / 2);

		fill(L, at, len, i % 16 == 0 ? 1 : 2);
	}
	L->ram = (struct bench_range){ 0, n };
	L->identity = (struct bench_range){ 0xc0000, 0x40000 };
	L->missing = (struct bench_range){ 0, 0 };
	return 0;
}

void bench_layout_free(struct bench_layout *L)
{
	bench_pages_free(L->flat, L->n * 8);
	memset(L, 0, sizeof(*L));
}
