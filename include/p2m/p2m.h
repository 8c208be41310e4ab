/*
 * libp2m: the P2M of a 64-bit Xen PV guest as one virtually mapped linear
 * list, indexed by pfn. This comment is the one overview of struct p2m:
 * its memory, its encodings and who may write what; the files of lib/
 * point here. (Why the tools need each published field: docs/design.md,
 * "ABI rules".)
 *
 * Words. A slot is one 4 KiB page of the list (512 entries, 2 MiB of
 * guest); a window is 512 slots (2 MiB of list VA, 1 GiB of guest),
 * mapped by one page-table page, its table. The conversions between
 * pfns, slots and windows have names (p2m_pfn_slot(), p2m_slot_window(),
 * p2m_window_slot(), ...: include/p2m/entry.h). Kinds (enum p2m_slot_kind):
 * PRIVATE (a leaf of its own), MISSING, IDENTITY.
 *
 * The reservation. p2m_create() reserves one range of virtual space
 * through the platform (1 GiB aligned) and lays it out as
 *
 *   base = list               meta_base                      base + reserved
 *   +-------------------------+--------+----------+------+-----------------+
 *   | list                    | kinds  | windows  | top  | mids            |
 *   | 8 bytes per pfn, window | 1 byte | 1 struct | one  | one page of VA  |
 *   | by window (nr_windows)  | a slot | a window | page | per list window |
 *   +-------------------------+--------+----------+------+-----------------+
 *   |<----- list windows ---->|<------ meta windows (own tables) -------->|
 *
 * (each part rounded up to whole pages, the total to whole windows; the
 * meta area starts at meta_base(), list + capacity, lib/internal.h).
 * While it runs, p2m_create() also holds a one-window scratch
 * reservation in which it builds the meta chain (lib/create.c).
 * kinds, windows and top are mapped read-write at creation; window w's
 * slot in mids shows its frame list while w is private and the shared
 * missing leaf, read-only, while it is shared. The meta windows get
 * their tables at creation; their frames are listed in a chain of frames
 * (meta_head, reached through frame_map only) so that p2m_destroy() finds
 * them after the reservation is gone (lib/create.c).
 *
 * From a pfn to its entry:
 *
 *   list + pfn (VA)
 *     |
 *     v  window w = p2m_pfn_window(pfn)       (pfn >> 18)
 *   windows[w].table == 0:  shared window of kind k (k = kinds[first slot])
 *     |   shared_table[k] --(512 read-only PTEs)--> shared_leaf[k]: all ~0
 *     |
 *   windows[w].table != 0:  private window, its own table
 *         |  slot s = p2m_pfn_slot(pfn)     (pfn >> 9)
 *         +-- kinds[s] == PRIVATE:  its own leaf, read-write, 512 entries
 *         +-- kinds[s] == k:        shared_leaf[k], read-only, all ~0
 *
 * Both shared leaves hold ~0 (a shared page cannot hold each pfn's own
 * identity value), so the kind byte tells missing from identity. All slots
 * of a shared window carry the window's kind. Five shared frames exist
 * per P2M: shared_leaf[k] and shared_table[k] for k = MISSING, IDENTITY
 * (both arrays are indexed by slot kind; index PRIVATE is unused), and
 * shared_mid, a frame list naming shared_leaf[MISSING] 512 times.
 *
 * The tool tree (the 3-level frame-list tree older tools read) is kept
 * alongside, for the first 512 windows:
 *
 *   top (frame top_mfn)  [w] --> windows[w].mid, mapped at mids + w*512
 *                                  [i] --> mfn of slot i's leaf (own or shared)
 *                        [w] --> shared_mid while w is shared
 *
 * so the tools see a shared identity slot as missing. It is published
 * only while tree_enabled (capacity <= 512 GiB) and the tools do not read
 * the list (lib/publish.c).
 *
 * Encodings to know:
 *   - windows[w].table == 0 means window w is shared (window_shared());
 *     .mid is then 0 as well. This is why a platform never hands out
 *     frame 0 (include/p2m/platform.h).
 *   - shared_leaf[], shared_table[] are indexed by enum p2m_slot_kind.
 *   - suspended: between p2m_suspend() and p2m_resume() every frame number
 *     recorded above (shared_*, top_mfn, top[], windows[], the frame lists,
 *     the meta chain) holds pfn | 1<<61 instead of an mfn, so no record
 *     of a private window reads 0; structure changes fail with -P2M_EBUSY
 *     (lib/migrate.c). The shared frame list's entries are left alone and
 *     written from the records on resume.
 *   - max_pfn is a count (highest RAM or foreign pfn + 1, rounded up to
 *     512, or what p2m_cover() promised) and never shrinks.
 *
 * The generation rule. p2m_generation turns odd (p2m_gen_begin) before
 * any change to the mapping of the list (a slot or window split or
 * joined) and even again (p2m_gen_end) after it, with full barriers; once
 * published, shared_info.arch.p2m_generation moves with it. Entry stores
 * never move it. A resume into a new domain restarts it at 0.
 *
 * Who writes what.
 *   - Fixed by p2m_create(), read by anyone without a lock: list, kinds,
 *     capacity, plat, base, reserved, windows, mids, top, nr_windows,
 *     tree_enabled, the shared frames and the meta chain (only
 *     p2m_suspend/p2m_resume rewrite the frame numbers, with no writer
 *     running).
 *   - An entry of a private leaf: one atomic 8-byte store, no lock, by
 *     p2m_set() and the range calls; writers of the same pfn are
 *     serialised by the caller.
 *   - Under the platform lock, between gen_begin and gen_end (once
 *     p2m_create() has returned and until p2m_destroy()): every
 *     mapping change of the list or of mids, kinds[] bytes, windows[]
 *     records (table last, release), frame-list entries, top[] and the
 *     nr_private_* / nr_mids counters, all made by lib/window.c (the
 *     window/slot life cycle). Frames are allocated before the lock is
 *     taken and freed after it is dropped; the state seen without the
 *     lock is checked again under it (p2m_make_private, lib/structure.c).
 *   - Order: a split maps first and then stores the kind byte (release);
 *     a join stores the kind byte first and then remaps. A reader that
 *     loaded ~0 and then sees PRIVATE loads the entry again (p2m_view_raw).
 *   - Under the lock too: raising max_pfn (also into the published arch),
 *     and setting or clearing arch (p2m_publish, p2m_unpublish).
 *   - error: the last failure's message, one buffer per P2M.
 *
 * Lookup. p2m_raw() is one load for every value held in a private page
 * (RAM, foreign, identity). Only when that load returns ~0 does it read a
 * second byte, the slot's kind, to tell identity from missing: no
 * page-table walk. A pfn beyond the capacity is identity (MMIO above RAM).
 *
 * Update. p2m_set() is one atomic 8-byte store into a private page (plus
 * the lock, once per 512 pfns of growth, when a RAM or foreign value
 * raises max_pfn). A write into a shared slot that really changes it
 * allocates a private page (and a page table if the window was shared)
 * outside the lock, checks again under the lock, installs it or frees its
 * own if another writer won, and bumps p2m_generation around the mapping
 * change. A write that changes nothing (~0 into missing, a pfn's own
 * identity value into identity) allocates nothing. Range calls give whole
 * slots and windows back to the shared pages and free the private ones.
 *
 * Readers never lock. Writers of different pfns may run concurrently;
 * writers of the same pfn must be serialised by the caller (as Linux does
 * through page ownership).
 */
