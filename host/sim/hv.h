/*
 * The simulated hypervisor of `p2m sim` (docs/p2msim.md): which machine
 * frame is behind each pfn of a simulated PV domain, the M2P, the guest's
 * frame pool and the hypercalls the guest's boot, balloon and restore
 * make, with failure injection.
 *
 * What it stores, and why so little. A 16 TiB domain has 2^32 frames;
 * Xen keeps an M2P entry per frame and the guest a P2M entry per pfn. The
 * guest's P2M is built by libp2m for real (its frames live in the
 * platform's backing file). The hypervisor's side is a function:
 *
 *   frame k        the k-th frame the domain was given (k < nr_pages: the
 *                  boot allocation, at pfn k; later ones from nr_pages on)
 *   mfn(k)         ((perm[k >> 18] + 1) << 18) | ((k & 0x3ffff) ^ xr):
 *                  1 GiB extents of frames scattered over a machine twice
 *                  as large, scrambled inside; a restore draws a new perm
 *                  and a new xr (xr changes, so every frame's mfn changes)
 *   pfn(k)         k, unless the E820 plan moved it (remap ranges, once
 *                  the guest made the hypercall) or gave it back (release
 *                  ranges), or the balloon changed it (small hash maps)
 *
 * so the M2P of 2^32 frames costs a few hundred KiB and no data frame of
 * the guest has a backing page: only the frames the platform allocates
 * (the P2M's own pages and page tables) are pages of the backing file,
 * found through a pfn -> page table (sparse, touched only where the pool
 * hands out frames).
 *
 * The pool: the guest's free frames, RAM pfns of the boot allocation
 * beyond the objects Xen placed (kernel, initial list, page tables,
 * start_info); the initial list's frames join it once the build is done,
 * as the guest frees them.
 */
#ifndef P2M_SIM_HV_H
#define P2M_SIM_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/e820.h"
#include "p2m/xen.h"
#include "platform/hosted.h"

#define SIM_NONE UINT64_MAX
#define SIM_EXT_SHIFT 18
#define SIM_EXT_MASK (((uint64_t)1 << SIM_EXT_SHIFT) - 1)

/* A small open-addressing map uint64 -> uint64 (key SIM_NONE: empty). */
struct sim_map {
	uint64_t *key, *val;
	size_t cap, n;
};

struct sim_range {
	uint64_t start, end;
};

#define SIM_MAX_POOL 256

struct sim_hv {
	uint64_t nr_pages, end;
	/* numbering, current and the one before the last restore */
	uint64_t nr_ext, mach_ext, max_mfn;
	uint32_t *perm, *inv, *old_perm, *old_inv;
	uint64_t xr, old_xr, epoch, seed;
	/* the plan (not owned) */
	const struct p2m_e820_plan *plan;
	bool *moved;             /* remap range i done (M2P updated) */
	bool released;           /* release ranges given back */
	/* balloon changes */
	struct sim_map pfn_frame, frame_pfn;
	struct sim_map pfn_blocks;   /* pfn >> 9 of every pfn_frame key ever put */
	uint64_t next_frame;
	/* the pool */
	struct sim_range pool[SIM_MAX_POOL];
	size_t npool, ipool;
	uint64_t pool_at, pool_total;
	uint64_t *freed;
	size_t nfreed, capfreed;
	uint64_t out;            /* pool frames handed out, not returned */
	uint32_t *page_of_pfn;   /* pfn -> backing page + 1 (sparse) */
	/* failure injection of hypercalls */
	uint64_t hypercalls, fail_in;
	char err[200];
};

/* nr_pages frames at boot, pfns planned up to plan->end. */
int sim_hv_init(struct sim_hv *hv, const struct p2m_e820_plan *plan,
		uint64_t nr_pages, uint64_t seed);
void sim_hv_fini(struct sim_hv *hv);

/* Frames and numbers (current numbering). SIM_NONE where there is none. */
uint64_t sim_frame_of_pfn(const struct sim_hv *hv, uint64_t pfn);
uint64_t sim_pfn_of_frame(const struct sim_hv *hv, uint64_t k);
/* Inline: every read's check calls them per pfn. */
static inline uint64_t sim_mfn_of_frame(const struct sim_hv *hv, uint64_t k)
{
	if (k == SIM_NONE || (k >> SIM_EXT_SHIFT) >= hv->nr_ext)
		return SIM_NONE;
	return (((uint64_t)hv->perm[k >> SIM_EXT_SHIFT] + 1) << SIM_EXT_SHIFT) |
	       ((k & SIM_EXT_MASK) ^ hv->xr);
}

static inline uint64_t sim_frame_of_mfn(const struct sim_hv *hv, uint64_t mfn, bool old)
{
	uint64_t e = mfn >> SIM_EXT_SHIFT;
	const uint32_t *inv = old ? hv->old_inv : hv->inv;

	if (e == 0 || e > hv->mach_ext || inv[e - 1] == UINT32_MAX)
		return SIM_NONE;
	return ((uint64_t)inv[e - 1] << SIM_EXT_SHIFT) |
	       ((mfn & SIM_EXT_MASK) ^ (old ? hv->old_xr : hv->xr));
}
/* sim_frame_of_pfn for pfns [first, first + n) of one 512-pfn block
 * (n <= 512), into out[]: a block that no balloon change, release or
 * remap touches costs no lookup per pfn (the checks of every read and
 * the initial list's generation walk all 2^32 pfns of 16 TiB). */
void sim_frames_of_block(const struct sim_hv *hv, uint64_t first, unsigned n, uint64_t *out);
/* The truth: the mfn of the domain's frame at pfn, or SIM_NONE. */
uint64_t sim_mfn_of_pfn(const struct sim_hv *hv, uint64_t pfn);
/* The M2P: 0 and *pfn, or -P2M_ERANGE (not a frame of the domain). */
int sim_m2p(const struct sim_hv *hv, uint64_t mfn, uint64_t *pfn);

/* Hypercalls (each may be made to fail: sim_hv_fail_nth). */
int sim_hc_release(struct sim_hv *hv);                 /* decrease_reservation of the plan's releases */
int sim_hc_remap(struct sim_hv *hv, size_t range);     /* MMU_MACHPHYS_UPDATE of one remap range */
int sim_hc_populate(struct sim_hv *hv, uint64_t pfn, uint64_t *mfn);
int sim_hc_decrease(struct sim_hv *hv, uint64_t pfn);
int sim_hc_suspend(struct sim_hv *hv);                 /* SHUTDOWN_suspend: fails = cancelled */
/* The restore's new numbering: every frame gets a new mfn; the old one
 * stays readable (sim_frame_of_mfn(.., true)) until the next. */
void sim_hv_renumber(struct sim_hv *hv);
/* The nth hypercall from now fails (0: never). */
void sim_hv_fail_nth(struct sim_hv *hv, uint64_t n);
bool sim_hv_failure_pending(const struct sim_hv *hv);

/* The pool. */
int sim_pool_add(struct sim_hv *hv, uint64_t start, uint64_t end);
uint64_t sim_pool_take(struct sim_hv *hv);             /* SIM_NONE when empty */
int sim_pool_put(struct sim_hv *hv, uint64_t pfn);

/* The namer for the hosted platform (ctx = hv). */
void sim_hv_namer(struct sim_hv *hv, struct hosted_namer *n);

#endif
