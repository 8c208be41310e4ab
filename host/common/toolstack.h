/*
 * A toolstack reader: what the Xen 4.17 saver (libxenguest) does to read
 * a 64-bit PV guest's P2M, written from our digest of its behaviour
 * (shared/research/xen-abi-toolstack.md, sections 3.2-3.7). It is the
 * test oracle for "the tools see the P2M we think we publish" and the
 * first piece of the host's migration simulator.
 *
 * Inputs: the guest's struct arch_shared_info and a way to read machine
 * frames by mfn (struct ts_frames; ts_frames_hosted() wires the hosted
 * platform). The reader never touches the guest's virtual addresses: it
 * walks frames, as a process in dom0 does.
 *
 * What it does, like the saver:
 *   count = arch->max_pfn (a count; the saver works with count - 1)
 *   p2m_cr3 != 0  list mode: walk p2m_cr3 -> L4 -> L3 -> L2 -> L1 for the
 *                 list pages covering [0, count); every PTE on the way
 *                 must be present and name a readable frame, 4 KiB pages
 *                 only (a PSE entry is an error: the saver would misread
 *                 it as a table). At level 2, trailing L2 entries that
 *                 repeat one L1 table shorten the range, with exactly the
 *                 saver's arithmetic (see saver_count below).
 *   p2m_cr3 == 0  tree mode: pfn_to_mfn_frame_list_list -> mid pages ->
 *                 leaves; count - 1 must fit 512^3 ("max_pfn ... too large
 *                 for p2m tree"), the root must be a real frame (~0 and 0
 *                 are "Bad mfn ... for p2m frame list list"); trailing
 *                 repeated root entries shorten the range.
 *   ts_options.tree_only: an old reader that knows only the tree; it
 *                 ignores p2m_cr3 and must fail cleanly on a guest whose
 *                 tree is ~0 or too large, never read garbage.
 * p2m_generation is recorded before and after the read; a difference is
 * reported (the real saver checks it only in list mode, in live saves).
 *
 * Errors return a negative P2M_E* code and a message worded like the
 * saver's (res->error). Not done: the saver's M2P round trip of each leaf
 * frame (mfn_in_pseudophysmap), which needs the guest's own pfns of its
 * leaf frames; the hosted platform gives libp2m frames no pfn.
 */
#ifndef P2M_HOST_TOOLSTACK_H
#define P2M_HOST_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/xen.h"

struct hosted;

/* How the reader gets at machine frames. */
struct ts_frames {
	void *ctx;
	/* Copy the 4096 bytes of frame mfn into buf; negative if mfn is not
	 * a frame that can be mapped. */
	int (*read_frame)(void *ctx, xen_pfn_t mfn, void *buf);
	/* The host's highest mfn (libxc's max_mfn): larger mfns are "bad". */
	xen_pfn_t max_mfn;
};

/* Frames of the hosted platform. max_mfn 0: the last frame of a platform
 * with the default geometry (HOSTED_MFN_BASE + HOSTED_MAX_FRAMES
 * - 1). */
void ts_frames_hosted(struct ts_frames *f, struct hosted *h,
		      xen_pfn_t max_mfn);

enum ts_mode { TS_MODE_LIST, TS_MODE_TREE };

struct ts_options {
	bool tree_only;        /* ignore p2m_cr3: a reader of the tree only */
};

struct ts_result {
	enum ts_mode mode;
	uint64_t count;        /* arch->max_pfn as published */
	/* The range the saver really covers after its trailing-duplicate
	 * heuristics, as a count (<= count). Entries at and above it are
	 * not read; a guest must keep them missing. */
	uint64_t saver_count;
	uint64_t leaves;       /* leaf frames read */
	uint64_t gen_before, gen_after;
	bool gen_changed;
	char error[256];
};

/* Called for each leaf page read: entries of pfns [first, first + n). */
typedef int (*ts_leaf_fn)(void *arg, uint64_t first, const uint64_t *entries,
			  unsigned n, xen_pfn_t leaf);

/* Read the guest's P2M as the saver does. fn may be NULL (only checks);
 * a nonzero return from fn stops the read and is returned. opt may be
 * NULL. 0, or a negative P2M_E* with res->error set. */
int ts_read_p2m(const struct arch_shared_info *arch, const struct ts_frames *fr,
		const struct ts_options *opt, ts_leaf_fn fn, void *arg,
		struct ts_result *res);

/* The same into a malloc'd array of res->count entries (*out; free()
 * it); entries at and above res->saver_count are ~0. */
int ts_read_p2m_array(const struct arch_shared_info *arch, const struct ts_frames *fr,
		      const struct ts_options *opt, uint64_t **out,
		      struct ts_result *res);

#endif
