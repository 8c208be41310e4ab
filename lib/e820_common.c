/*
 * The small pieces every E820 file shares: defaults, failure messages,
 * the counting range list, the piece cursor over a sanitised map, names.
 */
#include <stdarg.h>

#include "e820_internal.h"

#include "p2m/fmt.h"

void p2m_e820_input_init(struct p2m_e820_input *in, bool dom0)
{
	struct p2m_e820_input z = { 0 };

	*in = z;
	in->dom0 = dom0;
	/* Linux: a domU stays within the tool tree's 512 GiB unless told
	 * otherwise; dom0 is never limited. */
	in->limit = dom0 ? 0 : P2M_E820_LIMIT_512G;
}

void p2m_e820_plan_init(struct p2m_e820_plan *plan,
			struct p2m_e820_range *map, size_t map_cap)
{
	struct p2m_e820_plan z = { 0 };

	*plan = z;
	plan->map = map;
	plan->map_cap = map_cap;
}

int p2m_e820_fail(struct p2m_e820_plan *plan, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p2m_vsnprintf(plan->error, sizeof(plan->error), fmt, ap);
	va_end(ap);
	return -err;
}

void p2m_e820_rlist_init(struct p2m_e820_rlist *l, struct p2m_e820_range *arr,
		     size_t cap)
{
	l->arr = arr;
	l->cap = arr ? cap : 0;
	l->n = 0;
	l->last.start = l->last.end = 0;
	l->last.kind = 0;
}

void p2m_e820_rlist_add(struct p2m_e820_rlist *l, uint64_t start, uint64_t end,
		    uint32_t kind)
{
	if (start >= end)
		return;
	if (l->n && l->last.end == start && l->last.kind == kind) {
		l->last.end = end;
	} else {
		l->n++;
		l->last.start = start;
		l->last.end = end;
		l->last.kind = kind;
	}
	if (l->n <= l->cap)
		l->arr[l->n - 1] = l->last;
}

int p2m_e820_rlist_check(struct p2m_e820_plan *plan, const char *what,
		     const void *arr, size_t n, size_t cap)
{
	if (!arr || n <= cap)
		return 0;
	return p2m_e820_fail(plan, P2M_ENOSPC, "%s list: %zu entries needed, room for %zu",
			 what, n, cap);
}

void p2m_e820_cursor_init(struct p2m_e820_cursor *c, const struct p2m_e820_plan *plan,
		      uint64_t cut0, uint64_t cut1)
{
	c->plan = plan;
	c->map = plan->map;
	c->n = plan->nr_map;
	c->i = 0;
	c->pos = 0;
	c->end = plan->end;
	c->cut[0] = cut0;
	c->cut[1] = cut1;
}

/* Cut the piece at the ends of moved ranges; inside one, its old pfns
 * are RAM and its new ones moved NVS. */
static void moved_override(const struct p2m_e820_cursor *c, struct p2m_e820_piece *p,
			   uint64_t *e)
{
	const struct p2m_e820_plan *plan = c->plan;
	uint64_t mend;

	p->moved = false;
	for (size_t k = 0; k < plan->nr_moved; k++) {
		const struct p2m_e820_remap *m = &plan->moved[k];
		uint64_t cuts[4] = { m->src, m->src + m->count, m->dst, m->dst + m->count };

		for (int j = 0; j < 4; j++)
			if (cuts[j] > c->pos && cuts[j] < *e)
				*e = cuts[j];
	}
	if (e820_moved_at(plan, c->pos, false, &mend)) {
		p->ram = true;
		p->type = P2M_E820_RAM;
	} else if (e820_moved_at(plan, c->pos, true, &mend)) {
		p->ram = false;
		p->moved = true;
		p->type = P2M_E820_NVS;
	}
}

bool p2m_e820_cursor_next(struct p2m_e820_cursor *c, struct p2m_e820_piece *p)
{
	uint64_t e;

	if (c->pos >= c->end)
		return false;
	while (c->i < c->n && c->map[c->i].end <= c->pos)
		c->i++;
	if (c->i < c->n && c->map[c->i].start <= c->pos) {
		e = c->map[c->i].end;
		p->type = c->map[c->i].kind;
		p->ram = p->type == P2M_E820_RAM;
	} else {
		e = c->i < c->n ? c->map[c->i].start : c->end;
		p->type = 0;
		p->ram = false;
	}
	e = p2m_e820_min(e, c->end);
	for (int k = 0; k < 2; k++)
		if (c->cut[k] > c->pos && c->cut[k] < e)
			e = c->cut[k];
	moved_override(c, p, &e);
	p->start = c->pos;
	p->end = e;
	c->pos = e;
	return true;
}

