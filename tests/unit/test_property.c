/*
 * Property test: seeded random sequences of p2m_set, the two range calls,
 * foreign set/clear, prepare and build (after a reset to missing) against
 * a plain array model (an entry per pfn, identity beyond the capacity).
 *
 * After every step: lookups agree over the touched range and at random
 * samples; p2m_for_each_run over the touched range agrees with runs
 * computed from the model; p2m_generation is even and grew by an even
 * amount; max_pfn is exactly the model's (highest RAM/foreign pfn ever,
 * plus one, rounded to 512); the platform's live frames equal libp2m's
 * count. Every `sweep` steps, and at the end: every pfn, the whole dump,
 * every shared slot's model content uniform of its kind, and the
 * toolstack reader (host/common/toolstack.c) walking the linear list
 * through p2m_cr3 and (while capacity <= 2^27) the 3-level tree by mfn:
 * RAM, foreign and missing pfns read exactly the model's value, identity
 * reads its value in a private leaf and ~0 in a shared slot, and nothing
 * populated lies beyond the range the saver covers.
 *
 * Small capacities (a few windows) make shared/private transitions
 * frequent; one run uses 2^27 + 2^18 pfns (beyond the tree) and models
 * only a few windows, the rest staying missing. One small run uses the
 * hosted platform's alias mode (shared windows as 512 true aliases).
 *
 * Environment: P2M_SEED=<n> replays a run (the seed is printed),
 * P2M_STEPS=<n> sets the steps per run (default 1500).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/toolstack.h"
#include "helper_p2m.h"

/* --- random numbers (xorshift64*) --- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* --- the model: entries of a few "active" windows --- */

#define MAX_ACT 8

struct model {
	uint64_t cap;
	unsigned nact;
	uint64_t act[MAX_ACT];     /* window numbers, ascending */
	uint64_t *e[MAX_ACT];
	uint64_t max_pfn;          /* expected p2m_max_pfn */
	uint64_t foreign[64];      /* recently mapped foreign pfns */
	unsigned nforeign;
};

static uint64_t *slot_of(struct model *m, uint64_t pfn)
{
	uint64_t w = pfn / W;

	for (unsigned i = 0; i < m->nact; i++)
		if (m->act[i] == w)
			return &m->e[i][pfn % W];
	return NULL;
}

static uint64_t mget(struct model *m, uint64_t pfn)
{
	uint64_t *e;

	if (pfn >= m->cap)
		return p2m_identity_entry(pfn);
	e = slot_of(m, pfn);
	return e ? *e : P2M_INVALID;
}

static bool populated(uint64_t v)
{
	return v != P2M_INVALID && (v & P2M_TAG_MASK) != P2M_IDENTITY_BIT;
}

static void mset(struct model *m, uint64_t pfn, uint64_t v)
{
	uint64_t *e = slot_of(m, pfn);

	if (pfn >= m->cap)
		return;
	assert_non_null(e);
	*e = v;
	if (populated(v) && (pfn / S + 1) * S > m->max_pfn)
		m->max_pfn = (pfn / S + 1) * S;
}

/* Whether [a, b) lies in active windows (or beyond the capacity). */
static uint64_t active_end(struct model *m, uint64_t a, uint64_t b)
{
	for (uint64_t w = a / W; w * W < b; w++) {
		if (w * W >= m->cap)
			return b;
		if (!slot_of(m, w * W))
			return w * W > a ? w * W : a;
	}
	return b;
}

/* --- choosing pfns and lengths near the interesting boundaries --- */

static uint64_t pick_pfn(struct model *m)
{
	uint64_t w = m->act[below(m->nact)] * W, off;

	switch (below(8)) {
	case 0: off = below(4); break;                         /* window start */
	case 1: off = W - 1 - below(4); break;                 /* window end */
	case 2: off = below(W / S) * S; break;                 /* slot start */
	case 3: off = below(W / S) * S + S - 1; break;         /* slot end */
	case 4: off = below(8) * S + below(S); break;          /* first slots */
	default: off = below(W); break;
	}
	return w + off;
}

static uint64_t pick_len(void)
{
	switch (below(7)) {
	case 0: return 1 + below(16);
	case 1: return 1 + below(3 * S);
	case 2: return S * (1 + below(8));
	case 3: return W;
	case 4: return W + below(W);
	case 5: return 1 + below(W);
	default: return 1 + below(S);
	}
}

static uint64_t pick_value(uint64_t pfn)
{
	switch (below(6)) {
	case 0: return P2M_INVALID;
	case 1: return p2m_identity_entry(pfn);
	case 2: return p2m_foreign_entry(below(P2M_MFN_LIMIT));
	case 3: return below(P2M_MFN_LIMIT);
	default: return ram_of(pfn + below(1000));
	}
}

