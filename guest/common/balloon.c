/*
 * The balloon driver (see balloon.h; the rule it keeps is docs/runtime.md).
 *
 *   down  frames [top - k, top) leave the pool (they are free, so mapped
 *         nowhere), their P2M entries become ~0 (one store each into a
 *         private leaf: no structure change), then
 *         XENMEM_decrease_reservation by mfn. A refused tail gets its
 *         entries and pool places back.
 *   up    first every slot the new top needs is made private at once
 *         (p2m_prepare: the only structure change, one generation step per
 *         new leaf, none when the guest populated there before), then
 *         XENMEM_populate_physmap by pfn in batches, which also writes the
 *         M2P; the entries are single stores, the frames join the pool.
 *
 * Each step checks the rule on itself: a step down must leave the
 * generation and the private leaves as they were; a step up may move the
 * generation by exactly two per leaf it added. A step that breaks it is
 * counted and fails the `balloon` check.
 */
#include "arch/x86_64/hypercall.h"
#include "common/balloon.h"
#include "common/boot.h"
#include "common/clock.h"
#include "common/frames.h"
#include "common/xenstore.h"
#include "p2m/fmt.h"

#define BATCH 512u

static struct {
	bool active;
	uint64_t top;          /* pfns [0, top) are populated */
	uint64_t ceiling;      /* the static maximum, in pfns */
	uint64_t target;       /* pages, from memory/target (0: none yet) */
	uint64_t given, taken; /* pages, over all steps */
	uint64_t steps, broke_rule, compactions, raised;
	uint64_t restored_above; /* frames found above top after restores */
} b;

/* The plan's ranges, two of them split in three (at top, at the ceiling). */
static struct p2m_e820_range layout[4 * MAX_RANGES + 4];
static xen_pfn_t buf[BATCH];

bool balloon_active(void)
{
	return b.active;
}

static uint64_t reservation(void)
{
	domid_t self = DOMID_SELF;
	long rc = hyp_memory_op(XENMEM_current_reservation, &self);

	return rc > 0 ? (uint64_t)rc : 0;
}

bool balloon_init(void)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	uint64_t top = 0;
	size_t i;

	if (boot.dom0)
		return false;
	for (i = 0; i < pl->nr_layout; i++)
		if (pl->layout[i].start < boot.nr_pages && pl->layout[i].kind != P2M_E820_C_RAM)
			return false;
	for (i = 0; i < boot.nr_map_in; i++)
		if (boot.map_in[i].type == P2M_E820_RAM &&
		    (boot.map_in[i].addr + boot.map_in[i].size) >> PAGE_SHIFT > top)
			top = (boot.map_in[i].addr + boot.map_in[i].size) >> PAGE_SHIFT;
	b.ceiling = top < boot.nr_pages ? boot.nr_pages : top;
	if (b.ceiling > boot.p2m.capacity)
		b.ceiling = boot.p2m.capacity;
	b.top = boot.nr_pages;
	/* max_pfn covers the whole balloon from now on: growing within it
	 * never changes what the toolstack reads as the list's size. */
	p2m_cover(&boot.p2m, b.ceiling);
	b.active = true;
	printk("balloon: populated [0, %#lx), ceiling %#lx (%lu MiB), max_pfn %#lx, reservation %lu pages\n",
	       (unsigned long)b.top, (unsigned long)b.ceiling, (unsigned long)(b.ceiling >> 8),
	       (unsigned long)p2m_max_pfn(&boot.p2m), (unsigned long)reservation());
	return true;
}

void balloon_watch(void)
{
	if (xs_watch("memory/target", "p2m-balloon") < 0)
		printk("balloon: cannot watch memory/target\n");
}

