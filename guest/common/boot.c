/*
 * kmain: the guest's whole life, in the order of DESIGN.md "Boot".
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/guest.h"

start_info_t *start_info;

void kmain(start_info_t *si);

void kmain(start_info_t *si)
{
	const uint64_t *list;
	uint64_t i, bad = 0;
	int rc;

	start_info = si;
	list = (const uint64_t *)si->mfn_list;
	printk("p2mkit guest: %s, VIRT_BASE %#lx\n", si->magic,
	       (unsigned long)VIRT_BASE);
	printk("start_info %p nr_pages %#lx flags %#x pt_base %#lx nr_pt_frames %lu\n",
	       (void *)si, si->nr_pages, si->flags, si->pt_base, si->nr_pt_frames);
	printk("mfn_list %#lx first_p2m_pfn %#lx nr_p2m_frames %lu cmdline '%s'\n",
	       si->mfn_list, si->first_p2m_pfn, si->nr_p2m_frames,
	       (const char *)si->cmd_line);
	pt_init(list);
	rc = m2p_init();
	if (rc)
		panic("m2p_init: %d", rc);
	printk("M2P readable below mfn %#lx\n", (unsigned long)m2p_max_mfn());
	for (i = 0; i < si->nr_pages; i++) {
		uint64_t pfn;

		if (!m2p_read(list[i], &pfn) || pfn != i)
			bad++;
	}
	printk("initial list vs M2P: %lu mismatches\n", (unsigned long)bad);
	guest_exit(bad ? EXIT_FAIL : EXIT_PASS);
}
