/*
 * P2M entry encoding (64-bit PV), the same bits Linux uses so that a dump,
 * a crash tool or a reader of the list sees what it expects.
 *
 *   RAM       the mfn itself, below P2M_MFN_LIMIT
 *   missing   P2M_INVALID (~0): no frame behind the pfn (ballooned, extra)
 *   identity  P2M_IDENTITY_BIT | pfn: the pfn maps the machine frame of the
 *             same number (E820 holes, device memory). The pfn is carried
 *             so that a RAM page whose mfn happens to equal its pfn is
 *             never mistaken for a 1:1 entry.
 *   foreign   P2M_FOREIGN_BIT | mfn: a frame of another domain (grant map)
 *
 * P2M_INVALID has both tag bits set: always compare with P2M_INVALID first.
 */
#ifndef P2M_ENTRY_H
#define P2M_ENTRY_H

#include <stdbool.h>
#include <stdint.h>

#define P2M_INVALID       (~(uint64_t)0)
#define P2M_FOREIGN_BIT   ((uint64_t)1 << 63)
#define P2M_IDENTITY_BIT  ((uint64_t)1 << 62)
#define P2M_TAG_MASK      (P2M_FOREIGN_BIT | P2M_IDENTITY_BIT)

/* Machine frames are below 2^40 (52-bit physical addresses). */
#define P2M_MFN_LIMIT     ((uint64_t)1 << 40)

/*
 * Geometry: pfn -> slot -> window. A slot is one 4 KiB page of the list
 * (512 entries, 2 MiB of guest); a window is 512 slots (2 MiB of list VA,
 * 1 GiB of guest), mapped by one page-table page. Go between the three
 * with the functions below, never with a bare shift: a slot's window is
 * slot >> P2M_SLOTS_SHIFT, not slot >> P2M_SLOT_SHIFT (both are 9 today,
 * which is how the two came to be mixed up).
 */
#define P2M_PAGE_SHIFT    12
#define P2M_PAGE_SIZE     ((uint64_t)1 << P2M_PAGE_SHIFT)
/* Entries per list page: one "slot" of the list covers 2 MiB of guest. */
#define P2M_SLOT_SHIFT    9
#define P2M_PER_PAGE      ((uint64_t)1 << P2M_SLOT_SHIFT)
/* Slots per window: one page-table page maps 512 list pages. */
#define P2M_SLOTS_SHIFT   9
#define P2M_SLOTS_PER_WINDOW ((uint64_t)1 << P2M_SLOTS_SHIFT)
/* Entries per "window": 512 list pages = one page-table page = 1 GiB. */
#define P2M_WINDOW_SHIFT  (P2M_SLOT_SHIFT + P2M_SLOTS_SHIFT)
#define P2M_PER_WINDOW    ((uint64_t)1 << P2M_WINDOW_SHIFT)
/* Bytes of list VA per window (2 MiB, what one page-table page maps). */
#define P2M_WINDOW_BYTES  (P2M_PAGE_SIZE << P2M_SLOTS_SHIFT)
/* The 3-level tool tree reaches 512^3 pfns = 512 GiB. */
#define P2M_TREE_PFNS     ((uint64_t)1 << 27)

/* The slot and the window of a pfn. */
static inline uint64_t p2m_pfn_slot(uint64_t pfn)
{
	return pfn >> P2M_SLOT_SHIFT;
}

static inline uint64_t p2m_pfn_window(uint64_t pfn)
{
	return pfn >> P2M_WINDOW_SHIFT;
}

/* The window of a slot, and the slot's index in it (0..511). */
static inline uint64_t p2m_slot_window(uint64_t slot)
{
	return slot >> P2M_SLOTS_SHIFT;
}

static inline unsigned p2m_slot_index(uint64_t slot)
{
	return (unsigned)(slot & (P2M_SLOTS_PER_WINDOW - 1));
}

/* The first pfn of a slot; the first slot and the first pfn of a window. */
static inline uint64_t p2m_slot_pfn(uint64_t slot)
{
	return slot << P2M_SLOT_SHIFT;
}

static inline uint64_t p2m_window_slot(uint64_t w)
{
	return w << P2M_SLOTS_SHIFT;
}

static inline uint64_t p2m_window_pfn(uint64_t w)
{
	return w << P2M_WINDOW_SHIFT;
}

/* How many slots and windows the pfns [0, n) touch. */
static inline uint64_t p2m_slots_for(uint64_t n)
{
	return (n + P2M_PER_PAGE - 1) >> P2M_SLOT_SHIFT;
}

static inline uint64_t p2m_windows_for(uint64_t n)
{
	return (n + P2M_PER_WINDOW - 1) >> P2M_WINDOW_SHIFT;
}

enum p2m_kind {
	P2M_KIND_RAM = 0,
	P2M_KIND_MISSING,
	P2M_KIND_IDENTITY,
	P2M_KIND_FOREIGN,
};

static inline uint64_t p2m_identity_entry(uint64_t pfn)
{
	return P2M_IDENTITY_BIT | pfn;
}

static inline uint64_t p2m_foreign_entry(uint64_t mfn)
{
	return P2M_FOREIGN_BIT | mfn;
}

/* Kind of a raw entry read at pfn. */
static inline enum p2m_kind p2m_entry_kind(uint64_t e)
{
	if (e == P2M_INVALID)
		return P2M_KIND_MISSING;
	if (e & P2M_FOREIGN_BIT)
		return P2M_KIND_FOREIGN;
	if (e & P2M_IDENTITY_BIT)
		return P2M_KIND_IDENTITY;
	return P2M_KIND_RAM;
}

/* The mfn of an entry with its tags stripped, or P2M_INVALID. */
static inline uint64_t p2m_entry_mfn(uint64_t e)
{
	return e == P2M_INVALID ? P2M_INVALID : (e & ~P2M_TAG_MASK);
}

const char *p2m_kind_name(enum p2m_kind k);

#endif