/* Give back up to n frames from the top; returns how many went. */
static uint64_t give_back(uint64_t n)
{
	struct p2m *p = &boot.p2m;
	uint64_t done = 0;

	while (done < n) {
		struct xen_memory_reservation res = { .extent_order = 0, .domid = DOMID_SELF };
		unsigned k = 0, i;
		long rc;

		/* Only free frames go: a frame in use stops the balloon. */
		while (k < BATCH && done + k < n && b.top > k && frames_is_free(b.top - 1 - k))
			k++;
		if (!k) {
			printk("balloon: pfn %#lx is in use: cannot go below it\n",
			       (unsigned long)(b.top - 1));
			break;
		}
		frames_remove(b.top - k, k);
		for (i = 0; i < k; i++) {
			buf[i] = p2m_mfn(p, b.top - 1 - i);
			p2m_set(p, b.top - 1 - i, P2M_INVALID);
		}
		set_xen_guest_handle(res.extent_start, buf);
		res.nr_extents = k;
		rc = hyp_memory_op(XENMEM_decrease_reservation, &res);
		if (rc < 0)
			rc = 0;
		/* The first rc (the highest pfns) went; the rest stay ours. */
		for (i = (unsigned)rc; i < k; i++)
			p2m_set(p, b.top - 1 - i, buf[i]);
		if ((unsigned)rc < k)
			frames_add(b.top - k, k - (unsigned)rc);
		b.top -= (uint64_t)rc;
		done += (uint64_t)rc;
		if ((unsigned)rc < k) {
			printk("balloon: XENMEM_decrease_reservation took %ld of %u frames\n", rc, k);
			break;
		}
	}
	return done;
}

/* Leaves for [top, want) first, all at once; returns the new end of what
 * may be populated (lower when a leaf could not be had). */
static uint64_t prepare_leaves(uint64_t want)
{
	uint64_t s;

	for (s = p2m_pfn_slot(b.top); p2m_slot_pfn(s) < want; s++)
		if (p2m_prepare(&boot.p2m, p2m_slot_pfn(s))) {
			printk("balloon: no leaf for slot %#lx: %s\n", (unsigned long)s,
			       p2m_last_error(&boot.p2m));
			return p2m_slot_pfn(s) > b.top ? p2m_slot_pfn(s) : b.top;
		}
	return want;
}

/* Memory hotplug: a target above the static maximum planned at boot
 * (`xl mem-max` raised it) moves the ceiling up, as far as the P2M's
 * capacity reaches, and max_pfn with it (published at once). */
static void raise_ceiling(uint64_t want)
{
	uint64_t c = (want + P2M_PER_PAGE - 1) & ~(P2M_PER_PAGE - 1);

	if (c > boot.p2m.capacity)
		c = boot.p2m.capacity;
	if (c <= b.ceiling)
		return;
	printk("balloon: ceiling %#lx -> %#lx (beyond the boot plan; capacity %#lx)\n",
	       (unsigned long)b.ceiling, (unsigned long)c, (unsigned long)boot.p2m.capacity);
	/* The plan made the pfns above the map's RAM identity: they become
	 * balloon space, missing until populated. */
	if (p2m_set_range_missing(&boot.p2m, b.ceiling, c - b.ceiling)) {
		printk("balloon: cannot make [%#lx, %#lx) missing: %s\n", (unsigned long)b.ceiling,
		       (unsigned long)c, p2m_last_error(&boot.p2m));
		return;
	}
	b.ceiling = c;
	b.raised++;
	p2m_cover(&boot.p2m, c);
}

/* Populate up to n frames at top; returns how many came. */
static uint64_t populate(uint64_t n)
{
	uint64_t want = b.top + n, done = 0;

	if (want > b.ceiling)
		want = b.ceiling;
	want = prepare_leaves(want);
	while (b.top < want) {
		struct xen_memory_reservation res = { .extent_order = 0, .domid = DOMID_SELF };
		unsigned k = want - b.top > BATCH ? BATCH : (unsigned)(want - b.top), i;
		long rc;

		for (i = 0; i < k; i++)
			buf[i] = b.top + i;
		set_xen_guest_handle(res.extent_start, buf);
		res.nr_extents = k;
		rc = hyp_memory_op(XENMEM_populate_physmap, &res);
		if (rc < 0)
			rc = 0;
		for (i = 0; i < (unsigned)rc; i++)
			p2m_set(&boot.p2m, b.top + i, buf[i]);
		frames_add(b.top, (uint64_t)rc);
		b.top += (uint64_t)rc;
		done += (uint64_t)rc;
		if ((unsigned)rc < k) {
			printk("balloon: XENMEM_populate_physmap gave %ld of %u frames\n", rc, k);
			break;
		}
	}
	return done;
}

static uint64_t p2m_frames(void)
{
	struct p2m_stats st;

	p2m_get_stats(&boot.p2m, &st);
	return st.bytes >> PAGE_SHIFT;
}

