/*
 * What the toolstack reads: the fields of struct arch_shared_info.
 *
 *   max_pfn                     a count: highest covered pfn + 1, rounded
 *                               up to 512; above every populated pfn;
 *                               never shrinks (libxc reads it as a count)
 *   pfn_to_mfn_frame_list_list  mfn of the tree's top page (the tree
 *                               covers pfns below 512 GiB, whatever the
 *                               capacity) unless the tools read the list
 *                               or no tree was asked for: then ~0
 *   p2m_cr3                     the root table's frame, cr3 format
 *   p2m_vaddr                   the list's address
 *   p2m_generation              odd while a mapping of the list changes
 *
 * After p2m_publish() libp2m writes p2m_generation and max_pfn in place on
 * every change, with release ordering, so a live reader sees them move.
 */
#ifndef P2M_PUBLISH_H
#define P2M_PUBLISH_H

#include <stdbool.h>

#include "p2m/p2m.h"

/* tools_read_list: the builder set SIF_VIRT_P2M_4TOOLS (the tools walk
 * the linear list), so the tree is not published. The rule and why:
 * docs/tree-rule.md. A guest latches the flag at boot: a restore clears
 * start_info.flags, but the tools that read the list are still there.
 * Fails (-P2M_EBUSY, nothing written) only while the P2M is suspended
 * (p2m/migrate.h). */
int p2m_publish(struct p2m *p, struct arch_shared_info *arch,
		bool tools_read_list);

/* Stop writing into the published structure (before it is unmapped). */
void p2m_unpublish(struct p2m *p);

/* The mfn of the tree's top page, or P2M_INVALID when no tree is kept. */
uint64_t p2m_tree_root(const struct p2m *p);

#endif