#ifndef P2M_P2M_H
#define P2M_P2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/entry.h"
#include "p2m/error.h"
#include "p2m/platform.h"

/* Largest capacity: 2^35 pfns (128 TiB), the size of Xen's M2P. */
#define P2M_CAPACITY_MAX ((uint64_t)1 << 35)

/* Kind of one slot, in the kind map. */
enum p2m_slot_kind {
	P2M_SLOT_PRIVATE = 0,
	P2M_SLOT_MISSING = 1,
	P2M_SLOT_IDENTITY = 2,
};

/* One window's frames: its page table (0 while the window is shared)
 * and the frame list of its leaves (0 while shared). See the overview. */
struct p2m_window {
	xen_pfn_t table;
	xen_pfn_t mid;
};

struct p2m_stats {
	uint64_t private_leaves;   /* private list pages */
	uint64_t private_tables;   /* page tables of split windows */
	uint64_t mid_pages;        /* frame lists of split windows */
	uint64_t meta_pages;       /* kind map, window records, tree top */
	uint64_t shared_pages;     /* shared leaves, tables and mid page */
	uint64_t shared_slots;     /* slots served by a shared leaf */
	uint64_t shared_windows;   /* windows served by a shared table */
	uint64_t bytes;            /* every frame above, in bytes */
};

