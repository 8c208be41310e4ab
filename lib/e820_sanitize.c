/*
 * Sanitising a memory map into page-granular, sorted, disjoint ranges.
 *
 * Two steps, in one sweep from low to high addresses:
 *   1. Per byte: at every address the covering entry of highest rank
 *      wins (RAM ranks lowest, then non-RAM types by number, as Linux
 *      resolves overlaps). The entries are sorted by start (heapsort, in
 *      place), and the entries that have started sit in a max-heap by
 *      rank. The winner can change only where an entry starts or where
 *      the winner itself ends; an entry that ended while below the top is
 *      dropped when it reaches the top (lazy deletion). Each entry is
 *      pushed and popped once: O(n log n) for n entries, whatever their
 *      overlaps. Pieces of one type that touch are merged before
 *      rounding, so two RAM entries meeting inside a page keep that page.
 *   2. Per page: RAM rounds inward (a page with any non-RAM byte is not
 *      RAM), non-RAM outward. Only a non-RAM range can then overlap the
 *      one before it, by exactly one page (both touch that page); the
 *      page goes to the higher rank. A range that loses its only page
 *      disappears.
 * Nothing is allocated. The sort order and the heap (two 32-bit indices
 * per entry) live at the tail of the caller's map array, which is why it
 * must hold P2M_E820_MAP_CAP(n) ranges; the output grows from the front
 * and never reaches them (at most 2m - 1 pieces for m entries).
 */
#include "e820_internal.h"

#include "p2m/fmt.h"

#define PAGE 4096u
#define ISA_START  0xa0000u
#define IBFT_START 0x80000u
#define ISA_END    0x100000u

/* Rank in overlap resolution: higher wins. */
static uint64_t rank(uint32_t type)
{
	return type == P2M_E820_RAM ? 0 : (uint64_t)type + 1;
}

/* The entries as the sweep sees them: the input, then (dom0) the ISA
 * hole, widened down to the iBFT window when asked. */
struct src {
	const struct p2m_e820_entry *map;
	size_t n;
	bool dom0;                    /* UNUSABLE reads as RAM */
	uint64_t isa_start;           /* 0: no extra entry */
};

static void src_get(const struct src *s, uint32_t i, uint64_t *a, uint64_t *b,
		    uint32_t *type)
{
	if (i == s->n) {
		*a = s->isa_start;
		*b = ISA_END;
		*type = P2M_E820_RESERVED;
		return;
	}
	*a = s->map[i].addr;
	*b = s->map[i].addr + s->map[i].size;
	*type = s->map[i].type;
	if (s->dom0 && *type == P2M_E820_UNUSABLE)
		*type = P2M_E820_RAM;
}

static uint64_t src_start(const struct src *s, uint32_t i)
{
	return i == s->n ? s->isa_start : s->map[i].addr;
}

static uint64_t src_end(const struct src *s, uint32_t i)
{
	return i == s->n ? ISA_END : s->map[i].addr + s->map[i].size;
}

/* --- a binary heap of entry indices under a "less" of the caller --- */

typedef bool (*before_fn)(const struct src *s, uint32_t x, uint32_t y);

static void swap_idx(uint32_t *h, size_t a, size_t b)
{
	uint32_t t = h[a];

	h[a] = h[b];
	h[b] = t;
}

static void sift_down(const struct src *s, uint32_t *h, size_t n, size_t i,
		      before_fn below)
{
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			return;
		if (c + 1 < n && below(s, h[c], h[c + 1]))
			c++;
		if (!below(s, h[i], h[c]))
			return;
		swap_idx(h, i, c);
		i = c;
	}
}

static void sift_up(const struct src *s, uint32_t *h, size_t i, before_fn below)
{
	while (i) {
		size_t p = (i - 1) / 2;

		if (!below(s, h[p], h[i]))
			return;
		swap_idx(h, i, p);
		i = p;
	}
}

static bool start_before(const struct src *s, uint32_t x, uint32_t y)
{
	return src_start(s, x) < src_start(s, y);
}

static uint64_t src_rank(const struct src *s, uint32_t i)
{
	uint64_t a, b;
	uint32_t t;

	src_get(s, i, &a, &b, &t);
	return rank(t);
}

static bool rank_below(const struct src *s, uint32_t x, uint32_t y)
{
	return src_rank(s, x) < src_rank(s, y);
}

/* Heapsort of the indices by start: max-heap, then pop to the back. */
static void sort_by_start(const struct src *s, uint32_t *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(s, v, n, i, start_before);
	for (size_t k = n; k > 1; k--) {
		swap_idx(v, 0, k - 1);
		sift_down(s, v, k - 1, 0, start_before);
	}
}

/* --- output --- */

struct out {
	struct p2m_e820_plan *plan;
	size_t n, cap;                /* cap: ranges before the scratch */
	bool full;
};

