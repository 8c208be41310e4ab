/*
 * The plan: one category for every pfn of [0, end), the lists derived from
 * it, and the remap pairs.
 *
 * First dom0's NVS ranges under the kernel may be moved
 * (lib/e820_nvs.c). Then three walks over the sanitised map as moved,
 * each cut at nr_pages and the limit so that a piece is wholly populated
 * or not, wholly below the limit or not (p2m_e820_cursor_next):
 *   1. count the populated non-RAM pfns (the remap sources) and the RAM
 *      pfns in [nr_pages, limit) (the room for targets); from them the
 *      number remapped, released, and the balloon's share;
 *   2. assign categories in pfn order: the first `remapped` sources are
 *      REMAP_SRC, the rest RELEASED; the first `remapped` RAM pfns above
 *      nr_pages are REMAP_DST, the next `extra` EXTRA, the rest UNUSED;
 *   3. pair sources with targets, both ascending (Linux's order), one
 *      remap entry per stretch that is contiguous on both sides.
 * The work is linear in the map's size; nothing depends on the number of
 * pfns.
 */
#include "e820_internal.h"

#define WINDOW ((uint64_t)1 << 18)

struct lists {
	struct p2m_e820_rlist layout, identity, release, extra;
};

static void emit(struct p2m_e820_plan *plan, struct lists *l,
		 enum p2m_e820_category c, uint64_t s, uint64_t e)
{
	if (s >= e)
		return;
	plan->pfns[c] += e - s;
	p2m_e820_rlist_add(&l->layout, s, e, c);
	switch (c) {
	case P2M_E820_C_IDENTITY:
	case P2M_E820_C_REMAP_SRC:
	case P2M_E820_C_RELEASED:
		/* One identity range however the frames below it went. */
		p2m_e820_rlist_add(&l->identity, s, e, 0);
		break;
	default:
		break;
	}
	if (c == P2M_E820_C_RELEASED || c == P2M_E820_C_TRIMMED)
		p2m_e820_rlist_add(&l->release, s, e, c);
	if (c == P2M_E820_C_EXTRA)
		p2m_e820_rlist_add(&l->extra, s, e, c);
}

/* Split [s, e) at the running count *seen against thresholds t1 <= t2:
 * positions below t1 get c0, below t2 c1, the rest c2. */
static void emit_split(struct p2m_e820_plan *plan, struct lists *l,
		       uint64_t s, uint64_t e, uint64_t *seen,
		       uint64_t t1, uint64_t t2, enum p2m_e820_category c0,
		       enum p2m_e820_category c1, enum p2m_e820_category c2)
{
	uint64_t len = e - s, k0, k1;

	k0 = *seen < t1 ? p2m_e820_min(len, t1 - *seen) : 0;
	k1 = *seen + k0 < t2 ? p2m_e820_min(len - k0, t2 - (*seen + k0)) : 0;
	emit(plan, l, c0, s, s + k0);
	emit(plan, l, c1, s + k0, s + k0 + k1);
	emit(plan, l, c2, s + k0 + k1, e);
	*seen += len;
}

static bool is_source(const struct p2m_e820_piece *p, uint64_t nr)
{
	return !p->ram && p->start < nr;
}

static bool is_target(const struct p2m_e820_piece *p, uint64_t nr, uint64_t lim)
{
	return p->ram && p->start >= nr && p->start < lim;
}

/* Advance a cursor to its next piece that passes the filter. */
static bool next_of(struct p2m_e820_cursor *c, struct p2m_e820_piece *p, bool target,
		    uint64_t nr, uint64_t lim)
{
	while (p2m_e820_cursor_next(c, p))
		if (target ? is_target(p, nr, lim) : is_source(p, nr))
			return true;
	return false;
}

