/*
 * libp2mread: read a 64-bit Xen PV guest's published P2M the way the
 * toolstack's saver (libxenguest, Xen 4.17) does, trusting nothing the
 * guest wrote. For toolstacks, introspection and crash tools.
 *
 * Why its own header directory (include/p2mread/, not include/p2m/):
 * libp2m is the guest's side (it builds and maintains a P2M); this is the
 * other side of the ABI, linked by programs that never build one. A tool
 * includes <p2mread/read.h> and nothing of libp2m's API. (The library
 * itself uses libp2m's freestanding snprintf for its messages, so it is
 * linked after libp2m.) The core is freestanding: no libc, no allocation,
 * no global state; it is built hosted (p2mread) and with -nostdinc
 * (p2mread_freestanding), like libp2m.
 *
 * Inputs
 *   shared   the guest's struct arch_shared_info, live (a read-only
 *            mapping of its shared_info page is fine): max_pfn,
 *            pfn_to_mfn_frame_list_list, p2m_cr3, p2m_vaddr and
 *            p2m_generation are read with atomic loads, once per attempt.
 *   frames   map(mfn) gives a read-only view of one 4 KiB machine frame
 *            (or NULL), unmap() releases it; max_mfn is the host's
 *            highest mfn (xc_maximum_ram_page). The reader never asks for
 *            mfn 0 or an mfn above max_mfn, holds at most
 *            P2MR_MAX_MAPPINGS views at once and releases every view
 *            before it returns.
 *
 * What it reads (the saver's choice: p2m_cr3 != 0 -> the list)
 *   list  p2m_cr3 -> L4 -> L3 -> L2 -> L1 -> leaves for
 *         [p2m_vaddr, p2m_vaddr + leaves * 4 KiB). The range must be
 *         canonical, not wrap and not touch the hypervisor's range
 *         0xffff800000000000-0xffff87ffffffffff (M2P included). Every
 *         entry on the way must be present and name an mfn in
 *         [1, max_mfn]; 4 KiB leaves only (a PSE entry is refused where
 *         the saver would misread it as a table); no frame may appear
 *         twice on one walk (no self-maps, cycles, or a leaf that is one
 *         of its own tables).
 *   tree  pfn_to_mfn_frame_list_list -> frame lists -> leaves, at most
 *         512 frame lists (512 GiB of pfns); every mfn in [1, max_mfn].
 *   Trailing repeats are trimmed exactly as the 4.17 saver trims them
 *   (its max_pfn heuristics): in the tree, a run of one repeated frame
 *   list at the end of the top page is cut after its first entry; in the
 *   list, a run of one repeated L1 table at the end is cut including its
 *   first entry, with the saver's arithmetic, which compares an index
 *   relative to p2m_vaddr's L2 slot with an absolute one: a list that does
 *   not start at L2 index 0 also loses its last 2 MiB window of
 *   slots (1 GiB of pfns). result.count is what remains; entries at and
 *   above it are not read (a guest must keep them missing).
 *   Every structural check is made before the first leaf is handed out.
 *
 * Consistency (better than the saver, which aborts). In list mode
 * (p2m_cr3 != 0, whichever way is read) the read is repeated when
 * p2m_generation was odd at its start or moved before its end, and a
 * structural error seen while the generation moved is a torn read, not a
 * refusal: up to options.attempts reads, calling frames.wait (if set)
 * between them, then P2MR_EGENERATION. A retry hands out every leaf again
 * from pfn 0 (leaf.attempt tells them apart). The generation is also
 * polled every 512 leaves, so an attempt it voids stops there instead of
 * reading the rest of the list for nothing. In tree mode the generation
 * means nothing (the ABI defines it only with p2m_cr3) and is not used.
 *
 * Budget. Memory: a few words of stack, no allocation, whatever max_pfn
 * says. Work: at most options.max_pfn published entries are accepted
 * (P2MR_ELIMIT above; default 2^32, the most a migration stream's 32-bit
 * pfns can describe), so one attempt maps O(max_pfn / 512) frames.
 *
 * Errors: 0, or a negative P2MR_E* with result.error holding the message
 * libxenguest prints for the same condition (so a user can grep for it),
 * plus the detail the saver leaves out. See p2mr_strerror() and the table
 * in docs/p2mread.md.
 */
#ifndef P2MREAD_READ_H
#define P2MREAD_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "p2m/xen.h"

#define P2MR_ENTRIES_PER_PAGE 512u
#define P2MR_ERROR_LEN        256
/* L4, L3, L2, L1 and a leaf; with frames.m2p two more, the tables
 * (list: L2, L1; tree: a frame list) of the leaf M2P check's own walk,
 * so that it never evicts the main walk's tables. */
#define P2MR_MAX_MAPPINGS     7
#define P2MR_DEFAULT_MAX_PFN  ((uint64_t)1 << 32)
#define P2MR_DEFAULT_ATTEMPTS 4u
/* The hypervisor's range as the saver bounds it (inclusive end). */
#define P2MR_HYPERVISOR_START ((uint64_t)0xffff800000000000)
#define P2MR_HYPERVISOR_LAST  ((uint64_t)0xffff87ffffffffff)

