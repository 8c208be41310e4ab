/* The fault-injecting, renaming platform wrapper: see helper_fault.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_fault.h"
#include "p2m/migrate.h"

#define NO_PFN UINT64_MAX          /* not a live frame of libp2m */
#define LIVE (UINT64_MAX - 1)      /* live, no pfn given yet */

static const char *const op_names[FF_NOPS] = {
	"alloc_frames", "frame_map", "reserve", "make_table", "set_window", "map_frames", "m2p",
};

const char *ff_op_name(int op)
{
	return op >= 0 && op < FF_NOPS ? op_names[op] : "none";
}

int ff_expected_error(int op)
{
	switch (op) {
	case FF_ALLOC:
		return -P2M_ENOMEM;
	case FF_M2P:
		return -P2M_ECHECK; /* a frame the M2P cannot name */
	default:
		return -P2M_EMAP;
	}
}

uint64_t ff_guest(const struct ff *x, uint64_t hosted)
{
	return hosted ^ x->key;
}

uint64_t ff_hosted(const struct ff *x, uint64_t guest)
{
	return guest ^ x->key;
}

/* Whether this fallible call fails. */
static bool take(struct ff *x, enum ff_op op)
{
	if (!x->counting)
		return false;
	x->calls++;
	x->last_of[op] = x->calls;
	for (int i = 0; i < 2; i++)
		if (x->fail[i] && x->calls == x->fail[i]) {
			x->fired[i] = op;
			return true;
		}
	return false;
}

/* --- guest frames --- */

static uint64_t page_of(uint64_t hosted)
{
	return hosted - HOSTED_MFN_BASE;
}

static void set_pfn_of(struct ff *x, uint64_t hosted, uint64_t pfn)
{
	uint64_t pg = page_of(hosted);

	if (pg >= x->npfn_of) {
		uint64_t n = (pg + 1) * 2;

		x->pfn_of = realloc(x->pfn_of, n * sizeof(uint64_t));
		assert_non_null(x->pfn_of);
		for (uint64_t i = x->npfn_of; i < n; i++)
			x->pfn_of[i] = NO_PFN;
		x->npfn_of = n;
	}
	x->pfn_of[pg] = pfn;
}

static uint64_t get_pfn_of(const struct ff *x, uint64_t hosted)
{
	uint64_t pg = page_of(hosted);

	return pg < x->npfn_of ? x->pfn_of[pg] : NO_PFN;
}

/* Give hosted frame a pfn of the pool: entry, M2P. */
static void give_pfn(struct ff *x, uint64_t hosted)
{
	uint64_t pfn;

	if (!x->npool)
		fail_msg("the guest-frame pool of %llu pfns is exhausted",
			 (unsigned long long)x->pool_n);
	pfn = x->pool[--x->npool];
	set_pfn_of(x, hosted, pfn);
	__atomic_store_n(&x->f.p.list[pfn], ff_guest(x, hosted), __ATOMIC_RELEASE);
	assert_int_equal(hosted_m2p_set(x->f.h, hosted, pfn), 0);
}

static void take_pfn(struct ff *x, uint64_t hosted)
{
	uint64_t pfn = get_pfn_of(x, hosted);

	set_pfn_of(x, hosted, NO_PFN);
	if (pfn == NO_PFN || pfn == LIVE)
		return;
	x->pool[x->npool++] = pfn;
	hosted_m2p_clear(x->f.h, hosted);
	/* While p2m_destroy() runs, the pool's own slots go away. */
	if (x->f.p.capacity && !x->dying)
		__atomic_store_n(&x->f.p.list[pfn], P2M_INVALID, __ATOMIC_RELEASE);
}

/* --- the wrapped operations --- */

static int w_alloc(void *ctx, size_t n, xen_pfn_t *mfns)
{
	struct ff *x = ctx;
	int rc;

	if (take(x, FF_ALLOC))
		return -P2M_ENOMEM;
	rc = x->f.plat.alloc_frames(x->f.plat.ctx, n, mfns);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (x->adopted)
			give_pfn(x, mfns[i]);
		else
			set_pfn_of(x, mfns[i], LIVE);
		mfns[i] = ff_guest(x, mfns[i]);
	}
	return 0;
}

static void w_free(void *ctx, size_t n, const xen_pfn_t *mfns)
{
	struct ff *x = ctx;
	xen_pfn_t *h = malloc(n * sizeof(*h));

	assert_non_null(h);
	for (size_t i = 0; i < n; i++) {
		h[i] = ff_hosted(x, mfns[i]);
		take_pfn(x, h[i]);
	}
	x->f.plat.free_frames(x->f.plat.ctx, n, h);
	free(h);
}

