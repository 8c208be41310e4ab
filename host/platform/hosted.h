/*
 * The hosted platform: struct p2m_platform in Linux user space, with the
 * same sharing a PV guest has, so that a shared page really is one
 * physical page seen at many addresses and memory figures are honest.
 *
 * Frames. Every frame is one page of a single memfd (sized once, sparse):
 * mfn = page offset + mfn_base (default 0x100000, so an mfn never equals
 * a small pfn by accident). Freed frames are punched out of the memfd
 * (fallocate PUNCH_HOLE), so the memfd's allocated blocks are the true
 * physical cost. frame_map() returns a pointer into one MAP_SHARED view of
 * the whole memfd; frame_unmap() drops that page from the view
 * (MADV_DONTNEED) so the view never inflates RSS. Page tables are read and
 * written with pread/pwrite for the same reason.
 *
 * Page tables. The platform keeps real x86-64 page tables in memfd frames
 * that mirror what it mmaps: a root L4 (root_table()), L3 and L2 frames
 * covering each reservation at its real virtual indices, and the L1
 * frames libp2m hands it (make_table/set_window/map_frames). A toolstack
 * simulator can walk p2m_cr3 -> L4 -> L3 -> L2 -> L1 by mfn exactly as
 * libxc's map_p2m_list() does (hosted_read_pte, hosted_va_to_mfn).
 * PTEs carry present, user, accessed and (for writable slots) RW.
 *
 * Deviation from a guest (the one place where pages are copied). Linux
 * user space cannot share a page-table page between addresses, and 512
 * separate 4 KiB mmaps per shared 1 GiB window would exceed
 * vm.max_map_count for a 1 TiB (about 1000 windows) or 16 TiB guest. So by
 * default a window set to a table that maps one leaf at all 512 slots is
 * mmapped as ONE mapping of a "run": 512 memfd frames holding copies of
 * that leaf, made once per leaf and shared by every such window. The run
 * is platform overhead (hosted_stats.run_frames), not libp2m's; the
 * page tables still name the leaf itself, so a walker sees the guest's
 * truth. A run is refreshed from its leaf whenever a window is set to it
 * and the leaf's contents changed. Single slots that libp2m maps to a
 * shared leaf (map_frames in a split window) are always true aliases of
 * the one frame. With `alias` set at creation, shared windows too map the
 * very frame 512 times (512 mappings per window): for tests of aliasing on
 * small capacities.
 *
 * Mapping budget. Before every mmap the platform counts the mappings it
 * would hold afterwards (an upper bound: the kernel may merge neighbours)
 * and refuses with -P2M_EMAP and a message (needed, limit, the sysctl to
 * run) if the process would exceed /proc/sys/vm/max_map_count, keeping
 * HOSTED_MAP_MARGIN for the rest of the process. It never falls back
 * to private copies.
 *
 * M2P. A sparse (MAP_NORESERVE) array indexed by mfn; the m2p operation
 * answers -P2M_ERANGE for an mfn outside it or never set.
 *
 * Threads. Every function here may be called from any thread; one
 * internal mutex guards the allocator, the tables and the mappings. The
 * platform's lock()/unlock() are a separate pthread mutex (libp2m's lock),
 * always taken before the internal one, never after.
 */
#ifndef P2M_HOSTED_H
#define P2M_HOSTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/platform.h"
#include "platform/x86_pte.h"   /* the PTE bits the mirror writes */

#define HOSTED_MFN_BASE      ((xen_pfn_t)0x100000)
#define HOSTED_MAX_FRAMES    ((uint64_t)1 << 24)   /* 64 GiB of memfd */
#define HOSTED_M2P_ENTRIES   ((uint64_t)1 << 32)   /* 16 TiB machine */
/* Mappings left to the rest of the process (malloc, stacks, libraries). */
#define HOSTED_MAP_MARGIN    256


/*
 * Simulated-domain mode (host/sim/). By default a frame's mfn is mfn_base
 * + its memfd page. With a namer, frames are frames of a simulated PV
 * domain: each page the platform allocates for libp2m or for its own
 * page tables is given a pfn of the domain and that pfn's mfn by the
 * namer (the simulated hypervisor), and every mfn crossing the platform
 * boundary (operations, PTEs in the mirror, the public readers) is that
 * mfn. Internally the platform keeps page-based numbers, so a renumbering
 * of every mfn (a restore) only rewrites the page -> mfn table
 * (hosted_renumber) and the PTEs (which the simulated restorer rewrites,
 * as Xen's restorer localises page tables). The runs (copies backing
 * shared windows) are the platform's overhead and get no mfn.
 */
struct hosted_namer {
	void *ctx;
	/* A pfn of the domain for memfd page `page`: its mfn in *mfn; 0, or
	 * -P2M_ENOMEM when the domain has no frame left. */
	int (*name)(void *ctx, uint64_t page, xen_pfn_t *mfn);
	/* Page `page` (named mfn) is freed: its pfn goes back. */
	void (*unname)(void *ctx, uint64_t page, xen_pfn_t mfn);
	/* The page named mfn, or UINT64_MAX. */
	uint64_t (*page_of)(void *ctx, xen_pfn_t mfn);
	/* The platform's m2p operation. */
	int (*m2p)(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn);
};

