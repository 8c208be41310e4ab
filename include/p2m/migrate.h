/*
 * Save, restore and migration of a PV guest (docs/design.md, ABI rule 7).
 *
 * Call p2m_suspend() right before SHUTDOWN_suspend and p2m_resume() when
 * the hypercall returns: new_domain when it returned 0 (restored, maybe on
 * another host), false when it returned 1 (cancelled, same domain). Then
 * publish again (p2m_publish) into the new shared_info: the tree's frames,
 * p2m_cr3 and max_pfn are rewritten, and after a restore p2m_generation
 * starts again at 0.
 *
 * p2m_suspend() turns every frame number libp2m records into the pfn
 * behind it (checked through the M2P and back through the P2M), and
 * p2m_resume() turns them into frame numbers again through the P2M and
 * names the shared missing leaf's new mfn in the shared frame list (the
 * tree's page for every shared window below 512 GiB), so the tree the
 * tools read is right after a restore onto new mfns. Above
 * about 4 TiB of capacity both allocate a few frames (a fresh copy of the
 * meta chain; the old one is freed), which must be RAM pfns of the P2M
 * like every frame the platform hands out; below, they allocate nothing.
 * On error either call changes nothing, and may be retried. (A failed
 * resume may have written the shared frame list's entries already: they
 * are not records but what the records say, written again on retry.)
 * Between the two calls lookups and stores into private slots work, but
 * every call that could change the P2M's structure (p2m_set into a shared
 * slot, p2m_prepare, the range calls, p2m_set_foreign, p2m_build,
 * p2m_publish) fails with -P2M_EBUSY and a message saying why. The frames
 * of the platform itself (the guest's page tables) are the platform's to
 * translate.
 */
#ifndef P2M_MIGRATE_H
#define P2M_MIGRATE_H

#include <stdbool.h>

#include "p2m/p2m.h"

int p2m_suspend(struct p2m *p);
int p2m_resume(struct p2m *p, bool new_domain);

#endif
