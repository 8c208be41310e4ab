/*
 * The machine-to-physical direction. Xen's M2P answers for any mfn, but
 * only a round trip through our own P2M makes the answer ours: a frame of
 * another domain, or a stale M2P entry, fails it. A frame that is not ours
 * but whose own number is an identity pfn is a 1:1 (MMIO) frame.
 */
#include "internal.h"

uint64_t p2m_mfn_to_pfn(const struct p2m *p, uint64_t mfn)
{
	xen_pfn_t pfn;

	if (mfn >= P2M_MFN_LIMIT)
		return P2M_INVALID;
	if (p->plat.m2p(p->plat.ctx, (xen_pfn_t)mfn, &pfn) == 0 && p2m_raw(p, pfn) == mfn)
		return pfn;
	if (p2m_raw(p, mfn) == p2m_identity_entry(mfn))
		return mfn;
	return P2M_INVALID;
}