static void *w_frame_map(void *ctx, xen_pfn_t mfn)
{
	struct ff *x = ctx;

	if (take(x, FF_FRAME_MAP))
		return NULL;
	return x->f.plat.frame_map(x->f.plat.ctx, ff_hosted(x, mfn));
}

static void w_frame_unmap(void *ctx, void *va)
{
	struct ff *x = ctx;

	x->f.plat.frame_unmap(x->f.plat.ctx, va);
}

static int w_reserve(void *ctx, size_t bytes, void **base)
{
	struct ff *x = ctx;

	if (take(x, FF_RESERVE))
		return -P2M_EMAP;
	return x->f.plat.reserve(x->f.plat.ctx, bytes, base);
}

static void w_release(void *ctx, void *base, size_t bytes)
{
	struct ff *x = ctx;

	x->f.plat.release(x->f.plat.ctx, base, bytes);
}

static int w_make_table(void *ctx, xen_pfn_t table, xen_pfn_t leaf)
{
	struct ff *x = ctx;

	if (take(x, FF_MAKE_TABLE))
		return -P2M_EMAP;
	return x->f.plat.make_table(x->f.plat.ctx, ff_hosted(x, table), ff_hosted(x, leaf));
}

static void w_drop_table(void *ctx, xen_pfn_t table)
{
	struct ff *x = ctx;

	x->f.plat.drop_table(x->f.plat.ctx, ff_hosted(x, table));
}

static int w_set_window(void *ctx, void *va, xen_pfn_t table)
{
	struct ff *x = ctx;

	if (take(x, FF_SET_WINDOW))
		return -P2M_EMAP;
	return x->f.plat.set_window(x->f.plat.ctx, va, ff_hosted(x, table));
}

static int w_map_frames(void *ctx, void *va, size_t n, const xen_pfn_t *mfns, unsigned flags)
{
	struct ff *x = ctx;
	xen_pfn_t *h;
	int rc;

	if (take(x, FF_MAP_FRAMES))
		return -P2M_EMAP;
	if (x->on_map)
		x->on_map(x, va, n, mfns, flags);
	h = malloc(n * sizeof(*h));
	assert_non_null(h);
	for (size_t i = 0; i < n; i++)
		h[i] = ff_hosted(x, mfns[i]);
	rc = x->f.plat.map_frames(x->f.plat.ctx, va, n, h, flags);
	free(h);
	return rc;
}

static int w_m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	struct ff *x = ctx;

	if (take(x, FF_M2P))
		return -P2M_ERANGE;
	return x->f.plat.m2p(x->f.plat.ctx, ff_hosted(x, mfn), pfn);
}

static xen_pfn_t w_root_table(void *ctx)
{
	struct ff *x = ctx;

	return ff_guest(x, x->f.plat.root_table(x->f.plat.ctx));
}

static void w_lock(void *ctx)
{
	struct ff *x = ctx;

	if (x->on_lock)
		x->on_lock(x);
	x->f.plat.lock(x->f.plat.ctx);
}

static void w_unlock(void *ctx)
{
	struct ff *x = ctx;

	x->f.plat.unlock(x->f.plat.ctx);
}

void ff_platform(struct ff *x)
{
	memset(x, 0, sizeof(*x));
	fx_platform(&x->f);
	x->fired[0] = x->fired[1] = -1;
	x->plat = (struct p2m_platform){
		.ctx = x,
		.alloc_frames = w_alloc,
		.free_frames = w_free,
		.frame_map = w_frame_map,
		.frame_unmap = w_frame_unmap,
		.reserve = w_reserve,
		.release = w_release,
		.make_table = w_make_table,
		.drop_table = w_drop_table,
		.set_window = w_set_window,
		.map_frames = w_map_frames,
		.m2p = w_m2p,
		.root_table = w_root_table,
		.lock = w_lock,
		.unlock = w_unlock,
	};
}

void ff_init(struct ff *x, uint64_t capacity, bool tree)
{
	int rc;

	ff_platform(x);
	rc = p2m_create(&x->f.p, &x->plat, capacity, tree);
	if (rc)
		fail_msg("p2m_create(%#llx): %d %s", (unsigned long long)capacity, rc,
			 p2m_last_error(&x->f.p));
	x->f.created = true;
	fx_check_accounting(&x->f);
}

