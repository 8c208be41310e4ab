/*
 * The page-table mirror: real x86-64 4-level tables in memfd frames that
 * describe the list windows the platform mmaps, so a toolstack simulator
 * can walk p2m_cr3 by mfn as libxc's map_p2m_list() does.
 *
 * The root L4 is made at creation. reserve() covers its range with L3 and
 * L2 frames at the range's real virtual indices (shared with a neighbour
 * reservation in the same 1 GiB or 512 GiB); set_window() writes the L2
 * entry naming the window's L1; release() clears those entries and frees
 * L2/L3 frames left empty. The L1s are libp2m's frames, written by
 * make_table()/map_frames() (windows.c). Only 4 KiB leaves: no PSE.
 */
#define _GNU_SOURCE
#include <string.h>

#include "platform/hosted_impl.h"

static unsigned idx(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;
}

int hp_read_pte_locked(struct hosted *h, xen_pfn_t table, unsigned i,
		       uint64_t *pte)
{
	int rc = hp_pread(h, table, (uint64_t)i * 8, pte, 8);

	if (rc == 0)
		*pte = hp_pte_in(h, *pte);
	return rc;
}

int hp_write_pte_locked(struct hosted *h, xen_pfn_t table, unsigned i,
			uint64_t pte)
{
	pte = hp_pte_ext(h, pte);
	return hp_pwrite(h, table, (uint64_t)i * 8, &pte, 8);
}

static int new_table(struct hosted *h, xen_pfn_t *mfn)
{
	static const uint8_t zero[HP_PAGE];
	int rc = hp_alloc_locked(h, 1, mfn, 0, HF_PLATFORM);

	if (rc)
		return rc;
	rc = hp_pwrite(h, *mfn, 0, zero, HP_PAGE);
	if (rc) {
		hp_free_locked(h, 1, mfn);
		return rc;
	}
	h->table_frames++;
	return 0;
}

/* The table under entry i of parent, made if absent. */
static int child(struct hosted *h, xen_pfn_t parent, unsigned i,
		 xen_pfn_t *out)
{
	uint64_t pte;
	int rc = hp_read_pte_locked(h, parent, i, &pte);

	if (rc)
		return rc;
	if (pte & X86_PTE_PRESENT) {
		*out = (pte & X86_PTE_MFN_MASK) >> 12;
		return 0;
	}
	rc = new_table(h, out);
	if (rc)
		return rc;
	rc = hp_write_pte_locked(h, parent, i, ((uint64_t)*out << 12) | HP_PT_FLAGS);
	if (rc) {
		hp_free_locked(h, 1, out);
		h->table_frames--;
	}
	return rc;
}

static int l2_of(struct hosted *h, uint64_t va, xen_pfn_t *l2)
{
	uint64_t pte;
	int rc = hp_read_pte_locked(h, h->root, idx(va, 4), &pte);

	if (rc)
		return rc;
	if (!(pte & X86_PTE_PRESENT))
		return -P2M_ERANGE;
	rc = hp_read_pte_locked(h, (pte & X86_PTE_MFN_MASK) >> 12, idx(va, 3), &pte);
	if (rc)
		return rc;
	if (!(pte & X86_PTE_PRESENT))
		return -P2M_ERANGE;
	*l2 = (pte & X86_PTE_MFN_MASK) >> 12;
	return 0;
}

int hp_pt_cover(struct hosted *h, uint64_t va, uint64_t bytes)
{
	for (uint64_t a = va & ~(HP_L2_SPAN - 1); a < va + bytes; a += HP_L2_SPAN) {
		xen_pfn_t l3, l2;
		int rc = child(h, h->root, idx(a, 4), &l3);

		if (rc == 0)
			rc = child(h, l3, idx(a, 3), &l2);
		if (rc) {
			hp_pt_uncover(h, va, bytes);
			return rc;
		}
	}
	return 0;
}

static int table_empty(struct hosted *h, xen_pfn_t t)
{
	static const uint64_t zero[512];
	uint64_t e[512];

	if (hp_pread(h, t, 0, e, sizeof(e)))
		return 0;
	return memcmp(e, zero, sizeof(e)) == 0;
}

