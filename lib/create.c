/*
 * Creating and destroying a P2M: the reservation, the shared frames and
 * the meta area. The reservation's layout (list | kinds | windows | top |
 * mids) and the shared frames are drawn in the overview at the top of
 * include/p2m/p2m.h; kinds, windows and top are the fixed meta pages,
 * mapped at creation.
 *
 * Every window of the meta area gets a private table at creation, so a
 * frame list can be mapped later without allocating a table. Frames of
 * the meta area are recorded in a chain of frames reached only through
 * frame_map(), so that destroy can find them after the reservation (and
 * the meta area with it) is gone.
 */
#include "internal.h"
#include "p2m/migrate.h"
#include "p2m/publish.h"

enum { SH_LEAF_MISSING, SH_LEAF_IDENTITY, SH_TABLE_MISSING, SH_TABLE_IDENTITY,
       SH_MID, SH_COUNT };

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

struct layout {
	uint64_t kinds, windows, top, fixed_end, mids, total;
};

static void layout(uint64_t capacity, struct layout *l)
{
	uint64_t nslots = capacity >> P2M_SLOT_SHIFT;
	uint64_t nwin = capacity >> P2M_WINDOW_SHIFT;

	l->kinds = capacity * 8;
	l->windows = l->kinds + round_up(nslots, P2M_PAGE_SIZE);
	l->top = l->windows + round_up(nwin * sizeof(struct p2m_window), P2M_PAGE_SIZE);
	l->fixed_end = l->top + P2M_PAGE_SIZE;
	l->mids = l->fixed_end;
	l->total = round_up(l->mids + nwin * P2M_PAGE_SIZE, WINDOW_BYTES);
}

static int check_platform(struct p2m *p, const struct p2m_platform *pl)
{
	const char *missing = 0;

	if (!pl)
		return p2m_fail(p, P2M_EINVAL, "no platform operations given");
	if (!pl->alloc_frames) missing = "alloc_frames";
	else if (!pl->free_frames) missing = "free_frames";
	else if (!pl->frame_map) missing = "frame_map";
	else if (!pl->frame_unmap) missing = "frame_unmap";
	else if (!pl->reserve) missing = "reserve";
	else if (!pl->release) missing = "release";
	else if (!pl->make_table) missing = "make_table";
	else if (!pl->drop_table) missing = "drop_table";
	else if (!pl->set_window) missing = "set_window";
	else if (!pl->map_frames) missing = "map_frames";
	else if (!pl->m2p) missing = "m2p";
	else if (!pl->root_table) missing = "root_table";
	else if (!pl->lock) missing = "lock";
	else if (!pl->unlock) missing = "unlock";
	if (missing)
		return p2m_fail(p, P2M_ENOSYS, "the platform lacks the operation %s", missing);
	return 0;
}

/* Fill a frame through a temporary view: every entry = v. */
static int fill_frame(struct p2m *p, xen_pfn_t mfn, uint64_t v)
{
	uint64_t *f = p->plat.frame_map(p->plat.ctx, mfn);

	if (!f)
		return p2m_fail(p, P2M_EMAP, "cannot map frame %#lx to fill it", mfn);
	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		f[i] = v;
	p->plat.frame_unmap(p->plat.ctx, f);
	return 0;
}

static void free_shared(struct p2m *p, xen_pfn_t *sh, bool tables_made)
{
	if (tables_made) {
		p->plat.drop_table(p->plat.ctx, sh[SH_TABLE_MISSING]);
		p->plat.drop_table(p->plat.ctx, sh[SH_TABLE_IDENTITY]);
	}
	p->plat.free_frames(p->plat.ctx, SH_COUNT, sh);
}

