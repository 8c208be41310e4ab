/*
 * Lookup workload: for each pfn space, the four implementations are built
 * from one lookup layout (RAM, identity and missing regions) and measured
 * in alternation on random and sequential pfns of each kind.
 *
 * Random pfns are drawn once per (space, kind), before any timing, and
 * read from an array by every implementation; sequential lookups stream
 * through the region from its start (again from the start when a run is
 * longer than the region). Each loop is specialised for its
 * implementation, so the only indirect call is the one per timed run; every
 * implementation reads what its lookup needs through a local taken once
 * before the loop (linux: a pointer to its model, whose fields stand for
 * the kernel's globals), and every loop is measured at four code
 * alignments (BENCH_PHASES below).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

/* "load" is an ablation, not a P2M: one unchecked load from ours's list.
 * Against flat it shows what the list's memory costs (hosted mapping,
 * 4 KiB pages); against ours, what p2m_raw's checks cost. */
enum { I_OURS, I_FLAT, I_TREE, I_LINUX, I_LOAD, I_COUNT };
static const char *const impl_name[I_COUNT] = { "ours", "flat", "tree", "linux", "load" };

struct impls {
	struct bench_layout L;
	struct bench_flat flat;
	struct bench_tree tree;
	struct bench_linux lx;
	void *lx_host;
	struct p2m_platform lx_plat;
	struct bench_ours ours;
};

typedef uint64_t (*rand_fn)(const struct impls *, const uint64_t *, uint64_t);
typedef uint64_t (*seq_fn)(const struct impls *, uint64_t, uint64_t, uint64_t);

/*
 * Code phases. On the machine of docs/bench.md a hot loop that straddles a
 * 64-byte line of code runs about one cycle per lookup slower than the same
 * bytes inside one line (ours, sequential RAM: 0.33 -> 0.58 ns). Where a
 * loop falls is chance (link order, the size of every function before it),
 * so one build measured ours at 1.09x flat and a later one, same lookup
 * code, at 1.75x. Every loop is therefore compiled BENCH_PHASES times, each
 * copy 64-byte aligned with ph * 16 bytes of nops before its loop: round r
 * runs copy r % BENCH_PHASES of every implementation, so each is measured
 * at every 16-byte offset within a line, and link order favours none.
 */
#define BENCH_PHASES 4
#if defined(__x86_64__) || defined(__i386__)
#define BENCH_PHASE_SLED(ph)                                                   \
	do {                                                                   \
		if (ph)                                                        \
			__asm__ volatile(".skip " #ph " * 16, 0x90");          \
	} while (0)
#else
#define BENCH_PHASE_SLED(ph) do { } while (0)   /* 0x90 is x86's nop */
#endif

/* One pair of loops per implementation and phase: O (of type TYPE) is taken
 * once from INIT before the loop, and RAW(O, pfn) looks up through it. The
 * same shape for every implementation: whatever its lookup reads, it reads
 * through O, a local initialised once. */
#define BENCH_LOOPS_AT(name, ph, TYPE, INIT, RAW)                              \
__attribute__((noinline, aligned(64)))                                         \
static uint64_t name##_rand##ph(const struct impls *m, const uint64_t *idx,   \
				uint64_t n)                                    \
{                                                                              \
	BENCH_PHASE_SLED(ph);                                                  \
	TYPE o = INIT;                                                         \
	uint64_t s = 0;                                                        \
	for (uint64_t i = 0; i < n; i++) {                                     \
		s += RAW(o, idx[i]);                                           \
		BENCH_KEEP(s);                                                 \
	}                                                                      \
	return s;                                                              \
}                                                                              \
__attribute__((noinline, aligned(64)))                                         \
static uint64_t name##_seq##ph(const struct impls *m, uint64_t first,         \
			       uint64_t len, uint64_t n)                       \
{                                                                              \
	BENCH_PHASE_SLED(ph);                                                  \
	TYPE o = INIT;                                                         \
	uint64_t s = 0;                                                        \
	while (n) {                                                            \
		uint64_t k = n < len ? n : len;                                \
		for (uint64_t p = first; p < first + k; p++) {                 \
			s += RAW(o, p);                                        \
			BENCH_KEEP(s);                                         \
		}                                                              \
		n -= k;                                                        \
	}                                                                      \
	return s;                                                              \
}
#define BENCH_LOOPS(name, TYPE, INIT, RAW)                                     \
	BENCH_LOOPS_AT(name, 0, TYPE, INIT, RAW)                               \
	BENCH_LOOPS_AT(name, 1, TYPE, INIT, RAW)                               \
	BENCH_LOOPS_AT(name, 2, TYPE, INIT, RAW)                               \
	BENCH_LOOPS_AT(name, 3, TYPE, INIT, RAW)                               \
	static const rand_fn name##_rand[BENCH_PHASES] = {                     \
		name##_rand0, name##_rand1, name##_rand2, name##_rand3 };      \
	static const seq_fn name##_seq[BENCH_PHASES] = {                       \
		name##_seq0, name##_seq1, name##_seq2, name##_seq3 };