/* Clear the L2 entries of [va, va + bytes) and free emptied tables. */
void hp_pt_uncover(struct hosted *h, uint64_t va, uint64_t bytes)
{
	for (uint64_t a = va & ~(HP_L2_SPAN - 1); a < va + bytes; a += HP_L2_SPAN) {
		uint64_t l4e, l3e;
		xen_pfn_t l3, l2;

		if (hp_read_pte_locked(h, h->root, idx(a, 4), &l4e) || !(l4e & X86_PTE_PRESENT))
			continue;
		l3 = (l4e & X86_PTE_MFN_MASK) >> 12;
		if (hp_read_pte_locked(h, l3, idx(a, 3), &l3e) || !(l3e & X86_PTE_PRESENT))
			continue;
		l2 = (l3e & X86_PTE_MFN_MASK) >> 12;
		for (uint64_t w = a; w < a + HP_L2_SPAN; w += HP_WINDOW_BYTES)
			if (w >= va && w < va + bytes)
				hp_write_pte_locked(h, l2, idx(w, 2), 0);
		if (!table_empty(h, l2))
			continue;
		hp_write_pte_locked(h, l3, idx(a, 3), 0);
		hp_free_locked(h, 1, &l2);
		h->table_frames--;
		if (!table_empty(h, l3))
			continue;
		hp_write_pte_locked(h, h->root, idx(a, 4), 0);
		hp_free_locked(h, 1, &l3);
		h->table_frames--;
	}
}

int hp_pt_set_l2(struct hosted *h, uint64_t va, xen_pfn_t table)
{
	xen_pfn_t l2;
	int rc = l2_of(h, va, &l2);

	if (rc)
		return hp_fail(h, rc, "hosted platform: no L2 table covers %#llx",
			       (unsigned long long)va);
	return hp_write_pte_locked(h, l2, idx(va, 2),
				   table ? ((uint64_t)table << 12) | HP_PT_FLAGS : 0);
}

int hosted_read_pte(struct hosted *h, xen_pfn_t table, unsigned i,
			uint64_t *pte)
{
	int rc;

	pthread_mutex_lock(&h->mu);
	if (i >= 512)
		rc = hp_fail(h, -P2M_EINVAL, "hosted platform: PTE index %u is beyond 511", i);
	else if (!hp_valid_mfn(h, hp_in(h, table)))
		rc = hp_fail(h, -P2M_ERANGE, "hosted platform: table mfn %#llx is not a live frame",
			     (unsigned long long)table);
	else
		rc = hp_pread(h, hp_in(h, table), (uint64_t)i * 8, pte, 8); /* as the tools see it */
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int hosted_va_to_mfn(struct hosted *h, uint64_t va, xen_pfn_t *mfn,
			 uint64_t *pte_out)
{
	xen_pfn_t t = h->root;
	uint64_t pte = 0;
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	for (int level = 4; level >= 1; level--) {
		rc = hp_read_pte_locked(h, t, idx(va, level), &pte);
		if (rc)
			break;
		if (!(pte & X86_PTE_PRESENT)) {
			rc = hp_fail(h, -P2M_ERANGE, "hosted platform: %#llx: L%d entry %u of table %#llx is not present",
				     (unsigned long long)va, level, idx(va, level), (unsigned long long)t);
			break;
		}
		if (level > 1 && (pte & X86_PTE_PSE)) {
			rc = hp_fail(h, -P2M_EINVAL, "hosted platform: %#llx: L%d entry is a superpage",
				     (unsigned long long)va, level);
			break;
		}
		t = (pte & X86_PTE_MFN_MASK) >> 12;
		if (!hp_valid_mfn(h, t)) {
			rc = hp_fail(h, -P2M_ERANGE, "hosted platform: %#llx: L%d entry names mfn %#llx, not a live frame",
				     (unsigned long long)va, level, (unsigned long long)hp_ext(h, t));
			break;
		}
	}
	pthread_mutex_unlock(&h->mu);
	if (rc == 0) {
		*mfn = hp_ext(h, t);
		if (pte_out)
			*pte_out = hp_pte_ext(h, pte);
	}
	return rc;
}
