/*
 * The invariants of include/p2m/e820.h, checked independently of the
 * planner's own walks: a per-page model of the sanitised map (a page's
 * type is the highest-ranked entry touching it, or RAM if RAM entries
 * cover it whole, or a gap) is compared with map[] at every boundary of
 * the input and output; the layout is checked for coverage, counts and
 * the category rules; the derived lists are rebuilt from the layout and
 * compared; remap pairs, conflicts and suggested targets are checked
 * against the layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e820_check.h"

#define FAIL(...) do { \
	fprintf(stderr, "e820 invariant broken: " __VA_ARGS__); \
	fprintf(stderr, "\n"); \
	abort(); \
} while (0)
#define CHECK(c, ...) do { if (!(c)) FAIL(__VA_ARGS__); } while (0)

typedef unsigned long long ull;

void plan_check_store_init(struct plan_check_store *s, size_t max_entries)
{
	size_t cap = 4 * max_entries + 16;

	s->cap = cap;
	s->map = calloc(cap, sizeof(*s->map));
	s->layout = calloc(cap, sizeof(*s->layout));
	s->identity = calloc(cap, sizeof(*s->identity));
	s->release = calloc(cap, sizeof(*s->release));
	s->extra = calloc(cap, sizeof(*s->extra));
	s->remap = calloc(cap, sizeof(*s->remap));
	s->conflicts = calloc(P2M_E820_NOBJ, sizeof(*s->conflicts));
	if (!s->map || !s->layout || !s->identity || !s->release || !s->extra ||
	    !s->remap || !s->conflicts)
		abort();
}

void plan_check_store_free(struct plan_check_store *s)
{
	free(s->map);
	free(s->layout);
	free(s->identity);
	free(s->release);
	free(s->extra);
	free(s->remap);
	free(s->conflicts);
}

void plan_check_plan_init(struct plan_check_store *s, struct p2m_e820_plan *plan)
{
	p2m_e820_plan_init(plan, s->map, s->cap);
	plan->layout = s->layout;
	plan->layout_cap = s->cap;
	plan->identity = s->identity;
	plan->identity_cap = s->cap;
	plan->release = s->release;
	plan->release_cap = s->cap;
	plan->extra = s->extra;
	plan->extra_cap = s->cap;
	plan->remap = s->remap;
	plan->remap_cap = s->cap;
	plan->conflicts = s->conflicts;
	plan->conflicts_cap = P2M_E820_NOBJ;
}

/* --- the per-page model --- */

static uint64_t rank(uint32_t t)
{
	return t == P2M_E820_RAM ? 0 : (uint64_t)t + 1;
}

static uint32_t eff_type(const struct p2m_e820_input *in, uint32_t t)
{
	return in->dom0 && t == P2M_E820_UNUSABLE ? P2M_E820_RAM : t;
}

/* Entry i, with dom0's ISA hole as entry nr_map. */
static bool entry(const struct p2m_e820_input *in, size_t i, uint64_t *a,
		  uint64_t *b, uint32_t *t)
{
	if (i == in->nr_map) {
		if (!in->dom0)
			return false;
		*a = in->ibft ? 0x80000 : 0xa0000;
		*b = 0x100000;
		*t = P2M_E820_RESERVED;
		return true;
	}
	if (!in->map[i].size)
		return false;
	*a = in->map[i].addr;
	*b = in->map[i].addr + in->map[i].size;
	*t = eff_type(in, in->map[i].type);
	return true;
}

