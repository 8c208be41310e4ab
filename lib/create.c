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
 * the meta area with it) is gone. While create runs, the chain is mapped
 * in a scratch window of its own (struct chain_build), so that a failing
 * create undoes everything without a call that can fail.
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
	uint64_t nslots = p2m_slots_for(capacity);
	uint64_t nwin = p2m_windows_for(capacity);

	l->kinds = capacity * sizeof(uint64_t); /* the meta area: after the list */
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

/* Free every meta frame and the chain itself, reading the chain through
 * frame_map (p2m_destroy: the reservation is gone). tables_live: the
 * meta tables were made and must be dropped first. */
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

/*
 * The meta chain while p2m_create() builds it. Its frames are mapped one
 * after the other in a scratch reservation of one window, so that create
 * writes and reads them without frame_map(), and a failed create frees
 * every meta frame with no call that can fail: the main reservation is
 * released first (a frame is freed only once it is mapped nowhere), the
 * chain is still readable in the scratch. The scratch goes when create
 * ends; from then on the chain is reached through frame_map() only.
 */
struct chain_build {
	xen_pfn_t frames[CHAIN_MAX_FRAMES + 1]; /* the chain's, then the table */
	uint64_t n;                             /* chain frames */
	xen_pfn_t table;                        /* the scratch window's table */
	uint64_t *va;                           /* chain frame i at va + i*512 */
};

static void chain_scratch_close(struct p2m *p, struct chain_build *cb)
{
	p->plat.release(p->plat.ctx, cb->va, WINDOW_BYTES);
	p2m_free_table(p, cb->table);
}

/* Allocate the n chain frames for `total` meta frames and map them in the
 * scratch; each is linked to the next and lists no frame yet. */
static int chain_scratch_open(struct p2m *p, struct chain_build *cb, uint64_t total)
{
	void *va;

	cb->n = (total + CHAIN_CAP - 1) / CHAIN_CAP;
	if (cb->n > CHAIN_MAX_FRAMES)
		return p2m_fail(p, P2M_ERANGE, "a meta area of %llu frames needs too long a chain",
				(unsigned long long)total);
	if (p->plat.alloc_frames(p->plat.ctx, cb->n + 1, cb->frames))
		return p2m_fail(p, P2M_ENOMEM, "cannot allocate the %llu frames of the meta chain",
				(unsigned long long)cb->n);
	cb->table = cb->frames[cb->n];
	if (p->plat.reserve(p->plat.ctx, WINDOW_BYTES, &va)) {
		p2m_free_frames(p, cb->n + 1, cb->frames);
		return p2m_fail(p, P2M_EMAP, "cannot reserve a window to build the meta chain in");
	}
	cb->va = va;
	if (p->plat.make_table(p->plat.ctx, cb->table, p->shared_leaf[P2M_SLOT_MISSING]) ||
	    p->plat.set_window(p->plat.ctx, va, cb->table) ||
	    p->plat.map_frames(p->plat.ctx, va, cb->n, cb->frames, P2M_MAP_RW)) {
		chain_scratch_close(p, cb);
		p2m_free_frames(p, cb->n, cb->frames);
		return p2m_fail(p, P2M_EMAP, "cannot map the meta chain's frames to build it");
	}
	for (uint64_t i = 0; i < cb->n; i++) {
		uint64_t *c = cb->va + i * P2M_PER_PAGE;

		c[CHAIN_NEXT] = i + 1 < cb->n ? cb->frames[i + 1] : P2M_INVALID;
		c[CHAIN_COUNT] = 0;
	}
	p->meta_head = cb->frames[0];
	p->nr_meta = cb->n;
	return 0;
}

/* fn(p, entries, count, index of the first) for each chain frame. */
static int chain_build_walk(struct p2m *p, struct chain_build *cb, chain_fn fn)
{
	uint64_t index = 0;

	for (uint64_t i = 0; i < cb->n; i++) {
		uint64_t *c = cb->va + i * P2M_PER_PAGE;
		int rc = fn(p, c + CHAIN_FIRST, c[CHAIN_COUNT], index);

		if (rc)
			return rc;
		index += c[CHAIN_COUNT];
	}
	return 0;
}

/* Allocate `tables` table frames then `pages` meta pages into the chain;
 * each chain frame counts only what it holds, so that on failure
 * chain_build_abandon() frees exactly what was allocated. */
static int chain_build_fill(struct p2m *p, struct chain_build *cb, uint64_t tables,
			    uint64_t pages)
{
	uint64_t total = tables + pages, done = 0;

	for (uint64_t i = 0; i < cb->n; i++) {
		uint64_t *c = cb->va + i * P2M_PER_PAGE;
		uint64_t n = total - done < CHAIN_CAP ? total - done : CHAIN_CAP;

		if (p->plat.alloc_frames(p->plat.ctx, n, (xen_pfn_t *)(c + CHAIN_FIRST)))
			return p2m_fail(p, P2M_ENOMEM, "cannot allocate the %llu frames of the meta area",
					(unsigned long long)total);
		for (uint64_t j = 0; j < n; j++)
			if (done + j < tables)
				c[CHAIN_FIRST + j] |= CHAIN_TABLE;
		c[CHAIN_COUNT] = n;
		done += n;
		p->nr_meta += n;
	}
	return 0;
}