static void build_remap(struct p2m_e820_plan *plan, uint64_t remapped)
{
	uint64_t nr = plan->nr_pages, lim = p2m_e820_limit(plan->limit);
	struct p2m_e820_cursor cs, ct;
	struct p2m_e820_piece ps, pt;
	uint64_t done = 0, s = 0, t = 0, sl = 0, tl = 0;
	struct p2m_e820_remap last = { 0, 0, 0 };
	size_t n = 0;

	p2m_e820_cursor_init(&cs, plan, nr, lim);
	p2m_e820_cursor_init(&ct, plan, nr, lim);
	while (done < remapped) {
		uint64_t k;

		if (!sl) {
			if (!next_of(&cs, &ps, false, nr, lim))
				break;
			s = ps.start;
			sl = ps.end - ps.start;
		}
		if (!tl) {
			if (!next_of(&ct, &pt, true, nr, lim))
				break;
			t = pt.start;
			tl = pt.end - pt.start;
		}
		k = p2m_e820_min(p2m_e820_min(sl, tl), remapped - done);
		if (n && last.src + last.count == s && last.dst + last.count == t) {
			last.count += k;
		} else {
			n++;
			last.src = s;
			last.dst = t;
			last.count = k;
		}
		if (plan->remap && n <= plan->remap_cap)
			plan->remap[n - 1] = last;
		s += k;
		t += k;
		sl -= k;
		tl -= k;
		done += k;
	}
	plan->nr_remap = n;
}

/* Walk 2: the category of every piece, in pfn order; the first
 * `remapped` sources and targets pair up, `extra` RAM pfns follow the
 * targets. */
static void categorise(struct p2m_e820_plan *plan, uint64_t remapped, uint64_t extra)
{
	uint64_t nr = plan->nr_pages, lim = p2m_e820_limit(plan->limit);
	uint64_t src_seen = 0, dst_seen = 0;
	struct p2m_e820_cursor c;
	struct p2m_e820_piece p;
	struct lists l;

	p2m_e820_rlist_init(&l.layout, plan->layout, plan->layout_cap);
	p2m_e820_rlist_init(&l.identity, plan->identity, plan->identity_cap);
	p2m_e820_rlist_init(&l.release, plan->release, plan->release_cap);
	p2m_e820_rlist_init(&l.extra, plan->extra, plan->extra_cap);
	p2m_e820_cursor_init(&c, plan, nr, lim);
	while (p2m_e820_cursor_next(&c, &p)) {
		if (p.start < nr) {
			if (!p.ram)
				emit_split(plan, &l, p.start, p.end, &src_seen,
					   remapped, remapped, P2M_E820_C_REMAP_SRC,
					   P2M_E820_C_RELEASED, P2M_E820_C_RELEASED);
			else
				emit(plan, &l, p.start < lim ? P2M_E820_C_RAM :
				     P2M_E820_C_TRIMMED, p.start, p.end);
		} else if (!p.ram) {
			emit(plan, &l, p.moved ? P2M_E820_C_NVS_MOVED :
			     P2M_E820_C_IDENTITY, p.start, p.end);
		} else if (p.start < lim) {
			emit_split(plan, &l, p.start, p.end, &dst_seen,
				   remapped, remapped + extra, P2M_E820_C_REMAP_DST,
				   P2M_E820_C_EXTRA, P2M_E820_C_UNUSED);
		} else {
			emit(plan, &l, P2M_E820_C_UNUSED, p.start, p.end);
		}
	}
	plan->nr_layout = l.layout.n;
	plan->nr_identity = l.identity.n;
	plan->nr_release = l.release.n;
	plan->nr_extra = l.extra.n;
}

