/*
 * Grant mappings: frames of other domains entered into our missing pfns.
 *
 * Mapping checks every pfn and mfn first and makes every slot private
 * before it stores anything, so it either maps all or changes nothing.
 * Unmapping goes on past a pfn that holds no foreign entry, and reports
 * it (Linux learnt in XSA-361 not to bail out early).
 */
#include "internal.h"

int p2m_set_foreign(struct p2m *p, const uint64_t *pfns, const uint64_t *mfns, size_t n)
{
	int rc = n ? p2m_refuse_suspended(p, "p2m_set_foreign") : 0;

	if (rc)
		return rc;

	for (size_t i = 0; i < n; i++) {
		if (pfns[i] >= p->capacity)
			return p2m_fail(p, P2M_ERANGE,
					"grant %zu: pfn %#llx is beyond the capacity %#llx", i,
					(unsigned long long)pfns[i], (unsigned long long)p->capacity);
		if (mfns[i] >= P2M_MFN_LIMIT)
			return p2m_fail(p, P2M_EINVAL, "grant %zu: mfn %#llx is not below %#llx", i,
					(unsigned long long)mfns[i], (unsigned long long)P2M_MFN_LIMIT);
		if (p2m_raw(p, pfns[i]) != P2M_INVALID)
			return p2m_fail(p, P2M_EBUSY,
					"grant %zu: pfn %#llx is not missing (entry %#llx); grants go into ballooned pfns",
					i, (unsigned long long)pfns[i],
					(unsigned long long)p2m_raw(p, pfns[i]));
		for (size_t j = 0; j < i; j++)
			if (pfns[j] == pfns[i])
				return p2m_fail(p, P2M_EINVAL, "grants %zu and %zu both target pfn %#llx",
						j, i, (unsigned long long)pfns[i]);
	}
	for (size_t i = 0; i < n; i++) {
		rc = p2m_make_private(p, p2m_pfn_slot(pfns[i]), true);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n; i++)
		p2m_set(p, pfns[i], p2m_foreign_entry(mfns[i]));
	return 0;
}

int p2m_clear_foreign(struct p2m *p, const uint64_t *pfns, size_t n, uint64_t *bad)
{
	uint64_t first_bad = P2M_INVALID;
	size_t nbad = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t e = pfns[i] < p->capacity ? p2m_raw(p, pfns[i]) : P2M_INVALID;

		if (p2m_entry_kind(e) != P2M_KIND_FOREIGN || pfns[i] >= p->capacity) {
			if (!nbad++)
				first_bad = pfns[i];
			continue;
		}
		/* A foreign entry lives in a private leaf: a plain store. */
		__atomic_store_n(&p->list[pfns[i]], P2M_INVALID, __ATOMIC_RELEASE);
	}
	if (bad)
		*bad = first_bad;
	if (nbad)
		return p2m_fail(p, P2M_EINVAL,
				"%zu of %zu pfns held no foreign entry (first: pfn %#llx); the others were cleared",
				nbad, n, (unsigned long long)first_bad);
	return 0;
}
