/*
 * Lookup workload: for each pfn space, the four implementations are built
 * from one lookup layout (RAM, identity and missing regions) and measured
 * in alternation on random and sequential pfns of each kind.
 *
 * Random pfns are drawn once per (space, kind), before any timing, and
 * read from an array by every implementation; sequential lookups stream
 * through the region from its start (again from the start when a run is
 * longer than the region). Each loop is specialised for its
 * implementation, so the only indirect call is the one per timed run.
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

/* One pair of loops per implementation: O (of type TYPE) is taken once
 * from INIT before the loop, and RAW(O, pfn) looks up through it. */
#define BENCH_LOOPS(name, TYPE, INIT, RAW)                                     \
static uint64_t name##_rand(const struct impls *m, const uint64_t *idx,       \
			    uint64_t n)                                        \
{                                                                              \
	TYPE o = INIT;                                                         \
	uint64_t s = 0;                                                        \
	for (uint64_t i = 0; i < n; i++) {                                     \
		s += RAW(o, idx[i]);                                           \
		BENCH_KEEP(s);                                                 \
	}                                                                      \
	return s;                                                              \
}                                                                              \
static uint64_t name##_seq(const struct impls *m, uint64_t first,             \
			   uint64_t len, uint64_t n)                           \
{                                                                              \
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

/* ours: the loop takes a view of the P2M once (p2m_view) and looks up
 * through it, as a guest's loop over many pfns does; p2m_raw() alone
 * would reload the P2M's fields on every call. */
#define OURS_RAW(v, pfn) p2m_view_raw(&(v), pfn)
BENCH_LOOPS(ours, struct p2m_view, p2m_view(&m->ours.p), OURS_RAW)
BENCH_LOOPS(flat, const struct bench_flat *, &m->flat, bench_flat_raw)
BENCH_LOOPS(tree, const struct bench_tree *, &m->tree, bench_tree_raw)
BENCH_LOOPS(linux, const struct bench_linux *, &m->lx, bench_linux_raw)

static inline uint64_t list_load(const struct p2m *p, uint64_t pfn)
{
	return __atomic_load_n(&p->list[pfn], __ATOMIC_RELAXED);
}

BENCH_LOOPS(load, const struct p2m *, &m->ours.p, list_load)

static const rand_fn rand_loop[I_COUNT] = { ours_rand, flat_rand, tree_rand, linux_rand, load_rand };
static const seq_fn seq_loop[I_COUNT] = { ours_seq, flat_seq, tree_seq, linux_seq, load_seq };

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

static void measure(const struct bench_opts *o, struct bench_report *r,
		    struct impls *m, const char *workload,
		    const uint64_t *idx, const struct bench_range *rg)
{
	double ns[I_COUNT][BENCH_MAX_ROUNDS];
	unsigned rounds = o->rounds > BENCH_MAX_ROUNDS ? BENCH_MAX_ROUNDS : o->rounds;

	for (unsigned round = 0; round < rounds; round++)
		for (int j = 0; j < I_COUNT; j++) {
			int k = (int)((round + (unsigned)j) % I_COUNT);
			uint64_t t0 = bench_cpu_ns(), s;

			if (idx)
				s = rand_loop[k](m, idx, o->lookups);
			else
				s = seq_loop[k](m, rg->first, rg->n, o->lookups);
			ns[k][round] = (double)(bench_cpu_ns() - t0) / (double)o->lookups;
			r->sink += s;
		}
	for (int k = 0; k < I_COUNT; k++) {
		double med = bench_median(ns[k], rounds);   /* sorts: [0] is the min */
		struct bench_row *row = bench_row_add(r, "lookup", workload, impl_name[k],
						      "ns/lookup", med);

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
		snprintf(name, sizeof(name), "RAM lookup vs flat");
		bench_target_add(r, name, workload, ours->value / flat->value, 1.10, true);
	} else {
		snprintf(name, sizeof(name), "%s lookup vs flat", kind == 1 ? "identity" : "missing");
		bench_target_add(r, name, workload, ours->value / flat->value, 1.5, true);
		snprintf(name, sizeof(name), "%s lookup: linux/ours", kind == 1 ? "identity" : "missing");
		bench_target_add(r, name, workload, lx->value / ours->value, 5.0, false);
	}
	if (random && gib >= 64)
		bench_target_add(r, "random lookup: tree/ours", workload,
				 tree->value / ours->value, 2.0, false);
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