static int make_shared(struct p2m *p)
{
	xen_pfn_t sh[SH_COUNT];
	int rc;

	rc = p->plat.alloc_frames(p->plat.ctx, SH_COUNT, sh);
	if (rc)
		return p2m_fail(p, P2M_ENOMEM, "cannot allocate the %d shared frames", SH_COUNT);
	if ((rc = fill_frame(p, sh[SH_LEAF_MISSING], P2M_INVALID)) ||
	    (rc = fill_frame(p, sh[SH_LEAF_IDENTITY], P2M_INVALID)) ||
	    (rc = fill_frame(p, sh[SH_MID], sh[SH_LEAF_MISSING]))) {
		free_shared(p, sh, false);
		return rc;
	}
	rc = p->plat.make_table(p->plat.ctx, sh[SH_TABLE_MISSING], sh[SH_LEAF_MISSING]);
	if (rc) {
		free_shared(p, sh, false);
		return p2m_fail(p, P2M_EMAP, "cannot make the shared missing table");
	}
	rc = p->plat.make_table(p->plat.ctx, sh[SH_TABLE_IDENTITY], sh[SH_LEAF_IDENTITY]);
	if (rc) {
		p->plat.drop_table(p->plat.ctx, sh[SH_TABLE_MISSING]);
		free_shared(p, sh, false);
		return p2m_fail(p, P2M_EMAP, "cannot make the shared identity table");
	}
	p->shared_leaf[P2M_SLOT_MISSING] = sh[SH_LEAF_MISSING];
	p->shared_leaf[P2M_SLOT_IDENTITY] = sh[SH_LEAF_IDENTITY];
	p->shared_table[P2M_SLOT_MISSING] = sh[SH_TABLE_MISSING];
	p->shared_table[P2M_SLOT_IDENTITY] = sh[SH_TABLE_IDENTITY];
	p->shared_mid = sh[SH_MID];
	return 0;
}

static void destroy_shared(struct p2m *p)
{
	xen_pfn_t sh[SH_COUNT] = {
		[SH_LEAF_MISSING] = p->shared_leaf[P2M_SLOT_MISSING],
		[SH_LEAF_IDENTITY] = p->shared_leaf[P2M_SLOT_IDENTITY],
		[SH_TABLE_MISSING] = p->shared_table[P2M_SLOT_MISSING],
		[SH_TABLE_IDENTITY] = p->shared_table[P2M_SLOT_IDENTITY],
		[SH_MID] = p->shared_mid,
	};

	free_shared(p, sh, true);
}

/*
 * Walk the chain of meta frames: fn(p, entries, count, index of the
 * first) for each chain frame, through a view that is the only one held.
 */
typedef int (*chain_fn)(struct p2m *p, uint64_t *e, uint64_t n, uint64_t first);

static int chain_walk(struct p2m *p, chain_fn fn)
{
	xen_pfn_t cur = p->meta_head;
	uint64_t index = 0;

	while (cur != (xen_pfn_t)P2M_INVALID) {
		uint64_t *c = p->plat.frame_map(p->plat.ctx, cur);
		xen_pfn_t next;
		int rc;

		if (!c)
			return p2m_fail(p, P2M_EMAP, "cannot map meta chain frame %#lx", cur);
		next = c[CHAIN_NEXT];
		rc = fn(p, c + CHAIN_FIRST, c[CHAIN_COUNT], index);
		index += c[CHAIN_COUNT];
		p->plat.frame_unmap(p->plat.ctx, c);
		if (rc)
			return rc;
		cur = next;
	}
	return 0;
}

static int chain_drop_tables(struct p2m *p, uint64_t *e, uint64_t n, uint64_t first)
{
	(void)first;
	for (uint64_t i = 0; i < n; i++)
		if (e[i] & CHAIN_TABLE)
			p->plat.drop_table(p->plat.ctx, (xen_pfn_t)(e[i] & ~CHAIN_TABLE));
	return 0;
}

static int chain_free(struct p2m *p, uint64_t *e, uint64_t n, uint64_t first)
{
	(void)first;
	for (uint64_t i = 0; i < n; i++) {
		xen_pfn_t mfn = (xen_pfn_t)(e[i] & ~CHAIN_TABLE);

		p->plat.free_frames(p->plat.ctx, 1, &mfn);
	}
	return 0;
}

