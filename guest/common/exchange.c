/*
 * XENMEM_exchange (issue: a DMA buffer needs machine-contiguous memory):
 * trade a run of 512 free frames at pfns [P, P + 512) for one 2 MiB
 * extent, contiguous and aligned in machine memory, at the same pfns; then
 * trade it back for 512 single frames.
 *
 * Xen frees the old frames, allocates the new ones and writes their M2P
 * entries; the guest rewrites the P2M entries (single stores into the
 * run's private leaves: the generation does not move, docs/runtime.md).
 * The run is taken out of the frame pool for the time of the trade (its
 * frames are mapped nowhere, as Xen requires of frames it takes back) and
 * put back after. The result is reported by the next run of the checks
 * (the `exchange` check, runtime.c), whose p2m-vs-m2p then sees every pfn
 * again.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/exchange.h"
#include "common/frames.h"
#include "p2m/fmt.h"

#define RUN_ORDER 9u
#define RUN (1u << RUN_ORDER)

static xen_pfn_t in[RUN], out[RUN];

/* The highest 2 MiB-aligned run of pfns below nr_pages that is wholly
 * free; P2M_INVALID if none. */
static uint64_t free_run(void)
{
	uint64_t p = boot.nr_pages & ~(uint64_t)(RUN - 1);

	while (p >= RUN) {
		p -= RUN;
		if (frames_count_in(p, RUN) == RUN)
			return p;
	}
	return P2M_INVALID;
}

static long exchange(unsigned in_n, unsigned in_order, unsigned out_n, unsigned out_order,
		     xen_ulong_t *done)
{
	struct xen_memory_exchange x = {
		.in = { .nr_extents = in_n, .extent_order = in_order, .domid = DOMID_SELF },
		.out = { .nr_extents = out_n, .extent_order = out_order, .domid = DOMID_SELF },
		.nr_exchanged = 0,
	};
	long rc;

	set_xen_guest_handle(x.in.extent_start, in);
	set_xen_guest_handle(x.out.extent_start, out);
	rc = hyp_memory_op(XENMEM_exchange, &x);
	*done = x.nr_exchanged;
	return rc;
}

/* Entries of the run from mfns (one per pfn, or base + i), then the
 * number of pfns whose M2P entry does not name them. */
static uint64_t install(uint64_t pfn, const xen_pfn_t *mfns, bool contiguous)
{
	uint64_t bad = 0, m2p;
	unsigned i;

	for (i = 0; i < RUN; i++) {
		xen_pfn_t mfn = contiguous ? mfns[0] + i : mfns[i];

		p2m_set(&boot.p2m, pfn + i, mfn);
		bad += !m2p_lookup(mfn, &m2p) || m2p != pfn + i;
	}
	return bad;
}

bool exchange_run(char *report, size_t cap)
{
	uint64_t pfn = free_run(), gen0 = p2m_generation(&boot.p2m), base, bad, bad_back;
	xen_ulong_t done;
	unsigned i;
	long rc;

	if (pfn == P2M_INVALID) {
		p2m_snprintf(report, cap, "no free 2 MiB run of pfns below %#lx",
			     (unsigned long)boot.nr_pages);
		return false;
	}
	frames_remove(pfn, RUN);
	for (i = 0; i < RUN; i++)
		in[i] = p2m_mfn(&boot.p2m, pfn + i);
	out[0] = pfn;
	rc = exchange(RUN, 0, 1, RUN_ORDER, &done);
	if (rc || done != RUN) {
		frames_add(pfn, RUN);
		p2m_snprintf(report, cap,
			     "512 frames at pfn %#lx for one 2 MiB extent: rc %ld, %lu exchanged",
			     (unsigned long)pfn, rc, (unsigned long)done);
		return false;
	}
	base = out[0];
	bad = install(pfn, out, true);

	/* And back: one order-9 extent in, 512 single frames out. */
	in[0] = base;
	for (i = 0; i < RUN; i++)
		out[i] = pfn + i;
	rc = exchange(1, RUN_ORDER, RUN, 0, &done);
	bad_back = rc || done != 1 ? RUN : install(pfn, out, false);
	frames_add(pfn, RUN);
	p2m_snprintf(report, cap,
		     "pfns [%#lx, +512) traded for the 2 MiB extent at mfn %#lx (%s), %lu M2P "
		     "entries wrong; back into 512 frames (rc %ld), %lu wrong; generation %lu -> %lu",
		     (unsigned long)pfn, (unsigned long)base,
		     base % RUN ? "NOT aligned" : "aligned", (unsigned long)bad, rc,
		     (unsigned long)bad_back, (unsigned long)gen0,
		     (unsigned long)p2m_generation(&boot.p2m));
	return base % RUN == 0 && !bad && !bad_back && !rc && p2m_generation(&boot.p2m) == gen0;
}
