/*
 * The page-frame allocator: a pool of free pseudo-physical frames.
 *
 * The pool is a sorted array of disjoint, non-adjacent pfn extents, so
 * that the few large ranges Xen gives (and the initial list given back
 * whole) cost one extent each, and "is this frame free" is a binary
 * search. Frames are handed out by pfn and translated to mfns by the
 * boot code's current view of the P2M (the initial list until libp2m
 * owns the P2M).
 *
 * Invariant: a frame in the pool is mapped nowhere in the guest's page
 * tables and is no page table, so it can become a table or a list page
 * at once. Whoever frees a frame removes its mappings first.
 */
#ifndef GUEST_FRAMES_H
#define GUEST_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

/* Add [pfn, pfn + n) to the pool; false if any frame is already free
 * (a double free) or the extent table is full. */
bool frames_add(uint64_t pfn, uint64_t n);
/* Take n frames (all or none), lowest first; pfns into out. */
bool frames_take(uint64_t n, uint64_t *out);
/* Take n frames with consecutive pfns (first fit): [*pfn, *pfn + n). */
bool frames_take_run(uint64_t n, uint64_t *pfn);
/* Remove [pfn, pfn + n) from the pool, whatever of it is there. */
void frames_remove(uint64_t pfn, uint64_t n);
bool frames_is_free(uint64_t pfn);
uint64_t frames_free_count(void);
unsigned frames_extents(void);

/* How many of pfns [pfn, pfn + n) are free (in the pool). */
uint64_t frames_count_in(uint64_t pfn, uint64_t n);

#endif