/* Free every meta frame and the chain itself. tables_live: the meta
 * tables were made and must be dropped first. */
static void chain_destroy(struct p2m *p, bool tables_live)
{
	if (tables_live)
		chain_walk(p, chain_drop_tables);
	chain_walk(p, chain_free);
	while (p->meta_head != (xen_pfn_t)P2M_INVALID) {
		uint64_t *c = p->plat.frame_map(p->plat.ctx, p->meta_head);
		xen_pfn_t cur = p->meta_head;

		if (!c)
			break; /* cannot happen after chain_walk mapped it */
		p->meta_head = c[CHAIN_NEXT];
		p->plat.frame_unmap(p->plat.ctx, c);
		p->plat.free_frames(p->plat.ctx, 1, &cur);
	}
}

/* Allocate `tables` table frames then `pages` meta pages into the chain.
 * Each chain frame is linked in before it is filled, so a failure at any
 * point leaves a chain that chain_destroy() frees completely. */
static int chain_alloc(struct p2m *p, uint64_t tables, uint64_t pages)
{
	uint64_t total = tables + pages, done = 0;
	xen_pfn_t prev = (xen_pfn_t)P2M_INVALID;

	p->meta_head = (xen_pfn_t)P2M_INVALID;
	while (done < total) {
		uint64_t n = total - done < CHAIN_CAP ? total - done : CHAIN_CAP;
		xen_pfn_t cf;
		uint64_t *c;

		if (p->plat.alloc_frames(p->plat.ctx, 1, &cf))
			goto nomem;
		c = p->plat.frame_map(p->plat.ctx, cf);
		if (!c) {
			p->plat.free_frames(p->plat.ctx, 1, &cf);
			goto nomap;
		}
		c[CHAIN_NEXT] = P2M_INVALID;
		c[CHAIN_COUNT] = 0;
		p->plat.frame_unmap(p->plat.ctx, c);
		if (prev == (xen_pfn_t)P2M_INVALID) {
			p->meta_head = cf;
		} else {
			c = p->plat.frame_map(p->plat.ctx, prev);
			if (!c) {
				p->plat.free_frames(p->plat.ctx, 1, &cf);
				goto nomap;
			}
			c[CHAIN_NEXT] = cf;
			p->plat.frame_unmap(p->plat.ctx, c);
		}
		prev = cf;
		p->nr_meta++;

		c = p->plat.frame_map(p->plat.ctx, cf);
		if (!c)
			goto nomap;
		if (p->plat.alloc_frames(p->plat.ctx, n, (xen_pfn_t *)(c + CHAIN_FIRST))) {
			p->plat.frame_unmap(p->plat.ctx, c);
			goto nomem;
		}
		for (uint64_t i = 0; i < n; i++)
			if (done + i < tables)
				c[CHAIN_FIRST + i] |= CHAIN_TABLE;
		c[CHAIN_COUNT] = n;
		p->plat.frame_unmap(p->plat.ctx, c);
		done += n;
		p->nr_meta += n;
	}
	return 0;
nomap:
	chain_destroy(p, false);
	p->nr_meta = 0;
	return p2m_fail(p, P2M_EMAP, "cannot map a frame of the meta chain");
nomem:
	chain_destroy(p, false);
	p->nr_meta = 0;
	return p2m_fail(p, P2M_ENOMEM, "cannot allocate the %llu frames of the meta area",
			(unsigned long long)total);
}

/* Make the meta windows' tables and hang them into the reservation. */
static int chain_setup_tables(struct p2m *p, uint64_t *e, uint64_t n, uint64_t first)
{
	char *meta = (char *)p->list + p->capacity * 8;

	for (uint64_t i = 0; i < n && first + i < p->meta_windows; i++) {
		xen_pfn_t t = (xen_pfn_t)(e[i] & ~CHAIN_TABLE);
		void *va = meta + (first + i) * WINDOW_BYTES;

		if (p->plat.make_table(p->plat.ctx, t, p->shared_leaf[P2M_SLOT_MISSING]))
			return p2m_fail(p, P2M_EMAP, "cannot make meta table %#lx", t);
		if (p->plat.set_window(p->plat.ctx, va, t)) {
			p->plat.drop_table(p->plat.ctx, t);
			return p2m_fail(p, P2M_EMAP, "cannot hang meta table %#lx at %p", t, va);
		}
	}
	return 0;
}

