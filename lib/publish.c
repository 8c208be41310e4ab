/*
 * Publishing the P2M to the toolstack through shared_info.arch, and the
 * 3-level tree the older tools walk (drawn in the overview at the top of
 * include/p2m/p2m.h).
 *
 * The tree is kept all the time for windows below 512 GiB: each private
 * window's frame list (512 leaf mfns) is its mid page, and the top page
 * names the frame lists (or the shared one, for shared windows). Shared
 * slots show the shared leaves, whose content is ~0: the tools see
 * identity as missing, which is all they understand (they know only
 * mfns and INVALID_P2M_ENTRY). It is published, for the first 512 GiB
 * whatever the capacity, unless the tools said they read the list:
 * docs/tree-rule.md (docs/design.md, ABI rule 1).
 */
#include "internal.h"
#include "p2m/publish.h"

uint64_t p2m_tree_root(const struct p2m *p)
{
	if (!p->tree_enabled || p->tools_read_list)
		return P2M_INVALID;
	return p->top_mfn;
}

int p2m_publish(struct p2m *p, struct arch_shared_info *arch, bool tools_read_list)
{
	/* Suspended, the records hold pfns: nothing to show the tools. */
	int rc = p2m_refuse_suspended(p, "p2m_publish");

	if (rc)
		return rc;
	p->tools_read_list = tools_read_list;
	p->plat.lock(p->plat.ctx);
	/* Under the lock: p2m_note_pfn() raises max_pfn only while holding
	 * it, so the copy cannot be overtaken. */
	__atomic_store_n(&arch->max_pfn, p2m_max_pfn(p), __ATOMIC_RELAXED);
	arch->pfn_to_mfn_frame_list_list = (xen_pfn_t)p2m_tree_root(p);
	arch->p2m_vaddr = (unsigned long)(uintptr_t)p->list;
	__atomic_store_n(&arch->p2m_generation, p->generation, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* p2m_cr3 last: tools consider the list only once it is non-zero. */
	__atomic_store_n(&arch->p2m_cr3, xen_pfn_to_cr3(p->plat.root_table(p->plat.ctx)),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&p->arch, arch, __ATOMIC_RELEASE);
	p->plat.unlock(p->plat.ctx);
	return 0;
}

void p2m_unpublish(struct p2m *p)
{
	p->plat.lock(p->plat.ctx);
	__atomic_store_n(&p->arch, (struct arch_shared_info *)0, __ATOMIC_RELEASE);
	p->plat.unlock(p->plat.ctx);
}