/* --- checks --- */

struct ctx {
	struct fx f;
	struct model m;
	struct arch_shared_info arch;
	uint64_t gen;
	uint64_t step;
	const char *op;
};

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (!(cond)) {                                                  \
			print_error("seed %#llx step %llu (%s): ",             \
				    (unsigned long long)seed0,                  \
				    (unsigned long long)c->step, c->op);        \
			fail_msg(__VA_ARGS__);                                  \
		}                                                               \
	} while (0)

static uint64_t seed0;

static void check_pfn(struct ctx *c, uint64_t pfn)
{
	uint64_t got = p2m_raw(&c->f.p, pfn), want = mget(&c->m, pfn);

	CHECK(got == want, "pfn %#llx reads %#llx, model %#llx", (unsigned long long)pfn,
	      (unsigned long long)got, (unsigned long long)want);
}

static enum p2m_run_kind run_kind(uint64_t v)
{
	switch (p2m_entry_kind(v)) {
	case P2M_KIND_MISSING: return P2M_RUN_MISSING;
	case P2M_KIND_IDENTITY: return P2M_RUN_IDENTITY;
	default: return P2M_RUN_PFN;
	}
}

struct runcheck {
	struct ctx *c;
	uint64_t next;
	enum p2m_run_kind prev;
	bool have_prev;
};

/* Each run must be one kind in the model, maximal, and contiguous. The
 * inactive windows (big run) are skipped by checking only their ends. */
static int run_cb(void *arg, uint64_t start, uint64_t end, enum p2m_run_kind kind)
{
	struct runcheck *r = arg;
	struct ctx *c = r->c;

	CHECK(start == r->next, "run starts at %#llx, expected %#llx", (unsigned long long)start,
	      (unsigned long long)r->next);
	CHECK(end > start, "empty run at %#llx", (unsigned long long)start);
	CHECK(!r->have_prev || r->prev != kind, "runs at %#llx not maximal",
	      (unsigned long long)start);
	for (uint64_t pfn = start; pfn < end; pfn++) {
		if (!slot_of(&c->m, pfn)) {
			uint64_t wend = (pfn / W + 1) * W;

			CHECK(kind == P2M_RUN_MISSING, "inactive pfn %#llx in a %s run",
			      (unsigned long long)pfn, p2m_run_name(kind));
			pfn = (wend < end ? wend : end) - 1;
			continue;
		}
		CHECK(run_kind(mget(&c->m, pfn)) == kind,
		      "pfn %#llx is %s in the model, in a %s run", (unsigned long long)pfn,
		      p2m_run_name(run_kind(mget(&c->m, pfn))), p2m_run_name(kind));
	}
	r->next = end;
	r->prev = kind;
	r->have_prev = true;
	return 0;
}

static void check_runs(struct ctx *c, uint64_t a, uint64_t b)
{
	struct runcheck r = { c, a, P2M_RUN_PFN, false };

	if (b > c->m.cap)
		b = c->m.cap;
	if (a >= b)
		return;
	assert_int_equal(p2m_for_each_run(&c->f.p, a, b, run_cb, &r), 0);
	CHECK(r.next == b, "runs end at %#llx, not %#llx", (unsigned long long)r.next,
	      (unsigned long long)b);
}

/* What the tools read must be the model, but ~0 for identity served by a
 * shared page. */
static int tools_cb(void *arg, uint64_t first, const uint64_t *e, unsigned n, xen_pfn_t leaf)
{
	struct ctx *c = arg;
	uint8_t k = c->f.p.kinds[first / S];

	(void)leaf;
	for (unsigned i = 0; i < n; i++) {
		uint64_t pfn = first + i, want = mget(&c->m, pfn);

		if (k != P2M_SLOT_PRIVATE && p2m_entry_kind(want) == P2M_KIND_IDENTITY)
			want = P2M_INVALID;
		CHECK(e[i] == want, "tools read %#llx at pfn %#llx (leaf %#llx), model %#llx",
		      (unsigned long long)e[i], (unsigned long long)pfn, (unsigned long long)leaf,
		      (unsigned long long)want);
	}
	return 0;
}