/* For a failed create, once the main reservation is released: free every
 * meta frame (dropping the tables first with tables_live), the scratch
 * and the chain. Nothing here can fail. */
static void chain_build_abandon(struct p2m *p, struct chain_build *cb, bool tables_live)
{
	if (tables_live)
		chain_build_walk(p, cb, chain_drop_tables);
	chain_build_walk(p, cb, chain_free);
	chain_scratch_close(p, cb);
	p2m_free_frames(p, cb->n, cb->frames);
	p->meta_head = (xen_pfn_t)P2M_INVALID;
	p->nr_meta = 0;
}

/* Make the meta windows' tables and hang them into the reservation. */
static int chain_setup_tables(struct p2m *p, uint64_t *e, uint64_t n, uint64_t first)
{
	char *meta = meta_base(p);

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
	char *meta = meta_base(p);
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

/* Point the meta windows at the shared missing table (p2m_destroy). */
static void drop_meta_windows(struct p2m *p)
{
	char *meta = meta_base(p);

	for (uint64_t i = 0; i < p->meta_windows; i++)
		p->plat.set_window(p->plat.ctx, meta + i * WINDOW_BYTES,
				   p->shared_table[P2M_SLOT_MISSING]);
}

/* The arguments, then the reservation: 0 or an error (nothing held). */
static int create_reserve(struct p2m *p, const struct p2m_platform *plat, uint64_t capacity,
			  struct layout *l)
{
	int rc;

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
	layout(capacity, l);
	if (p->plat.reserve(p->plat.ctx, l->total, &p->base))
		return p2m_fail(p, P2M_EMAP, "cannot reserve %llu MiB of virtual space for the list",
				(unsigned long long)(l->total >> 20));
	p->reserved = l->total;
	p->list = p->base;
	p->capacity = capacity;
	p->nr_windows = p2m_windows_for(capacity);
	p->meta_windows = (l->total - l->kinds) / WINDOW_BYTES;
	return 0;
}

/* The meta area mapped: its records start out all missing and shared. */
static void init_meta(struct p2m *p, const struct layout *l, bool tree)
{
	p->kinds = (uint8_t *)p->base + l->kinds;
	p->windows = (struct p2m_window *)((char *)p->base + l->windows);
	p->top = (uint64_t *)((char *)p->base + l->top);
	p->mids = (uint64_t *)((char *)p->base + l->mids);
	for (uint64_t s = 0; s < p2m_slots_for(p->capacity); s++)
		p->kinds[s] = P2M_SLOT_MISSING;
	for (uint64_t w = 0; w < p->nr_windows; w++)
		p->windows[w] = (struct p2m_window){ 0, 0 };
	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		p->top[i] = p->shared_mid;
	/* The tree names the first 512 GiB whatever the capacity (see
	 * docs/tree-rule.md). */
	p->tree_enabled = tree;
}

int p2m_create(struct p2m *p, const struct p2m_platform *plat,
	       uint64_t capacity, bool tree)
{
	struct chain_build cb;
	struct layout l;
	uint64_t fixed_pages;
	bool tables_live = false;
	int rc;

	if (!p)
		return -P2M_EINVAL;
	rc = create_reserve(p, plat, capacity, &l);
	if (rc)
		return rc;
	rc = make_shared(p);
	if (rc)
		goto fail_release;
	fixed_pages = (l.fixed_end - l.kinds) / P2M_PAGE_SIZE;
	rc = chain_scratch_open(p, &cb, p->meta_windows + fixed_pages);
	if (rc)
		goto fail_shared;
	rc = chain_build_fill(p, &cb, p->meta_windows, fixed_pages);
	if (rc)
		goto fail_chain;
	tables_live = true;
	rc = chain_build_walk(p, &cb, chain_setup_tables);
	if (!rc)
		rc = chain_build_walk(p, &cb, chain_map_pages);
	if (rc)
		goto fail_chain;
	init_meta(p, &l, tree);
	for (uint64_t w = 0; w < p->nr_windows; w++) {
		if (p->plat.set_window(p->plat.ctx, window_va(p, w),
				       p->shared_table[P2M_SLOT_MISSING])) {
			rc = p2m_fail(p, P2M_EMAP, "cannot map window %llu of the list",
				      (unsigned long long)w);
			goto fail_chain;
		}
	}
	chain_scratch_close(p, &cb);
	p->error[0] = '\0';
	return 0;

fail_chain:
	/* Release drops the meta windows' tables and mappings with the rest:
	 * the rollback makes no call that can fail. */
	p->plat.release(p->plat.ctx, p->base, p->reserved);
	p->base = 0;
	chain_build_abandon(p, &cb, tables_live);
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
		p2m_window_teardown(p, w);
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
