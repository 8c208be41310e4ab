/*
 * Save/restore: what the P2M must do around SHUTDOWN_suspend.
 *
 * Every frame libp2m keeps a record of (the shared leaves and tables, the
 * window tables, the frame lists and the tree's top page, the meta chain)
 * is named by mfn, and a restore in a new domain gives every pfn a new
 * mfn. So before suspending, each recorded mfn becomes the pfn behind it
 * (through the M2P, checked by a round trip); after the hypercall returns,
 * each pfn becomes an mfn again through the P2M itself, whose contents the
 * restore tools have rewritten. A cancelled suspend (the same domain
 * resumes) takes the same path and gets the same mfns back.
 *
 * Between the two calls lookups work, but nothing may change the P2M's
 * structure (no set into a shared slot, no range call, no build).
 */
#include "internal.h"
#include "p2m/migrate.h"
#include "p2m/publish.h"

/* While suspended, records hold pfn | SUSPENDED so that no record reads
 * 0 (0 marks a shared window; see the overview in include/p2m/p2m.h). */
#define SUSPENDED ((uint64_t)1 << 61)

typedef int (*xlate_fn)(struct p2m *p, uint64_t in, uint64_t *out);

static int to_pfn(struct p2m *p, uint64_t mfn, uint64_t *out)
{
	xen_pfn_t q = (xen_pfn_t)P2M_INVALID;

	if (p->plat.m2p(p->plat.ctx, (xen_pfn_t)mfn, &q) || q >= p->capacity ||
	    p2m_raw(p, q) != mfn)
		return p2m_fail(p, P2M_ECHECK,
				"frame %#llx of the P2M has no pfn that maps back to it (M2P says %#llx)",
				(unsigned long long)mfn, (unsigned long long)q);
	*out = q | SUSPENDED;
	return 0;
}

static int to_mfn(struct p2m *p, uint64_t in, uint64_t *out)
{
	uint64_t pfn = in & ~SUSPENDED;
	uint64_t e = pfn < p->capacity ? p2m_raw(p, pfn) : P2M_INVALID;

	if (!(in & SUSPENDED) || p2m_entry_kind(e) != P2M_KIND_RAM)
		return p2m_fail(p, P2M_ECHECK,
				"pfn %#llx of a P2M frame has no RAM entry on resume (%#llx)",
				(unsigned long long)pfn, (unsigned long long)e);
	*out = e;
	return 0;
}

static int xlate(struct p2m *p, xen_pfn_t *v, xlate_fn fn, bool check)
{
	uint64_t out;
	int rc = fn(p, *v, &out);

	if (!rc && !check)
		*v = (xen_pfn_t)out;
	return rc;
}

/* Translate every record outside the chain (check: only verify). */
static int xlate_records(struct p2m *p, xlate_fn fn, bool check)
{
	int rc = 0;

	for (int k = P2M_SLOT_MISSING; k <= P2M_SLOT_IDENTITY && !rc; k++) {
		rc = xlate(p, &p->shared_leaf[k], fn, check);
		if (!rc)
			rc = xlate(p, &p->shared_table[k], fn, check);
	}
	if (!rc)
		rc = xlate(p, &p->shared_mid, fn, check);
	if (!rc)
		rc = xlate(p, &p->top_mfn, fn, check);
	for (unsigned i = 0; i < P2M_PER_PAGE && !rc; i++)
		rc = xlate(p, (xen_pfn_t *)&p->top[i], fn, check);
	for (uint64_t w = 0; w < p->nr_windows && !rc; w++) {
		uint64_t *mid = mid_va(p, w);

		if (window_shared(p, w))
			continue;
		rc = xlate(p, &p->windows[w].table, fn, check);
		if (!rc)
			rc = xlate(p, &p->windows[w].mid, fn, check);
		for (unsigned i = 0; i < P2M_PER_PAGE && !rc; i++)
			rc = xlate(p, (xen_pfn_t *)&mid[i], fn, check);
	}
	return rc;
}

/* Translate the meta chain. Each frame is reached through the name it has
 * before (suspend: mfn) or after (resume: mfn again) the translation. */
static int xlate_chain(struct p2m *p, xlate_fn fn, bool to_pfns, bool check)
{
	uint64_t cur = p->meta_head, cur_new;
	int rc;

	if (cur == P2M_INVALID)
		return 0;
	if ((rc = fn(p, cur, &cur_new)))
		return rc;
	if (!check)
		p->meta_head = (xen_pfn_t)cur_new;
	for (;;) {
		uint64_t frame = to_pfns ? cur : cur_new, next, next_new = 0;
		uint64_t *c = p->plat.frame_map(p->plat.ctx, (xen_pfn_t)frame);

		if (!c)
			return p2m_fail(p, P2M_EMAP, "cannot map meta chain frame %#llx",
					(unsigned long long)frame);
		for (uint64_t i = 0; i < c[CHAIN_COUNT] && !rc; i++) {
			xen_pfn_t v = (xen_pfn_t)(c[CHAIN_FIRST + i] & ~CHAIN_TABLE);

			rc = xlate(p, &v, fn, check);
			if (!rc && !check)
				c[CHAIN_FIRST + i] = v | (c[CHAIN_FIRST + i] & CHAIN_TABLE);
		}
		next = c[CHAIN_NEXT];
		if (!rc && next != P2M_INVALID) {
			rc = fn(p, next, &next_new);
			if (!rc && !check)
				c[CHAIN_NEXT] = next_new;
		}
		p->plat.frame_unmap(p->plat.ctx, c);
		if (rc || next == P2M_INVALID)
			return rc;
		cur = next;
		cur_new = next_new;
	}
}

int p2m_suspend(struct p2m *p)
{
	int rc;

	if (p->suspended)
		return p2m_fail(p, P2M_EBUSY, "the P2M is suspended already");
	/* Verify every record first: a failure changes nothing. */
	rc = xlate_records(p, to_pfn, true);
	if (!rc)
		rc = xlate_chain(p, to_pfn, true, true);
	if (rc)
		return rc;
	rc = xlate_chain(p, to_pfn, true, false);
	if (!rc)
		rc = xlate_records(p, to_pfn, false);
	if (rc)
		return rc;
	p2m_unpublish(p);
	p->suspended = true;
	return 0;
}

int p2m_resume(struct p2m *p, bool new_domain)
{
	int rc;

	if (!p->suspended)
		return p2m_fail(p, P2M_EBUSY, "the P2M is not suspended");
	rc = xlate_records(p, to_mfn, true);
	if (!rc)
		rc = xlate_chain(p, to_mfn, false, true);
	if (rc)
		return rc;
	rc = xlate_records(p, to_mfn, false);
	if (!rc)
		rc = xlate_chain(p, to_mfn, false, false);
	if (rc)
		return rc;
	if (new_domain)
		p->generation = 0;
	p->suspended = false;
	return 0;
}