/* Map the fixed meta pages, read-write, in chain order. */
static int chain_map_pages(struct p2m *p, uint64_t *e, uint64_t n, uint64_t first)
{
	char *meta = (char *)p->list + p->capacity * 8;
	uint64_t skip = first < p->meta_windows ? p->meta_windows - first : 0;

	if (skip >= n)
		return 0;
	/* Remember the tree's top page as it goes by. */
	struct layout l;

	layout(p->capacity, &l);
	for (uint64_t i = skip; i < n; i++)
		if (first + i - p->meta_windows == (l.top - l.kinds) / P2M_PAGE_SIZE)
			p->top_mfn = (xen_pfn_t)e[i];
	/* Entries of pages carry no tag: pass them as they are. */
	if (p->plat.map_frames(p->plat.ctx, meta + (first + skip - p->meta_windows) * P2M_PAGE_SIZE,
			       n - skip, (const xen_pfn_t *)(e + skip), P2M_MAP_RW))
		return p2m_fail(p, P2M_EMAP, "cannot map %llu meta pages",
				(unsigned long long)(n - skip));
	return 0;
}

/* Undo what chain_setup_tables hung, for a failed create. */
static void drop_meta_windows(struct p2m *p)
{
	char *meta = (char *)p->list + p->capacity * 8;

	for (uint64_t i = 0; i < p->meta_windows; i++)
		p->plat.set_window(p->plat.ctx, meta + i * WINDOW_BYTES,
				   p->shared_table[P2M_SLOT_MISSING]);
}

int p2m_create(struct p2m *p, const struct p2m_platform *plat,
	       uint64_t capacity, bool tree)
{
	struct layout l;
	uint64_t nwin, fixed_pages;
	int rc;

	if (!p)
		return -P2M_EINVAL;
	*p = (struct p2m){ 0 };
	p->meta_head = (xen_pfn_t)P2M_INVALID;
	rc = check_platform(p, plat);
	if (rc)
		return rc;
	p->plat = *plat;
	if (capacity == 0)
		return p2m_fail(p, P2M_EINVAL, "capacity 0: a P2M covers at least one pfn");
	if (capacity > P2M_CAPACITY_MAX)
		return p2m_fail(p, P2M_ERANGE, "capacity %#llx pfns exceeds the maximum %#llx (128 TiB)",
				(unsigned long long)capacity, (unsigned long long)P2M_CAPACITY_MAX);
	capacity = round_up(capacity, P2M_PER_WINDOW);
	nwin = capacity >> P2M_WINDOW_SHIFT;
	layout(capacity, &l);

	if (p->plat.reserve(p->plat.ctx, l.total, &p->base))
		return p2m_fail(p, P2M_EMAP, "cannot reserve %llu MiB of virtual space for the list",
				(unsigned long long)(l.total >> 20));
	p->reserved = l.total;
	p->list = p->base;
	p->capacity = capacity;
	p->nr_windows = nwin;
	p->meta_windows = (l.total - l.kinds) / WINDOW_BYTES;

	rc = make_shared(p);
	if (rc)
		goto fail_release;
	fixed_pages = (l.fixed_end - l.kinds) / P2M_PAGE_SIZE;
	rc = chain_alloc(p, p->meta_windows, fixed_pages);
	if (rc)
		goto fail_shared;
	rc = chain_walk(p, chain_setup_tables);
	if (rc)
		goto fail_chain;
	rc = chain_walk(p, chain_map_pages);
	if (rc)
		goto fail_chain;

	p->kinds = (uint8_t *)p->base + l.kinds;
	p->windows = (struct p2m_window *)((char *)p->base + l.windows);
	p->top = (uint64_t *)((char *)p->base + l.top);
	p->mids = (uint64_t *)((char *)p->base + l.mids);
	for (uint64_t s = 0; s < (capacity >> P2M_SLOT_SHIFT); s++)
		p->kinds[s] = P2M_SLOT_MISSING;
	for (uint64_t w = 0; w < nwin; w++)
		p->windows[w] = (struct p2m_window){ 0, 0 };
	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		p->top[i] = p->shared_mid;
	/* The tree names the first 512 GiB whatever the capacity (see
	 * docs/tree-rule.md). */
	p->tree_enabled = tree;

	for (uint64_t w = 0; w < nwin; w++) {
		if (p->plat.set_window(p->plat.ctx, window_va(p, w),
				       p->shared_table[P2M_SLOT_MISSING])) {
			rc = p2m_fail(p, P2M_EMAP, "cannot map window %llu of the list",
				      (unsigned long long)w);
			goto fail_chain;
		}
	}
	p->error[0] = '\0';
	return 0;

fail_chain:
	drop_meta_windows(p);
	p->plat.release(p->plat.ctx, p->base, p->reserved);
	p->base = 0;
	chain_destroy(p, true);
	destroy_shared(p);
	goto fail_out;
fail_shared:
	destroy_shared(p);
fail_release:
	p->plat.release(p->plat.ctx, p->base, p->reserved);
fail_out:
	p->base = 0;
	p->list = 0;
	p->kinds = 0;
	p->capacity = 0;
	return rc;
}

