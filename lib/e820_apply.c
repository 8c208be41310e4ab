/*
 * Applying a plan's frame-less part to a P2M, through the same calls the
 * guest and the host use: identity ranges, then the missing ones (balloon
 * space and trimmed pfns), and the frames of moved ACPI NVS ranges. Each range call either completes or changes
 * nothing, and setting a range to what it already is costs nothing, so a
 * failed apply can simply be repeated.
 */
#include "e820_internal.h"

#include "p2m/fmt.h"
#include "p2m/p2m.h"

static int fail(struct p2m *p, int err, const char *what, size_t n, size_t cap)
{
	p2m_snprintf(p->error, sizeof(p->error),
		     "e820 plan: %s list not stored in full (%zu of %zu entries)",
		     what, cap < n ? cap : n, n);
	return -err;
}

static int beyond(struct p2m *p, const char *what, uint64_t s, uint64_t e)
{
	p2m_snprintf(p->error, sizeof(p->error),
		     "e820 plan: %s pfns [%#llx, %#llx) beyond the capacity %#llx", what,
		     (unsigned long long)s, (unsigned long long)e,
		     (unsigned long long)p->capacity);
	return -P2M_ERANGE;
}

int p2m_e820_apply(struct p2m *p, const struct p2m_e820_plan *plan)
{
	int rc;

	if ((plan->nr_identity && (!plan->identity || plan->nr_identity > plan->identity_cap)))
		return fail(p, P2M_EINVAL, "identity", plan->nr_identity, plan->identity_cap);
	if ((plan->nr_extra && (!plan->extra || plan->nr_extra > plan->extra_cap)))
		return fail(p, P2M_EINVAL, "extra", plan->nr_extra, plan->extra_cap);
	if ((plan->nr_release && (!plan->release || plan->nr_release > plan->release_cap)))
		return fail(p, P2M_EINVAL, "release", plan->nr_release, plan->release_cap);
	for (size_t i = 0; i < plan->nr_extra; i++)
		if (plan->extra[i].end > p->capacity)
			return beyond(p, "extra", plan->extra[i].start, plan->extra[i].end);
	for (size_t i = 0; i < plan->nr_moved; i++)
		if (plan->moved[i].dst + plan->moved[i].count > p->capacity)
			return beyond(p, "moved NVS", plan->moved[i].dst,
				      plan->moved[i].dst + plan->moved[i].count);
	for (size_t i = 0; i < plan->nr_identity; i++) {
		uint64_t s = plan->identity[i].start;
		uint64_t e = p2m_e820_min(plan->identity[i].end, p->capacity);

		if (s >= e)
			break;
		rc = p2m_set_range_identity(p, s, e - s);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < plan->nr_extra; i++) {
		rc = p2m_set_range_missing(p, plan->extra[i].start,
					   plan->extra[i].end - plan->extra[i].start);
		if (rc)
			return rc;
	}
	/* A moved NVS range's new pfns map its machine frames (dom0: the
	 * old pfn is the frame). */
	for (size_t i = 0; i < plan->nr_moved; i++)
		for (uint64_t k = 0; k < plan->moved[i].count; k++) {
			rc = p2m_set(p, plan->moved[i].dst + k, plan->moved[i].src + k);
			if (rc)
				return rc;
		}
	for (size_t i = 0; i < plan->nr_release; i++) {
		uint64_t s = plan->release[i].start;
		uint64_t e = p2m_e820_min(plan->release[i].end, p->capacity);

		if (plan->release[i].kind != P2M_E820_C_TRIMMED || s >= e)
			continue;
		rc = p2m_set_range_missing(p, s, e - s);
		if (rc)
			return rc;
	}
	return 0;
}