/* ours: the loop takes a view of the P2M once (p2m_view) and looks up
 * through it, as a guest's loop over many pfns does; p2m_raw() alone
 * would reload the P2M's fields on every call. */
#define OURS_RAW(v, pfn) p2m_view_raw(&(v), pfn)
BENCH_LOOPS(ours, struct p2m_view, p2m_view(&m->ours.p), OURS_RAW)
/* flat: its base pointer copied once, as ours's view (clang does not hoist
 * m->flat.e past the empty asm of BENCH_KEEP by itself; gcc does). */
#define FLAT_RAW(f, pfn) bench_flat_raw(&(f), pfn)
BENCH_LOOPS(flat, struct bench_flat, m->flat, FLAT_RAW)
BENCH_LOOPS(tree, const struct bench_tree *, &m->tree, bench_tree_raw)
/* linux: through the model itself, so its fast path reads size and list
 * on every lookup, as the kernel's does: xen_p2m_size and xen_p2m_addr are
 * globals, and gcc 12 and clang 14 at -O2 reload both in every iteration
 * of a loop over __pfn_to_mfn() (the loop may call get_phys_to_machine()).
 * Copied into registers like ours's view, it is ours's fast path (same
 * two compares and one load) and ties with ours under clang:
 * docs/bench.md, "Lookups". */
BENCH_LOOPS(linux, const struct bench_linux *, &m->lx, bench_linux_raw)

static inline uint64_t list_load(const struct p2m *p, uint64_t pfn)
{
	return __atomic_load_n(&p->list[pfn], __ATOMIC_RELAXED);
}

#define LOAD_RAW(v, pfn) __atomic_load_n(&(v).list[pfn], __ATOMIC_RELAXED)
BENCH_LOOPS(load, struct p2m_view, p2m_view(&m->ours.p), LOAD_RAW)

static const rand_fn *const rand_loop[I_COUNT] = { ours_rand, flat_rand, tree_rand, linux_rand, load_rand };
static const seq_fn *const seq_loop[I_COUNT] = { ours_seq, flat_seq, tree_seq, linux_seq, load_seq };

static void impls_free(struct impls *m)
{
	bench_ours_destroy(&m->ours);
	if (m->lx_host) {
		bench_linux_destroy(&m->lx);
		bench_hosted_free(m->lx_host);
	}
	bench_tree_destroy(&m->tree);
	bench_layout_free(&m->L);
	memset(m, 0, sizeof(*m));
}

/* Build all four from the lookup layout of `gib` GiB. */
static int impls_build(const struct bench_opts *o, struct impls *m, uint64_t gib)
{
	uint64_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	if ((rc = bench_layout_lookup(&m->L, gib)))
		return rc;
	n = m->L.n;
	m->flat = (struct bench_flat){ m->L.flat, n };
	bench_log(o, "%" PRIu64 " GiB: building tree (RSS %" PRIu64 " MiB, peak %" PRIu64 " MiB)", gib, bench_rss_bytes() >> 20, bench_hwm_bytes() >> 20);
	if ((rc = bench_tree_build(&m->tree, m->L.flat, n, n)))
		goto fail;
	bench_log(o, "%" PRIu64 " GiB: building linux (RSS %" PRIu64 " MiB, peak %" PRIu64 " MiB)", gib, bench_rss_bytes() >> 20, bench_hwm_bytes() >> 20);
	m->lx_host = bench_hosted_new(&m->lx_plat);
	if (!m->lx_host) {
		rc = -P2M_ENOMEM;
		goto fail;
	}
	if ((rc = bench_linux_build(&m->lx, &m->lx_plat, m->L.flat, n, n))) {
		fprintf(stderr, "p2m bench: linux model build failed (%d)\n", rc);
		goto fail;
	}
	bench_log(o, "%" PRIu64 " GiB: building ours (RSS %" PRIu64 " MiB, peak %" PRIu64 " MiB)", gib, bench_rss_bytes() >> 20, bench_hwm_bytes() >> 20);
	if ((rc = bench_ours_create(&m->ours, n)))
		goto fail;
	if ((rc = p2m_build(&m->ours.p, m->L.flat, n))) {
		fprintf(stderr, "p2m bench: p2m_build: %s\n", p2m_last_error(&m->ours.p));
		goto fail;
	}
	bench_log(o, "%" PRIu64 " GiB: built (RSS %" PRIu64 " MiB, peak %" PRIu64 " MiB)", gib, bench_rss_bytes() >> 20, bench_hwm_bytes() >> 20);
	return 0;
fail:
	impls_free(m);
	return rc;
}