struct hosted_config {
	uint64_t max_frames;     /* memfd size in frames; 0: default */
	xen_pfn_t mfn_base;      /* mfn of memfd page 0; 0: default */
	uint64_t m2p_entries;    /* M2P size in entries; 0: default */
	bool alias;              /* shared windows: 512 aliases, no runs */
	const struct hosted_namer *namer;   /* NULL: mfn = mfn_base + page */
	/* Back the frames with an unnamed file (O_TMPFILE) in this directory
	 * instead of a memfd, for P2Ms larger than RAM; NULL: memfd. Freed
	 * pages of a file are not punched (its blocks go when it is closed),
	 * so memfd_bytes does not shrink then. */
	const char *backing_dir;
};

struct hosted_stats {
	uint64_t live_frames;    /* from alloc_frames, not yet freed */
	uint64_t table_frames;   /* the platform's own L4/L3/L2 frames */
	uint64_t run_frames;     /* copies backing shared windows (overhead) */
	uint64_t runs;           /* distinct leaves with a run */
	uint64_t memfd_bytes;    /* allocated blocks of the memfd */
	uint64_t mappings;       /* mappings held in reservations (bound) */
	uint64_t map_limit;      /* vm.max_map_count, or the override */
	uint64_t alloc_calls;    /* alloc_frames calls so far */
	uint64_t map_calls;      /* mmap calls so far */
};

struct hosted;

/* NULL on failure, with the reason in err (if errlen > 0). cfg may be
 * NULL for the defaults. */
struct hosted *hosted_create(const struct hosted_config *cfg,
				     char *err, size_t errlen);
/* Unmaps everything, closes the memfd. Reservations still held are
 * released. */
void hosted_destroy(struct hosted *h);

/* The operations table, ctx = h. */
void hosted_platform(struct hosted *h, struct p2m_platform *plat);

/* The message of the last failure of any platform call ("" if none).
 * Returns a copy owned by the calling thread. */
const char *hosted_last_error(struct hosted *h);

void hosted_get_stats(struct hosted *h, struct hosted_stats *st);

/* Failure injection: the nth alloc_frames call from now (n >= 1) fails
 * with -P2M_ENOMEM; n = 0 disarms. Fires once. Same for the nth mapping
 * change (set_window/map_frames). *_pending says whether it has not fired
 * yet, so a test can step n until an operation completes untouched. */
void hosted_fail_nth_alloc(struct hosted *h, uint64_t n);
bool hosted_alloc_failure_pending(struct hosted *h);
void hosted_fail_nth_map(struct hosted *h, uint64_t n);
bool hosted_map_failure_pending(struct hosted *h);

/* Test hook: use `limit` instead of /proc/sys/vm/max_map_count (0: back
 * to the sysctl). */
void hosted_set_map_limit(struct hosted *h, uint64_t limit);

/* The M2P (for the host side, as Xen's MMU_MACHPHYS_UPDATE). */
int hosted_m2p_set(struct hosted *h, xen_pfn_t mfn, xen_pfn_t pfn);
int hosted_m2p_clear(struct hosted *h, xen_pfn_t mfn);
/* The platform's m2p operation (the namer's in simulated-domain mode). */
int hosted_m2p(struct hosted *h, xen_pfn_t mfn, xen_pfn_t *pfn);

/* The toolstack's view: read a whole frame, or entry idx of a page table,
 * by mfn. -P2M_ERANGE for an mfn that is not a live memfd frame. */
int hosted_read_frame(struct hosted *h, xen_pfn_t mfn, void *buf);
int hosted_read_pte(struct hosted *h, xen_pfn_t table,
			unsigned idx, uint64_t *pte);
/* Walk root_table() -> L4 -> L3 -> L2 -> L1 for va: the mfn and the L1
 * PTE mapping it. -P2M_ERANGE where an entry is not present (or names no
 * live frame), -P2M_EINVAL for a PSE entry. */
int hosted_va_to_mfn(struct hosted *h, uint64_t va, xen_pfn_t *mfn,
			 uint64_t *pte);

/*
 * An initial list in frames of the platform, as a guest's builder hands
 * one over (for p2m_build_adopt): nframes frames with consecutive mfns
 * (mfns[i] = mfns[0] + i), allocated like alloc_frames() ones, and mapped
 * read-write at one fresh address *va, page i at *va + 512 i. The frames
 * are freed by free_frames() (by libp2m once it adopted them), the
 * mapping by hosted_list_unmap() (a frame freed meanwhile reads zero
 * there). Counted in live_frames; not subject to failure injection.
 * Refused (-P2M_EINVAL) in the simulated-domain mode (a namer).
 */
int hosted_list_new(struct hosted *h, uint64_t nframes, xen_pfn_t *mfns, uint64_t **va);
void hosted_list_unmap(struct hosted *h, uint64_t *va, uint64_t nframes);

/* Is mfn a frame of this platform (memfd page, allocated)? */
bool hosted_is_frame(struct hosted *h, xen_pfn_t mfn);

/* Simulated-domain mode (a namer). Write a whole frame by mfn (the
 * restorer's writes); -P2M_ERANGE as hosted_read_frame. */
int hosted_write_frame(struct hosted *h, xen_pfn_t mfn, const void *buf);
/* Every frame that is a page table (the mirror's L4/L3/L2 and libp2m's
 * L1s) by mfn; stops at fn's first nonzero value and returns it. */
int hosted_for_each_table(struct hosted *h, int (*fn)(void *ctx, xen_pfn_t mfn),
			  void *ctx);
/* Every named frame gets mfn fn(ctx, old mfn) (after a restore). */
void hosted_renumber(struct hosted *h, xen_pfn_t (*fn)(void *ctx, xen_pfn_t old),
		     void *ctx);
/* Drop the backing file's clean pages from the page cache (after
 * writing them back), so a large simulation leaves the host's RAM free. */
void hosted_drop_cache(struct hosted *h);

#endif
