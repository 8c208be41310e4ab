/*
 * The x86-64 page-table entry bits, once for the host side: the hosted
 * platform's page-table mirror, the benchmarks' Linux-style tables and
 * the unit tests that build or read tables all use these. (The guest has
 * its own in guest/arch/x86_64/pt.h, with the PV rules around them;
 * libp2mread, which the guest links too, keeps its few in read/list.c.)
 */
#ifndef HOST_X86_PTE_H
#define HOST_X86_PTE_H

#include <stdint.h>

#define X86_PTE_PRESENT   ((uint64_t)1 << 0)
#define X86_PTE_RW        ((uint64_t)1 << 1)
#define X86_PTE_USER      ((uint64_t)1 << 2)
#define X86_PTE_ACCESSED  ((uint64_t)1 << 5)
#define X86_PTE_DIRTY     ((uint64_t)1 << 6)
/* In an L2 or L3 entry: a 2 MiB or 1 GiB page, not a table. */
#define X86_PTE_PSE       ((uint64_t)1 << 7)
/* The frame's address bits (51..12). */
#define X86_PTE_MFN_MASK  ((uint64_t)0x000ffffffffff000)

/* The frame an entry names. */
static inline uint64_t x86_pte_mfn(uint64_t pte)
{
	return (pte & X86_PTE_MFN_MASK) >> 12;
}

#endif