/* Every implementation must give the flat list's answer. */
static int impls_check(struct impls *m, const uint64_t *idx, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = idx[i], want = m->L.flat[p];
		uint64_t got[I_COUNT] = {
			p2m_raw(&m->ours.p, p), bench_flat_raw(&m->flat, p),
			bench_tree_raw(&m->tree, p), bench_linux_raw(&m->lx, p),
			list_load(&m->ours.p, p),
		};

		/* the ablation is right only where a private page holds it */
		for (int k = 0; k < (want == P2M_INVALID || (want & P2M_IDENTITY_BIT) ? I_LOAD : I_COUNT); k++)
			if (got[k] != want) {
				fprintf(stderr, "p2m bench: %s answers %#" PRIx64 " for pfn %#" PRIx64
					", the list holds %#" PRIx64 "\n",
					impl_name[k], got[k], p, want);
				return -P2M_ECHECK;
			}
	}
	return 0;
}

/* Median of the rounds of one code phase (v holds every round's time). */
static double phase_median(const double *v, unsigned rounds, unsigned phase)
{
	double t[BENCH_MAX_ROUNDS];
	unsigned n = 0;

	for (unsigned r = phase; r < rounds; r += BENCH_PHASES)
		t[n++] = v[r];
	return bench_median(t, n);
}

static void measure(const struct bench_opts *o, struct bench_report *r,
		    struct impls *m, const char *workload,
		    const uint64_t *idx, const struct bench_range *rg)
{
	double ns[I_COUNT][BENCH_MAX_ROUNDS];
	unsigned rounds = o->rounds > BENCH_MAX_ROUNDS ? BENCH_MAX_ROUNDS : o->rounds;

	for (unsigned round = 0; round < rounds; round++)
		for (int j = 0; j < I_COUNT; j++) {
			int k = (int)((round + (unsigned)j) % I_COUNT);
			unsigned ph = round % BENCH_PHASES;
			uint64_t t0 = bench_cpu_ns(), s;

			if (idx)
				s = rand_loop[k][ph](m, idx, o->lookups);
			else
				s = seq_loop[k][ph](m, rg->first, rg->n, o->lookups);
			ns[k][round] = (double)(bench_cpu_ns() - t0) / (double)o->lookups;
			r->sink += s;
		}
	for (int k = 0; k < I_COUNT; k++) {
		double med;
		struct bench_row *row;

		if (o->verbose && rounds >= BENCH_PHASES)
			bench_log(o, "%s: %s by code phase (median ns): %.3f %.3f %.3f %.3f", workload,
				  impl_name[k], phase_median(ns[k], rounds, 0),
				  phase_median(ns[k], rounds, 1), phase_median(ns[k], rounds, 2),
				  phase_median(ns[k], rounds, 3));
		med = bench_median(ns[k], rounds);   /* sorts: [0] is the min */
		row = bench_row_add(r, "lookup", workload, impl_name[k], "ns/lookup", med);
		row->min = ns[k][0];
		strcpy(row->rate_unit, "Mlookups/s");
		row->rate = med > 0 ? 1e3 / med : 0;
	}
	bench_log(o, "%s: ours %.2f flat %.2f tree %.2f linux %.2f load %.2f ns", workload,
		  bench_row_find(r, "lookup", workload, "ours")->value,
		  bench_row_find(r, "lookup", workload, "flat")->value,
		  bench_row_find(r, "lookup", workload, "tree")->value,
		  bench_row_find(r, "lookup", workload, "linux")->value,
		  bench_row_find(r, "lookup", workload, "load")->value);
}

