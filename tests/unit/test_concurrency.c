/*
 * libp2m under concurrent readers and writers (CTest label concurrency;
 * run under TSan in CI).
 *
 * Every pfn may only ever hold one of four values: ~0, its identity
 * value, ram_of(pfn) or a foreign entry of ram_of(pfn). Writers own
 * disjoint pfns (as p2m.h requires): in windows 0-2 whole slots, dealt
 * round-robin, so a writer's slot splits, leaf installs, slot joins and
 * the joins of windows that became uniform all happen in windows where
 * the others are writing; in window 3 single pfns, so several writers
 * make the same shared slot private at once. In windows 0-2 the writers
 * use only a few slots at either end, so that a window often turns
 * uniform and is joined while the others are writing into it. Readers hammer lookups over
 * every window and beyond the capacity: each value must be one of the
 * four (never torn, never another pfn's, never a wrong kind), and the
 * published generation never goes back. Each writer re-reads what it
 * wrote and, at the end, every pfn must hold its owner's last value.
 * A toolstack thread reads the published P2M as the saver does (list and
 * tree walks by mfn, toolstack.c), again and again: whenever
 * p2m_generation was even and did not move during a read, the read must
 * have succeeded and every entry must be one of the four values (or ~0).
 *
 * Environment: P2M_CONC_OPS=<n> operations per writer (default 6000).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
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

#define WRITERS 3
#define READERS 2
#define CAP (4 * W)
#define SLOT_WINDOWS 3            /* windows 0-2: owned by slots */
#define OWN_SLOTS 1               /* slots per writer at each end of a window */

static struct fx f;
static struct arch_shared_info arch;
static uint64_t *model;           /* model[pfn], written by its owner only */
static int stop;
static uint64_t ops_per_writer;
static char failure[512];
static int failed;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&failed, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
}

static uint64_t foreign_of(uint64_t pfn)
{
	return p2m_foreign_entry(ram_of(pfn));
}

static bool allowed(uint64_t pfn, uint64_t e)
{
	if (pfn >= CAP)
		return e == p2m_identity_entry(pfn);
	return e == P2M_INVALID || e == p2m_identity_entry(pfn) || e == ram_of(pfn) ||
	       e == foreign_of(pfn);
}

static unsigned owner(uint64_t pfn)
{
	uint64_t s = pfn % W / S;

	if (pfn / W < SLOT_WINDOWS)
		return (unsigned)((s < W / S / 2 ? s : W / S - 1 - s) % WRITERS);
	return (unsigned)(pfn % WRITERS);
}

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static void *reader(void *arg)
{
	struct rng r = { (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1 };
	uint64_t gen = 0, n = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uint64_t pfn = rnd(&r) % (CAP + S), e = p2m_raw(&f.p, pfn);
		uint64_t g;

		if (!allowed(pfn, e)) {
			report("reader: pfn %#llx read %#llx", (unsigned long long)pfn,
			       (unsigned long long)e);
			break;
		}
		if (p2m_kind_of(&f.p, pfn) == P2M_KIND_RAM && p2m_mfn(&f.p, pfn) != ram_of(pfn) &&
		    p2m_raw(&f.p, pfn) == ram_of(pfn)) {
			report("reader: pfn %#llx RAM with a wrong mfn", (unsigned long long)pfn);
			break;
		}
		if ((++n & 255) == 0) {
			g = __atomic_load_n(&arch.p2m_generation, __ATOMIC_ACQUIRE);
			if (g < gen) {
				report("reader: generation went back from %llu to %llu",
				       (unsigned long long)gen, (unsigned long long)g);
				break;
			}
			gen = g;
		}
	}
	return NULL;
}

struct tools_check {
	uint64_t bad, pfn, value;
};

static int tools_leaf(void *arg, uint64_t first, const uint64_t *e, unsigned n, xen_pfn_t leaf)
{
	struct tools_check *t = arg;

	(void)leaf;
	if (first == 0) /* a new read (libp2mread retries after a generation move) */
		*t = (struct tools_check){ 0, 0, 0 };
	for (unsigned i = 0; i < n; i++)
		if (!allowed(first + i, e[i]) && !t->bad++) {
			t->pfn = first + i;
			t->value = e[i];
		}
	return 0;
}

static uint64_t tools_reads, tools_quiet;

/* Half of the time (250 ms in 500) writers only store into private
 * leaves: no mapping changes, so the tools get quiet generations while
 * entries keep changing under them. */
static bool quiet_phase(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_nsec / 250000000 % 2 == 1;
}