enum p2m_e820_category p2m_e820_category_of(const struct p2m_e820_plan *plan,
					    uint64_t pfn)
{
	size_t lo = 0, hi;

	if (!plan->layout || plan->nr_layout > plan->layout_cap || pfn >= plan->end)
		return P2M_E820_NCAT;
	hi = plan->nr_layout;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (plan->layout[mid].end <= pfn)
			lo = mid + 1;
		else if (plan->layout[mid].start > pfn)
			hi = mid;
		else
			return (enum p2m_e820_category)plan->layout[mid].kind;
	}
	return P2M_E820_NCAT;
}

const char *p2m_e820_type_name(uint32_t type, char *buf, size_t n)
{
	switch (type) {
	case P2M_E820_RAM: return "usable";
	case P2M_E820_RESERVED: return "reserved";
	case P2M_E820_ACPI: return "ACPI data";
	case P2M_E820_NVS: return "ACPI NVS";
	case P2M_E820_UNUSABLE: return "unusable";
	case P2M_E820_PMEM: return "persistent (type 7)";
	case P2M_E820_PRAM: return "persistent (type 12)";
	case P2M_E820_SOFT_RESERVED: return "soft reserved";
	default:
		p2m_snprintf(buf, n, "type %u", type);
		return buf;
	}
}

const char *p2m_e820_category_name(enum p2m_e820_category c)
{
	static const char *const names[P2M_E820_NCAT] = {
		[P2M_E820_C_RAM] = "ram",
		[P2M_E820_C_IDENTITY] = "identity",
		[P2M_E820_C_REMAP_SRC] = "remap-source",
		[P2M_E820_C_RELEASED] = "released",
		[P2M_E820_C_TRIMMED] = "trimmed",
		[P2M_E820_C_REMAP_DST] = "remapped",
		[P2M_E820_C_EXTRA] = "extra",
		[P2M_E820_C_UNUSED] = "unused",
		[P2M_E820_C_NVS_MOVED] = "nvs-moved",
	};

	return (unsigned)c < P2M_E820_NCAT ? names[c] : "?";
}

const char *p2m_e820_object_name(enum p2m_e820_object_id o)
{
	static const char *const names[P2M_E820_NOBJ] = {
		[P2M_E820_OBJ_KERNEL] = "kernel",
		[P2M_E820_OBJ_P2M_LIST] = "initial P2M list",
		[P2M_E820_OBJ_PAGE_TABLES] = "page tables",
		[P2M_E820_OBJ_START_INFO] = "start_info",
		[P2M_E820_OBJ_INITRD] = "initrd",
	};

	return (unsigned)o < P2M_E820_NOBJ ? names[o] : "?";
}

int p2m_e820_describe_conflict(const struct p2m_e820_conflict *c,
			       char *buf, size_t n)
{
	char tb[24];
	const char *obj = p2m_e820_object_name((enum p2m_e820_object_id)c->object);
	unsigned long long os = c->pfn << 12, oe = (c->pfn + c->count) << 12;
	unsigned long long rs = c->range_start << 12, re = (c->range_end << 12) - 1;
	int len;

	if (c->reason == P2M_E820_ABOVE_LIMIT)
		len = p2m_snprintf(buf, n, "%s [mem %#llx-%#llx] lies above the limit (pfn %#llx)",
				   obj, os, oe - 1, (unsigned long long)c->range_start);
	else if (c->reason == P2M_E820_UNDER_GAP)
		len = p2m_snprintf(buf, n, "%s [mem %#llx-%#llx] lies in the E820 gap [mem %#llx-%#llx]",
				   obj, os, oe - 1, rs, re);
	else
		len = p2m_snprintf(buf, n, "%s [mem %#llx-%#llx] lies under E820 %s [mem %#llx-%#llx]",
				   obj, os, oe - 1,
				   p2m_e820_type_name(c->range_type, tb, sizeof(tb)), rs, re);
	if (c->action == P2M_E820_RELOCATE)
		return len + p2m_snprintf(buf + ((size_t)len < n ? (size_t)len : n),
					  (size_t)len < n ? n - (size_t)len : 0,
					  ": relocate it to pfn %#llx",
					  (unsigned long long)c->target);
	return len + p2m_snprintf(buf + ((size_t)len < n ? (size_t)len : n),
				  (size_t)len < n ? n - (size_t)len : 0,
				  c->object == P2M_E820_OBJ_P2M_LIST ||
				  c->object == P2M_E820_OBJ_INITRD ?
				  ": no RAM to relocate it to" :
				  ": it cannot be moved (fatal)");
}