/* A target on ours against `ref`: the ratio of medians decides, the
 * ratio of the fastest rounds is printed beside it. */
static void target_vs(struct bench_report *r, const char *name, const char *workload,
		      const struct bench_row *a, const struct bench_row *b,
		      double limit, bool at_most)
{
	bench_target_add(r, name, workload, a->value / b->value, limit, at_most);
	if (a->min > 0 && b->min > 0)
		bench_target_min(r, a->min / b->min);
}

static void add_targets(struct bench_report *r, const char *workload,
			int kind, bool random, uint64_t gib)
{
	struct bench_row *ours = bench_row_find(r, "lookup", workload, "ours");
	struct bench_row *flat = bench_row_find(r, "lookup", workload, "flat");
	struct bench_row *tree = bench_row_find(r, "lookup", workload, "tree");
	struct bench_row *lx = bench_row_find(r, "lookup", workload, "linux");
	char name[64];

	if (!ours || !flat || !tree || !lx)
		return;
	if (kind == 0) {
		target_vs(r, "RAM lookup vs flat", workload, ours, flat, 1.10, true);
		target_vs(r, "RAM lookup vs linux", workload, ours, lx, 1.0, true);
	} else {
		snprintf(name, sizeof(name), "%s lookup vs flat", kind == 1 ? "identity" : "missing");
		target_vs(r, name, workload, ours, flat, 1.5, true);
		snprintf(name, sizeof(name), "%s lookup: linux/ours", kind == 1 ? "identity" : "missing");
		target_vs(r, name, workload, lx, ours, 5.0, false);
	}
	if (random && gib >= 64)
		target_vs(r, "random lookup: tree/ours", workload, tree, ours, 2.0, false);
}

int bench_lookups(const struct bench_opts *o, struct bench_report *r)
{
	static const char *const kname[3] = { "ram", "identity", "missing" };
	uint64_t *idx = bench_pages(o->lookups * 8);

	if (!idx)
		return -P2M_ENOMEM;
	for (unsigned si = 0; si < o->nspaces; si++) {
		uint64_t gib = o->space_gib[si];
		struct impls m;
		int rc = impls_build(o, &m, gib);

		if (rc) {
			fprintf(stderr, "p2m bench: cannot build the %" PRIu64 " GiB lookup map (%d)\n",
				gib, rc);
			bench_pages_free(idx, o->lookups * 8);
			return rc;
		}
		bench_note_rss(r);
		for (int kind = 0; kind < 3; kind++) {
			const struct bench_range *rg = kind == 0 ? &m.L.ram :
						       kind == 1 ? &m.L.identity : &m.L.missing;
			uint64_t seed = 0x9e3779b97f4a7c15ull ^ (gib << 8) ^ (uint64_t)kind;
			char wl[48];

			for (uint64_t i = 0; i < o->lookups; i++)
				idx[i] = rg->first + bench_rand(&seed) % rg->n;
			if ((rc = impls_check(&m, idx, o->lookups < 65536 ? o->lookups : 65536))) {
				impls_free(&m);
				bench_pages_free(idx, o->lookups * 8);
				return rc;
			}
			snprintf(wl, sizeof(wl), "random %s %" PRIu64 "GiB", kname[kind], gib);
			measure(o, r, &m, wl, idx, rg);
			add_targets(r, wl, kind, true, gib);
			snprintf(wl, sizeof(wl), "sequential %s %" PRIu64 "GiB", kname[kind], gib);
			measure(o, r, &m, wl, NULL, rg);
			add_targets(r, wl, kind, false, gib);
		}
		bench_log(o, "%" PRIu64 " GiB: measured (RSS %" PRIu64 " MiB, peak %" PRIu64 " MiB)",
			  gib, bench_rss_bytes() >> 20, bench_hwm_bytes() >> 20);
		impls_free(&m);
		bench_log(o, "%" PRIu64 " GiB: freed (RSS %" PRIu64 " MiB, peak %" PRIu64 " MiB)",
			  gib, bench_rss_bytes() >> 20, bench_hwm_bytes() >> 20);
	}
	bench_rows_ratio(r, "lookup", "flat");
	bench_pages_free(idx, o->lookups * 8);
	return 0;
}