static void check_tools(struct ctx *c, bool tree_only)
{
	struct ts_frames fr;
	struct ts_options opt = { .tree_only = tree_only };
	struct ts_result res;
	int rc;

	if (p2m_max_pfn(&c->f.p) == 0)
		return;
	ts_frames_hosted(&fr, c->f.h, 0);
	rc = ts_read_p2m(&c->arch, &fr, &opt, tools_cb, c, &res);
	CHECK(rc == 0, "tools (%s): %s", tree_only ? "tree" : "list", res.error);
	CHECK(res.mode == (tree_only ? TS_MODE_TREE : TS_MODE_LIST), "tools used the wrong mode");
	CHECK(!res.gen_changed, "generation moved during a quiet read");
	CHECK(res.count == c->m.max_pfn, "tools see max_pfn %#llx, model %#llx",
	      (unsigned long long)res.count, (unsigned long long)c->m.max_pfn);
	/* Nothing populated beyond what the saver covers. */
	for (unsigned i = 0; i < c->m.nact; i++)
		for (uint64_t off = 0; off < W; off++) {
			uint64_t pfn = c->m.act[i] * W + off;

			if (pfn >= res.saver_count && populated(c->m.e[i][off]))
				CHECK(false, "pfn %#llx populated beyond the saver's %#llx",
				      (unsigned long long)pfn, (unsigned long long)res.saver_count);
		}
}

static void check_full(struct ctx *c)
{
	for (unsigned i = 0; i < c->m.nact; i++)
		for (uint64_t off = 0; off < W; off++)
			check_pfn(c, c->m.act[i] * W + off);
	for (int i = 0; i < 64; i++)
		check_pfn(c, below(c->m.cap + W));
	check_runs(c, 0, c->m.cap);
	/* A shared slot stands for a uniform slot of its kind. */
	for (unsigned i = 0; i < c->m.nact; i++)
		for (uint64_t s = 0; s < W / S; s++) {
			uint64_t first = c->m.act[i] * W + s * S;
			uint8_t k = c->f.p.kinds[first / S];

			if (k == P2M_SLOT_PRIVATE)
				continue;
			for (uint64_t pfn = first; pfn < first + S; pfn++)
				CHECK(mget(&c->m, pfn) == (k == P2M_SLOT_IDENTITY ? p2m_identity_entry(pfn)
										: P2M_INVALID),
				      "slot %#llx is shared of kind %u but pfn %#llx is %#llx",
				      (unsigned long long)(first / S), k, (unsigned long long)pfn,
				      (unsigned long long)mget(&c->m, pfn));
		}
	check_tools(c, false);
	/* The tree covers the first 512 GiB whatever the capacity: a tree
	 * reader reads any guest that fits (docs/tree-rule.md). */
	if (c->m.max_pfn <= P2M_TREE_PFNS)
		check_tools(c, true);
}

static void check_step(struct ctx *c, uint64_t a, uint64_t b)
{
	uint64_t g = p2m_generation(&c->f.p);

	CHECK((g & 1) == 0, "generation %llu is odd after the call", (unsigned long long)g);
	CHECK(g >= c->gen && ((g - c->gen) & 1) == 0, "generation went from %llu to %llu",
	      (unsigned long long)c->gen, (unsigned long long)g);
	CHECK(c->arch.p2m_generation == g, "published generation %llu, p2m %llu",
	      (unsigned long long)c->arch.p2m_generation, (unsigned long long)g);
	c->gen = g;
	CHECK(p2m_max_pfn(&c->f.p) == c->m.max_pfn, "max_pfn %#llx, model %#llx",
	      (unsigned long long)p2m_max_pfn(&c->f.p), (unsigned long long)c->m.max_pfn);
	CHECK(c->arch.max_pfn == c->m.max_pfn, "published max_pfn %#llx, model %#llx",
	      (unsigned long long)c->arch.max_pfn, (unsigned long long)c->m.max_pfn);
	if (b > a + 4 * W)
		b = a + 4 * W;
	for (uint64_t pfn = a; pfn < b; pfn++) {
		if (!slot_of(&c->m, pfn) && pfn < c->m.cap) {
			pfn = (pfn / W + 1) * W - 1;
			continue;
		}
		check_pfn(c, pfn);
	}
	for (int i = 0; i < 32; i++)
		check_pfn(c, pick_pfn(&c->m));
	check_runs(c, a, b);
	fx_check_accounting(&c->f);
}

/* --- the operations --- */

static void op_set(struct ctx *c)
{
	uint64_t pfn = pick_pfn(&c->m), v = pick_value(pfn);
	int rc;

	c->op = "set";
	rc = p2m_set(&c->f.p, pfn, v);
	CHECK(rc == 0, "p2m_set(%#llx, %#llx): %s", (unsigned long long)pfn,
	      (unsigned long long)v, p2m_last_error(&c->f.p));
	mset(&c->m, pfn, v);
	check_step(c, pfn, pfn + 1);
}