/* -P2M_ENOSPC naming the first list given but too small. */
static int check_stored(struct p2m_e820_plan *plan)
{
	int rc;

	if ((rc = p2m_e820_rlist_check(plan, "layout", plan->layout, plan->nr_layout,
				   plan->layout_cap)) ||
	    (rc = p2m_e820_rlist_check(plan, "identity", plan->identity,
				   plan->nr_identity, plan->identity_cap)) ||
	    (rc = p2m_e820_rlist_check(plan, "remap", plan->remap, plan->nr_remap,
				   plan->remap_cap)) ||
	    (rc = p2m_e820_rlist_check(plan, "release", plan->release,
				   plan->nr_release, plan->release_cap)) ||
	    (rc = p2m_e820_rlist_check(plan, "extra", plan->extra, plan->nr_extra,
				   plan->extra_cap)) ||
	    (rc = p2m_e820_rlist_check(plan, "conflict", plan->conflicts,
				   plan->nr_conflicts, plan->conflicts_cap)))
		return rc;
	return 0;
}

int p2m_e820_plan(const struct p2m_e820_input *in, struct p2m_e820_plan *plan)
{
	struct p2m_e820_cursor c;
	struct p2m_e820_piece p;
	uint64_t nr, lim, eff_nr, max_eff, sources = 0, room = 0;
	uint64_t remapped, budget, extra, clamp;
	int rc;

	plan->error[0] = 0;
	plan->fatal = 0;
	plan->nr_layout = plan->nr_identity = plan->nr_remap = 0;
	plan->nr_release = plan->nr_extra = plan->nr_conflicts = 0;
	plan->nr_moved = 0;
	for (int i = 0; i < P2M_E820_NCAT; i++)
		plan->pfns[i] = 0;

	rc = p2m_e820_sanitize(in, plan);
	if (rc)
		return rc;

	nr = in->nr_pages;
	lim = p2m_e820_limit(in->limit);
	plan->nr_pages = nr;
	plan->limit = in->limit;
	if (in->end) {
		if (in->end < nr)
			return p2m_e820_fail(plan, P2M_EINVAL,
					 "end pfn %#llx is below nr_pages %#llx",
					 (unsigned long long)in->end,
					 (unsigned long long)nr);
		plan->end = in->end;
	} else {
		uint64_t top = p2m_e820_max(plan->map_top, nr);

		if (top > E820_PFN_MAX - WINDOW)
			return p2m_e820_fail(plan, P2M_EINVAL, "nr_pages %#llx is too large",
					 (unsigned long long)nr);
		plan->end = (top + WINDOW - 1) & ~(WINDOW - 1);
		if (!plan->end)
			plan->end = WINDOW;
	}

	e820_move_nvs(in, plan);

	/* Walk 1: sources and room. */
	p2m_e820_cursor_init(&c, plan, nr, lim);
	while (p2m_e820_cursor_next(&c, &p)) {
		if (is_source(&p, nr))
			sources += p.end - p.start;
		else if (is_target(&p, nr, lim))
			room += p.end - p.start;
	}
	remapped = p2m_e820_min(sources, room);

	/* Linux's extra_pages: the reservation beyond the allocation plus the
	 * remapped pages, at most EXTRA_RATIO times the allocation. */
	eff_nr = p2m_e820_min(nr, lim);
	max_eff = p2m_e820_min(p2m_e820_max(in->max_pages, nr), lim);
	budget = max_eff - eff_nr;
	budget = budget > E820_PFN_MAX - sources ? E820_PFN_MAX : budget + sources;
	clamp = P2M_E820_EXTRA_RATIO * p2m_e820_min(eff_nr, P2M_E820_MAXMEM_PFNS);
	budget = p2m_e820_min(budget, clamp);
	plan->max_pages = max_eff;
	plan->extra_budget = budget;
	extra = budget > remapped ? p2m_e820_min(budget - remapped, room - remapped) : 0;

	/* Walk 2: categories. */
	categorise(plan, remapped, extra);

	/* Walk 3: the pairs. */
	build_remap(plan, remapped);

	rc = p2m_e820_check_objects(in, plan);
	if (rc && rc != -P2M_ECONFLICT)
		return rc;
	rc = check_stored(plan);
	if (rc)
		return rc;
	return plan->fatal ? -P2M_ECONFLICT : 0;
}
