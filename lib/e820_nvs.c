/*
 * Moving ACPI NVS out from under dom0's kernel, as Linux 6.12 does.
 *
 * Some machines put ACPI NVS where Xen loads dom0's kernel or builds its
 * page tables (e.g. at 64 MiB). Those cannot move, but NVS can: the OS
 * only reads and writes it around suspend, through whatever pfn maps its
 * machine frames. So the NVS range's pfns become RAM (the frames Xen put
 * there stay where they are) and the range reappears at the top of a
 * RAM range above nr_pages, whose pfns then map the NVS machine frames.
 * The firmware map (plan->map) is not changed: the moves are recorded in
 * plan->moved[] and the piece cursor (p2m_e820_cursor_next) reads them, so
 * the walks, the counts and the conflict check all see the moved map.
 *
 * Target choice, as Linux's: the first RAM range, in address order,
 * that is large enough and whose top, less the NVS size, is still at or
 * above nr_pages; the NVS takes that top. Ours also stays below the
 * limit and end, where the P2M can hold it. dom0 only (see e820.h).
 */
#include "e820_internal.h"

/* Pfns already taken from the top of map range r by earlier moves. */
static uint64_t taken_from(const struct p2m_e820_plan *plan,
			   const struct p2m_e820_range *r)
{
	uint64_t t = 0;

	for (size_t k = 0; k < plan->nr_moved; k++)
		if (plan->moved[k].dst >= r->start && plan->moved[k].dst < r->end)
			t += plan->moved[k].count;
	return t;
}

/* First pfn of a home for count pfns, or E820_PFN_MAX. */
static uint64_t find_home(const struct p2m_e820_plan *plan, uint64_t count)
{
	uint64_t top = p2m_e820_min(p2m_e820_limit(plan->limit), plan->end);

	for (size_t i = 0; i < plan->nr_map; i++) {
		const struct p2m_e820_range *r = &plan->map[i];
		uint64_t end;

		if (r->kind != P2M_E820_RAM)
			continue;
		end = p2m_e820_min(r->end - taken_from(plan, r), top);
		if (end > r->start && end - r->start >= count &&
		    end - count >= plan->nr_pages)
			return end - count;
	}
	return E820_PFN_MAX;
}

static bool already_moved(const struct p2m_e820_plan *plan, uint64_t src)
{
	for (size_t k = 0; k < plan->nr_moved; k++)
		if (plan->moved[k].src == src)
			return true;
	return false;
}

/* Move every NVS range under [s, e); false once the limit is reached. */
static bool move_under(struct p2m_e820_plan *plan, uint64_t s, uint64_t e)
{
	for (size_t i = 0; i < plan->nr_map && plan->map[i].start < e; i++) {
		const struct p2m_e820_range *r = &plan->map[i];
		uint64_t count = r->end - r->start, dst;

		if (r->end <= s || r->kind != P2M_E820_NVS || already_moved(plan, r->start))
			continue;
		if (plan->nr_moved == P2M_E820_MAX_MOVED)
			return false;
		dst = find_home(plan, count);
		if (dst == E820_PFN_MAX)
			continue;              /* stays a FATAL conflict */
		plan->moved[plan->nr_moved++] = (struct p2m_e820_remap){ r->start, dst, count };
	}
	return true;
}

void e820_move_nvs(const struct p2m_e820_input *in, struct p2m_e820_plan *plan)
{
	static const int fixed[] = { P2M_E820_OBJ_KERNEL, P2M_E820_OBJ_PAGE_TABLES,
				     P2M_E820_OBJ_START_INFO };

	plan->nr_moved = 0;
	if (!in->dom0)
		return;
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++) {
		const struct p2m_e820_object *ob = &in->objects[fixed[k]];

		/* Bad objects are reported by p2m_e820_check_objects(). */
		if (!ob->count || ob->pfn + ob->count < ob->pfn ||
		    ob->pfn + ob->count > in->nr_pages)
			continue;
		if (!move_under(plan, ob->pfn, ob->pfn + ob->count))
			break;
	}
	/* Ascending by src (a handful: insertion sort). */
	for (size_t i = 1; i < plan->nr_moved; i++)
		for (size_t j = i; j && plan->moved[j - 1].src > plan->moved[j].src; j--) {
			struct p2m_e820_remap t = plan->moved[j];

			plan->moved[j] = plan->moved[j - 1];
			plan->moved[j - 1] = t;
		}
}

bool e820_moved_at(const struct p2m_e820_plan *plan, uint64_t pfn, bool dst,
		   uint64_t *end)
{
	for (size_t k = 0; k < plan->nr_moved; k++) {
		uint64_t a = dst ? plan->moved[k].dst : plan->moved[k].src;

		if (pfn >= a && pfn < a + plan->moved[k].count) {
			*end = a + plan->moved[k].count;
			return true;
		}
	}
	return false;
}