static void op_range(struct ctx *c, bool identity)
{
	uint64_t pfn = pick_pfn(&c->m), n = pick_len(), end;
	int rc;

	c->op = identity ? "set_range_identity" : "set_range_missing";
	end = active_end(&c->m, pfn, pfn + n);
	if (end <= pfn)
		return;
	n = end - pfn;
	if (!identity && end > c->m.cap)
		n = c->m.cap - pfn;
	rc = identity ? p2m_set_range_identity(&c->f.p, pfn, n)
		      : p2m_set_range_missing(&c->f.p, pfn, n);
	CHECK(rc == 0, "%s(%#llx, %#llx): %s", c->op, (unsigned long long)pfn,
	      (unsigned long long)n, p2m_last_error(&c->f.p));
	for (uint64_t q = pfn; q < pfn + n && q < c->m.cap; q++)
		mset(&c->m, q, identity ? p2m_identity_entry(q) : P2M_INVALID);
	check_step(c, pfn > S ? pfn - S : 0, pfn + n + S);
}

static void op_prepare(struct ctx *c)
{
	uint64_t pfn = pick_pfn(&c->m);

	c->op = "prepare";
	CHECK(p2m_prepare(&c->f.p, pfn) == 0, "prepare %#llx: %s", (unsigned long long)pfn,
	      p2m_last_error(&c->f.p));
	CHECK(c->f.p.kinds[pfn / S] == P2M_SLOT_PRIVATE, "slot of %#llx not private after prepare",
	      (unsigned long long)pfn);
	check_step(c, pfn / S * S, pfn / S * S + S);
}

static void op_set_foreign(struct ctx *c)
{
	uint64_t pfns[6], mfns[6];
	size_t n = 1 + below(6);
	bool ok = true;
	int rc;

	c->op = "set_foreign";
	for (size_t i = 0; i < n; i++) {
		pfns[i] = pick_pfn(&c->m);
		/* Mostly missing pfns, so that most calls succeed. */
		for (int t = 0; t < 8 && mget(&c->m, pfns[i]) != P2M_INVALID; t++)
			pfns[i] = pick_pfn(&c->m);
		mfns[i] = below(P2M_MFN_LIMIT);
	}
	for (size_t i = 0; i < n; i++) {
		ok = ok && mget(&c->m, pfns[i]) == P2M_INVALID;
		for (size_t j = 0; j < i; j++)
			ok = ok && pfns[j] != pfns[i];
	}
	rc = p2m_set_foreign(&c->f.p, pfns, mfns, n);
	CHECK(ok ? rc == 0 : rc < 0, "set_foreign of %zu: rc %d, expected %s (%s)", n, rc,
	      ok ? "success" : "failure", p2m_last_error(&c->f.p));
	if (ok)
		for (size_t i = 0; i < n; i++) {
			mset(&c->m, pfns[i], p2m_foreign_entry(mfns[i]));
			c->m.foreign[c->m.nforeign++ % 64] = pfns[i];
		}
	for (size_t i = 0; i < n; i++)
		check_step(c, pfns[i], pfns[i] + 1);
}

static void op_clear_foreign(struct ctx *c)
{
	uint64_t pfns[6], bad = 0, first_bad = P2M_INVALID;
	size_t n = 1 + below(6), nbad = 0;
	int rc;

	c->op = "clear_foreign";
	for (size_t i = 0; i < n; i++)
		pfns[i] = c->m.nforeign && below(4) ? c->m.foreign[below(c->m.nforeign < 64 ? c->m.nforeign : 64)]
						    : pick_pfn(&c->m);
	rc = p2m_clear_foreign(&c->f.p, pfns, n, &bad);
	for (size_t i = 0; i < n; i++) {
		if (p2m_entry_kind(mget(&c->m, pfns[i])) == P2M_KIND_FOREIGN) {
			mset(&c->m, pfns[i], P2M_INVALID);
		} else if (!nbad++) {
			first_bad = pfns[i];
		}
	}
	CHECK(nbad ? rc == -P2M_EINVAL : rc == 0, "clear_foreign: rc %d with %zu bad", rc, nbad);
	CHECK(bad == first_bad, "first bad %#llx, expected %#llx", (unsigned long long)bad,
	      (unsigned long long)first_bad);
	for (size_t i = 0; i < n; i++)
		check_step(c, pfns[i], pfns[i] + 1);
}

