/*
 * Sanitising a memory map into page-granular, sorted, disjoint ranges.
 *
 * Two steps, in one sweep from low to high addresses:
 *   1. Per byte: at every address the covering entry of highest rank
 *      wins (RAM ranks lowest, then non-RAM types by number, as Linux
 *      resolves overlaps). The sweep visits the 2n entry boundaries in
 *      order; finding the next boundary and the winner are linear scans,
 *      so the cost is quadratic in n, bounded by P2M_E820_MAX_ENTRIES.
 *      Pieces of one type that touch are merged before rounding, so two
 *      RAM entries meeting inside a page keep that page.
 *   2. Per page: RAM rounds inward (a page with any non-RAM byte is not
 *      RAM), non-RAM outward. Only a non-RAM range can then overlap the
 *      one before it, by exactly one page (both touch that page); the
 *      page goes to the higher rank. A range that loses its only page
 *      disappears.
 * Nothing is stored but the output ranges, in the caller's array.
 */
#include "e820_internal.h"

#include "p2m/fmt.h"

#define PAGE 4096u
#define ISA_START 0xa0000u
#define ISA_END   0x100000u

/* Rank in overlap resolution: higher wins. */
static uint64_t rank(uint32_t type)
{
	return type == P2M_E820_RAM ? 0 : (uint64_t)type + 1;
}

struct src {
	const struct p2m_e820_entry *map;
	size_t n;
	bool dom0;
};

/* Entry i of the input as the sweep sees it (i == n: dom0's ISA hole). */
static bool src_get(const struct src *s, size_t i, uint64_t *a, uint64_t *b,
		    uint32_t *type)
{
	if (i == s->n) {
		*a = ISA_START;
		*b = ISA_END;
		*type = P2M_E820_RESERVED;
		return true;
	}
	if (s->map[i].size == 0)
		return false;
	*a = s->map[i].addr;
	*b = s->map[i].addr + s->map[i].size;
	*type = s->map[i].type;
	if (s->dom0 && *type == P2M_E820_UNUSABLE)
		*type = P2M_E820_RAM;
	return true;
}

struct out {
	struct p2m_e820_plan *plan;
	size_t n;
	bool full;
};

static void out_append(struct out *o, uint64_t s, uint64_t e, uint32_t kind)
{
	struct p2m_e820_range *m = o->plan->map;

	if (o->n && m[o->n - 1].end == s && m[o->n - 1].kind == kind) {
		m[o->n - 1].end = e;
		return;
	}
	if (o->n == o->plan->map_cap) {
		o->full = true;
		return;
	}
	m[o->n].start = s;
	m[o->n].end = e;
	m[o->n].kind = kind;
	o->n++;
}

/* Round a byte piece [a, b) of one type to pages and append it. */
static void out_piece(struct out *o, uint64_t a, uint64_t b, uint32_t type)
{
	struct p2m_e820_range *last;
	uint64_t s, e;

	if (type == P2M_E820_RAM) {
		s = a / PAGE + (a % PAGE != 0);
		e = b / PAGE;
		if (s >= e) {
			o->plan->dropped++;
			return;
		}
	} else {
		s = a / PAGE;
		e = b / PAGE + (b % PAGE != 0);
	}
	last = o->n ? &o->plan->map[o->n - 1] : 0;
	if (last && s < last->end) {
		/* Both non-RAM and sharing the page s (see above). */
		if (last->kind == type) {
			last->end = p2m_e820_max(last->end, e);
			return;
		}
		if (rank(type) > rank(last->kind)) {
			last->end = s;
			if (last->start == last->end)
				o->n--;
		} else {
			s = last->end;
			if (s >= e)
				return;
		}
	}
	out_append(o, s, e, type);
}

int p2m_e820_sanitize(const struct p2m_e820_entry *map, size_t n, bool dom0,
		      struct p2m_e820_plan *plan)
{
	struct src src = { map, n, dom0 };
	struct out out = { plan, 0, false };
	size_t total = n + (dom0 ? 1 : 0);
	uint64_t pos = 0, pa = 0, pb = 0;
	uint32_t ptype = 0;
	bool pending = false;

	plan->nr_map = 0;
	plan->dropped = 0;
	plan->map_top = 0;
	if (!plan->map || !plan->map_cap)
		return p2m_e820_fail(plan, P2M_EINVAL, "no storage for the sanitised map");
	if (n && !map)
		return p2m_e820_fail(plan, P2M_EINVAL, "memory map of %zu entries is NULL", n);
	if (n > P2M_E820_MAX_ENTRIES)
		return p2m_e820_fail(plan, P2M_EINVAL,
				 "memory map has %zu entries, at most %u are accepted",
				 n, P2M_E820_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		if (map[i].size == 0) {
			plan->dropped++;
			continue;
		}
		if (map[i].addr + map[i].size < map[i].addr ||
		    map[i].addr + map[i].size == 0)
			return p2m_e820_fail(plan, P2M_EINVAL,
					 "entry %zu [mem %#llx, size %#llx] runs past the top of the address space",
					 i, (unsigned long long)map[i].addr,
					 (unsigned long long)map[i].size);
	}

	for (;;) {
		uint64_t next = 0, best = 0, a, b;
		uint32_t type, wtype = 0;
		bool have_next = false, covered = false;

		for (size_t i = 0; i < total; i++) {
			if (!src_get(&src, i, &a, &b, &type))
				continue;
			if (a > pos && (!have_next || a < next)) {
				next = a;
				have_next = true;
			}
			if (b > pos && (!have_next || b < next)) {
				next = b;
				have_next = true;
			}
			if (a <= pos && pos < b && (!covered || rank(type) > best)) {
				best = rank(type);
				wtype = type;
				covered = true;
			}
		}
		if (!have_next)
			break;
		if (covered) {
			if (pending && pb == pos && ptype == wtype) {
				pb = next;
			} else {
				if (pending)
					out_piece(&out, pa, pb, ptype);
				pa = pos;
				pb = next;
				ptype = wtype;
				pending = true;
			}
		}
		pos = next;
	}
	if (pending)
		out_piece(&out, pa, pb, ptype);
	plan->nr_map = out.n;
	if (out.full)
		return p2m_e820_fail(plan, P2M_ENOSPC,
				 "sanitised map: more than %zu ranges needed (2 * %zu + 3 always suffice)",
				 plan->map_cap, n);
	plan->map_top = out.n ? plan->map[out.n - 1].end : 0;
	return 0;
}