static uint64_t private_leaves(void)
{
	struct p2m_stats st;

	p2m_get_stats(&boot.p2m, &st);
	return st.private_leaves;
}

/* One step towards the target, judged against the rule. */
static void step(uint64_t cur)
{
	uint64_t gen0, leaves0, frames0, t0, moved, gen1, leaves1;
	bool down = b.target < cur, ok;

	/* Hotplug first: it changes the structure on its own account (the
	 * rule below judges the balloon's part of the step). */
	if (!down)
		raise_ceiling(b.top + (b.target - cur));
	gen0 = p2m_generation(&boot.p2m);
	leaves0 = private_leaves();
	frames0 = p2m_frames();
	t0 = clock_ns();

	moved = down ? give_back(cur - b.target) : populate(b.target - cur);
	if (down)
		b.given += moved;
	else
		b.taken += moved;
	gen1 = p2m_generation(&boot.p2m);
	leaves1 = private_leaves();
	ok = down ? gen1 == gen0 && leaves1 == leaves0
		  : leaves1 >= leaves0 && gen1 - gen0 == 2 * (leaves1 - leaves0);
	b.steps++;
	b.broke_rule += !ok;
	cur = reservation();
	printk("balloon: %s target %lu KiB: %s %lu pages in %lu ms, reservation %lu pages, "
	       "top %#lx; P2M frames %lu -> %lu, private leaves %lu -> %lu, generation %lu -> %lu%s\n",
	       cur == b.target ? "reached" : "stopped short of", (unsigned long)(b.target << 2),
	       down ? "gave back" : "populated", (unsigned long)moved,
	       (unsigned long)clock_ms_since(t0), (unsigned long)cur, (unsigned long)b.top,
	       (unsigned long)frames0, (unsigned long)p2m_frames(), (unsigned long)leaves0,
	       (unsigned long)leaves1, (unsigned long)gen0, (unsigned long)gen1,
	       ok ? "" : " (BREAKS the rule of docs/runtime.md)");
}

static uint64_t parse_u64(const char *s)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

bool balloon_poll(void)
{
	char v[32];
	bool changed = false;

	if (!b.active)
		return false;
	if (xs_read("memory/target", v, sizeof(v)) > 0 && parse_u64(v)) {
		uint64_t cur = reservation();

		b.target = parse_u64(v) >> 2;
		if (b.target != cur) {
			step(cur);
			changed = true;
		}
	}
	return changed;
}

bool balloon_compact(char *line, size_t cap)
{
	struct p2m *p = &boot.p2m;
	uint64_t from = (b.top + P2M_PER_PAGE - 1) & ~(P2M_PER_PAGE - 1);
	uint64_t gen0 = p2m_generation(p), frames0 = p2m_frames(), leaves0 = private_leaves();
	int rc = 0;

	if (from < b.ceiling)
		rc = p2m_set_range_missing(p, from, b.ceiling - from);
	b.compactions++;
	p2m_snprintf(line, cap,
		     "[%#lx, %#lx) back to the shared page%s%s: P2M frames %lu -> %lu, private leaves "
		     "%lu -> %lu, generation %lu -> %lu",
		     (unsigned long)from, (unsigned long)b.ceiling, rc ? ": " : "",
		     rc ? p2m_last_error(p) : "", (unsigned long)frames0, (unsigned long)p2m_frames(),
		     (unsigned long)leaves0, (unsigned long)private_leaves(), (unsigned long)gen0,
		     (unsigned long)p2m_generation(p));
	printk("balloon: compacted %s\n", line);
	return !rc && (p2m_generation(p) & 1) == 0;
}

uint64_t balloon_top(void)
{
	return b.active ? b.top : 0;
}

uint64_t balloon_ceiling(void)
{
	return b.active ? b.ceiling : 0;
}

/* Xen 4.17's restorer never depopulates: a pfn the saver sent in an early
 * round and the guest gave back later (ballooning during the live rounds)
 * arrives populated in the new domain, its frame in the P2M above top.
 * Give those frames back so the new domain holds what the guest had. */
