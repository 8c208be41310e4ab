/*
 * libp2m internals shared by the files of lib/. Not installed.
 *
 * Structure changes (splitting a shared slot or window into private
 * frames, joining them back) happen under the platform lock, between
 * gen_begin() and gen_end(); frames are allocated before the lock is
 * taken and freed after it is dropped. The whole picture (layout,
 * encodings, who writes what under which lock): the overview at the top
 * of include/p2m/p2m.h.
 */
#ifndef P2M_INTERNAL_H
#define P2M_INTERNAL_H

#include "p2m/fmt.h"
#include "p2m/p2m.h"

/* Short names of the geometry (include/p2m/entry.h) for the loops here. */
#define SLOTS_PER_WINDOW ((unsigned)P2M_SLOTS_PER_WINDOW)
#define WINDOW_BYTES P2M_WINDOW_BYTES

/* A frame of the meta chain (create.c builds it, migrate.c renames its
 * frames): the next chain frame (~0: none), a count, then that many meta
 * frames, tables tagged with CHAIN_TABLE. */
#define CHAIN_NEXT 0
#define CHAIN_COUNT 1
#define CHAIN_FIRST 2
#define CHAIN_CAP (P2M_PER_PAGE - CHAIN_FIRST)
#define CHAIN_TABLE ((uint64_t)1 << 63)
/* More chain frames than the largest P2M has (34 at P2M_CAPACITY_MAX). */
#define CHAIN_MAX_FRAMES 64

