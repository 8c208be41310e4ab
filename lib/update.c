/*
 * Changing entries: one pfn (p2m_set), a range returned to a shared kind,
 * pre-allocation, and the published max_pfn.
 *
 * A range call does every allocation first (at most the two partial slots
 * at its ends and the two windows they sit in), then changes entries
 * without allocating, so a failure leaves every value as it was.
 */
#include "internal.h"

bool p2m_value_ok(uint64_t pfn, uint64_t v)
{
	if (v == P2M_INVALID)
		return true;
	switch (v & P2M_TAG_MASK) {
	case 0:
	case P2M_FOREIGN_BIT:
		return (v & ~P2M_TAG_MASK) < P2M_MFN_LIMIT;
	case P2M_IDENTITY_BIT:
		return v == p2m_identity_entry(pfn);
	default:
		return false;
	}
}

static int bad_value(struct p2m *p, uint64_t pfn, uint64_t v)
{
	if ((v & P2M_TAG_MASK) == P2M_IDENTITY_BIT)
		return p2m_fail(p, P2M_EINVAL,
				"identity value %#llx at pfn %#llx must carry that pfn (%#llx)",
				(unsigned long long)v, (unsigned long long)pfn,
				(unsigned long long)p2m_identity_entry(pfn));
	return p2m_fail(p, P2M_EINVAL,
			"value %#llx for pfn %#llx is no mfn below %#llx, ~0, identity or foreign entry",
			(unsigned long long)v, (unsigned long long)pfn,
			(unsigned long long)P2M_MFN_LIMIT);
}

static int beyond(struct p2m *p, uint64_t pfn)
{
	return p2m_fail(p, P2M_ERANGE, "pfn %#llx is beyond the capacity %#llx",
			(unsigned long long)pfn, (unsigned long long)p->capacity);
}

/* The value a shared slot of kind k stands for at pfn. */
static uint64_t shared_value(uint8_t k, uint64_t pfn)
{
	return k == P2M_SLOT_IDENTITY ? p2m_identity_entry(pfn) : P2M_INVALID;
}

/* max_pfn is raised before the value is stored (as Linux does): a
 * toolstack sampling in between never finds a RAM or foreign pfn above
 * max_pfn. */
static void store(struct p2m *p, uint64_t pfn, uint64_t v)
{
	if (v != P2M_INVALID && !(v & P2M_IDENTITY_BIT))
		p2m_note_pfn(p, pfn);
	__atomic_store_n(&p->list[pfn], v, __ATOMIC_RELEASE);
}

int p2m_set(struct p2m *p, uint64_t pfn, uint64_t value)
{
	uint64_t slot = p2m_pfn_slot(pfn);
	uint8_t k;
	int rc;

	if (pfn >= p->capacity) {
		if (value == p2m_identity_entry(pfn))
			return 0; /* beyond the list every pfn is identity */
		return beyond(p, pfn);
	}
	if (!p2m_value_ok(pfn, value))
		return bad_value(p, pfn, value);
	k = slot_kind(p, slot);
	if (k != P2M_SLOT_PRIVATE) {
		if (value == shared_value(k, pfn))
			return 0;
		rc = p2m_refuse_suspended(p, "p2m_set into a shared slot");
		if (!rc)
			rc = p2m_make_private(p, slot, true);
		if (rc)
			return rc;
	}
	store(p, pfn, value);
	return 0;
}

int p2m_prepare(struct p2m *p, uint64_t pfn)
{
	int rc = p2m_refuse_suspended(p, "p2m_prepare");

	if (rc)
		return rc;
	if (pfn >= p->capacity)
		return beyond(p, pfn);
	return p2m_make_private(p, p2m_pfn_slot(pfn), true);
}

/* Slot kind of a shared window (all its slots agree). */
static uint8_t window_kind(const struct p2m *p, uint64_t w)
{
	return slot_kind(p, p2m_window_slot(w));
}

/* Allocation phase of a range: make the partial slots at both ends (and
 * partially covered windows) private where the change needs it. */