/* Give back window w's private frames; the window becomes shared missing. */
static void teardown_window(struct p2m *p, uint64_t w)
{
	struct p2m_window win = p->windows[w];
	uint64_t *mid = mid_va(p, w);

	if (window_parked(p, w)) {
		p->plat.map_frames(p->plat.ctx, mid, 1, &p->shared_leaf[P2M_SLOT_MISSING],
				   P2M_MAP_RO);
		p2m_free_frames(p, 1, &win.mid);
		p->windows[w] = (struct p2m_window){ 0, 0 };
		p->nr_mids--;
		return;
	}
	if (window_shared(p, w))
		return;
	p->plat.set_window(p->plat.ctx, window_va(p, w), p->shared_table[P2M_SLOT_MISSING]);
	for (unsigned i = 0; i < SLOTS_PER_WINDOW; i++) {
		xen_pfn_t leaf = (xen_pfn_t)mid[i];

		if (leaf != p->shared_leaf[P2M_SLOT_MISSING] &&
		    leaf != p->shared_leaf[P2M_SLOT_IDENTITY]) {
			p->plat.free_frames(p->plat.ctx, 1, &leaf);
			p->nr_private_leaves--;
		}
	}
	p->plat.map_frames(p->plat.ctx, mid, 1, &p->shared_leaf[P2M_SLOT_MISSING], P2M_MAP_RO);
	p2m_free_frames(p, 1, &win.mid);
	p2m_free_table(p, win.table);
	p->windows[w] = (struct p2m_window){ 0, 0 };
	p->nr_private_tables--;
	p->nr_mids--;
}

void p2m_destroy(struct p2m *p)
{
	if (!p || !p->base)
		return;
	/* Its records must name frames again (same domain); if they cannot,
	 * freeing by them would free frames of someone else. */
	if (p->suspended && p2m_resume(p, false))
		return;
	p2m_unpublish(p);
	for (uint64_t w = 0; w < p->nr_windows; w++)
		teardown_window(p, w);
	drop_meta_windows(p);
	p->plat.release(p->plat.ctx, p->base, p->reserved);
	chain_destroy(p, true);
	destroy_shared(p);
	p->base = 0;
	p->list = 0;
	p->kinds = 0;
	p->capacity = 0;
}

const char *p2m_last_error(const struct p2m *p)
{
	return p->error;
}

int p2m_fail(struct p2m *p, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p2m_vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
	return -err;
}