/* Type of page pfn per the model; 0 for a gap. */
static uint32_t model_type(const struct p2m_e820_input *in, uint64_t pfn)
{
	uint64_t ps = pfn << 12, last = ps + 4095, a, b, pos;
	uint32_t t, best = 0;
	bool nonram = false, moved = true;

	if (pfn >= ((uint64_t)1 << 52))
		return 0;
	for (size_t i = 0; i <= in->nr_map; i++) {
		if (!entry(in, i, &a, &b, &t) || t == P2M_E820_RAM)
			continue;
		if (a <= last && ps < b && (!nonram || rank(t) > rank(best))) {
			best = t;
			nonram = true;
		}
	}
	if (nonram)
		return best;
	/* RAM if the union of RAM entries covers every byte of the page (an
	 * entry ends below 2^64, so the very last page never is). Only the
	 * RAM entries touching the page matter. */
	{
		size_t k = 0, cap = in->nr_map + 1;
		uint64_t sa[cap ? cap : 1], sb[cap ? cap : 1];

		for (size_t i = 0; i <= in->nr_map; i++)
			if (entry(in, i, &a, &b, &t) && t == P2M_E820_RAM && a <= last && ps < b) {
				sa[k] = a;
				sb[k] = b;
				k++;
			}
		pos = ps;
		while (moved) {
			moved = false;
			for (size_t i = 0; i < k; i++)
				if (sa[i] <= pos && pos < sb[i]) {
					pos = sb[i];
					moved = true;
				}
			if (pos > last)
				return P2M_E820_RAM;
		}
	}
	return 0;
}

