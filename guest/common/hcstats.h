/*
 * What the boot asked of Xen, counted (the counters live in
 * arch/x86_64/hypercall.h, where every call passes): a mark of the
 * running totals, a phase accumulator (the remap's share) and one
 * summary line for the console. console_io is left out of the totals:
 * it is the guest's own printing, not P2M work.
 */
#ifndef GUEST_HCSTATS_H
#define GUEST_HCSTATS_H

struct hc_mark {
	unsigned long calls;        /* hypercalls, console_io excluded */
	unsigned long mmu_entries;  /* requests inside mmu_update calls */
};

/* The totals now. */
struct hc_mark hc_mark(void);

/* acc += (now - from). */
void hc_add_since(struct hc_mark *acc, struct hc_mark from);

/* What remapping frames cost (memmap.c adds each remap to it). */
extern struct hc_mark hc_remap;

/* One line: "hypercalls (WHEN): ..." with the totals by kind and the
 * remap's share per remapped page. */
void hc_stats_print(const char *when, unsigned long remapped);

#endif
