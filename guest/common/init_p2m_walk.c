/*
 * The INIT_P2M walk (see init_p2m_walk.h): one recursive descent from
 * the L3, checking every frame's pfn through the M2P. A superpage costs
 * one M2P read per 4 KiB frame under it (2^18 for a 1 GiB page): that
 * is what proves the range exact, and it is cheap next to the build.
 */
#include "arch/x86_64/pt.h"
#include "common/init_p2m_walk.h"

struct ipw {
	const struct ipw_ops *ops;
	uint64_t lo, hi;
	struct ipw_result *r;
};

static void check_frame(struct ipw *w, uint64_t mfn)
{
	uint64_t pfn;

	if (!w->ops->m2p(w->ops->ctx, mfn, &pfn) || pfn < w->lo || pfn >= w->hi)
		w->r->outside++;
}

/* A leaf at level 3 (1 GiB), 2 (2 MiB) or 1 (4 KiB). In a superpage
 * entry bit 12 is PAT, not address: the frame is the entry's address
 * with the low bits of the page size cleared, which must be zero. */
static void leaf(struct ipw *w, uint64_t e, int level, uint64_t page)
{
	uint64_t n = 1ull << (9 * (level - 1)), mfn = (e & PTE_ADDR) >> 12, k;

	if (level > 1) {
		if ((mfn & (n - 1)) & ~1ull) {
			w->r->bad_entries++;
			return;
		}
		mfn &= ~(n - 1);
	}
	if (level == 3)
		w->r->pages_1g++;
	else if (level == 2)
		w->r->pages_2m++;
	else
		w->r->pages_4k++;
	for (k = 0; k < n; k++)
		check_frame(w, mfn + k);
	w->r->pages += n;
	if (w->ops->leaf)
		w->ops->leaf(w->ops->ctx, page, mfn, n);
}

/* page: the first page under this table, counted from the L3's. */
static void table(struct ipw *w, uint64_t mfn, int level, uint64_t page)
{
	const uint64_t *t = w->ops->map(w->ops->ctx, mfn);
	uint64_t span = 1ull << (9 * (level - 1));
	unsigned i;

	w->r->tables++;
	check_frame(w, mfn);
	if (w->ops->table)
		w->ops->table(w->ops->ctx, mfn);
	if (!t) {
		w->r->bad_entries++;
		return;
	}
	for (i = 0; i < 512; i++) {
		uint64_t e = t[i];

		if (!(e & PTE_P))
			continue;
		if (level == 1 || (e & PTE_PSE))
			leaf(w, e, level, page + i * span);
		else
			table(w, (e & PTE_ADDR) >> 12, level - 1, page + i * span);
	}
	w->ops->unmap(w->ops->ctx, t);
}

bool init_p2m_walk(const struct ipw_ops *ops, uint64_t l3_mfn, uint64_t lo,
		   uint64_t hi, struct ipw_result *r)
{
	struct ipw w = { ops, lo, hi, r };

	*r = (struct ipw_result){ 0 };
	table(&w, l3_mfn, 3, 0);
	return !r->outside && !r->bad_entries && r->pages + r->tables == hi - lo;
}
