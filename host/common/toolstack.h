/*
 * The toolstack reader of the host side: libp2mread (include/p2mread/
 * read.h, the one reader of the tests, the tools and the guest) over
 * frames that are read by copy, as the tests' and the hosted platform's
 * frame stores give them.
 *
 * ts_frames says how to copy a machine frame by mfn; ts_read_p2m() maps
 * each frame libp2mread asks for by copying it into one of a few private
 * buffers (a dom0 process would mmap it read-only) and hands each leaf to
 * ts_leaf_fn. ts_read_p2m_array() collects the entries into one array,
 * sized by the published max_pfn under the reader's limit (opt->max_pfn,
 * default P2MR_DEFAULT_MAX_PFN): the caller's cap, never the guest's word
 * alone.
 *
 * Results and refusals are libp2mread's: a negative P2MR_E* code and the
 * saver's message in res->error (see docs/p2mread.md for the table).
 */
#ifndef P2M_HOST_TOOLSTACK_H
#define P2M_HOST_TOOLSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/xen.h"
#include "p2mread/read.h"

struct hosted;

/* How the reader gets at machine frames. */
struct ts_frames {
	void *ctx;
	/* Copy the 4096 bytes of frame mfn into buf; negative if mfn is not
	 * a frame that can be mapped. */
	int (*read_frame)(void *ctx, xen_pfn_t mfn, void *buf);
	/* The host's highest mfn (libxc's max_mfn): larger mfns are "bad". */
	xen_pfn_t max_mfn;
	/* Optional: the M2P (0 and *pfn, or negative), for the saver's leaf
	 * check (p2mr_frames.m2p); NULL: no check. Called with ctx. */
	int (*m2p)(void *ctx, uint64_t mfn, uint64_t *pfn);
};

/* libp2mread's frame operations over fr, for callers of p2mr_read() that
 * want its whole result: each map copies the frame into one of c's
 * P2MR_MAX_MAPPINGS buffers (no allocation per frame), unmap frees the
 * buffer; out->m2p is fr->m2p's. c and fr must outlive the read. */
struct ts_copies {
	const struct ts_frames *fr;
	uint64_t page[P2MR_MAX_MAPPINGS][P2MR_ENTRIES_PER_PAGE];
	bool used[P2MR_MAX_MAPPINGS];
};

void ts_copies_frames(struct ts_copies *c, const struct ts_frames *fr,
		      struct p2mr_frames *out);

/* Frames of the hosted platform. max_mfn 0: the last frame of a platform
 * with the default geometry (HOSTED_MFN_BASE + HOSTED_MAX_FRAMES
 * - 1). */
void ts_frames_hosted(struct ts_frames *f, struct hosted *h,
		      xen_pfn_t max_mfn);
/* The hosted platform's M2P (its namer's in simulated-domain mode), as a
 * ts_frames.m2p for frames of ts_frames_hosted(). */
int ts_hosted_m2p(void *hosted, uint64_t mfn, uint64_t *pfn);

enum ts_mode { TS_MODE_LIST = P2MR_MODE_LIST, TS_MODE_TREE = P2MR_MODE_TREE };

struct ts_options {
	bool tree_only;        /* ignore p2m_cr3: a reader of the tree only */
	unsigned attempts;     /* reads when the generation moves; 0: 4 */
	uint64_t max_pfn;      /* largest published count accepted; 0: 2^32 */
};

struct ts_result {
	enum ts_mode mode;
	uint64_t count;        /* arch->max_pfn as published */
	/* The range the saver really covers after its trailing-duplicate
	 * heuristics, as a count (<= count). Entries at and above it are
	 * not read; a guest must keep them missing. */
	uint64_t saver_count;
	uint64_t leaves;       /* leaf frames read (last attempt) */
	uint64_t maps;         /* frames read, all attempts */
	unsigned attempts;
	uint64_t gen_before, gen_after;   /* of the last attempt */
	bool gen_changed;      /* every attempt saw the generation move */
	char error[P2MR_ERROR_LEN];
};

/* Called for each leaf read: entries of pfns [first, first + n). After a
 * generation move the read starts again: first == 0 again. */
typedef int (*ts_leaf_fn)(void *arg, uint64_t first, const uint64_t *entries,
			  unsigned n, xen_pfn_t leaf);

/* Read the guest's P2M as the saver does. fn may be NULL (only checks);
 * a nonzero return from fn stops the read and is returned. opt may be
 * NULL. 0, or a negative P2MR_E* with res->error set. */
int ts_read_p2m(const struct arch_shared_info *arch, const struct ts_frames *fr,
		const struct ts_options *opt, ts_leaf_fn fn, void *arg,
		struct ts_result *res);

/* The same into a malloc'd array of res->count entries (*out; free()
 * it); entries at and above res->saver_count are ~0. */
int ts_read_p2m_array(const struct arch_shared_info *arch, const struct ts_frames *fr,
		      const struct ts_options *opt, uint64_t **out,
		      struct ts_result *res);

#endif
