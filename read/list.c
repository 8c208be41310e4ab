/*
 * The linear list: p2m_cr3 -> L4 -> L3 -> L2 -> L1 -> leaves, walked by
 * mfn for each address of [p2m_vaddr, end] as the saver walks it level
 * by level (its concatenated tables of one level are exactly the tables
 * the per-address walks meet, so the same entries are checked).
 *
 * Three passes, none holding more than one view per level:
 *   1. every 2 MiB window of the published range down to its L2 entry
 *      (levels 4-2 checked over the whole range, as the saver does before
 *      it trims), noting the last run of one repeated L1 table: the trim;
 *   2. every leaf slot of the trimmed range down to its L1 entry (level 1
 *      checked: all refusals come before any entry is handed out), and
 *      with frames->m2p the leaf's M2P round trip (another walk, to the
 *      slot of the pfn the M2P names);
 *   3. the same walks again, each entry checked again (the guest may have
 *      changed it since), and the leaf mapped and handed out.
 */
#include "internal.h"

#define PTE_PRESENT ((uint64_t)1 << 0)
#define PTE_PSE     ((uint64_t)1 << 7)
#define PTE_MFN     ((uint64_t)0x000ffffffffff000)

static bool canonical(uint64_t va)
{
	uint64_t top = va >> 47;

	return top == 0 || top == 0x1ffff;
}

static unsigned shift_of(int level)
{
	return RD_PAGE_SHIFT + 9u * (unsigned)(level - 1);
}

/* path[L] is the table of level L on this walk (path[4] the root),
 * path[0] the leaf. The entry for va in the level-`level` table: checked,
 * its frame stored in path[level - 1]. */
static int entry(struct rd *r, int level, uint64_t va, uint64_t *path)
{
	unsigned shift = shift_of(level), i = (unsigned)(va >> shift) & 511u;
	uint64_t at = (va & RD_VA_MASK) >> shift << shift;
	const uint64_t *t = rd_view(r, rd_slot(r, level, false), path[level]);
	uint64_t pte, mfn;

	if (!t)
		return rd_fail(r, P2MR_EPT_MAP,
			       "Failed to map 1 page table pages for p2m list (level %d table at mfn %s)",
			       level, RD_HEX(path[level]));
	pte = rd_load(&t[i]);
	mfn = (pte & PTE_MFN) >> RD_PAGE_SHIFT;
	if (!(pte & PTE_PRESENT) || mfn == 0 || mfn > r->fr->max_mfn)
		return rd_fail(r, P2MR_EPT_ENTRY,
			       "Bad mfn %s during page table walk for vaddr %s at level %d of p2m list%s",
			       RD_HEX(mfn), RD_HEX(at), level,
			       (pte & PTE_PRESENT) ? "" : " (entry not present)");
	if (level > 1 && (pte & PTE_PSE))
		return rd_fail(r, P2MR_ESUPERPAGE,
			       "Cannot migrate superpage (L%d[%u]: 0x%016llx) mapping the p2m list at vaddr %s",
			       level, i, (unsigned long long)pte, RD_HEX(at));
	for (int l = level; l <= 4; l++)
		if (path[l] == mfn)
			return rd_fail(r, P2MR_ELOOP,
				       "Loop in the p2m list's page tables: the level %d entry for vaddr %s names mfn %s, the level %d table of the same walk",
				       level, RD_HEX(at), RD_HEX(mfn), l);
	path[level - 1] = mfn;
	return 0;
}

/* Walk va from the root down to the entry of level `stop`. */
static int walk(struct rd *r, uint64_t va, int stop, uint64_t *path)
{
	path[4] = r->cr3 >> RD_PAGE_SHIFT;
	for (int level = 4; level >= stop; level--) {
		int rc = entry(r, level, va, path);

		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Pass 1 and the saver's level-2 trim. Its indices: idx_start/idx_end are
 * the first and last L2 entries of the range counted from the start of
 * the first L2 table; saved is the position (relative to idx_start) of
 * the first entry of the last run of one L1 table. Kept as the saver has
 * it: saved is compared with the absolute idx_end.
 */
static int scan_windows(struct rd *r, uint64_t *last)
{
	uint64_t frames = *last / RD_FPP + 1, end = r->vaddr + frames * RD_PAGE_SIZE - 1;
	uint64_t off = (r->vaddr & RD_VA_MASK) >> 30 << 30;
	uint64_t idx_start = ((r->vaddr - off) & RD_VA_MASK) >> 21;
	uint64_t idx_end = ((end - off) & RD_VA_MASK) >> 21;
	uint64_t saved_mfn = 0, saved = 0, path[5], trimmed;

	for (uint64_t w = 0; w <= idx_end - idx_start; w++) {
		uint64_t va = (r->vaddr >> 21 << 21) + (w << 21);
		int rc = walk(r, va, 2, path);

		if (rc)
			return rc;
		if (path[1] != saved_mfn) {
			saved_mfn = path[1];
			saved = w;
		}
	}
	if (saved == idx_end)
		saved++;
	trimmed = (saved << 9) * RD_FPP - 1;
	if (trimmed < *last)
		*last = trimmed;
	return 0;
}

/* The leaf frame of slot s, walked and checked (for the M2P check). */
static int list_leaf(struct rd *r, uint64_t s, uint64_t *leaf)
{
	uint64_t path[5];
	int rc = walk(r, r->vaddr + s * RD_PAGE_SIZE, 1, path);

	*leaf = path[0];
	return rc;
}

int rd_list(struct rd *r)
{
	uint64_t last = r->count - 1, frames = last / RD_FPP + 1, end, path[5];
	uint64_t root = r->cr3 >> RD_PAGE_SHIFT;
	int rc;

	if (root == 0 || root > r->fr->max_mfn)
		return rd_fail(r, P2MR_ECR3, "Bad p2m_cr3 value %s", RD_HEX(r->cr3));
	/* Beyond 2^36 leaves the range is larger than a canonical half:
	 * say so without letting frames * 4096 wrap. */
	end = r->vaddr + frames * RD_PAGE_SIZE - 1;
	if (frames > ((uint64_t)1 << 36) || !canonical(r->vaddr) || !canonical(end) ||
	    end < r->vaddr || (r->vaddr <= P2MR_HYPERVISOR_LAST && end >= P2MR_HYPERVISOR_START))
		return rd_fail(r, P2MR_EVADDR, "Bad virtual p2m address range %s-%s",
			       RD_HEX(r->vaddr), RD_HEX(end));
	if ((rc = rd_check_limit(r)) || (rc = scan_windows(r, &last)))
		return rc;
	r->res->count = last + 1;
	frames = last / RD_FPP + 1;
	for (uint64_t s = 0; s < frames; s++)
		if ((rc = rd_poll(r, s)) || (rc = walk(r, r->vaddr + s * RD_PAGE_SIZE, 1, path)) ||
		    (rc = rd_check_leaf_m2p(r, s, path[0], list_leaf)))
			return rc;
	for (uint64_t s = 0; s < frames; s++)
		if ((rc = rd_poll(r, s)) || (rc = walk(r, r->vaddr + s * RD_PAGE_SIZE, 1, path)) ||
		    (rc = rd_hand_out(r, s, path[0])))
			return rc;
	return 0;
}