void ff_fini(struct ff *x)
{
	ff_disarm(x);
	x->dying = true;
	fx_fini(&x->f);
	free(x->pfn_of);
	free(x->pool);
	x->pfn_of = x->pool = NULL;
}

void ff_arm(struct ff *x, uint64_t a, uint64_t b)
{
	x->counting = true;
	x->calls = 0;
	x->fail[0] = a;
	x->fail[1] = b;
	x->fired[0] = x->fired[1] = -1;
	memset(x->last_of, 0, sizeof(x->last_of));
}

void ff_disarm(struct ff *x)
{
	x->counting = false;
}

/* --- guest frames: adoption and restore --- */

void ff_adopt(struct ff *x, uint64_t pool_base, uint64_t pool_n)
{
	for (uint64_t pfn = pool_base; pfn < pool_base + pool_n; pfn += P2M_PER_PAGE)
		assert_int_equal(p2m_prepare(&x->f.p, pfn), 0);
	p2m_cover(&x->f.p, pool_base + pool_n);
	x->pool_base = pool_base;
	x->pool_n = pool_n;
	x->pool = malloc(pool_n * sizeof(uint64_t));
	assert_non_null(x->pool);
	for (uint64_t i = 0; i < pool_n; i++)
		x->pool[i] = pool_base + pool_n - 1 - i;
	x->npool = pool_n;
	for (uint64_t pg = 0; pg < x->npfn_of; pg++)
		if (x->pfn_of[pg] == LIVE)
			give_pfn(x, HOSTED_MFN_BASE + pg);
	x->adopted = true;
}

void ff_restore(struct ff *x, uint64_t new_key)
{
	x->key = new_key;
	for (uint64_t pg = 0; pg < x->npfn_of; pg++)
		if (x->pfn_of[pg] != NO_PFN && x->pfn_of[pg] != LIVE)
			__atomic_store_n(&x->f.p.list[x->pfn_of[pg]],
					 ff_guest(x, HOSTED_MFN_BASE + pg), __ATOMIC_RELEASE);
}

/* --- checks --- */

static void expect_frame(struct ff *x, uint64_t guest, const uint64_t *seen, const char *what,
			 uint64_t index)
{
	uint64_t buf[P2M_PER_PAGE];

	if (hosted_read_frame(x->f.h, ff_hosted(x, guest), buf))
		fail_msg("%s %llu names mfn %#llx, no live frame", what, (unsigned long long)index,
			 (unsigned long long)guest);
	if (memcmp(buf, seen, sizeof(buf)))
		fail_msg("%s %llu names mfn %#llx, whose contents differ from what libp2m maps",
			 what, (unsigned long long)index, (unsigned long long)guest);
}

/* The shared frame list (the tree's page for every shared window) names
 * the shared missing leaf 512 times, and that leaf reads ~0. */
static void expect_shared_mid(struct ff *x)
{
	struct p2m *p = &x->f.p;
	uint64_t want[P2M_PER_PAGE];

	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		want[i] = p->shared_leaf[P2M_SLOT_MISSING];
	expect_frame(x, p->shared_mid, want, "the shared frame list", 0);
	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		want[i] = P2M_INVALID;
	expect_frame(x, p->shared_leaf[P2M_SLOT_MISSING], want, "the shared missing leaf", 0);
}

void ff_check_names(struct ff *x)
{
	struct p2m *p = &x->f.p;

	expect_frame(x, p->top_mfn, p->top, "tree top", 0);
	expect_shared_mid(x);
	for (uint64_t w = 0; w < p->nr_windows; w++) {
		const uint64_t *mid = p->mids + w * P2M_PER_PAGE;

		if (!p->windows[w].table) {
			if (w < P2M_PER_PAGE && p->top[w] != p->shared_mid)
				fail_msg("the tree's top names %#llx for shared window %llu, not the shared frame list %#llx",
					 (unsigned long long)p->top[w], (unsigned long long)w,
					 (unsigned long long)p->shared_mid);
			continue;
		}
		expect_frame(x, p->windows[w].mid, mid, "frame list of window", w);
		if (w < P2M_PER_PAGE && p->top[w] != p->windows[w].mid)
			fail_msg("the tree's top names %#llx for window %llu, its frame list is %#llx",
				 (unsigned long long)p->top[w], (unsigned long long)w,
				 (unsigned long long)p->windows[w].mid);
		for (unsigned i = 0; i < P2M_PER_PAGE; i++) {
			uint64_t slot = w * P2M_PER_PAGE + i;

			if (p->kinds[slot] == P2M_SLOT_PRIVATE)
				expect_frame(x, mid[i], p->list + slot * P2M_PER_PAGE, "leaf of slot",
					     slot);
		}
	}
}

