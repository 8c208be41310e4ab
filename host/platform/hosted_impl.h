/*
 * Internals of the hosted platform (hosted.h), shared by its files:
 *   hosted.c     creation, the operations table, errors, statistics
 *   frames.c     the memfd frame store, frame_map, the M2P
 *   pagetable.c  the x86-64 page-table mirror and its walker
 *   windows.c    reservations, tables, windows, runs: the mmaps
 *   mapcount.c   the vm.max_map_count budget
 *
 * Locking: h->mu guards every field below except the M2P (atomic
 * entries) and the read-only geometry (fd, view, base, max_frames).
 */
#ifndef P2M_HOSTED_IMPL_H
#define P2M_HOSTED_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include "p2m/error.h"
#include "platform/hosted.h"

#define HP_PAGE 4096u
#define HP_SLOTS 512u
#define HP_WINDOW_BYTES ((uint64_t)HP_PAGE * HP_SLOTS)   /* 2 MiB */
#define HP_L2_SPAN ((uint64_t)HP_WINDOW_BYTES * 512)     /* 1 GiB */
#define HP_PT_FLAGS (X86_PTE_PRESENT | X86_PTE_RW | X86_PTE_USER | X86_PTE_ACCESSED)
#define HP_NONE UINT64_MAX

/* Per memfd page. */
enum {
	HF_ALLOCATED = 1u << 0,   /* in use (by libp2m or the platform) */
	HF_PLATFORM = 1u << 1,    /* the platform's own: L4/L3/L2, runs */
	HF_TABLE = 1u << 2,       /* make_table() made it an L1 */
	HF_HAS_RUN = 1u << 3,     /* a run copies this leaf */
	/* Simulated-domain mode: taken from the bump pointer and never
	 * written since, so a hole of the file that reads as zeros. A copy
	 * view of it fills its buffer without a pread (which would make the
	 * kernel zero the hole, and its readahead neighbours, in the page
	 * cache). Any write (pwrite, a view, a window mapping) clears it. */
	HF_FRESH = 1u << 4,
};

struct hp_frame {
	uint32_t flags;
	uint32_t refs;            /* windows whose L2 entry names it */
};

/* 512 copies of one shared leaf, backing shared windows. */
struct hp_run {
	xen_pfn_t leaf;
	uint64_t first;           /* memfd page of copy 0 */
	uint64_t refs;            /* windows mapping it */
	int leaf_freed;           /* free the run when refs drops to 0 */
	int live;
};

struct hp_window {
	xen_pfn_t table;          /* L1 frame, or 0 while unset */
	int run;                  /* index in h->runs, or -1 */
	uint32_t vmas;            /* mappings it holds (upper bound) */
	uint64_t runbits[HP_SLOTS / 64];   /* slots backed by the run */
};

struct hp_resv {
	uint8_t *base;
	uint64_t bytes;
	uint64_t nwin;
	uint64_t gaps;            /* maximal runs of unset windows */
	struct hp_window *win;
	struct hp_resv *next;
};

struct hosted {
	pthread_mutex_t plock;    /* the platform's lock()/unlock() */
	pthread_mutex_t mu;

	int fd;
	uint8_t *view;            /* the whole memfd, MAP_SHARED */
	uint64_t max_frames;
	xen_pfn_t base;
	int alias;
	const char *backing_dir;

	struct hp_frame *frames;  /* max_frames entries, sparse */
	uint64_t bump;            /* first never-used page */
	uint64_t *freelist;
	uint64_t nfree, capfree;
	uint64_t live, table_frames, run_frames;

	xen_pfn_t *m2p;           /* stores ~pfn, so untouched pages read 0 */
	uint64_t m2p_entries;

	xen_pfn_t root;
	struct hp_run *runs;
	uint64_t nruns, capruns;
	struct hp_resv *resv;

	uint64_t vmas;            /* mappings of all reservations (bound) */
	int64_t other_vmas;       /* the rest of the process, last measured */
	uint64_t limit_sys, limit_override;

	struct hosted_namer namer;  /* namer.page_of == NULL: default numbering */
	xen_pfn_t *ext;           /* with a namer: page -> mfn (0: unnamed) */

	uint64_t alloc_calls, map_calls;
	uint64_t fail_alloc_in, fail_map_in;   /* countdowns, 0 = off */

	char err[256];
};

/* hosted.c */
int hp_fail(struct hosted *h, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A failure-injection countdown: true on the call that hits zero. */
static inline int hp_take_injected(uint64_t *countdown)
{
	if (*countdown == 0)
		return 0;
	return --*countdown == 0;
}

/* frames.c (h->mu held unless named as an operation) */
void hp_frame_ops(struct p2m_platform *plat);
int hp_valid_mfn(const struct hosted *h, xen_pfn_t mfn);
/* Between the numbers of the boundary (mfns, PTEs) and the internal ones
 * (mfn_base + page): the identity without a namer. hp_in gives 0 for an
 * mfn that names no page. */
xen_pfn_t hp_in(struct hosted *h, xen_pfn_t ext);
static inline xen_pfn_t hp_ext(const struct hosted *h, xen_pfn_t in)
{
	if (!h->namer.page_of || in < h->base || in - h->base >= h->max_frames)
		return in;
	return h->ext[in - h->base];
}
/* A PTE's frame translated (present entries only). */
uint64_t hp_pte_in(struct hosted *h, uint64_t pte);
uint64_t hp_pte_ext(const struct hosted *h, uint64_t pte);
static inline uint64_t hp_off(const struct hosted *h, xen_pfn_t mfn)
{
	return mfn - h->base;
}
int hp_alloc_locked(struct hosted *h, uint64_t n, xen_pfn_t *mfns,
		    int contiguous, uint32_t flags);
void hp_free_locked(struct hosted *h, uint64_t n, const xen_pfn_t *mfns);
int hp_pread(struct hosted *h, xen_pfn_t mfn, uint64_t at, void *buf,
	     uint64_t len);
int hp_pwrite(struct hosted *h, xen_pfn_t mfn, uint64_t at,
	      const void *buf, uint64_t len);
int hp_frames_init(struct hosted *h, char *err, size_t errlen);
void hp_frames_fini(struct hosted *h);

/* pagetable.c (h->mu held) */
int hp_pt_cover(struct hosted *h, uint64_t va, uint64_t bytes);
void hp_pt_uncover(struct hosted *h, uint64_t va, uint64_t bytes);
int hp_pt_set_l2(struct hosted *h, uint64_t va, xen_pfn_t table);
int hp_read_pte_locked(struct hosted *h, xen_pfn_t table, unsigned idx,
		       uint64_t *pte);
int hp_write_pte_locked(struct hosted *h, xen_pfn_t table, unsigned idx,
			uint64_t pte);

/* windows.c */
void hp_windows_fini(struct hosted *h);
void hp_leaf_freed(struct hosted *h, xen_pfn_t mfn);
int hp_reserve(void *ctx, size_t bytes, void **base);
void hp_release(void *ctx, void *base, size_t bytes);
int hp_make_table(void *ctx, xen_pfn_t table, xen_pfn_t leaf);
void hp_drop_table(void *ctx, xen_pfn_t table);
int hp_set_window(void *ctx, void *va, xen_pfn_t table);
int hp_map_frames(void *ctx, void *va, size_t n, const xen_pfn_t *mfns,
		  unsigned flags);

/* mapcount.c (h->mu held) */
int hp_map_budget(struct hosted *h, int64_t delta);
uint64_t hp_read_map_limit(void);
int64_t hp_count_process_maps(void);

#endif
