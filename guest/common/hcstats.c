/*
 * The hypercall counters and their one-line summary (see
 * common/hcstats.h). The summary names the calls the boot makes by kind
 * so a reader can tell the batched ones (mmu_update, mmuext_op: several
 * requests per call) from the one-request ones.
 */
#include "arch/x86_64/hypercall.h"
#include "common/guest.h"
#include "common/hcstats.h"
#include "p2m/fmt.h"

struct hc_stats hc_stats;
struct hc_mark hc_remap;

struct hc_mark hc_mark(void)
{
	struct hc_mark m = { 0, hc_stats.mmu_entries };
	unsigned i;

	for (i = 0; i < HC_MAX; i++)
		if (i != __HYPERVISOR_console_io)
			m.calls += hc_stats.calls[i];
	return m;
}

void hc_add_since(struct hc_mark *acc, struct hc_mark from)
{
	struct hc_mark now = hc_mark();

	acc->calls += now.calls - from.calls;
	acc->mmu_entries += now.mmu_entries - from.mmu_entries;
}

/* x / n with three decimals, as "I.FFF" (printk has no floating point). */
static void per_page(char *buf, size_t n, unsigned long x, unsigned long pages)
{
	unsigned long milli = pages ? (x * 1000 + pages / 2) / pages : 0;

	p2m_snprintf(buf, n, "%lu.%03lu", milli / 1000, milli % 1000);
}

void hc_stats_print(const char *when, unsigned long remapped)
{
	const unsigned long *c = hc_stats.calls;
	struct hc_mark all = hc_mark();
	unsigned long known = c[__HYPERVISOR_mmu_update] + c[__HYPERVISOR_mmuext_op] +
			      c[__HYPERVISOR_update_va_mapping] + c[__HYPERVISOR_memory_op];
	char calls[24], entries[24];

	per_page(calls, sizeof(calls), hc_remap.calls, remapped);
	per_page(entries, sizeof(entries), hc_remap.mmu_entries, remapped);
	printk("hypercalls (%s): %lu (console_io not counted: %lu more); mmu_update %lu calls "
	       "%lu entries, mmuext_op %lu calls %lu ops, update_va_mapping %lu, memory_op %lu, "
	       "other %lu; remap: %lu page(s), %lu calls, %lu mmu_update entries, "
	       "per page %s calls %s entries\n",
	       when, all.calls, c[__HYPERVISOR_console_io], c[__HYPERVISOR_mmu_update],
	       hc_stats.mmu_entries, c[__HYPERVISOR_mmuext_op], hc_stats.mmuext_ops,
	       c[__HYPERVISOR_update_va_mapping], c[__HYPERVISOR_memory_op], all.calls - known,
	       remapped, hc_remap.calls, hc_remap.mmu_entries, calls, entries);
}