enum p2mr_error {
	P2MR_OK = 0,
	P2MR_EINVAL,      /* NULL argument or missing callback */
	P2MR_ENOP2M,      /* max_pfn is 0: nothing published */
	P2MR_ELIMIT,      /* max_pfn above options.max_pfn */
	P2MR_ETREE_SIZE,  /* "max_pfn %#lx too large for p2m tree" */
	P2MR_EFLL_MFN,    /* "Bad mfn %#lx for p2m frame list list" */
	P2MR_EFLL_MAP,    /* "Failed to map p2m frame list list at %#lx" */
	P2MR_EFLL_ENTRY,  /* "Bad mfn %#lx at index %u (of %u) in p2m frame list list" */
	P2MR_EFL_MAP,     /* "Failed to map p2m frame list" */
	P2MR_EFL_ENTRY,   /* "Bad mfn %#lx at index %u (of %u) in p2m frame list" */
	P2MR_ECR3,        /* "Bad p2m_cr3 value %#lx" */
	P2MR_EVADDR,      /* "Bad virtual p2m address range %#lx-%#lx" */
	P2MR_EPT_MAP,     /* "Failed to map %u page table pages for p2m list" */
	P2MR_EPT_ENTRY,   /* "Bad mfn %#lx during page table walk for vaddr %#lx at level %d of p2m list" */
	P2MR_ESUPERPAGE,  /* "Cannot migrate superpage (L%lu[%u]: 0x%016lx)" */
	P2MR_ELOOP,       /* a frame twice on one walk (the saver does not check) */
	P2MR_ELEAF_MAP,   /* "Failed to map p2m frames" */
	P2MR_EGENERATION, /* "p2m generation count changed. Migration aborted." */
	P2MR_ESTOPPED,    /* the leaf callback returned nonzero */
	P2MR_ELEAF_M2P,   /* "Bad mfn in p2m_frame_list[%u]" (frames.m2p given) */
	P2MR_NERRORS
};

/* A short name of an error code ("ELOOP"), "?" if unknown. Accepts the
 * code negated or not. */
const char *p2mr_strerror(int err);

struct p2mr_frames {
	void *ctx;
	/* A read-only view of the 4096 bytes of frame mfn, or NULL if it
	 * cannot be mapped. The same mfn may be mapped again while mapped. */
	const void *(*map)(void *ctx, uint64_t mfn);
	void (*unmap)(void *ctx, uint64_t mfn, const void *page);
	/* Optional: called before attempt n (n >= 2) when the generation
	 * moved; a hosted caller may sleep or yield here. */
	void (*wait)(void *ctx, unsigned attempt);
	/* Optional: the M2P (the pfn the hypervisor records for mfn; nonzero
	 * if it has none). When set, every leaf frame is checked as the
	 * saver's mfn_in_pseudophys_map() checks it: its pfn is below the
	 * covered count and the P2M's entry for that pfn names the leaf
	 * (p2m[m2p[mfn]] == mfn), before the first leaf is handed out;
	 * otherwise P2MR_ELEAF_M2P. Costs one more walk and leaf view per
	 * leaf. */
	int (*m2p)(void *ctx, uint64_t mfn, uint64_t *pfn);
	uint64_t max_mfn;
};

enum p2mr_mode { P2MR_MODE_LIST, P2MR_MODE_TREE };

struct p2mr_options {
	uint64_t max_pfn;   /* largest published count accepted; 0: default */
	unsigned attempts;  /* reads when the generation moves; 0: default */
	bool tree_only;     /* ignore p2m_cr3: a reader of the tree only */
};

/* One leaf, handed to the callback while mapped. entries is the live
 * frame (the guest may be changing it: load each entry once). */
struct p2mr_leaf {
	uint64_t first;            /* pfn of entries[0]: index * 512 */
	uint64_t index;            /* leaf number */
	uint64_t mfn;              /* the leaf frame */
	const uint64_t *entries;   /* 512 entries, the first n of them in range */
	unsigned n;                /* 1..512 */
	unsigned attempt;          /* 1 for the first read */
};

/* 0 to go on; anything else stops the read (P2MR_ESTOPPED, value in
 * result.stop). */
typedef int (*p2mr_leaf_fn)(void *arg, const struct p2mr_leaf *leaf);

struct p2mr_result {
	enum p2mr_mode mode;
	uint64_t published;   /* max_pfn as read (a count) in the last attempt */
	uint64_t count;       /* entries covered after the saver's trims */
	uint64_t leaves;      /* leaves handed out in the last attempt */
	uint64_t maps;        /* frames mapped, all attempts together */
	unsigned attempts;    /* reads made */
	uint64_t generation;  /* list mode: the generation the read matches */
	uint64_t gen_before, gen_after;  /* of the last attempt */
	int stop;             /* the callback's value with P2MR_ESTOPPED */
	char error[P2MR_ERROR_LEN];
};

/* Read the P2M; fn may be NULL (check only) and opt NULL (defaults).
 * Returns 0 or -P2MR_E*, with res->error set. */
int p2mr_read(const struct arch_shared_info *shared, const struct p2mr_frames *frames,
	      const struct p2mr_options *opt, p2mr_leaf_fn fn, void *arg,
	      struct p2mr_result *res);

#endif
