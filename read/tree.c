/*
 * The 3-level tree: pfn_to_mfn_frame_list_list (the top page) -> frame
 * lists (512 leaf mfns each) -> leaves; 512^3 pfns at most (512 GiB).
 *
 * Passes as in list.c: the top page's entries in range (and the saver's
 * trim of a trailing run of one repeated frame list, first entry of the
 * run kept), then every frame-list entry of the trimmed range, then the
 * leaves. An entry is loaded and checked again each time it is used.
 */
#include "internal.h"

#define FLL_SPAN (RD_FPP * RD_FPP)   /* pfns under one top-page entry */

/* Top-page entry x, checked. */
static int top_entry(struct rd *r, uint64_t x, uint64_t n, uint64_t *mid)
{
	const uint64_t *top = rd_view(r, 4, r->fll);
	uint64_t m;

	if (!top)
		return rd_fail(r, P2MR_EFLL_MAP, "Failed to map p2m frame list list at %s",
			       RD_HEX(r->fll));
	m = rd_load(&top[x]);
	if (m == 0 || m > r->fr->max_mfn)
		return rd_fail(r, P2MR_EFLL_ENTRY,
			       "Bad mfn %s at index %llu (of %llu) in p2m frame list list",
			       RD_HEX(m), (unsigned long long)x, (unsigned long long)n);
	if (m == r->fll)
		return rd_fail(r, P2MR_ELOOP,
			       "Loop in the p2m tree: entry %llu of the frame list list names itself (mfn %s)",
			       (unsigned long long)x, RD_HEX(m));
	*mid = m;
	return 0;
}

/* Frame-list entry x (of n): the leaf's mfn, checked. */
static int leaf_of(struct rd *r, uint64_t x, uint64_t n, uint64_t *leaf)
{
	uint64_t m = 0, l;   /* m: set when top_entry() returns 0; gcc -O3 cannot tell */
	const uint64_t *mid;
	int rc = top_entry(r, x / RD_FPP, (n - 1) / RD_FPP + 1, &m);

	if (rc)
		return rc;
	mid = rd_view(r, rd_slot(r, 3, true), m);
	if (!mid)
		return rd_fail(r, P2MR_EFL_MAP, "Failed to map p2m frame list (index %llu, mfn %s)",
			       (unsigned long long)(x / RD_FPP), RD_HEX(m));
	l = rd_load(&mid[x % RD_FPP]);
	if (l == 0 || l > r->fr->max_mfn)
		return rd_fail(r, P2MR_EFL_ENTRY,
			       "Bad mfn %s at index %llu (of %llu) in p2m frame list",
			       RD_HEX(l), (unsigned long long)x, (unsigned long long)n);
	if (l == r->fll || l == m)
		return rd_fail(r, P2MR_ELOOP,
			       "Loop in the p2m tree: leaf %llu is mfn %s, the %s above it",
			       (unsigned long long)x, RD_HEX(l),
			       l == m ? "frame list" : "frame list list");
	*leaf = l;
	return 0;
}

/* The leaf frame of slot x, checked (for the M2P check). */
static int tree_leaf(struct rd *r, uint64_t x, uint64_t *leaf)
{
	return leaf_of(r, x, (r->res->count - 1) / RD_FPP + 1, leaf);
}

int rd_tree(struct rd *r)
{
	uint64_t last = r->count - 1, n_top = last / FLL_SPAN + 1, saved_mfn = 0, saved = 0;
	uint64_t n, m = 0, l;   /* as in leaf_of() */
	int rc;

	if (n_top > RD_FPP)
		return rd_fail(r, P2MR_ETREE_SIZE, "max_pfn %s too large for p2m tree",
			       RD_HEX(last));
	if (r->fll == 0 || r->fll > r->fr->max_mfn)
		return rd_fail(r, P2MR_EFLL_MFN, "Bad mfn %s for p2m frame list list",
			       RD_HEX(r->fll));
	if ((rc = rd_check_limit(r)))
		return rc;
	for (uint64_t x = 0; x < n_top; x++) {
		if ((rc = top_entry(r, x, n_top, &m)))
			return rc;
		if (m != saved_mfn) {
			saved_mfn = m;
			saved = x;
		}
	}
	if ((saved + 1) * FLL_SPAN - 1 < last)
		last = (saved + 1) * FLL_SPAN - 1;
	r->res->count = last + 1;
	n = last / RD_FPP + 1;
	for (uint64_t x = 0; x < n; x++)
		if ((rc = rd_poll(r, x)) || (rc = leaf_of(r, x, n, &l)) ||
		    (rc = rd_check_leaf_m2p(r, x, l, tree_leaf)))
			return rc;
	for (uint64_t x = 0; x < n; x++)
		if ((rc = rd_poll(r, x)) || (rc = leaf_of(r, x, n, &l)) || (rc = rd_hand_out(r, x, l)))
			return rc;
	return 0;
}
