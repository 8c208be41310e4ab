/*
 * Shared by the lib/e820_*.c files only: the failure helper and the list
 * appender that counts past a list's capacity (so that -P2M_ENOSPC can
 * name the size needed) and stores only what fits.
 */
#ifndef P2M_E820_INTERNAL_H
#define P2M_E820_INTERNAL_H

#include "p2m/e820.h"

#define E820_PFN_MAX (~(uint64_t)0)

/* Record a message in plan->error and return -err. */
int p2m_e820_fail(struct p2m_e820_plan *plan, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A range list being appended to: adjacent ranges of one kind merge. */
struct p2m_e820_rlist {
	struct p2m_e820_range *arr;
	size_t cap;
	size_t n;                     /* ranges so far, stored or not */
	struct p2m_e820_range last;   /* valid when n > 0 */
};

void p2m_e820_rlist_init(struct p2m_e820_rlist *l, struct p2m_e820_range *arr,
		     size_t cap);
void p2m_e820_rlist_add(struct p2m_e820_rlist *l, uint64_t start, uint64_t end,
		    uint32_t kind);

/* -P2M_ENOSPC naming the list if it was given but is too small. */
int p2m_e820_rlist_check(struct p2m_e820_plan *plan, const char *what,
		     const void *arr, size_t n, size_t cap);

static inline uint64_t p2m_e820_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t p2m_e820_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The effective limit: 0 (none) reads as "no pfn is above it". */
static inline uint64_t p2m_e820_limit(uint64_t limit)
{
	return limit ? limit : E820_PFN_MAX;
}

/* Walking [0, end) as pieces: each piece lies inside one map entry or one
 * gap, and does not straddle the cuts (nr_pages, limit) or the ends of a
 * moved NVS range (plan->moved[]): its old pfns read as RAM, its new
 * ones as moved NVS. */
struct p2m_e820_piece {
	uint64_t start, end;
	bool ram;
	bool moved;                   /* a moved NVS range's new pfns */
	uint32_t type;                /* E820 type; 0 for a gap */
};

struct p2m_e820_cursor {
	const struct p2m_e820_plan *plan;
	const struct p2m_e820_range *map;
	size_t n, i;
	uint64_t pos, end;
	uint64_t cut[2];
};

void p2m_e820_cursor_init(struct p2m_e820_cursor *c, const struct p2m_e820_plan *plan,
		      uint64_t cut0, uint64_t cut1);
bool p2m_e820_cursor_next(struct p2m_e820_cursor *c, struct p2m_e820_piece *p);

/* Choose plan->moved[] (dom0's NVS under the kernel, its page tables,
 * start_info); needs map, end, nr_pages and limit of plan. */
void e820_move_nvs(const struct p2m_e820_input *in, struct p2m_e820_plan *plan);

/* Whether pfn lies in a moved range's old (dst false) or new (dst true)
 * pfns; *end is then that range's end. */
bool e820_moved_at(const struct p2m_e820_plan *plan, uint64_t pfn, bool dst,
		   uint64_t *end);

/* Conflicts of the objects with a plan whose map and counts are done. */
int p2m_e820_check_objects(const struct p2m_e820_input *in,
		       struct p2m_e820_plan *plan);

#endif