static void rec_push(struct ff_records *r, uint64_t v)
{
	r->v = realloc(r->v, (r->n + 1) * sizeof(uint64_t));
	assert_non_null(r->v);
	r->v[r->n++] = v;
}

void ff_records_take(struct ff *x, struct ff_records *r)
{
	struct p2m *p = &x->f.p;

	r->v = NULL;
	r->n = 0;
	rec_push(r, p->suspended);
	rec_push(r, p->meta_head);
	rec_push(r, p->top_mfn);
	rec_push(r, p->shared_mid);
	for (int k = 0; k < 3; k++) {
		rec_push(r, p->shared_leaf[k]);
		rec_push(r, p->shared_table[k]);
	}
	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		rec_push(r, p->top[i]);
	for (uint64_t w = 0; w < p->nr_windows; w++) {
		rec_push(r, p->windows[w].table);
		rec_push(r, p->windows[w].mid);
		if (p->windows[w].table)
			for (unsigned i = 0; i < P2M_PER_PAGE; i++)
				rec_push(r, p->mids[w * P2M_PER_PAGE + i]);
	}
	/* The chain, while its links are mfns. */
	for (uint64_t cur = p->meta_head; !p->suspended && cur != P2M_INVALID;) {
		uint64_t buf[P2M_PER_PAGE];

		assert_int_equal(hosted_read_frame(x->f.h, ff_hosted(x, cur), buf), 0);
		for (unsigned i = 0; i < P2M_PER_PAGE; i++)
			rec_push(r, buf[i]);
		cur = buf[0];
	}
}

void ff_records_expect_same(struct ff *x, const struct ff_records *r)
{
	struct ff_records now;

	ff_records_take(x, &now);
	if (now.n != r->n)
		fail_msg("libp2m's records changed: %llu values, were %llu", (unsigned long long)now.n,
			 (unsigned long long)r->n);
	for (uint64_t i = 0; i < r->n; i++)
		if (now.v[i] != r->v[i])
			fail_msg("libp2m's record %llu reads %#llx, was %#llx", (unsigned long long)i,
				 (unsigned long long)now.v[i], (unsigned long long)r->v[i]);
	ff_records_free(&now);
}

void ff_records_free(struct ff_records *r)
{
	free(r->v);
	r->v = NULL;
}

/* --- the double-fault driver --- */

struct before {
	struct snap s;
	struct ff_records r;
	struct arch_shared_info arch;
	uint64_t live;
};

static void take_before(struct ff *x, const struct ff_case *c, struct before *b)
{
	b->live = fx_live(&x->f);
	if (c->create)
		return;
	fx_check_accounting(&x->f);
	snap_take(&x->f, &b->s);
	if (c->records)
		ff_records_take(x, &b->r);
	b->arch = x->arch;
}

static void free_before(const struct ff_case *c, struct before *b)
{
	if (c->create)
		return;
	snap_free(&b->s);
	if (c->records)
		ff_records_free(&b->r);
}

/* After a faulted call that failed: is everything as before? */
static void expect_unchanged(struct ff *x, const struct ff_case *c, struct before *b)
{
	if (c->create) {
		if (fx_live(&x->f) != b->live)
			fail_msg("%s: %llu frames live after a failed create (calls %llu %s, %llu %s)",
				 c->name, (unsigned long long)fx_live(&x->f),
				 (unsigned long long)x->fail[0], ff_op_name(x->fired[0]),
				 (unsigned long long)x->fail[1], ff_op_name(x->fired[1]));
		return;
	}
	if (c->partial)
		c->partial(x, &b->s);
	else
		snap_expect_same(&x->f, &b->s);
	if (c->records)
		ff_records_expect_same(x, &b->r);
	assert_int_equal(x->arch.max_pfn, b->arch.max_pfn);
	assert_int_equal(x->arch.pfn_to_mfn_frame_list_list, b->arch.pfn_to_mfn_frame_list_list);
	assert_int_equal(x->arch.p2m_cr3, b->arch.p2m_cr3);
	assert_int_equal(x->arch.p2m_vaddr, b->arch.p2m_vaddr);
	assert_int_equal(x->arch.p2m_generation & 1, 0);
	fx_check_accounting(&x->f);
}