/* Reset to missing, then build from a random layout of runs. */
static void op_build(struct ctx *c)
{
	uint64_t lead = 0, n, *v;
	int rc;

	c->op = "build";
	while (lead < c->m.nact && c->m.act[lead] == lead)
		lead++;
	if (!lead)
		return;
	CHECK(p2m_set_range_missing(&c->f.p, 0, c->m.cap) == 0, "reset: %s",
	      p2m_last_error(&c->f.p));
	for (unsigned i = 0; i < c->m.nact; i++)
		for (uint64_t off = 0; off < W; off++)
			c->m.e[i][off] = P2M_INVALID;
	n = 1 + below(lead * W);
	v = malloc(n * sizeof(*v));
	assert_non_null(v);
	for (uint64_t pfn = 0; pfn < n;) {
		uint64_t len = pick_len(), kind = below(5), e = pfn + len < n ? pfn + len : n;

		for (; pfn < e; pfn++)
			v[pfn] = kind == 0 ? P2M_INVALID
			       : kind == 1 ? p2m_identity_entry(pfn)
			       : kind == 2 ? pick_value(pfn)
			       : ram_of(pfn);
	}
	/* p2m_build wants no reader of the published P2M (p2m.h). */
	p2m_unpublish(&c->f.p);
	rc = p2m_build(&c->f.p, v, n);
	CHECK(p2m_publish(&c->f.p, &c->arch, false) == 0, "publish: %s", p2m_last_error(&c->f.p));
	CHECK(rc == 0, "build of %#llx entries: %s", (unsigned long long)n, p2m_last_error(&c->f.p));
	for (uint64_t pfn = 0; pfn < n; pfn++)
		mset(&c->m, pfn, v[pfn]);
	free(v);
	check_step(c, 0, n);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void run(uint64_t cap, const uint64_t *act, unsigned nact, uint64_t steps,
		uint64_t sweep, uint64_t seed, bool alias)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct hosted_config cfg = { .alias = alias };

	assert_non_null(c);
	seed0 = seed;
	rng = seed ? seed : 1;
	fx_init_cfg(&c->f, &cfg, cap, true);
	printf("property: capacity %#llx, %u windows modelled, %llu steps, seed %#llx%s\n",
	       (unsigned long long)c->f.p.capacity, nact, (unsigned long long)steps,
	       (unsigned long long)seed, alias ? ", hosted alias mode" : "");
	c->m.cap = c->f.p.capacity;
	c->m.nact = nact;
	for (unsigned i = 0; i < nact; i++) {
		c->m.act[i] = act[i];
		c->m.e[i] = malloc(W * sizeof(uint64_t));
		assert_non_null(c->m.e[i]);
		for (uint64_t off = 0; off < W; off++)
			c->m.e[i][off] = P2M_INVALID;
	}
	p2m_publish(&c->f.p, &c->arch, false);
	c->op = "start";
	check_full(c);
	for (c->step = 1; c->step <= steps; c->step++) {
		uint64_t r = below(100);

		if (r < 35)
			op_set(c);
		else if (r < 50)
			op_range(c, false);
		else if (r < 65)
			op_range(c, true);
		else if (r < 77)
			op_set_foreign(c);
		else if (r < 89)
			op_clear_foreign(c);
		else if (r < 97)
			op_prepare(c);
		else
			op_build(c);
		if (c->step % sweep == 0)
			check_full(c);
	}
	check_full(c);
	p2m_unpublish(&c->f.p);
	for (unsigned i = 0; i < nact; i++)
		free(c->m.e[i]);
	fx_fini(&c->f);
	free(c);
}

static uint64_t seed_base;

static void small_capacities(void **state)
{
	static const uint64_t all[4] = { 0, 1, 2, 3 };
	uint64_t steps = env_u64("P2M_STEPS", 1500);

	(void)state;
	run(2 * W, all, 2, steps, 100, seed_base, false);
	/* Shared windows as 512 true aliases of the shared page. */
	run(4 * W - 5, all, 4, steps, 100, seed_base + 1, true);
}

static void beyond_the_tree(void **state)
{
	/* 2^27 + 2^18 pfns: windows 0, 1 and the last two (the tree's end and
	 * the one beyond it). */
	uint64_t cap = P2M_TREE_PFNS + W, last = cap / W - 1;
	uint64_t act[4] = { 0, 1, last - 1, last };
	uint64_t steps = env_u64("P2M_STEPS", 1500) / 3;

	(void)state;
	run(cap, act, 4, steps, steps / 2 ? steps / 2 : 1, seed_base + 2, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_capacities),
		cmocka_unit_test(beyond_the_tree),
	};

	seed_base = env_u64("P2M_SEED", 0);
	if (!seed_base)
		seed_base = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)clock();
	printf("property: P2M_SEED=%#llx reproduces this run\n", (unsigned long long)seed_base);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
