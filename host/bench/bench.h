/*
 * `p2m bench`: libp2m against the physical limit and the designs it
 * replaces, measured side by side in one process.
 *
 * Implementations (all built from the same flat initial list):
 *   ours    libp2m over the hosted platform (memfd frames, mmap'd window)
 *   flat    a raw array of 8-byte entries: one load, the physical limit of
 *           any linear table (it is the flat list itself)
 *   tree    the 3-level pointer tree of Linux <= 3.18 and Mini-OS: top,
 *           mid and leaf pages, shared missing leaf and mid pages, an
 *           identity leaf told apart by its address; three dependent
 *           loads per lookup
 *   linux   Linux's linear list of today, mapped through the same platform
 *           as ours (shared missing/identity leaves and tables), plus a
 *           4-level page-table model kept in memory: a lookup that loads ~0
 *           walks it level by level, as lookup_address() does, and compares
 *           the L1 entry's frame with the identity page's frame.
 *
 * Method. Each workload runs on every implementation in alternation (the
 * first implementation rotates from round to round), for several rounds;
 * the report gives the median round. Lookup loops (and the concurrency
 * readers) are timed in thread CPU time, so that time spent descheduled
 * on a busy machine does not count; builds and updates, whose cost is
 * largely page faults and system calls, in wall-clock time. Lookup loops are generated per
 * implementation (no indirect call per lookup), four times each at
 * different code offsets (bench_lookup.c says why), add every result into a
 * sink that is printed, and read indices precomputed outside the timed
 * loop. An empty asm keeps the sink in a register on each iteration so
 * that no compiler vectorises one loop and not another.
 *
 * Results are rows (section, workload, implementation, value, rate, ratio)
 * and targets (a ratio, its limit, PASS or SHORT); bench_report.c prints
 * them as a table, CSV and JSON, bench_svg.c plots the lookup rows.
 */
#ifndef P2M_HOST_BENCH_H
#define P2M_HOST_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "p2m/p2m.h"
#include "platform/x86_pte.h"

#define BENCH_GIB_PFNS ((uint64_t)1 << 18)   /* pfns per GiB of guest */
#define BENCH_MAX_ROUNDS 32

/* ---------------------------------------------------------------- run -- */

struct bench_opts {
	bool long_mode;
	unsigned rounds;          /* rounds per measurement (median) */
	uint64_t lookups;         /* lookups per timed run */
	unsigned nspaces;
	uint64_t space_gib[4];    /* lookup pfn spaces */
	uint64_t build_gib;       /* guest GiB of the build workload */
	uint64_t update_gib;      /* lookup map of the update and concurrency
				   * workloads */
	uint64_t update_slots;    /* slots written per round by `first` */
	unsigned build_rounds;
	unsigned readers;         /* concurrency: reader threads */
	double conc_seconds;      /* concurrency: length of each phase */
	unsigned conc_rounds;
	/* memory scenarios */
	uint64_t dom0_ram_gib, dom0_extra_gib;
	unsigned holes;
	uint64_t holes_gib;
	uint64_t cap_tib, cap_ram_gib;
	const char *only;         /* run only this section (NULL: all) */
	bool verbose;
};

/* ---------------------------------------------------------- utilities -- */

uint64_t bench_now_ns(void);
/* CPU time of the calling thread: what lookup loops are timed with, so
 * that time spent descheduled on a shared machine does not count. */