/* A P2M in a case's starting state, and what it was like then. */
struct fixture {
	struct ff x;
	struct before bf;
	bool open;
};

static void fixture_open(const struct ff_case *c, struct fixture *fx)
{
	if (c->create)
		ff_platform(&fx->x);
	else
		ff_init(&fx->x, c->capacity, c->tree);
	if (c->setup)
		c->setup(&fx->x);
	take_before(&fx->x, c, &fx->bf);
	fx->open = true;
}

static void fixture_close(const struct ff_case *c, struct fixture *fx)
{
	if (!fx->open)
		return;
	if (fx->x.f.created)
		fx_check_accounting(&fx->x.f);
	free_before(c, &fx->bf);
	ff_fini(&fx->x);
	fx->open = false;
}

/* The call, failing calls a and b (0: none), judged; then its retry. */
static void run_judged(const struct ff_case *c, struct fixture *fx, uint64_t a, uint64_t b)
{
	struct ff *x = &fx->x;
	int rc, first;

	ff_arm(x, a, b);
	rc = c->op(x);
	ff_disarm(x);
	first = x->fired[0] >= 0 ? x->fired[0] : x->fired[1];
	if (c->create && rc == 0)
		x->f.created = true;
	if (first < 0) {
		if (rc)
			fail_msg("%s: no fault fired (calls %llu, %llu), yet: %d %s", c->name,
				 (unsigned long long)a, (unsigned long long)b, rc,
				 p2m_last_error(&x->f.p));
		if (c->check)
			c->check(x);
		return;
	}
	if (rc != ff_expected_error(first))
		fail_msg("%s: %s failing at call %llu (and call %llu: %s): error %d (%s), expected %d",
			 c->name, ff_op_name(first), (unsigned long long)a, (unsigned long long)b,
			 ff_op_name(x->fired[1]), rc, p2m_last_error(&x->f.p),
			 ff_expected_error(first));
	if (!p2m_last_error(&x->f.p)[0])
		fail_msg("%s: failed without a message", c->name);
	expect_unchanged(x, c, &fx->bf);
	if (!c->retry)
		return;
	rc = c->op(x);
	if (rc)
		fail_msg("%s: retry after faults at calls %llu (%s) and %llu (%s): %d %s", c->name,
			 (unsigned long long)a, ff_op_name(x->fired[0]), (unsigned long long)b,
			 ff_op_name(x->fired[1]), rc, p2m_last_error(&x->f.p));
	if (c->create)
		x->f.created = true;
	if (c->check)
		c->check(x);
}

/* One run failing calls a and b (0: none); the number of fallible calls
 * it made. With c->reset the fixture is kept for the next run, once the
 * reset has brought it back to the starting state (checked). */
static uint64_t run_one(const struct ff_case *c, struct fixture *fx, uint64_t a, uint64_t b)
{
	uint64_t calls;

	if (!fx->open)
		fixture_open(c, fx);
	run_judged(c, fx, a, b);
	calls = fx->x.calls;
	if (c->reset) {
		c->reset(&fx->x);
		expect_unchanged(&fx->x, c, &fx->bf);
	} else {
		fixture_close(c, fx);
	}
	return calls;
}

void ff_run_case(const struct ff_case *c, struct ff_counts *n)
{
	struct fixture fx = { .open = false };

	*n = (struct ff_counts){ 0 };
	n->clean_calls = run_one(c, &fx, 0, 0);
	for (uint64_t i = 1; i <= n->clean_calls; i++) {
		uint64_t t;

		if (c->stride && i > c->edge && i + c->edge <= n->clean_calls && i % c->stride) {
			n->strided++;
			continue;
		}
		t = run_one(c, &fx, i, 0);
		n->singles++;
		for (uint64_t j = i + 1; j <= t; j++) {
			run_one(c, &fx, i, j);
			n->pairs++;
		}
	}
	fixture_close(c, &fx);
	print_message("%-26s %4llu calls clean, %4llu single faults, %4llu double faults",
		      c->name, (unsigned long long)n->clean_calls, (unsigned long long)n->singles,
		      (unsigned long long)n->pairs);
	if (n->strided && c->stride < n->clean_calls)
		print_message(" (%llu first faults left out: every %lluth between the first and last %llu)",
			      (unsigned long long)n->strided, (unsigned long long)c->stride,
			      (unsigned long long)c->edge);
	else if (n->strided)
		print_message(" (%llu first faults left out: all but the first and last %llu)",
			      (unsigned long long)n->strided, (unsigned long long)c->edge);
	print_message("\n");
}
