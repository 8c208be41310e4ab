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
 *
 * Environment: P2M_CONC_OPS=<n> operations per writer (default 6000).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

	for (uint64_t i = 0; i < ops_per_writer && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); i++) {
		unsigned op = (unsigned)(rnd(&r) % 100);
		uint64_t pfn = own_pfn(&r, id, op >= 20);
		uint64_t slot0 = pfn / S * S;
		int rc = 0;

		if (op < 50) {
			/* One entry: a first write into a shared slot splits it. */
			uint64_t v = pick_value(&r, pfn);

			rc = p2m_set(&f.p, pfn, v);
			model[pfn] = v;
			if (rc || !verify(pfn, "set"))
				goto bad;
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
			report("writer %u: op %u on pfn %#llx failed: %d %s", id, op,
			       (unsigned long long)pfn, rc, p2m_last_error(&f.p));
		break;
	}
	return NULL;
}

static void hammer(void **state)
{
	pthread_t rt[READERS], wt[WRITERS];
	const char *env = getenv("P2M_CONC_OPS");

	(void)state;
	ops_per_writer = env && *env ? strtoull(env, NULL, 0) : 6000;
	fx_init(&f, CAP, true);
	model = malloc(CAP * sizeof(uint64_t));
	assert_non_null(model);
	for (uint64_t pfn = 0; pfn < CAP; pfn++)
		model[pfn] = P2M_INVALID;
	p2m_publish(&f.p, &arch, false);

	for (uintptr_t i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, reader, (void *)(i + 1)), 0);
	for (uintptr_t i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_create(&wt[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	if (failed)
		fail_msg("%s", failure);

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hammer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