static void *tools(void *arg)
{
	struct ts_frames fr;
	struct ts_result res;
	unsigned i = 0;

	(void)arg;
	ts_frames_hosted(&fr, f.h, 0);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		struct ts_options opt = { .tree_only = (i++ & 1) != 0 };
		struct tools_check t = { 0, 0, 0 };
		int rc = ts_read_p2m(&arch, &fr, &opt, tools_leaf, &t, &res);

		__atomic_fetch_add(&tools_reads, 1, __ATOMIC_RELAXED);
		if (res.gen_changed || (res.gen_before & 1) || res.count == 0)
			continue; /* the saver would retry or abort: not a verdict */
		__atomic_fetch_add(&tools_quiet, 1, __ATOMIC_RELAXED);
		if (rc) {
			report("tools (%s): %s at a quiet generation %llu", opt.tree_only ? "tree" : "list",
			       res.error, (unsigned long long)res.gen_before);
			break;
		}
		if (t.bad) {
			report("tools (%s): pfn %#llx read %#llx at a quiet generation",
			       opt.tree_only ? "tree" : "list", (unsigned long long)t.pfn,
			       (unsigned long long)t.value);
			break;
		}
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double t_start;

/* The op budget, then on until the tools had a few quiet reads (at most
 * 15 s in all). */
static bool more(uint64_t i)
{
	if (i < ops_per_writer)
		return true;
	return __atomic_load_n(&tools_quiet, __ATOMIC_RELAXED) < 8 && now() - t_start < 15;
}

/* A random pfn this writer owns, in the slot-owned windows or window 3. */
static uint64_t own_pfn(struct rng *r, unsigned id, bool slot_windows)
{
	if (slot_windows) {
		/* Few slots per window (the first and the last ones), so that
		 * windows often become uniform and are joined while the other
		 * writers are splitting theirs. */
		uint64_t k = rnd(r) % (2 * OWN_SLOTS), w = rnd(r) % SLOT_WINDOWS;
		uint64_t idx = (k % OWN_SLOTS) * WRITERS + id;
		uint64_t slot = k < OWN_SLOTS ? idx : W / S - 1 - idx;

		return w * W + slot * S + rnd(r) % S;
	}
	return SLOT_WINDOWS * W + (rnd(r) % (W / WRITERS)) * WRITERS + id;
}

static uint64_t pick_value(struct rng *r, uint64_t pfn)
{
	switch (rnd(r) % 4) {
	case 0: return P2M_INVALID;
	case 1: return p2m_identity_entry(pfn);
	default: return ram_of(pfn);
	}
}

static bool verify(uint64_t pfn, const char *what)
{
	uint64_t e = p2m_raw(&f.p, pfn);

	if (e != model[pfn]) {
		report("writer: after %s pfn %#llx reads %#llx, wrote %#llx", what,
		       (unsigned long long)pfn, (unsigned long long)e,
		       (unsigned long long)model[pfn]);
		return false;
	}
	return true;
}

static void *writer(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	struct rng r = { 0x1234567ull * (id + 1) };
	uint64_t last_private = P2M_INVALID;   /* an own pfn in a private slot */

	for (uint64_t i = 0; more(i) && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); i++) {
		unsigned op = (unsigned)(rnd(&r) % 100);
		uint64_t pfn = own_pfn(&r, id, op >= 20);
		uint64_t slot0 = pfn / S * S;
		int rc = 0;

		if (quiet_phase()) {
			/* A quiet phase: only stores into private leaves, so the
			 * generation holds still while the tools read. */
			uint64_t v;

			if (__atomic_load_n(&f.p.kinds[pfn / S], __ATOMIC_ACQUIRE) != P2M_SLOT_PRIVATE)
				pfn = last_private;
			if (pfn == P2M_INVALID ||
			    __atomic_load_n(&f.p.kinds[pfn / S], __ATOMIC_ACQUIRE) != P2M_SLOT_PRIVATE)
				continue;
			v = rnd(&r) & 1 ? ram_of(pfn) : P2M_INVALID;
			rc = p2m_set(&f.p, pfn, v);
			model[pfn] = v;
			if (rc || !verify(pfn, "quiet set"))
				goto bad;
			i--; /* quiet stores do not count against the budget */
			continue;
		}

		if (op < 50) {
			/* One entry: a first write into a shared slot splits it. */
			uint64_t v = pick_value(&r, pfn);

			rc = p2m_set(&f.p, pfn, v);
			model[pfn] = v;
			if (rc || !verify(pfn, "set"))
				goto bad;
			if (v == ram_of(pfn))
				last_private = pfn;
		} else if (op < 75) {
			/* The whole own slot back to a shared page (may leave the
			 * window uniform, which joins it). */
			bool id_kind = rnd(&r) % 4 == 0;

			rc = id_kind ? p2m_set_range_identity(&f.p, slot0, S)
				     : p2m_set_range_missing(&f.p, slot0, S);
			for (uint64_t q = slot0; q < slot0 + S; q++)
				model[q] = id_kind ? p2m_identity_entry(q) : P2M_INVALID;
			if (rc || !verify(slot0, "slot range") || !verify(slot0 + S - 1, "slot range"))
				goto bad;
		} else if (op < 82) {
			/* Part of the own slot. */
			uint64_t a = slot0 + rnd(&r) % S, n = 1 + rnd(&r) % (slot0 + S - a);

			rc = p2m_set_range_missing(&f.p, a, n);
			for (uint64_t q = a; q < a + n; q++)
				model[q] = P2M_INVALID;
			if (rc || !verify(a, "partial range") || !verify(a + n - 1, "partial range"))
				goto bad;
		} else if (op < 88) {
			rc = p2m_prepare(&f.p, pfn);
			if (rc || !verify(pfn, "prepare"))
				goto bad;
		} else if (op < 95) {
			uint64_t mfn = ram_of(pfn);

			if (model[pfn] != P2M_INVALID)
				continue;
			rc = p2m_set_foreign(&f.p, &pfn, &mfn, 1);
			model[pfn] = foreign_of(pfn);
			if (rc || !verify(pfn, "set_foreign"))
				goto bad;
		} else {
			uint64_t bad = 0;

			if (p2m_entry_kind(model[pfn]) != P2M_KIND_FOREIGN)
				continue;
			rc = p2m_clear_foreign(&f.p, &pfn, 1, &bad);
			model[pfn] = P2M_INVALID;
			if (rc || !verify(pfn, "clear_foreign"))
				goto bad;
		}
		continue;
bad:
		if (rc)
			report("writer %u: op %u on pfn %#llx failed: %d %s (platform: %s)", id, op,
			       (unsigned long long)pfn, rc, p2m_last_error(&f.p),
			       hosted_last_error(f.h));
		break;
	}
	return NULL;
}