/* Everything is private to libp2m except the three fields lookups read.
 * Layout, encodings and locking: the overview at the top of this file. */
struct p2m {
	uint64_t *list;            /* entry of pfn i at list[i] */
	uint8_t *kinds;            /* enum p2m_slot_kind of slot i at kinds[i] */
	uint64_t capacity;         /* entries; multiple of P2M_PER_WINDOW */

	/* --- private --- */
	struct p2m_platform plat;
	void *base;                /* the reservation */
	size_t reserved;           /* its size in bytes */
	struct p2m_window *windows;
	uint64_t *mids;            /* VA of window w's frame list: mids + w*512 */
	uint64_t *top;             /* tool tree's frame list list (VA) */
	xen_pfn_t top_mfn;
	xen_pfn_t shared_leaf[3];  /* by slot kind: [MISSING], [IDENTITY] */
	xen_pfn_t shared_table[3]; /* by slot kind: maps shared_leaf[k] 512 times */
	xen_pfn_t shared_mid;      /* frame list of a shared window */
	uint64_t generation;       /* p2m_generation, odd while mapping */
	uint64_t max_pfn;          /* published count, never shrinks */
	struct arch_shared_info *arch; /* where max_pfn/generation go live */
	bool tools_read_list;
	xen_pfn_t meta_head;       /* chain of frames listing meta frames */
	uint64_t nr_meta;          /* frames of the meta area and chain */
	uint64_t nr_windows;       /* list windows: capacity / 2^18 */
	uint64_t meta_windows;     /* windows of the meta area */
	uint64_t nr_private_leaves;
	uint64_t nr_private_tables;
	uint64_t nr_mids;
	bool tree_enabled;         /* the 3-level tree is maintained */
	bool suspended;            /* between p2m_suspend and p2m_resume:
	                            * frame records hold pfn | 1<<61 */
	char error[160];
};

/*
 * Create a P2M for `capacity` pfns (rounded up to a window) over the
 * platform. Every pfn starts missing; nothing but the meta area and the
 * shared pages costs memory. `tree` asks for the 3-level tool tree: it
 * names the list's leaves of the first 2^27 pfns (512 GiB, all its top
 * page can reach) whatever the capacity, as Linux's does; it costs no
 * frame beyond the top page, since every private window keeps its frame
 * list anyway. Whether it is published: p2m_publish(), docs/tree-rule.md.
 */
int p2m_create(struct p2m *p, const struct p2m_platform *plat,
	       uint64_t capacity, bool tree);
/* Free every frame and the reservation. A suspended P2M is resumed first
 * (as a cancelled suspend); if that fails nothing is freed. */
void p2m_destroy(struct p2m *p);

/* The message of the last failing call on p (empty if none). One buffer
 * per P2M: when several threads fail at once it holds one of theirs. */
const char *p2m_last_error(const struct p2m *p);

/*
 * Lookups. Lock-free, any context.
 */
/*
 * What a lookup reads, copied out of the P2M. The three fields never
 * change after p2m_create(), so a view stays valid for the P2M's life. A
 * loop that takes a view once and calls p2m_view_raw() keeps them in
 * registers, as long as the view's address goes nowhere else (handed to an
 * out-of-line function, gcc keeps the view in memory and reloads it on
 * every lookup). p2m_raw() reloads them on every call: the acquire fence
 * of its rare path is a compiler barrier, so no compiler keeps a field of
 * *p in a register across a loop that holds one.
 *
 * A RAM pfn costs one load and two compares (pfn with the capacity, the
 * entry with ~0), as in Linux's __pfn_to_mfn(); everything else is laid
 * out after them. What that costs in a caller's loop, and why it depends
 * on where the loop's code falls: docs/bench.md, "Lookups".
 */
struct p2m_view {
	const uint64_t *list;
	const uint8_t *kinds;
	uint64_t capacity;
};