uint64_t bench_cpu_ns(void);
double bench_median(double *v, size_t n);     /* sorts v */
uint64_t bench_rss_bytes(void);               /* VmRSS of this process */
uint64_t bench_hwm_bytes(void);               /* VmHWM: its peak so far */
uint64_t bench_vmas(void);                    /* lines of /proc/self/maps */
/* xorshift64*: deterministic indices, the same for every implementation */
uint64_t bench_rand(uint64_t *state);
/* Page-aligned zeroed memory that the kernel may give back (munmap). */
void *bench_pages(size_t bytes);
void bench_pages_free(void *p, size_t bytes);
/* Messages on stderr while running (progress), only with --verbose. */
void bench_log(const struct bench_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Keep a value in a register now: stops vectorisation of sink loops
 * without adding a load or a store. */
#define BENCH_KEEP(x) __asm__ volatile("" : "+r"(x))

/* ------------------------------------------------------------ results -- */

struct bench_row {
	char section[16];     /* lookup, update, build, memory, concurrency */
	char workload[48];
	char impl[16];
	char unit[16];        /* unit of value */
	double value;         /* median */
	double min;           /* fastest round (<0: not recorded) */
	char rate_unit[16];   /* unit of rate ("" when none) */
	double rate;
	double ratio;         /* value / reference row's value; <0: none */
	char ref[16];         /* implementation the ratio refers to */
};

struct bench_target {
	char name[64];
	char detail[96];      /* what was compared */
	double ratio;         /* measured (of medians) */
	double min_ratio;     /* the same of the fastest rounds (<0: none) */
	double limit;
	bool at_most;         /* pass when ratio <= limit (else >=) */
	bool pass;
	char unit[16];        /* of ratio and limit: "x" unless set */
};

struct bench_report {
	struct bench_row *rows;
	size_t nrows, cap_rows;
	struct bench_target *targets;
	size_t ntargets, cap_targets;
	uint64_t sink;        /* every lookup result, printed at the end */
	uint64_t peak_rss;
	char host[128];
};

void bench_report_init(struct bench_report *r);
void bench_report_free(struct bench_report *r);
struct bench_row *bench_row_add(struct bench_report *r, const char *section,
				const char *workload, const char *impl,
				const char *unit, double value);
/* The row of (section, workload, impl), or NULL. */
struct bench_row *bench_row_find(struct bench_report *r, const char *section,
				 const char *workload, const char *impl);
/* Set ratio = value / value of impl `ref` in the same workload. */
void bench_rows_ratio(struct bench_report *r, const char *section,
		      const char *ref);
void bench_target_add(struct bench_report *r, const char *name,
		      const char *detail, double ratio, double limit,
		      bool at_most);
/* The unit of the last target added (e.g. "KiB/GiB"). */
void bench_target_unit(struct bench_report *r, const char *unit);
/* The ratio of the last target added, taken between the fastest rounds
 * (printed beside the verdict's ratio of medians; it decides nothing). */
void bench_target_min(struct bench_report *r, double min_ratio);
void bench_note_rss(struct bench_report *r);

void bench_print_table(const struct bench_report *r, FILE *f);
int bench_write_csv(const struct bench_report *r, const char *path);
int bench_write_json(const struct bench_report *r, const struct bench_opts *o,
		     const char *path);
int bench_write_svg(const struct bench_report *r, const char *path);

/* ----------------------------------------------------- implementations -- */

/* flat: the array itself. */
struct bench_flat {
	uint64_t *e;
	uint64_t n;
};

static inline uint64_t bench_flat_raw(const struct bench_flat *f, uint64_t pfn)
{
	return f->e[pfn];
}

/* tree: 512-pointer top and mid pages, 512-entry leaves. The top is as
 * wide as the space needs (Linux <= 3.18 stopped at one page, 512 GiB). */
struct bench_tree {
	uint64_t ***top;
	uint64_t ntop;          /* top entries */
	uint64_t max_pfn;       /* capacity, rounded up to 1 GiB */
	uint64_t *missing;      /* shared leaf of ~0 */
	uint64_t *identity;     /* shared leaf of ~0, told apart by address */
	uint64_t **mid_missing; /* shared mid of pointers to `missing` */
	uint64_t **mid_identity;/* shared mid of pointers to `identity` */
	uint64_t leaves, mids;  /* private pages in use */
	uint64_t top_pages;
	/* page pool: a reserved region handed out a page at a time, freed
	 * pages on a list (stands for the kernel's page allocator) */
	uint64_t *pool;
	uint64_t pool_pages, pool_used;
	void *free_pages;
	bool lock;              /* guards the pool */
};

int bench_tree_build(struct bench_tree *t, const uint64_t *flat, uint64_t n,
		     uint64_t capacity);
void bench_tree_destroy(struct bench_tree *t);
uint64_t bench_tree_bytes(const struct bench_tree *t);
/* __set_phys_to_machine of the old tree: false when the slot is shared
 * and the value differs from what it implies. */
bool bench_tree_set_fast(struct bench_tree *t, uint64_t pfn, uint64_t v);
/* set_phys_to_machine: fast store, else allocate (cmpxchg install). */
int bench_tree_set(struct bench_tree *t, uint64_t pfn, uint64_t v);

static inline uint64_t bench_tree_raw(const struct bench_tree *t, uint64_t pfn)
{
	uint64_t *leaf;

	if (__builtin_expect(pfn >= t->max_pfn, 0))
		return p2m_identity_entry(pfn);
	leaf = __atomic_load_n(&t->top[pfn >> 18][(pfn >> 9) & 511],
			       __ATOMIC_RELAXED);
	if (leaf == t->identity)
		return p2m_identity_entry(pfn);
	return __atomic_load_n(&leaf[pfn & 511], __ATOMIC_RELAXED);
}

/* linux: the list in a platform window plus a page-table model. */
/* Its PTE bits: platform/x86_pte.h. */

struct bench_linux {
	uint64_t *list;
	uint64_t size;          /* entries (the capacity) */
	struct p2m_platform plat;
	void *base;
	size_t reserved;
	/* frames of the platform */
	xen_pfn_t missing_leaf, identity_leaf;
	xen_pfn_t missing_table, identity_table;
	xen_pfn_t *win_table;   /* platform table of each window (0: shared) */
	uint64_t nwin;
	/* page-table model: "direct-mapped" pages, frame f at pt + f*512 */
	uint64_t *pt;
	uint64_t pt_pages, pt_used;
	uint64_t pgd_frame;
	uint64_t missing_pte_frame, identity_pte_frame; /* model L1 pages */
	uint64_t generation;
	uint64_t private_leaves, private_tables;
	int lock;
};

int bench_linux_build(struct bench_linux *l, const struct p2m_platform *plat,
		      const uint64_t *flat, uint64_t n, uint64_t capacity);
void bench_linux_destroy(struct bench_linux *l);
uint64_t bench_linux_bytes(const struct bench_linux *l);
/* get_phys_to_machine: the software walk. Out of line, as in Linux. */
uint64_t bench_linux_slow(const struct bench_linux *l, uint64_t pfn);
/* The L1 entry of the list page holding pfn (0 if not 4 KiB-mapped). */
uint64_t bench_linux_walk(const struct bench_linux *l, uint64_t pfn);
bool bench_linux_set_fast(struct bench_linux *l, uint64_t pfn, uint64_t v);
int bench_linux_set(struct bench_linux *l, uint64_t pfn, uint64_t v);

static inline uint64_t bench_linux_raw(const struct bench_linux *l, uint64_t pfn)
{
	uint64_t e;

	if (__builtin_expect(pfn >= l->size, 0))
		return p2m_identity_entry(pfn);
	e = __atomic_load_n(&l->list[pfn], __ATOMIC_RELAXED);
	if (__builtin_expect(e != P2M_INVALID, 1))
		return e;
	return bench_linux_slow(l, pfn);
}

/* Cost of Linux's design for a flat initial list, without building it:
 * list pages as xen_rebuild_p2m_list() makes them, extra memory made
 * private by xen_inv_extra_mem(), L1 tables of split windows, the shared
 * pages, and the tool tree's mid pages (1 per GiB below 512 GiB). */
struct bench_linux_cost {
	uint64_t leaves, tables, shared, tree_pages, bytes;
};
void bench_linux_model_cost(const uint64_t *flat, uint64_t n,
			    uint64_t capacity, uint64_t extra_first,
			    uint64_t extra_n, struct bench_linux_cost *c);
/* How much of `wanted` pfns above the list flat[0, n) Linux makes extra
 * memory (xen_memory_setup()): its extra pages are the reservation beyond
 * the initial allocation plus the frames remapped from under holes, at
 * most P2M_E820_EXTRA_RATIO times the allocation. The allocation is the
 * RAM of flat; the remapped frames are its non-RAM pfns (they moved to
 * the top of the list) and use the budget first. Above the result the
 * list is shared, not extra. */
uint64_t bench_linux_extra_pfns(const uint64_t *flat, uint64_t n, uint64_t wanted);
/* The old tree's cost for the same list (leaves + mids + top). */
uint64_t bench_tree_model_bytes(const uint64_t *flat, uint64_t n,
				uint64_t capacity);

/* A platform that forwards to `inner` and adds the time spent in its
 * calls (lock and m2p excepted) to ns: where an operation's time goes. */
enum bench_plat_op {
	BP_ALLOC, BP_FREE, BP_MAP, BP_UNMAP, BP_RESERVE, BP_RELEASE,
	BP_MAKE_TABLE, BP_DROP_TABLE, BP_SET_WINDOW, BP_MAP_FRAMES, BP_NOPS
};
extern const char *const bench_plat_op_name[BP_NOPS];

struct bench_timed_plat {
	struct p2m_platform inner;
	uint64_t ns, calls;
	uint64_t op_ns[BP_NOPS], op_calls[BP_NOPS];
	/* Frames allocated minus freed through it, and their peak; a caller
	 * may start both at what it holds (an initial list). */
	int64_t frames, peak_frames;
};
void bench_plat_timed(struct bench_timed_plat *t, const struct p2m_platform *inner,
		      struct p2m_platform *out);

/* An initial list in frames of a hosted platform (hosted_list_new), as
 * a guest's builder hands one over: the flat list copied in, for
 * p2m_build_adopt. bench_list_free unmaps it and frees what is still
 * the caller's (held: not adopted). */
struct bench_list {
	uint64_t *va;
	xen_pfn_t *frames;
	uint64_t pages;
};
int bench_list_new(void *host, const uint64_t *flat, uint64_t n, struct bench_list *bl);
void bench_list_free(void *host, struct bench_list *bl, bool held);

/* ours: libp2m over a fresh hosted platform, through a timed platform
 * (two clock reads per platform call; lookups make none). */
struct bench_ours {
	struct p2m p;
	void *host;             /* the hosted platform instance */
	struct p2m_platform hplat, plat;
	struct bench_timed_plat timed;
};

int bench_ours_create(struct bench_ours *o, uint64_t capacity);
void bench_ours_destroy(struct bench_ours *o);
/* A fresh hosted platform for a baseline (linux); NULL on failure. */
void *bench_hosted_new(struct p2m_platform *plat);
void bench_hosted_free(void *host);

/* Minor page faults of this process so far. */
uint64_t bench_minflt(void);

/* ------------------------------------------------------------ layouts -- */

/* A guest: its flat initial list (n entries) and the regions by kind. */
struct bench_range {
	uint64_t first, n;
};

struct bench_layout {
	uint64_t *flat;           /* n entries (bench_pages) */
	uint64_t n;
	struct bench_range ram, identity, missing;
};

/* Lookup map of `gib` GiB: RAM [0, 1/4), identity [1/4, 5/8), missing
 * [5/8, 1) of the space (RAM a quarter: the 1 TiB map must fit beside the
 * others on a shared machine; a quarter of 1 TiB still spans 512 MiB of
 * list, far beyond any cache or TLB reach). */
int bench_layout_lookup(struct bench_layout *L, uint64_t gib);
/* A dom0: RAM with the E820 holes of a server below 4 GiB (the flat
 * list, n entries), and `extra` GiB of missing (balloon) space above it
 * (L->missing, beyond the list). */
int bench_layout_dom0(struct bench_layout *L, uint64_t ram_gib,
		      uint64_t extra_gib);
/* `gib` GiB of RAM cut by `holes` identity holes of 4 KiB to 64 MiB at
 * unaligned places, and a missing gap every 16 holes. */
int bench_layout_holes(struct bench_layout *L, uint64_t gib, unsigned holes);
void bench_layout_free(struct bench_layout *L);
/* The entry of a RAM pfn in every layout (an mfn below 2^40). */
static inline uint64_t bench_ram_mfn(uint64_t pfn)
{
	return (pfn * 0x9E3779B1ull + 0x12345ull) & (P2M_MFN_LIMIT - 1);
}

/* ---------------------------------------------------------- workloads -- */

int bench_lookups(const struct bench_opts *o, struct bench_report *r);
int bench_updates(const struct bench_opts *o, struct bench_report *r);
int bench_build(const struct bench_opts *o, struct bench_report *r);
int bench_memory(const struct bench_opts *o, struct bench_report *r);
int bench_concurrency(const struct bench_opts *o, struct bench_report *r);

#endif