/* Index of the first map[] range ending above pfn (binary search). */
static size_t map_index(const struct p2m_e820_plan *p, uint64_t pfn)
{
	size_t lo = 0, hi = p->nr_map;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->map[mid].end <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Type of page pfn per the plan's map[]. */
static uint32_t plan_type(const struct p2m_e820_plan *p, uint64_t pfn)
{
	size_t i = map_index(p, pfn);

	return i < p->nr_map && p->map[i].start <= pfn ? p->map[i].kind : 0;
}

static void check_pfn(const struct p2m_e820_input *in, const struct p2m_e820_plan *p,
		      uint64_t pfn)
{
	uint32_t m = model_type(in, pfn), q = plan_type(p, pfn);

	CHECK(m == q, "pfn %#llx: model type %u, plan type %u", (ull)pfn, m, q);
}

/* The model costs O(n) per pfn: on large maps (thousands of entries)
 * only about 128 ranges and entries, spread over the map, are compared
 * with it; the structural checks still see every range. */
static size_t model_stride(size_t n)
{
	return n > 512 ? n / 128 : 1;
}

static void check_map(const struct p2m_e820_input *in, const struct p2m_e820_plan *p)
{
	size_t ms = model_stride(p->nr_map), es = model_stride(in->nr_map + 1);
	uint64_t a, b;
	uint32_t t;

	for (size_t i = 0; i < p->nr_map; i++) {
		const struct p2m_e820_range *r = &p->map[i];

		CHECK(r->start < r->end, "map[%zu] empty", i);
		if (i) {
			CHECK(p->map[i - 1].end <= r->start, "map[%zu] overlaps or unsorted", i);
			CHECK(p->map[i - 1].end < r->start || p->map[i - 1].kind != r->kind,
			      "map[%zu] not merged", i);
		}
		if (i % ms && i + 1 != p->nr_map)
			continue;
		check_pfn(in, p, r->start);
		check_pfn(in, p, r->end - 1);
		check_pfn(in, p, r->end);
		if (r->start)
			check_pfn(in, p, r->start - 1);
	}
	for (size_t i = 0; i <= in->nr_map; i++) {
		if ((i % es && i != in->nr_map) || !entry(in, i, &a, &b, &t))
			continue;
		check_pfn(in, p, a >> 12);
		check_pfn(in, p, (b - 1) >> 12);
		check_pfn(in, p, b >> 12);
		if (a >> 12)
			check_pfn(in, p, (a >> 12) - 1);
	}
	CHECK(p->map_top == (p->nr_map ? p->map[p->nr_map - 1].end : 0), "map_top");
}

/* Pseudo-type of the new pfns of a moved NVS range. */
#define MOVED_HERE 0xfffffffeu

/* Cut [s, *e) at the ends of moved ranges; the type at s as moved. */
static uint32_t moved_type(const struct p2m_e820_plan *p, uint64_t s, uint64_t *e,
			   uint32_t t)
{
	for (size_t k = 0; k < p->nr_moved; k++) {
		const struct p2m_e820_remap *m = &p->moved[k];
		uint64_t cut[4] = { m->src, m->src + m->count, m->dst, m->dst + m->count };

		for (int j = 0; j < 4; j++)
			if (cut[j] > s && cut[j] < *e)
				*e = cut[j];
		if (s >= m->src && s < m->src + m->count)
			t = P2M_E820_RAM;
		if (s >= m->dst && s < m->dst + m->count)
			t = MOVED_HERE;
	}
	return t;
}

/* Moved NVS ranges (dom0): each is a whole NVS range of the map under a
 * fixed object, now at the top of map RAM at/above nr_pages and below
 * the limit and end; disjoint, ascending by src, at most the maximum. */
static void check_moved(const struct p2m_e820_input *in, const struct p2m_e820_plan *p)
{
	uint64_t lim = p->limit ? p->limit : ~(uint64_t)0;

	CHECK(p->nr_moved <= P2M_E820_MAX_MOVED, "%zu moved ranges", p->nr_moved);
	CHECK(in->dom0 || !p->nr_moved, "a domU's NVS moved");
	for (size_t k = 0; k < p->nr_moved; k++) {
		const struct p2m_e820_remap *m = &p->moved[k];
		size_t i = map_index(p, m->src), j = map_index(p, m->dst);
		bool under = false;

		CHECK(i < p->nr_map && p->map[i].start == m->src &&
		      p->map[i].end == m->src + m->count && p->map[i].kind == P2M_E820_NVS,
		      "moved[%zu] src [%#llx, +%#llx) is not an NVS range", k, (ull)m->src,
		      (ull)m->count);
		CHECK(j < p->nr_map && p->map[j].start <= m->dst &&
		      m->dst + m->count <= p->map[j].end && p->map[j].kind == P2M_E820_RAM,
		      "moved[%zu] dst [%#llx, +%#llx) not inside one RAM range", k,
		      (ull)m->dst, (ull)m->count);
		CHECK(m->dst >= p->nr_pages && m->dst + m->count <= lim &&
		      m->dst + m->count <= p->end, "moved[%zu] dst out of bounds", k);
		CHECK(!k || p->moved[k - 1].src < m->src, "moved[%zu] out of order", k);
		for (size_t q = 0; q < k; q++)
			CHECK(p->moved[q].dst >= m->dst + m->count ||
			      m->dst >= p->moved[q].dst + p->moved[q].count,
			      "moved[%zu] and [%zu] overlap", q, k);
		for (int o = P2M_E820_OBJ_KERNEL; o <= P2M_E820_OBJ_START_INFO; o++) {
			const struct p2m_e820_object *ob = &in->objects[o];

			if (o != P2M_E820_OBJ_P2M_LIST && ob->count && ob->pfn < m->src + m->count &&
			    m->src < ob->pfn + ob->count)
				under = true;
		}
		CHECK(under, "moved[%zu] lies under no kernel, page tables or start_info", k);
	}
}

/* The category a pfn must have, given only whether it is map RAM and its
 * position; REMAP/RELEASED/EXTRA/UNUSED splits are checked by count. */
static bool cat_allowed(const struct p2m_e820_plan *p, uint64_t pfn, uint32_t type,
			uint32_t cat)
{
	uint64_t lim = p->limit ? p->limit : ~(uint64_t)0;
	bool ram = type == P2M_E820_RAM;

	if (type == MOVED_HERE)
		return cat == P2M_E820_C_NVS_MOVED;
	if (pfn < p->nr_pages) {
		if (!ram)
			return cat == P2M_E820_C_REMAP_SRC || cat == P2M_E820_C_RELEASED;
		return cat == (pfn < lim ? P2M_E820_C_RAM : P2M_E820_C_TRIMMED);
	}
	if (!ram)
		return cat == P2M_E820_C_IDENTITY;
	if (pfn >= lim)
		return cat == P2M_E820_C_UNUSED;
	return cat == P2M_E820_C_REMAP_DST || cat == P2M_E820_C_EXTRA ||
	       cat == P2M_E820_C_UNUSED;
}

/* Whether [s, e) lies within layout ranges of category c. */
static bool within(const struct p2m_e820_plan *p, uint64_t s, uint64_t e, uint32_t c)
{
	for (size_t i = 0; i < p->nr_layout && s < e; i++) {
		const struct p2m_e820_range *r = &p->layout[i];

		if (r->end <= s)
			continue;
		if (r->start > s || r->kind != c)
			return false;
		s = r->end;
	}
	return s >= e;
}

static void check_list(const char *what, const struct p2m_e820_range *l, size_t n,
		       const struct p2m_e820_plan *p, uint32_t mask, bool kind_is_cat)
{
	size_t k = 0;
	struct p2m_e820_range cur = { 0, 0, 0 };
	bool have = false;

	/* Rebuild the list from the layout and compare. */
	for (size_t i = 0; i <= p->nr_layout; i++) {
		const struct p2m_e820_range *r = i < p->nr_layout ? &p->layout[i] : NULL;
		bool in = r && (mask >> r->kind & 1);
		uint32_t kind = r && kind_is_cat ? r->kind : 0;

		if (in && have && cur.end == r->start && cur.kind == kind) {
			cur.end = r->end;
			continue;
		}
		if (have) {
			CHECK(k < n, "%s list: missing [%#llx, %#llx)", what, (ull)cur.start, (ull)cur.end);
			CHECK(l[k].start == cur.start && l[k].end == cur.end && l[k].kind == cur.kind,
			      "%s list[%zu] = [%#llx, %#llx) kind %u, expected [%#llx, %#llx) kind %u",
			      what, k, (ull)l[k].start, (ull)l[k].end, l[k].kind,
			      (ull)cur.start, (ull)cur.end, cur.kind);
			k++;
			have = false;
		}
		if (in) {
			cur = *r;
			cur.kind = kind;
			have = true;
		}
	}
	CHECK(k == n, "%s list: %zu entries, expected %zu", what, n, k);
}

void plan_check(const struct p2m_e820_input *in, const struct p2m_e820_plan *p)
{
	uint64_t sum = 0, cnt[P2M_E820_NCAT] = { 0 }, lim = p->limit ? p->limit : ~(uint64_t)0;
	uint64_t remapped = 0, prev_src = 0, prev_dst = 0;
	size_t mi = 0;

	check_map(in, p);
	check_moved(in, p);
	CHECK(p->end >= in->nr_pages, "end %#llx below nr_pages", (ull)p->end);
	CHECK(p->nr_layout <= p->layout_cap, "layout not stored");

	/* Layout: covers [0, end), categories fit the map. */
	for (size_t i = 0; i < p->nr_layout; i++) {
		const struct p2m_e820_range *r = &p->layout[i];
		uint64_t s;

		CHECK(r->kind < P2M_E820_NCAT, "layout[%zu] kind %u", i, r->kind);
		CHECK(r->start == sum, "layout[%zu] starts at %#llx, expected %#llx", i,
		      (ull)r->start, (ull)sum);
		CHECK(r->end > r->start, "layout[%zu] empty", i);
		CHECK(!i || p->layout[i - 1].kind != r->kind, "layout[%zu] not merged", i);
		cnt[r->kind] += r->end - r->start;
		sum = r->end;
		/* Every map piece (and cut) inside r must allow r's category. */
		s = r->start;
		while (s < r->end) {
			uint64_t e = r->end, t = 0;

			while (mi < p->nr_map && p->map[mi].end <= s)
				mi++;
			if (mi < p->nr_map && p->map[mi].start <= s) {
				e = e < p->map[mi].end ? e : p->map[mi].end;
				t = p->map[mi].kind;
			} else if (mi < p->nr_map && p->map[mi].start < e) {
				e = p->map[mi].start;
			}
			if (p->nr_pages > s && p->nr_pages < e)
				e = p->nr_pages;
			if (lim > s && lim < e)
				e = lim;
			t = moved_type(p, s, &e, (uint32_t)t);
			CHECK(cat_allowed(p, s, (uint32_t)t, r->kind) &&
			      cat_allowed(p, e - 1, (uint32_t)t, r->kind),
			      "layout[%zu] %s over [%#llx, %#llx) of type %u (nr %#llx, limit %#llx)",
			      i, p2m_e820_category_name(r->kind), (ull)s, (ull)e, (unsigned)t,
			      (ull)p->nr_pages, (ull)p->limit);
			s = e;
		}
	}
	CHECK(sum == p->end, "layout ends at %#llx, end %#llx", (ull)sum, (ull)p->end);
	for (int c = 0; c < P2M_E820_NCAT; c++)
		CHECK(cnt[c] == p->pfns[c], "category %s: layout %#llx, counted %#llx",
		      p2m_e820_category_name(c), (ull)cnt[c], (ull)p->pfns[c]);
	CHECK(cnt[P2M_E820_C_RAM] + cnt[P2M_E820_C_REMAP_SRC] + cnt[P2M_E820_C_RELEASED] +
	      cnt[P2M_E820_C_TRIMMED] == in->nr_pages, "populated pfns not conserved");
	CHECK(cnt[P2M_E820_C_REMAP_SRC] == cnt[P2M_E820_C_REMAP_DST], "remap counts differ");
	{
		uint64_t moved = 0;

		for (size_t k = 0; k < p->nr_moved; k++)
			moved += p->moved[k].count;
		CHECK(moved == cnt[P2M_E820_C_NVS_MOVED], "moved NVS %#llx pfns, layout %#llx",
		      (ull)moved, (ull)cnt[P2M_E820_C_NVS_MOVED]);
	}
	/* Frames are released only when no RAM is left for them. */
	if (cnt[P2M_E820_C_RELEASED]) {
		CHECK(cnt[P2M_E820_C_EXTRA] == 0, "released pages while extra RAM is left");
		for (size_t i = 0; i < p->nr_layout; i++)
			CHECK(p->layout[i].kind != P2M_E820_C_UNUSED || p->layout[i].start >= lim,
			      "released pages while RAM [%#llx, %#llx) is unused",
			      (ull)p->layout[i].start, (ull)p->layout[i].end);
	}
	CHECK(cnt[P2M_E820_C_EXTRA] + cnt[P2M_E820_C_REMAP_DST] <=
	      (p->extra_budget > cnt[P2M_E820_C_REMAP_DST] ? p->extra_budget :
	       cnt[P2M_E820_C_REMAP_DST]), "extra beyond the budget");

	/* Remap pairs. */
	for (size_t i = 0; i < p->nr_remap; i++) {
		const struct p2m_e820_remap *r = &p->remap[i];

		CHECK(r->count, "remap[%zu] empty", i);
		CHECK(r->src >= prev_src && r->dst >= prev_dst, "remap[%zu] out of order", i);
		CHECK(r->dst >= p->nr_pages && r->dst + r->count <= lim,
		      "remap[%zu] target outside [nr_pages, limit)", i);
		CHECK(within(p, r->src, r->src + r->count, P2M_E820_C_REMAP_SRC),
		      "remap[%zu] source [%#llx, +%#llx) not all remap-source", i,
		      (ull)r->src, (ull)r->count);
		CHECK(within(p, r->dst, r->dst + r->count, P2M_E820_C_REMAP_DST),
		      "remap[%zu] target [%#llx, +%#llx) not all remapped", i,
		      (ull)r->dst, (ull)r->count);
		for (uint64_t q = r->dst; q < r->dst + r->count;) {
			uint32_t t = plan_type(p, q);
			size_t k;

			/* A moved NVS range's old pfns are RAM now. */
			if (moved_type(p, q, &(uint64_t){ q + 1 }, t) == P2M_E820_RAM)
				t = P2M_E820_RAM;
			CHECK(t == P2M_E820_RAM, "remap[%zu] target pfn %#llx is not RAM", i, (ull)q);
			k = map_index(p, q);
			q = p->map[k].end;
		}
		remapped += r->count;
		prev_src = r->src + r->count;
		prev_dst = r->dst + r->count;
	}
	CHECK(remapped == cnt[P2M_E820_C_REMAP_SRC], "remap list moves %#llx, layout %#llx",
	      (ull)remapped, (ull)cnt[P2M_E820_C_REMAP_SRC]);

	check_list("identity", p->identity, p->nr_identity, p,
		   1u << P2M_E820_C_IDENTITY | 1u << P2M_E820_C_REMAP_SRC |
		   1u << P2M_E820_C_RELEASED, false);
	check_list("extra", p->extra, p->nr_extra, p, 1u << P2M_E820_C_EXTRA, true);
	check_list("release", p->release, p->nr_release, p,
		   1u << P2M_E820_C_RELEASED | 1u << P2M_E820_C_TRIMMED, true);

	/* Conflicts: exactly the objects not wholly in RAM. */
	{
		size_t k = 0, fatal = 0;

		for (int o = 0; o < P2M_E820_NOBJ; o++) {
			const struct p2m_e820_object *ob = &in->objects[o];
			bool ok;

			if (!ob->count)
				continue;
			ok = within(p, ob->pfn, ob->pfn + ob->count, P2M_E820_C_RAM);
			if (ok)
				continue;
			CHECK(k < p->nr_conflicts && p->conflicts[k].object == (uint32_t)o,
			      "object %d not reported as a conflict", o);
			if (p->conflicts[k].action == P2M_E820_RELOCATE) {
				const struct p2m_e820_conflict *c = &p->conflicts[k];

				CHECK(o == P2M_E820_OBJ_P2M_LIST || o == P2M_E820_OBJ_INITRD,
				      "object %d relocated", o);
				CHECK(within(p, c->target, c->target + c->count, P2M_E820_C_RAM),
				      "relocation target of %d not in RAM", o);
				for (int q = 0; q < P2M_E820_NOBJ; q++)
					CHECK(!in->objects[q].count ||
					      in->objects[q].pfn >= c->target + c->count ||
					      c->target >= in->objects[q].pfn + in->objects[q].count,
					      "relocation target of %d overlaps object %d", o, q);
			} else {
				CHECK(p->conflicts[k].target == ~(uint64_t)0, "fatal with target");
				fatal++;
			}
			k++;
		}
		CHECK(k == p->nr_conflicts, "%zu conflicts reported, %zu expected",
		      p->nr_conflicts, k);
		CHECK(fatal == p->fatal, "fatal count");
	}
}

int plan_check_run(const struct p2m_e820_input *in,
			struct plan_check_store *s, struct p2m_e820_plan *plan)
{
	int rc;

	plan_check_plan_init(s, plan);
	rc = p2m_e820_plan(in, plan);
	if (rc == -P2M_EINVAL) {
		CHECK(plan->error[0], "EINVAL without a message");
		return rc;
	}
	CHECK(rc == 0 || rc == -P2M_ECONFLICT, "plan failed: %d %s", rc, plan->error);
	CHECK(rc == 0 || plan->error[0], "ECONFLICT without a message");
	plan_check(in, plan);
	return rc;
}