static int prepare_range(struct p2m *p, uint64_t pfn, uint64_t end, uint8_t k)
{
	uint64_t ends[2] = { pfn, end - 1 };
	int rc;

	for (int i = 0; i < 2; i++) {
		uint64_t slot = p2m_pfn_slot(ends[i]);
		uint64_t w = p2m_pfn_window(ends[i]);
		uint64_t s0 = p2m_slot_pfn(slot), w0 = p2m_window_pfn(w);
		bool slot_whole = pfn <= s0 && end >= s0 + P2M_PER_PAGE;
		bool window_whole = pfn <= w0 && end >= w0 + P2M_PER_WINDOW;

		if (!slot_whole && slot_kind(p, slot) != k)
			rc = p2m_make_private(p, slot, true);
		else if (!window_whole && window_shared(p, w) && window_kind(p, w) != k)
			rc = p2m_make_private(p, slot, false);
		else
			rc = 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* Return whole slot `slot` to kind k. The caller made its window private,
 * but a writer of another slot may have joined the window since (it was
 * uniform then): re-checked under the lock, and split again if needed. */
static int join_slot(struct p2m *p, uint64_t slot, uint8_t k)
{
	uint64_t w = p2m_slot_window(slot);
	xen_pfn_t freed = 0;
	int rc;

	for (;;) {
		p->plat.lock(p->plat.ctx);
		if (!window_shared(p, w))
			break;
		rc = slot_kind(p, slot) == k;
		p->plat.unlock(p->plat.ctx);
		if (rc)
			return 0; /* the shared window is of kind k already */
		rc = p2m_make_private(p, slot, false);
		if (rc)
			return rc;
	}
	p2m_gen_begin(p);
	rc = p2m_join_slot_locked(p, slot, k, &freed);
	p2m_gen_end(p);
	p->plat.unlock(p->plat.ctx);
	if (freed)
		p2m_free_frames(p, 1, &freed);
	return rc;
}

/* Whether every slot of private window w is shared of kind k. */
static bool window_uniform(const struct p2m *p, uint64_t w, uint8_t k)
{
	for (uint64_t s = p2m_window_slot(w); s < p2m_window_slot(w + 1); s++)
		if (slot_kind(p, s) != k)
			return false;
	return true;
}

static int set_range_kind(struct p2m *p, uint64_t pfn, uint64_t n, uint8_t k)
{
	uint64_t end, s, last_slot;
	int rc;

	if (n == 0)
		return 0;
	rc = p2m_refuse_suspended(p, k == P2M_SLOT_IDENTITY ? "p2m_set_range_identity"
							   : "p2m_set_range_missing");
	if (rc)
		return rc;
	if (pfn >= p->capacity || n > p->capacity - pfn) {
		if (k == P2M_SLOT_IDENTITY && pfn < p->capacity) {
			n = p->capacity - pfn; /* beyond the list is identity */
		} else if (k == P2M_SLOT_IDENTITY) {
			return 0;
		} else {
			return p2m_fail(p, P2M_ERANGE,
					"range of %#llx pfns from %#llx reaches beyond the capacity %#llx",
					(unsigned long long)n, (unsigned long long)pfn,
					(unsigned long long)p->capacity);
		}
	}
	end = pfn + n;
	rc = prepare_range(p, pfn, end, k);
	if (rc)
		return rc;

	/* Partial slots (only the first and the last can be): single stores
	 * into their leaves, made private above unless already of kind k. */
	last_slot = p2m_pfn_slot(end - 1);
	for (s = p2m_pfn_slot(pfn);; s = last_slot) {
		uint64_t s0 = p2m_slot_pfn(s), s1 = s0 + P2M_PER_PAGE;
		uint64_t a = s0 < pfn ? pfn : s0, b = s1 > end ? end : s1;

		if ((a != s0 || b != s1) && slot_kind(p, s) == P2M_SLOT_PRIVATE)
			for (uint64_t q = a; q < b; q++)
				store(p, q, shared_value(k, q));
		if (s == last_slot)
			break;
	}

	/* Whole slots and whole windows. */
	for (s = p2m_pfn_slot(pfn + P2M_PER_PAGE - 1); p2m_slot_pfn(s + 1) <= end;) {
		uint64_t w = p2m_slot_window(s);
		uint64_t w0 = p2m_window_pfn(w);

		if (p2m_slot_index(s) == 0 && w0 + P2M_PER_WINDOW <= end) {
			rc = p2m_join_window(p, w, k);
			s += SLOTS_PER_WINDOW;
		} else {
			rc = join_slot(p, s, k);
			s++;
		}
		if (rc)
			return rc;
	}

	/* A window the range covered only in part may now be uniform. */
	for (uint64_t w = p2m_pfn_window(pfn);; w = p2m_pfn_window(end - 1)) {
		if (!window_shared(p, w) && window_uniform(p, w, k)) {
			rc = p2m_join_window_if_uniform(p, w, k);
			if (rc)
				return rc;
		}
		if (w == p2m_pfn_window(end - 1))
			break;
	}
	return 0;
}

int p2m_set_range_missing(struct p2m *p, uint64_t pfn, uint64_t n)
{
	return set_range_kind(p, pfn, n, P2M_SLOT_MISSING);
}

int p2m_set_range_identity(struct p2m *p, uint64_t pfn, uint64_t n)
{
	return set_range_kind(p, pfn, n, P2M_SLOT_IDENTITY);
}

void p2m_cover(struct p2m *p, uint64_t count)
{
	if (count == 0)
		return;
	if (count > p->capacity)
		count = p->capacity;
	p2m_note_pfn(p, count - 1);
}

uint64_t p2m_max_pfn(const struct p2m *p)
{
	return __atomic_load_n(&p->max_pfn, __ATOMIC_ACQUIRE);
}

uint64_t p2m_generation(const struct p2m *p)
{
	return __atomic_load_n(&p->generation, __ATOMIC_ACQUIRE);
}
