/*
 * kmain: the guest's whole life, in the order of docs/design.md "Boot":
 *
 *   1. adopt the initial list (either placement) and set up page tables
 *      and the M2P;
 *   2. get the memory map, plan it, seed the frame pool;
 *   3. create the P2M; copy the initial list and the initrd out of
 *      ranges the plan takes away; give back the frames the plan
 *      releases or trims; build it by adopting the initial list's pages
 *      as leaves (p2m_build_adopt; the copying p2m_build for a relocated
 *      or oversized list, after moving the frames under holes whose
 *      targets lie beyond the build's windows);
 *   4. free the initial list (after an adopting build: its mapping and
 *      Xen's tables, at once), apply the rest of the plan (the moves,
 *      identity, extra memory);
 *   5. (a copied list is freed here) trim the initial mapping past the
 *      kernel and recycle Xen's tables;
 *   6. publish to shared_info;
 *   7. prove the result (checks.c), print the layout, exit with a verdict.
 *
 * Any failure before the checks is a panic: it exits with EXIT_FAIL.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/frames.h"
#include "common/hcstats.h"
#include "common/platform.h"
#include "p2m/dump.h"
#include "p2m/publish.h"

start_info_t *start_info;
struct boot boot;

/* The page shared_info is mapped at (its own frame is never used). */
static uint8_t shared_info_page[4096] __attribute__((aligned(4096)));

void kmain(start_info_t *si);

/* Before the build: the pool's frames are RAM below nr_pages (the
 * initial list) or remap targets above it (already in the P2M). */
static uint64_t mfn_from_initial(uint64_t pfn)
{
	return pfn < boot.nr_pages ? boot.initial[pfn] : p2m_mfn(&boot.p2m, pfn);
}

static uint64_t mfn_from_p2m(uint64_t pfn)
{
	return p2m_mfn(&boot.p2m, pfn);
}

uint64_t boot_pfn_to_mfn(uint64_t pfn)
{
	return p2m_mfn(&boot.p2m, pfn);
}

/* Put the page's own frame back under it (the saver rejects a PTE that
 * maps a frame which is not the domain's, like shared_info). */
void unmap_shared_info(void)
{
	uint64_t pfn = ((uint64_t)(uintptr_t)shared_info_page - VIRT_BASE) >> PAGE_SHIFT;

	if (hyp_update_va_mapping((uint64_t)(uintptr_t)shared_info_page,
				  (boot_pfn_to_mfn(pfn) << PAGE_SHIFT) | PTE_LEAF_RW,
				  UVMF_INVLPG | UVMF_LOCAL))
		panic("cannot unmap shared_info");
	boot.shared_info = NULL;
}

void map_shared_info(void)
{
	if (hyp_update_va_mapping((uint64_t)(uintptr_t)shared_info_page,
				  (start_info->shared_info & PTE_ADDR) | PTE_LEAF_RW,
				  UVMF_INVLPG | UVMF_LOCAL))
		panic("cannot map shared_info at maddr %#lx", start_info->shared_info);
	boot.shared_info = (struct shared_info *)shared_info_page;
}

static void dump_out(void *arg, const char *s, size_t n)
{
	(void)arg;
	con_write(s, n);
}

void kmain(start_info_t *si)
{
	struct p2m_platform plat;
	const xen_pfn_t *frames;
	const char *why;
	unsigned failed;
	int rc;

	start_info = si;
	con_init();
	printk("p2mkit guest: %s, VIRT_BASE %#lx, cmdline '%s'\n", si->magic,
	       (unsigned long)VIRT_BASE, (const char *)si->cmd_line);
	printk("start_info %p: nr_pages %#lx flags %#x pt_base %#lx nr_pt_frames %lu\n",
	       (void *)si, si->nr_pages, si->flags, si->pt_base, si->nr_pt_frames);
	printk("mfn_list %#lx first_p2m_pfn %#lx nr_p2m_frames %lu\n",
	       si->mfn_list, si->first_p2m_pfn, si->nr_p2m_frames);

	/* 1 */
	pt_init((const uint64_t *)si->mfn_list);
	rc = m2p_init();
	if (rc)
		panic("M2P: XENMEM query failed: %d", rc);
	initial_adopt(si);

	/* 2 */
	memmap_get();
	memmap_plan();
	memmap_pool();

	/* 3 */
	platform_pfn_to_mfn = mfn_from_initial;
	platform_init(&plat);
	rc = p2m_create(&boot.p2m, &plat, boot.plan.end, true);
	if (rc)
		panic("p2m_create(%#lx): %s", (unsigned long)boot.plan.end,
		      p2m_last_error(&boot.p2m));
	relocate_objects();
	frames = initial_frames(&why);
	boot.adopt = frames != NULL;
	if (!boot.adopt)
		memmap_remap_early();
	memmap_release();
	if (boot.adopt) {
		rc = p2m_build_adopt(&boot.p2m, boot.initial, frames, boot.nr_pages);
		if (rc)
			panic("p2m_build_adopt: %s", p2m_last_error(&boot.p2m));
		boot.list_adopted = boot.p2m.nr_private_leaves;
		initial_frames_done();
	} else {
		printk("copying build: %s\n", why);
		rc = p2m_build(&boot.p2m, boot.initial, boot.nr_pages);
		if (rc)
			panic("p2m_build: %s", p2m_last_error(&boot.p2m));
	}
	platform_pfn_to_mfn = mfn_from_p2m;
	printk("P2M: list at %p, capacity %#lx pfns, %s\n", (void *)boot.p2m.list,
	       (unsigned long)boot.p2m.capacity,
	       boot.adopt ? "the initial list's pages adopted as leaves" : "copied");

	/* 4, 5: an adopted list's old mapping goes first (the build gave
	 * frames back that it still maps) */
	if (boot.adopt)
		initial_free();
	memmap_apply();
	if (!boot.adopt)
		initial_free();
	recycle_initial_mapping();

	/* 6 */
	map_shared_info();
	boot.tools_read_list = (si->flags & SIF_VIRT_P2M_4TOOLS) != 0;
	if (p2m_publish(&boot.p2m, &boot.shared_info->arch, boot.tools_read_list))
		panic("p2m_publish: %s", p2m_last_error(&boot.p2m));
	printk("tree: %s\n", boot.tools_read_list ?
	       "not published, the builder set SIF_VIRT_P2M_4TOOLS (the tools read the list)" :
	       "published for pfns below 512 GiB (no SIF_VIRT_P2M_4TOOLS: dom0, or an old builder)");
	printk("published: max_pfn %#lx, frame_list_list %#lx, p2m_cr3 %#lx, p2m_vaddr %#lx, generation %lu\n",
	       (unsigned long)boot.shared_info->arch.max_pfn,
	       (unsigned long)boot.shared_info->arch.pfn_to_mfn_frame_list_list,
	       (unsigned long)boot.shared_info->arch.p2m_cr3,
	       (unsigned long)boot.shared_info->arch.p2m_vaddr,
	       (unsigned long)boot.shared_info->arch.p2m_generation);
	hc_stats_print("to P2M ready", (unsigned long)boot.remapped);

	/* 7 */
	failed = checks_run();
	printk("layout:\n");
	p2m_dump(&boot.p2m, p2m_max_pfn(&boot.p2m), dump_out, NULL);
	if (cmdline_has("loop") && !boot.dom0)
		failed = suspend_loop(failed);
	guest_exit(failed ? EXIT_FAIL : EXIT_PASS);
}
