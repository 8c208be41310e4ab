/*
 * p2mpeek: what the toolstack tier's --big run asks of a live domU's
 * published P2M (tests/xen/p2mpeek_main.c maps its frames from dom0),
 * kept apart from the Xen libraries so that a unit test runs the same
 * logic on the hosted platform (tests/unit/test_p2mpeek.c).
 *
 * Two reads with libp2mread (include/p2mread/read.h): once as Xen 4.17's
 * saver reads (the linear list from p2m_cr3 when it is set), counting the
 * entries that name a frame, and once as a reader that knows only the
 * 3-level tree (options.tree_only). The tree reaches 2^27 pfns (512 GiB):
 * for a guest whose max_pfn is above that the tree-only read must be
 * refused with P2MR_ETREE_SIZE ("max_pfn ... too large for p2m tree");
 * for one within it, it must read the same count as the list. Above
 * 512 GiB a third read walks the tree as a reader of the first 512 GiB
 * does (crash, makedumpfile: max_pfn taken as 2^27): when the guest
 * published a tree (frame list list not ~0) it must succeed, and each of
 * its leaves must be the list's leaf frame for the same pfns.
 */
#ifndef P2M_TESTS_P2MPEEK_H
#define P2M_TESTS_P2MPEEK_H

#include <stdint.h>
#include <stdio.h>

#include "p2mread/read.h"

struct peek_result {
	int list_rc;                 /* 0 or -P2MR_E* */
	struct p2mr_result list;
	uint64_t frames;             /* entries of the list read that name a frame (not ~0) */
	uint64_t top_frame_pfn;      /* highest pfn with a frame, +1 (0: none) */
	int tree_rc;
	struct p2mr_result tree;
	/* Above 512 GiB: the tree of the first 512 GiB (low_rc 1: not read,
	 * no tree published). */
	int low_rc;
	struct p2mr_result low;
	uint64_t low_mismatch;       /* tree leaves that are not the list's leaf */
	uint64_t published;          /* max_pfn as published (a count) */
	uint64_t fll;                /* pfn_to_mfn_frame_list_list as published */
};

/* Both reads; a line each to out (may be NULL). 0 when the list read
 * succeeded and the tree-only read behaved as the tree's reach says,
 * 1 otherwise. */
int peek_run(const struct arch_shared_info *shared, const struct p2mr_frames *fr,
	     struct peek_result *r, FILE *out);

#endif