/* Record a message and return -err. */
int p2m_fail(struct p2m *p, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline uint64_t *slot_va(const struct p2m *p, uint64_t slot)
{
	return p->list + p2m_slot_pfn(slot);
}

static inline uint64_t *window_va(const struct p2m *p, uint64_t w)
{
	return p->list + p2m_window_pfn(w);
}

/* The meta area (kinds | windows | top | mids) starts where the list
 * ends: base + capacity entries (the overview in include/p2m/p2m.h). */
static inline char *meta_base(const struct p2m *p)
{
	return (char *)(p->list + p->capacity);
}

static inline uint64_t *mid_va(const struct p2m *p, uint64_t w)
{
	return p->mids + w * P2M_PER_PAGE;
}

static inline uint8_t slot_kind(const struct p2m *p, uint64_t slot)
{
	return __atomic_load_n(&p->kinds[slot], __ATOMIC_ACQUIRE);
}

static inline void set_slot_kind(struct p2m *p, uint64_t slot, uint8_t k)
{
	__atomic_store_n(&p->kinds[slot], k, __ATOMIC_RELEASE);
}

/* Window records are written under the lock and read without it;
 * table 0 means the window is shared. */
static inline bool window_shared(const struct p2m *p, uint64_t w)
{
	return __atomic_load_n(&p->windows[w].table, __ATOMIC_ACQUIRE) == 0;
}

static inline void set_window_record(struct p2m *p, uint64_t w, xen_pfn_t table,
				     xen_pfn_t mid)
{
	__atomic_store_n(&p->windows[w].mid, mid, __ATOMIC_RELAXED);
	__atomic_store_n(&p->windows[w].table, table, __ATOMIC_RELEASE);
}

/* Whether the 8-byte value may be stored at pfn. */
bool p2m_value_ok(uint64_t pfn, uint64_t v);

/* The content a private leaf of slot kind k starts with. */
void p2m_fill_leaf(uint64_t *leaf, uint64_t slot, uint8_t k);

/* p2m_generation: odd while the list's mapping changes. */
void p2m_gen_begin(struct p2m *p);
void p2m_gen_end(struct p2m *p);

/*
 * Make slot's window private (a table and a frame list of its own) and,
 * with want_leaf, the slot itself (a leaf of its own with the content its
 * shared page stood for). Allocates outside the lock, re-checks under it
 * and retries if another writer changed the slot meanwhile. Values seen
 * by readers never change. 0 or a negative error.
 */
int p2m_make_private(struct p2m *p, uint64_t slot, bool want_leaf);

/* -P2M_EBUSY with a message naming `call` while the P2M is suspended:
 * its records then hold pfns, which no mapping change may use. */
int p2m_refuse_suspended(struct p2m *p, const char *call);

/*
 * The window/slot life cycle (lib/window.c): every change of a window or
 * a slot between shared and private, and every count of private frames
 * (nr_private_leaves, nr_private_tables, nr_mids), goes through these.
 */

/* A shared window whose frame list a failure left mapped (parked). */
static inline bool window_parked(const struct p2m *p, uint64_t w)
{
	return window_shared(p, w) && p->windows[w].mid != 0;
}

/* Under the lock: hang a prepared table and frame list into shared window
 * w of kind wk (the table maps that kind's leaf everywhere). names: the
 * 512 frames mid names (NULL: shared_leaf[wk] each), which a frame list
 * parked by an earlier failure takes instead (it is hung, not mid).
 * *mid_taken: the P2M owns mid now, even on failure (it may be left
 * parked, see window.c); otherwise the caller frees it. */
int p2m_install_window_locked(struct p2m *p, uint64_t w, xen_pfn_t table,
			      xen_pfn_t mid, uint8_t wk, const xen_pfn_t *names,
			      bool *mid_taken);
/* Under the lock: return private window w to the shared table of kind k
 * (its slots' kinds already say k). Fails changing nothing, or with the
 * window shared but its frame list parked; when the window is shared,
 * *old names the table and frame list to free (mid 0: parked). */
int p2m_uninstall_window_locked(struct p2m *p, uint64_t w, uint8_t k,
				struct p2m_window *old);
/* p2m_destroy(): free window w's private frames, leave it shared missing. */
void p2m_window_teardown(struct p2m *p, uint64_t w);

/* Under the lock: a filled leaf into slot of a private window (mapped,
 * named in the frame list, then the slot private). Fails changing
 * nothing. */
int p2m_slot_install_leaf_locked(struct p2m *p, uint64_t slot, xen_pfn_t leaf);
/* Under the lock, no allocation: return slot (in a private window) to the
 * shared page of kind k. *freed receives the slot's old leaf or 0. */
int p2m_join_slot_locked(struct p2m *p, uint64_t slot, uint8_t k,
			 xen_pfn_t *freed);

/* Return a whole window to the shared table of kind k, freeing its
 * private frames (takes the lock itself). */
int p2m_join_window(struct p2m *p, uint64_t w, uint8_t k);
/* The same only if, under the lock, every slot of w is shared of kind k
 * (a window seen uniform without the lock may have been split since). */
int p2m_join_window_if_uniform(struct p2m *p, uint64_t w, uint8_t k);

/* For p2m_build(), under the lock, in a window it hung: */
/* its leaves mapped, slots take their kinds (kinds[512]; missing ones
 * stay), private ones counted; */
void p2m_window_settle_locked(struct p2m *p, uint64_t w, const uint8_t *kinds);
/* the window could not go back: a mapped, unsettled leaf is cleared to ~0
 * and kept as a private slot; */
void p2m_slot_keep_cleared_locked(struct p2m *p, uint64_t slot);
/* the frame list names the shared missing leaf for slot again; */
void p2m_slot_forget_leaf_locked(struct p2m *p, uint64_t slot);
/* the window reads missing without a mapping change (leaves cleared,
 * identity slots missing). */
void p2m_window_clear_locked(struct p2m *p, uint64_t w);
/* The builds (build.c, adopt.c): the kind of the cnt (<= 512) entries
 * at v, which start at pfn base, validating a private slot's values;
 * and one past the highest RAM or foreign pfn of [base, base + cnt) of
 * the list, or 0. */
int p2m_build_classify(struct p2m *p, const uint64_t *v, uint64_t base, uint64_t cnt,
		       uint8_t *kind);
/* The builds: allocate window w's table (all entries on the shared
 * missing leaf) and its frame list; nothing left allocated on failure. */
int p2m_alloc_window_frames(struct p2m *p, uint64_t w, xen_pfn_t *table, xen_pfn_t *mid);
/* The builds: map the leaves of window w by kind (private read-write, a
 * shared leaf read-only; missing slots are mapped by the table already);
 * *upto: the slots [0, upto) that may be mapped (all on success). */
int p2m_map_window_leaves(struct p2m *p, uint64_t w, const uint8_t *kinds, const xen_pfn_t *leaves,
			  unsigned *upto);
uint64_t p2m_build_populated_top(const uint64_t *initial, uint64_t base, uint64_t cnt);
/* The builds' last check: pfns [0, n) read missing (-P2M_EBUSY naming the
 * first window that does not, and `call`). A window of them that is not
 * shared missing but reads missing (one a failed build could not give
 * back, or a prepared one) is given back to the shared missing table
 * first; if that fails, its error. */
int p2m_build_need_missing(struct p2m *p, uint64_t n, const char *call);

/* Raise max_pfn to cover pfn (RAM or foreign stored there). */
void p2m_note_pfn(struct p2m *p, uint64_t pfn);

/* Free a list of frames in batches, and tables after drop_table. */
void p2m_free_frames(struct p2m *p, size_t n, const xen_pfn_t *mfns);
void p2m_free_table(struct p2m *p, xen_pfn_t table);

#endif
