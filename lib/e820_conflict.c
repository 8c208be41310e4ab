/*
 * Conflicts between the frames Xen placed (kernel, initial list, page
 * tables, start_info, initrd) and the plan: every one of them must lie in
 * pfns that stay RAM (populated, map RAM, below the limit). The first pfn
 * that does not names the range it lies under (an ACPI NVS range moved
 * away, lib/e820_nvs.c, counts as RAM). The initial list and the
 * initrd can be copied elsewhere: we suggest the first RAM stretch above
 * 1 MiB large enough and clear of every object and earlier suggestion
 * (low memory is left to firmware and real-mode users). The others are
 * where the guest runs from: fatal.
 */
#include "e820_internal.h"

#include "p2m/fmt.h"

#define LOW_PFNS 0x100u   /* 1 MiB */

/* Find the map index of the first range ending above pfn (n if none). */
static size_t map_find(const struct p2m_e820_plan *plan, uint64_t pfn)
{
	size_t lo = 0, hi = plan->nr_map;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (plan->map[mid].end <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First pfn of [s, e) that does not stay RAM, filling in why; false if
 * none. */
static bool first_bad(const struct p2m_e820_plan *plan, uint64_t s, uint64_t e,
		      struct p2m_e820_conflict *c)
{
	uint64_t lim = p2m_e820_limit(plan->limit), q = s, mend;

	while (q < e) {
		size_t i = map_find(plan, q);

		if (i < plan->nr_map && plan->map[i].start <= q) {
			const struct p2m_e820_range *r = &plan->map[i];
			bool ram = r->kind == P2M_E820_RAM;
			uint64_t rend = r->end;

			/* A moved NVS range's old pfns are RAM now. */
			if (!ram && e820_moved_at(plan, q, false, &mend)) {
				ram = true;
				rend = mend;
			}
			if (!ram) {
				c->reason = P2M_E820_UNDER_ENTRY;
				c->range_type = r->kind;
				c->range_start = r->start;
				c->range_end = r->end;
				return true;
			}
			if (q >= lim) {
				c->reason = P2M_E820_ABOVE_LIMIT;
				c->range_type = 0;
				c->range_start = lim;
				c->range_end = rend;
				return true;
			}
			q = p2m_e820_min(rend, lim);
			continue;
		}
		c->reason = P2M_E820_UNDER_GAP;
		c->range_type = 0;
		c->range_start = i ? plan->map[i - 1].end : 0;
		c->range_end = i < plan->nr_map ? plan->map[i].start : plan->end;
		return true;
	}
	return false;
}

struct blocker {
	uint64_t s, e;
};

/* First fit of count pfns in kept RAM, clear of the blockers. */
static uint64_t find_room(const struct p2m_e820_plan *plan, uint64_t count,
			  const struct blocker *b, size_t nb)
{
	uint64_t top = p2m_e820_min(plan->nr_pages, p2m_e820_limit(plan->limit));

	for (size_t i = 0; i < plan->nr_map; i++) {
		const struct p2m_e820_range *r = &plan->map[i];
		uint64_t pos = p2m_e820_max(r->start, LOW_PFNS);
		uint64_t end = p2m_e820_min(r->end, top);
		bool moved = true;

		if (r->kind != P2M_E820_RAM)
			continue;
		while (moved) {
			moved = false;
			if (pos >= end || end - pos < count)
				break;
			for (size_t k = 0; k < nb; k++) {
				if (b[k].s < pos + count && pos < b[k].e) {
					pos = b[k].e;
					moved = true;
				}
			}
			if (!moved)
				return pos;
		}
	}
	return E820_PFN_MAX;
}

int p2m_e820_check_objects(const struct p2m_e820_input *in,
		       struct p2m_e820_plan *plan)
{
	struct blocker b[2 * P2M_E820_NOBJ];
	size_t nb = 0;
	char msg[sizeof(plan->error)];

	for (int o = 0; o < P2M_E820_NOBJ; o++) {
		const struct p2m_e820_object *ob = &in->objects[o];

		if (!ob->count)
			continue;
		if (ob->pfn + ob->count < ob->pfn || ob->pfn + ob->count > in->nr_pages)
			return p2m_e820_fail(plan, P2M_EINVAL,
					 "%s pfns [%#llx, +%#llx) lie beyond the initial allocation (nr_pages %#llx)",
					 p2m_e820_object_name((enum p2m_e820_object_id)o),
					 (unsigned long long)ob->pfn,
					 (unsigned long long)ob->count,
					 (unsigned long long)in->nr_pages);
		b[nb].s = ob->pfn;
		b[nb].e = ob->pfn + ob->count;
		nb++;
	}
	for (int o = 0; o < P2M_E820_NOBJ; o++) {
		const struct p2m_e820_object *ob = &in->objects[o];
		struct p2m_e820_conflict c;

		if (!ob->count)
			continue;
		c.object = (uint32_t)o;
		c.pfn = ob->pfn;
		c.count = ob->count;
		c.target = E820_PFN_MAX;
		if (!first_bad(plan, ob->pfn, ob->pfn + ob->count, &c))
			continue;
		c.action = P2M_E820_FATAL;
		if (o == P2M_E820_OBJ_P2M_LIST || o == P2M_E820_OBJ_INITRD) {
			c.target = find_room(plan, ob->count, b, nb);
			if (c.target != E820_PFN_MAX) {
				c.action = P2M_E820_RELOCATE;
				b[nb].s = c.target;
				b[nb].e = c.target + ob->count;
				nb++;
			}
		}
		if (plan->conflicts && plan->nr_conflicts < plan->conflicts_cap)
			plan->conflicts[plan->nr_conflicts] = c;
		plan->nr_conflicts++;
		if (c.action == P2M_E820_FATAL && !plan->fatal++) {
			p2m_e820_describe_conflict(&c, msg, sizeof(msg));
			p2m_e820_fail(plan, P2M_ECONFLICT, "%s", msg);
		}
	}
	return plan->fatal ? -P2M_ECONFLICT : 0;
}