void balloon_resume(void)
{
	struct p2m *p = &boot.p2m;
	uint64_t pfn, found = 0, returned = 0;
	unsigned k = 0;

	if (!b.active)
		return;
	for (pfn = b.top; pfn < b.ceiling || k; pfn++) {
		uint64_t v;

		if (k == BATCH || (k && pfn >= b.ceiling)) {
			struct xen_memory_reservation res = { .extent_order = 0,
							      .domid = DOMID_SELF };
			long rc;

			set_xen_guest_handle(res.extent_start, buf);
			res.nr_extents = k;
			rc = hyp_memory_op(XENMEM_decrease_reservation, &res);
			returned += rc > 0 ? (uint64_t)rc : 0;
			k = 0;
		}
		if (pfn >= b.ceiling)
			break;
		if (p->kinds[pfn >> P2M_SLOT_SHIFT] != P2M_SLOT_PRIVATE) {
			pfn |= P2M_PER_PAGE - 1; /* a shared slot holds nothing of ours */
			continue;
		}
		v = p2m_raw(p, pfn);
		if (v < P2M_MFN_LIMIT) {
			buf[k++] = v;
			p2m_set(p, pfn, P2M_INVALID);
			found++;
		}
	}
	b.restored_above += found;
	if (found)
		printk("balloon: after the restore %lu pfns above top %#lx had frames (given back "
		       "during the live rounds; the restorer does not depopulate): %lu returned to Xen\n",
		       (unsigned long)found, (unsigned long)b.top, (unsigned long)returned);
}

/* Whether the balloon manages pfns of plan category k at/above pfn s: the
 * RAM kinds, and what the plan called identity above nr_pages once the
 * ceiling was raised over it. */
static bool managed(uint32_t k, uint64_t s)
{
	return k == P2M_E820_C_RAM || k == P2M_E820_C_EXTRA || k == P2M_E820_C_UNUSED ||
	       k == P2M_E820_C_REMAP_DST || (k == P2M_E820_C_IDENTITY && s >= boot.nr_pages);
}

static size_t add_range(size_t m, uint64_t s, uint64_t e, uint32_t k)
{
	if (s < e)
		layout[m++] = (struct p2m_e820_range){ s, e, k };
	return m;
}

void balloon_layout(const struct p2m_e820_range **out, size_t *n)
{
	const struct p2m_e820_plan *pl = &boot.plan;
	const size_t cap = sizeof(layout) / sizeof(layout[0]);
	uint64_t top = b.top, ceil = b.ceiling;
	size_t i, m = 0;

	*out = pl->layout;
	*n = pl->nr_layout;
	if (!b.active)
		return;
	for (i = 0; i < pl->nr_layout; i++) {
		const struct p2m_e820_range *r = &pl->layout[i];
		uint64_t mid = r->end < ceil ? r->end : ceil;

		if (m + 3 > cap)
			return; /* cannot happen with the plan's own bound */
		if (!managed(r->kind, r->start)) {
			m = add_range(m, r->start, r->end, r->kind);
			continue;
		}
		/* Below the ceiling: RAM up to top, missing above it. */
		m = add_range(m, r->start, mid < top ? mid : top, P2M_E820_C_RAM);
		m = add_range(m, r->start > top ? r->start : top, mid, P2M_E820_C_UNUSED);
		m = add_range(m, r->start > mid ? r->start : mid, r->end, r->kind);
	}
	*out = layout;
	*n = m;
}

bool balloon_check(char *out, size_t cap)
{
	uint64_t cur = reservation();
	uint64_t above = frames_count_in(b.top, b.ceiling - b.top);

	p2m_snprintf(out, cap,
		     "target %lu pages, reservation %lu, populated [0, %#lx) of %#lx (raised %lu "
		     "times); %lu steps (%lu pages given back, %lu populated), %lu broke the rule, "
		     "%lu compactions; %lu pool frames above top; P2M frames %lu, generation %lu",
		     (unsigned long)b.target, (unsigned long)cur, (unsigned long)b.top,
		     (unsigned long)b.ceiling, (unsigned long)b.raised, (unsigned long)b.steps,
		     (unsigned long)b.given, (unsigned long)b.taken, (unsigned long)b.broke_rule,
		     (unsigned long)b.compactions, (unsigned long)above,
		     (unsigned long)p2m_frames(), (unsigned long)p2m_generation(&boot.p2m));
	return !b.broke_rule && !above && (!b.target || cur == b.target);
}