static void out_append(struct out *o, uint64_t s, uint64_t e, uint32_t kind)
{
	struct p2m_e820_range *m = o->plan->map;

	if (o->n && m[o->n - 1].end == s && m[o->n - 1].kind == kind) {
		m[o->n - 1].end = e;
		return;
	}
	if (o->n == o->cap) {
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

/* A byte piece [a, b) of type t: extend the pending one or flush it. */
struct pending {
	uint64_t a, b;
	uint32_t type;
	bool on;
};

static void emit_bytes(struct out *o, struct pending *p, uint64_t a, uint64_t b,
		       uint32_t type)
{
	if (p->on && p->b == a && p->type == type) {
		p->b = b;
		return;
	}
	if (p->on)
		out_piece(o, p->a, p->b, p->type);
	*p = (struct pending){ a, b, type, true };
}

/* Step 1 over the m entries in order[] (sorted by start); heap[] is
 * scratch of m indices. */
static void sweep(const struct src *s, const uint32_t *order, size_t m,
		  uint32_t *heap, struct out *o)
{
	struct pending pend = { 0, 0, 0, false };
	size_t next = 0, nh = 0;
	uint64_t pos = 0;

	while (next < m || nh) {
		uint64_t a, b, stop;
		uint32_t type;

		/* Drop ended entries from the top; the top is the winner. */
		while (nh && src_end(s, heap[0]) <= pos) {
			heap[0] = heap[--nh];
			sift_down(s, heap, nh, 0, rank_below);
		}
		if (!nh) {
			if (next == m)
				break;
			pos = src_start(s, order[next]);
		}
		while (next < m && src_start(s, order[next]) <= pos) {
			heap[nh] = order[next++];
			sift_up(s, heap, nh++, rank_below);
		}
		src_get(s, heap[0], &a, &b, &type);
		if (b <= pos)
			continue;              /* an empty entry: popped above */
		stop = b;
		if (next < m && src_start(s, order[next]) < stop)
			stop = src_start(s, order[next]);
		emit_bytes(o, &pend, pos, stop, type);
		pos = stop;
	}
	if (pend.on)
		out_piece(o, pend.a, pend.b, pend.type);
}

/* Validate the input; count the empty entries. */
static int check_input(const struct p2m_e820_input *in, struct p2m_e820_plan *plan)
{
	const struct p2m_e820_entry *map = in->map;
	size_t n = in->nr_map;

	if (!plan->map || !plan->map_cap)
		return p2m_e820_fail(plan, P2M_EINVAL, "no storage for the sanitised map");
	if (n && !map)
		return p2m_e820_fail(plan, P2M_EINVAL, "memory map of %zu entries is NULL", n);
	if (n > P2M_E820_MAX_ENTRIES)
		return p2m_e820_fail(plan, P2M_EINVAL,
				 "memory map has %zu entries, at most %u are accepted",
				 n, P2M_E820_MAX_ENTRIES);
	if (plan->map_cap < P2M_E820_MAP_CAP(n))
		return p2m_e820_fail(plan, P2M_ENOSPC,
				 "sanitised map: room for %zu ranges, %zu needed for %zu entries (P2M_E820_MAP_CAP)",
				 plan->map_cap, (size_t)P2M_E820_MAP_CAP(n), n);
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
	return 0;
}

int p2m_e820_sanitize(const struct p2m_e820_input *in, struct p2m_e820_plan *plan)
{
	struct src src = { in->map, in->nr_map, in->dom0,
			   in->dom0 ? (in->ibft ? IBFT_START : ISA_START) : 0 };
	size_t n = in->nr_map, m = 0, scratch_ranges;
	uint32_t *order, *heap;
	struct out out;
	int rc;

	plan->nr_map = 0;
	plan->dropped = 0;
	plan->map_top = 0;
	rc = check_input(in, plan);
	if (rc)
		return rc;

	/* Scratch at the tail: order[] then heap[], 2 * (n + 1) indices. */
	scratch_ranges = (2 * (n + 1) * sizeof(uint32_t) + sizeof(*plan->map) - 1) /
			 sizeof(*plan->map);
	order = (uint32_t *)(void *)(plan->map + plan->map_cap - scratch_ranges);
	heap = order + n + 1;
	for (uint32_t i = 0; i < n; i++)
		if (in->map[i].size)
			order[m++] = i;
	if (src.isa_start)
		order[m++] = (uint32_t)n;
	sort_by_start(&src, order, m);

	out = (struct out){ plan, 0, plan->map_cap - scratch_ranges, false };
	sweep(&src, order, m, heap, &out);
	plan->nr_map = out.n;
	if (out.full)
		return p2m_e820_fail(plan, P2M_ENOSPC,
				 "sanitised map: more than %zu ranges needed", out.cap);
	plan->map_top = out.n ? plan->map[out.n - 1].end : 0;
	return 0;
}