static void hammer(void **state)
{
	pthread_t rt[READERS], wt[WRITERS], tt;
	const char *env = getenv("P2M_CONC_OPS");

	(void)state;
	ops_per_writer = env && *env ? strtoull(env, NULL, 0) : 6000;
	fx_init(&f, CAP, true);
	model = malloc(CAP * sizeof(uint64_t));
	assert_non_null(model);
	for (uint64_t pfn = 0; pfn < CAP; pfn++)
		model[pfn] = P2M_INVALID;
	p2m_publish(&f.p, &arch, false);
	p2m_cover(&f.p, CAP); /* the tools read every window from the start */

	for (uintptr_t i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, reader, (void *)(i + 1)), 0);
	t_start = now();
	assert_int_equal(pthread_create(&tt, NULL, tools, NULL), 0);
	for (uintptr_t i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&wt[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	pthread_join(tt, NULL);
	printf("concurrency: %llu toolstack reads, %llu at a quiet generation\n",
	       (unsigned long long)tools_reads, (unsigned long long)tools_quiet);
	if (failed)
		fail_msg("%s", failure);
	if (tools_quiet == 0)
		fail_msg("the toolstack thread never read at a quiet generation");

	/* Quiet now: every pfn holds its owner's last value. */
	for (uint64_t pfn = 0; pfn < CAP; pfn++)
		if (p2m_raw(&f.p, pfn) != model[pfn])
			fail_msg("pfn %#llx (owner %u) reads %#llx, last written %#llx",
				 (unsigned long long)pfn, owner(pfn),
				 (unsigned long long)p2m_raw(&f.p, pfn),
				 (unsigned long long)model[pfn]);
	assert_int_equal(p2m_generation(&f.p) & 1, 0);
	assert_int_equal(arch.p2m_generation, p2m_generation(&f.p));
	p2m_unpublish(&f.p);
	fx_check_accounting(&f);
	free(model);
	fx_fini(&f);
}

/*
 * After p2m_unpublish() returns, nothing may write into the published
 * structure (the caller unmaps it). A writer raising max_pfn slot by
 * slot (pre-allocated slots: plain stores and raises) runs while the
 * structure is unpublished, overwritten and freed: under TSan any write
 * of libp2m into it not ordered before the unpublish is a reported race,
 * under ASan a late one is a use after free.
 */
static struct arch_shared_info *volatile up_arch;
static uint64_t up_done;

static void *raiser(void *arg)
{
	(void)arg;
	for (uint64_t slot = 0; slot < W / S; slot++) {
		if (p2m_set(&f.p, slot * S + 1, ram_of(slot)))
			report("raiser: %s", p2m_last_error(&f.p));
		__atomic_store_n(&up_done, slot + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void unpublish_stops_writes(void **state)
{
	struct arch_shared_info *a = malloc(sizeof(*a));
	pthread_t t;

	(void)state;
	assert_non_null(a);
	fx_init(&f, W, true);
	for (uint64_t slot = 0; slot < W / S; slot++)
		assert_int_equal(p2m_prepare(&f.p, slot * S), 0);
	p2m_publish(&f.p, a, false);
	up_arch = a;
	assert_int_equal(pthread_create(&t, NULL, raiser, NULL), 0);
	/* Relaxed: this wait must not order the writer's accesses before
	 * the unpublish; only libp2m's own synchronisation may. */
	while (__atomic_load_n(&up_done, __ATOMIC_RELAXED) < 16)
		;
	p2m_unpublish(&f.p);
	memset(a, 0x5a, sizeof(*a));
	free(a);
	pthread_join(t, NULL);
	if (failed)
		fail_msg("%s", failure);
	assert_int_equal(p2m_max_pfn(&f.p), W);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hammer),
		cmocka_unit_test(unpublish_stops_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