static inline struct p2m_view p2m_view(const struct p2m *p)
{
	struct p2m_view v = { p->list, p->kinds, p->capacity };

	return v;
}

static inline uint64_t p2m_view_raw(const struct p2m_view *v, uint64_t pfn)
{
	uint64_t e;
	uint8_t k;

	if (__builtin_expect(pfn >= v->capacity, 0))
		return p2m_identity_entry(pfn);
	e = __atomic_load_n(&v->list[pfn], __ATOMIC_RELAXED);
	if (e != P2M_INVALID)
		return e;
	k = __atomic_load_n(&v->kinds[pfn >> P2M_SLOT_SHIFT], __ATOMIC_RELAXED);
	if (k == P2M_SLOT_IDENTITY)
		return p2m_identity_entry(pfn);
	if (__builtin_expect(k == P2M_SLOT_MISSING, 1))
		return P2M_INVALID;
	/* Private: the slot may have been split after our first load. The
	 * writer maps the new leaf before it stores the kind (release), so
	 * after this acquire fence the reload sees the new leaf. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&v->list[pfn], __ATOMIC_RELAXED);
}

static inline uint64_t p2m_raw(const struct p2m *p, uint64_t pfn)
{
	struct p2m_view v = p2m_view(p);

	return p2m_view_raw(&v, pfn);
}

/* The mfn with tags stripped (identity: the pfn), or P2M_INVALID. */
static inline uint64_t p2m_mfn(const struct p2m *p, uint64_t pfn)
{
	return p2m_entry_mfn(p2m_raw(p, pfn));
}

static inline enum p2m_kind p2m_kind_of(const struct p2m *p, uint64_t pfn)
{
	return p2m_entry_kind(p2m_raw(p, pfn));
}

/*
 * Set the entry of pfn to value: an mfn below P2M_MFN_LIMIT,
 * P2M_INVALID, p2m_identity_entry(pfn) or p2m_foreign_entry(mfn). A RAM
 * or foreign value raises max_pfn (published too) before it is stored, so
 * a reader never finds such a pfn at or above max_pfn. A value that needs
 * a shared slot split fails with -P2M_EBUSY while the P2M is suspended.
 */
int p2m_set(struct p2m *p, uint64_t pfn, uint64_t value);

/* Set [pfn, pfn + n) missing or identity; whole slots and windows go back
 * to the shared pages and their private frames are freed. Identity
 * ranges are clamped to the capacity (beyond it all is identity). Every
 * allocation comes first: when one fails nothing has changed. A mapping
 * failure of the platform later on stops the call part-way: each pfn then
 * holds its old or its new value, and no frame is lost. A slot that only
 * part of a range covers keeps its private page even if all its entries
 * end up of one kind: a lock-free store by another writer could land in
 * it, so only a range covering the slot whole returns it. */
int p2m_set_range_missing(struct p2m *p, uint64_t pfn, uint64_t n);
int p2m_set_range_identity(struct p2m *p, uint64_t pfn, uint64_t n);

/* Make sure the slot of pfn has a private page (pre-allocation for a
 * later p2m_set that must not allocate, as a balloon driver does).
 * These calls and p2m_set_foreign fail with -P2M_EBUSY, changing nothing,
 * while the P2M is suspended (p2m/migrate.h). */
int p2m_prepare(struct p2m *p, uint64_t pfn);

/*
 * Grant mappings. Map n foreign frames into pfns that must be missing;
 * fails (changing nothing) if any is not. Clearing resets every pfn that
 * holds a foreign entry to missing, continues past a bad one, and reports
 * the first bad pfn in *bad (P2M_INVALID if none).
 */
int p2m_set_foreign(struct p2m *p, const uint64_t *pfns,
		    const uint64_t *mfns, size_t n);
int p2m_clear_foreign(struct p2m *p, const uint64_t *pfns, size_t n,
		      uint64_t *bad);

/*
 * Build from a flat list: entries [0, n) of `initial` (missing, RAM,
 * identity or foreign values) become the P2M's pfns [0, n). Runs of 512
 * uniform missing or identity entries become shared slots, uniform
 * windows shared windows. For a freshly created P2M: pfns [0, n) must be
 * missing and the P2M not yet published (-P2M_EBUSY otherwise), since
 * max_pfn is raised only once the whole list is in. A window of them that
 * is private but reads missing (a prepared one, or one a failed build
 * could not give back) is first given back to the shared missing table,
 * its leaves freed; if that fails, its error. Every leaf is filled before
 * it is mapped, so a lock-free reader sees each pfn either missing or
 * with its final value. On failure every pfn reads missing again, and the
 * call may be retried: what a failure could not give back (a frame list
 * left mapped, a window left private) is reused or given back by it.
 * Nothing else may write pfns of the windows [0, n) touches while it runs.
 */
int p2m_build(struct p2m *p, const uint64_t *initial, uint64_t n);

/*
 * Build by adopting the initial list's own frames instead of copying
 * them. Page k of the list (entries [512k, 512k + 512)) is frames[k],
 * for k < ceil(n / 512), and `initial` is a readable mapping of the same
 * entries (the caller's mapping of those frames). A page whose slot is
 * not uniform becomes slot k's private leaf, mapped into the list window
 * as it is: nothing is copied and the P2M allocates only a table and a
 * frame list per window with such slots. On success every frame of
 * frames[] is gone from the caller: the leaves are the P2M's (freed by
 * p2m_destroy or when their slot is given back), and the frames of
 * uniform slots (all missing, or each pfn's identity value) have gone
 * back through the platform's free_frames, after the call's last
 * allocation. The caller then drops its own mappings of them (a guest
 * whose frame pool may hand out a frame only once it is mapped nowhere
 * must do so before its next allocation).
 *
 * The rules of p2m_build hold: pfns [0, n) missing, the P2M unpublished
 * and not suspended (-P2M_EBUSY), values validated before any leaf is
 * mapped, max_pfn raised only at the end, and no other writer of pfns
 * [0, n) while it runs. The one write into the caller's frames: when n is
 * not a multiple of 512, entries past n of the last page become ~0 before
 * it is mapped (they are not part of the list). A frame of 0 is refused
 * (-P2M_EINVAL).
 *
 * Failure: every pfn reads missing again, the P2M holds no frame of
 * frames[] and none was freed or changed (but for that tail), so the
 * caller still owns its list and may fall back to p2m_build. One
 * exception: in a window where mapping a leaf failed, and then both
 * returning the window to the shared missing table and remapping its
 * slots to the missing page failed too (three platform failures), the
 * leaves it had mapped are cleared in place and stay the P2M's (freed by
 * p2m_destroy, or by the next build, which gives the window back); the
 * message then names the window, and the caller must not reuse the
 * frames of its pages.
 *
 * Keep the copying p2m_build when the caller cannot give its list up:
 * the list is still read afterwards (a copy kept for a check, a list
 * that is also the source of a later step), its frames are not its own
 * to give (memory shared with someone else, a mapping of a file), it is
 * not in whole page frames each holding exactly 512 entries from the
 * page's first byte (a list at an unaligned address, or not laid out
 * pfn by pfn), or its platform could not tell apart the frames it frees
 * from frames the caller still maps.
 */
int p2m_build_adopt(struct p2m *p, const uint64_t *initial, const xen_pfn_t *frames,
		    uint64_t n);

/*
 * The machine-to-physical direction: the pfn of mfn through the
 * platform's M2P, accepted only if the P2M maps it back (round trip); an
 * mfn whose own pfn is identity-mapped answers itself (a 1:1 frame).
 * P2M_INVALID otherwise.
 */
uint64_t p2m_mfn_to_pfn(const struct p2m *p, uint64_t mfn);

void p2m_get_stats(const struct p2m *p, struct p2m_stats *st);

/* Raise max_pfn so that it covers [0, count): the caller's promise that
 * pfns up to count may be populated (the initial allocation, the end of
 * the extra regions). Never lowers it; count beyond capacity is clamped. */
void p2m_cover(struct p2m *p, uint64_t count);

/* The published count of covered pfns (max_pfn of shared_info): one past
 * the highest pfn ever given a RAM or foreign value (or p2m_cover()ed),
 * rounded up to 512. Identity never raises it. Never shrinks. */
uint64_t p2m_max_pfn(const struct p2m *p);
/* p2m_generation; even when no mapping change is in progress. */
uint64_t p2m_generation(const struct p2m *p);

#endif
