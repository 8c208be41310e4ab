/*
 * libp2mread's internals: one read attempt's state, shared by the entry
 * point (read.c) and the two walks (list.c, tree.c).
 *
 * Views. Each level of a walk keeps its current frame mapped in one slot
 * (0: the leaf, 1-4: the tables of those levels; the tree uses 4 for its
 * top page and 3 for a frame list) and maps another only when the walk
 * moves to another frame: at most P2MR_MAX_MAPPINGS views, and neighbouring
 * slots cost no map at all. The leaf M2P check walks elsewhere (to the
 * slot of the pfn the M2P names): its low tables go in slots 5 and 6
 * (RD_CHECK_SLOT), so the main walk keeps its own, and a run of leaves
 * whose pfns are neighbours costs about one map per leaf, not five. Every value read from guest memory is loaded
 * once (relaxed atomic) into a local and checked there: the guest may
 * rewrite its tables under us, so nothing is read twice and trusted.
 */
#ifndef P2MREAD_INTERNAL_H
#define P2MREAD_INTERNAL_H

#include "p2mread/read.h"

#define RD_PAGE_SHIFT 12
#define RD_PAGE_SIZE  ((uint64_t)1 << RD_PAGE_SHIFT)
#define RD_FPP        ((uint64_t)P2MR_ENTRIES_PER_PAGE)
#define RD_VA_MASK    ((uint64_t)0x0000ffffffffffff)

struct rd_view {
	uint64_t mfn;
	const uint64_t *page;
};

struct rd {
	const struct p2mr_frames *fr;
	struct p2mr_result *res;
	p2mr_leaf_fn fn;
	void *arg;
	uint64_t max_pfn;        /* the caller's limit on the published count */
	unsigned attempt;
	/* The shared_info fields, loaded once per attempt. */
	uint64_t count, fll, cr3, vaddr;
	bool in_check;           /* walking for the leaf M2P check */
	/* The generation this attempt began at, where it is valid (list
	 * mode), polled as the walks go (rd_poll). */
	const uint64_t *generation;
	uint64_t g0;
	struct rd_view v[P2MR_MAX_MAPPINGS];
};

/* The view slot of a walk's table of level `level` (the list's 1-4; the
 * tree's frame lists count as level 3): the M2P check's walk keeps its
 * L1 and L2 (list) or frame list (tree) in slots 5 and 6. Its L3 and L4,
 * the same frames as the main walk's below 64 Ti pfns, stay shared. */
static inline unsigned rd_slot(const struct rd *r, int level, bool tree)
{
	if (!r->in_check || level > 3 || (level == 3 && !tree))
		return (unsigned)level;
	return level == 2 ? 6u : 5u;
}

static inline uint64_t rd_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* A value as the saver's printf prints "%#lx": "0" for zero (libp2m's
 * formatter writes "0x0"), so messages match libxenguest's byte for
 * byte. RD_HEX(v) lives until the end of the full expression. */
struct rd_hex {
	char s[20];
};
struct rd_hex rd_hex(uint64_t v);
#define RD_HEX(v) (rd_hex(v).s)

/* Set res->error and return -code. */
int rd_fail(struct rd *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The page of mfn in view slot `slot` (mapping it if the slot holds
 * another frame), or NULL if it cannot be mapped. mfn is in [1, max_mfn]. */
const uint64_t *rd_view(struct rd *r, unsigned slot, uint64_t mfn);

/* Every 512 slots (x: the slot), whether the generation moved since the
 * attempt began: if so, the attempt is void whatever it finds, so it
 * stops at once (-P2MR_EGENERATION) instead of reading on. */
int rd_poll(struct rd *r, uint64_t x);

/* Release every view. */
void rd_drop(struct rd *r);

/* Map leaf `index` (frame mfn) and hand it to the callback. */
int rd_hand_out(struct rd *r, uint64_t index, uint64_t mfn);

/* With frames->m2p: the saver's mfn_in_pseudophys_map() on leaf `index`
 * (frame mfn): lookup() finds the leaf frame of a slot, checked as the
 * walk checks it; the target leaf goes in view slot 0. 0 without m2p. */
int rd_check_leaf_m2p(struct rd *r, uint64_t index, uint64_t mfn,
		      int (*lookup)(struct rd *r, uint64_t slot, uint64_t *leaf));

/* The published count above the caller's limit: the refusal. */
int rd_check_limit(struct rd *r);

/* The two walks: 0 or -P2MR_E*; res->count set on success. */
int rd_list(struct rd *r);
int rd_tree(struct rd *r);

#endif
