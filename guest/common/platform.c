/*
 * libp2m's platform on Xen PV (see platform.h and include/p2m/platform.h).
 *
 *   alloc/free_frames  the frame pool (frames.c), by pfn; mfns through the
 *                      boot's current pfn -> mfn view and back through the
 *                      M2P (which the guest keeps consistent)
 *   frame_map/unmap    a scratch slot, read-write
 *   reserve/release    an L4 slot with an L3 and L2s (one per GiB)
 *   make_table         fill 512 read-only PTEs through a scratch view,
 *                      drop the view, pin the frame as an L1
 *   drop_table         unpin (the frame is mapped nowhere, so it is an
 *                      ordinary writable frame again)
 *   set_window         mmu_update of the window's L2 entry + TLB flush
 *   map_frames         batched mmu_update of L1 entries + TLB flush
 *   m2p                the bounded M2P read (pt.c)
 *   root_table         the L4 the guest runs on
 *   lock/unlock        a ticket spinlock (spinlock.h); a nested lock or
 *                      an unlock by a vCPU that does not hold it is
 *                      counted as an error
 *
 * On several vCPUs: the frame pool has a lock of its own (libp2m
 * allocates and frees outside its lock); scratch views are claimed
 * atomically (pt.c); every TLB flush reaches all vCPUs, since readers on
 * the others must never see a list page through a stale mapping; the
 * window cache below is used only under libp2m's lock (map_frames and
 * set_window are called with it held, or at boot on one vCPU).
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/frames.h"
#include "common/guest.h"
#include "common/platform.h"
#include "common/smp.h"
#include "common/spinlock.h"
#include "p2m/error.h"

uint64_t (*platform_pfn_to_mfn)(uint64_t pfn);
struct platform_stats platform_stats;

#define MAX_RESV 4

struct resv {
	bool used;
	unsigned slot;
	uint64_t base, bytes;
	unsigned nl2;
	xen_pfn_t l3;
	xen_pfn_t l2[PT_ENTRIES];
};

static struct resv resv[MAX_RESV];
static struct spinlock p2m_lock = SPINLOCK_INIT;
static struct spinlock pool_lock = SPINLOCK_INIT;

/* The table behind the last window map_frames() looked up: every change
 * of a window goes through set_window() or release(), which keep it
 * exact, so map_frames() reads the L2 entry only on a miss. */
static uint64_t cached_window = ~0ull;
static xen_pfn_t cached_table;

static int alloc_frames(void *ctx, size_t n, xen_pfn_t *mfns)
{
	size_t i;

	(void)ctx;
	spin_lock(&pool_lock, smp_cpu());
	if (!frames_take(n, (uint64_t *)mfns)) {
		spin_unlock(&pool_lock, smp_cpu());
		return -P2M_ENOMEM;
	}
	platform_stats.allocs += n;
	spin_unlock(&pool_lock, smp_cpu());
	for (i = 0; i < n; i++)
		mfns[i] = platform_pfn_to_mfn(mfns[i]);
	return 0;
}

static void free_frames(void *ctx, size_t n, const xen_pfn_t *mfns)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < n; i++) {
		uint64_t pfn;
		bool ok;

		ok = m2p_read(mfns[i], &pfn) && platform_pfn_to_mfn(pfn) == mfns[i];
		spin_lock(&pool_lock, smp_cpu());
		ok = ok && frames_add(pfn, 1);
		if (ok)
			platform_stats.frees++;
		else
			platform_stats.bad_frees++;
		spin_unlock(&pool_lock, smp_cpu());
		if (!ok)
			printk("free_frames: mfn %#lx is not a frame of ours in use\n",
			       (unsigned long)mfns[i]);
	}
}

static void *frame_map(void *ctx, xen_pfn_t mfn)
{
	(void)ctx;
	return pt_map(mfn, true);
}

static void frame_unmap(void *ctx, void *va)
{
	(void)ctx;
	pt_unmap(va);
}

static bool slot_in_use(unsigned s)
{
	unsigned i;

	for (i = 0; i < MAX_RESV; i++)
		if (resv[i].used && resv[i].slot == s)
			return true;
	return false;
}

static void free_resv_frames(struct resv *r)
{
	xen_pfn_t f[1 + PT_ENTRIES];
	unsigned i;

	f[0] = r->l3;
	for (i = 0; i < r->nl2; i++)
		f[1 + i] = r->l2[i];
	free_frames(NULL, 1 + r->nl2, f);
}

static int reserve(void *ctx, size_t bytes, void **base)
{
	const uint64_t gib = SUPERPAGE_1G;
	xen_pfn_t f[1 + PT_ENTRIES];
	struct resv *r = NULL;
	uint64_t *l3;
	unsigned i, s;

	(void)ctx;
	if (!bytes || bytes > L4_SLOT_BYTES)
		return -P2M_EINVAL;
	for (i = 0; i < MAX_RESV && !r; i++)
		if (!resv[i].used)
			r = &resv[i];
	if (!r)
		return -P2M_ENOSPC;
	for (s = RESV_FIRST_SLOT; s < L4_SLOT_UPPER_HALF; s++)
		if (!slot_in_use(s) && !(pt_read_entry(pt_root_mfn(), s) & PTE_P))
			break;
	if (s == L4_SLOT_UPPER_HALF)
		return -P2M_ENOSPC;

	r->nl2 = (unsigned)((bytes + gib - 1) / gib);
	if (alloc_frames(NULL, 1 + r->nl2, f))
		return -P2M_ENOMEM;
	r->l3 = f[0];
	for (i = 0; i < r->nl2; i++)
		r->l2[i] = f[1 + i];
	for (i = 0; i <= r->nl2; i++)
		if (pt_clear_frame(f[i]))
			goto fail;
	l3 = pt_map(r->l3, true);
	if (!l3)
		goto fail;
	for (i = 0; i < r->nl2; i++)
		l3[i] = ((uint64_t)r->l2[i] << PAGE_SHIFT) | PTE_TABLE;
	pt_unmap(l3);
	/* Hooking the L3 in makes Xen validate it and its L2s. */
	if (pt_set_entry(pt_root_mfn(), s, ((uint64_t)r->l3 << PAGE_SHIFT) | PTE_TABLE))
		goto fail;
	r->used = true;
	r->slot = s;
	r->base = l4_slot_va(s);
	r->bytes = bytes;
	*base = (void *)(uintptr_t)r->base;
	return 0;
fail:
	free_resv_frames(r);
	return -P2M_EMAP;
}

static struct resv *resv_of(uint64_t va)
{
	unsigned i;

	for (i = 0; i < MAX_RESV; i++)
		if (resv[i].used && va >= resv[i].base &&
		    va - resv[i].base < (uint64_t)resv[i].nl2 << SUPERPAGE_1G_SHIFT)
			return &resv[i];
	return NULL;
}

static void release(void *ctx, void *base, size_t bytes)
{
	struct resv *r = resv_of((uint64_t)(uintptr_t)base);

	(void)ctx;
	(void)bytes;
	if (!r) {
		printk("release: %p is not a reservation\n", base);
		return;
	}
	/* Unhooking the L3 drops Xen's references to every table below;
	 * libp2m has dropped (unpinned) its own tables already. */
	if (pt_set_entry(pt_root_mfn(), r->slot, 0))
		panic("release: cannot clear L4 slot %u", r->slot);
	cached_window = ~0ull;
	pt_flush_tlb();
	free_resv_frames(r);
	r->used = false;
}

static int make_table(void *ctx, xen_pfn_t table, xen_pfn_t leaf)
{
	uint64_t *t = pt_map(table, true);
	unsigned i;

	(void)ctx;
	if (!t)
		return -P2M_EMAP;
	for (i = 0; i < PT_ENTRIES; i++)
		t[i] = ((uint64_t)leaf << PAGE_SHIFT) | PTE_LEAF_RO;
	pt_unmap(t);
	if (pt_pin(table, 1))
		return -P2M_EMAP;
	__atomic_fetch_add(&platform_stats.tables_made, 1, __ATOMIC_RELAXED);
	return 0;
}

static void drop_table(void *ctx, xen_pfn_t table)
{
	(void)ctx;
	/* A frame make_table() never pinned makes Xen fail the unpin: that
	 * is the documented no-op. */
	if (pt_unpin(table) == 0)
		__atomic_fetch_add(&platform_stats.tables_dropped, 1, __ATOMIC_RELAXED);
}

/* The L2 frame and index of a window's entry. */
static bool window_entry(uint64_t va, xen_pfn_t *l2, unsigned *idx)
{
	struct resv *r = resv_of(va);

	if (!r || (va & (SUPERPAGE_2M - 1)))
		return false;
	*l2 = r->l2[(va - r->base) >> SUPERPAGE_1G_SHIFT];
	*idx = pt_index(va, 2);
	return true;
}

static int set_window(void *ctx, void *va, xen_pfn_t table)
{
	xen_pfn_t l2;
	unsigned idx;
	long rc;

	(void)ctx;
	if (!window_entry((uint64_t)(uintptr_t)va, &l2, &idx))
		return -P2M_EINVAL;
	rc = pt_set_entry(l2, idx, table ? (((uint64_t)table << PAGE_SHIFT) | PTE_TABLE) : 0);
	if ((uint64_t)(uintptr_t)va >> SUPERPAGE_2M_SHIFT == cached_window)
		cached_window = ~0ull;
	pt_flush_tlb();
	return rc ? -P2M_EMAP : 0;
}

static int map_frames(void *ctx, void *va, size_t n, const xen_pfn_t *mfns,
		      unsigned flags)
{
	uint64_t v = (uint64_t)(uintptr_t)va;
	uint64_t prot = (flags & P2M_MAP_RW) ? PTE_LEAF_RW : PTE_LEAF_RO;
	struct mmu_batch b;
	xen_pfn_t l1 = 0;
	uint64_t cur_win = ~0ull;
	size_t i;

	(void)ctx;
	/* One page (a slot split by p2m_set): one hypercall writes the PTE
	 * and invalidates the VA, if a table is there. */
	if (!resv_of(v))
		return -P2M_EINVAL;
	if (n == 1 && hyp_update_va_mapping(v, ((uint64_t)mfns[0] << PAGE_SHIFT) | prot,
					    UVMF_INVLPG | UVMF_ALL) == 0)
		return 0;
	mmu_batch_init(&b);
	for (i = 0; i < n; i++, v += PAGE_SIZE) {
		if ((v >> SUPERPAGE_2M_SHIFT) != cur_win) {
			cur_win = v >> SUPERPAGE_2M_SHIFT;
			if (cur_win != cached_window) {
				xen_pfn_t l2;
				unsigned idx;
				uint64_t e;

				if (!window_entry(v & ~(SUPERPAGE_2M - 1), &l2, &idx))
					return -P2M_EINVAL;
				e = pt_read_entry(l2, idx);
				if (!(e & PTE_P))
					return -P2M_EINVAL; /* no table behind this window */
				cached_window = cur_win;
				cached_table = pte_mfn(e);
			}
			l1 = cached_table;
		}
		mmu_queue_pte(&b, l1, pt_index(v, 1),
			      ((uint64_t)mfns[i] << PAGE_SHIFT) | prot);
	}
	if (mmu_flush(&b))
		return -P2M_EMAP;
	pt_flush_tlb();
	return 0;
}

static int m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	uint64_t v;

	(void)ctx;
	if (!m2p_read(mfn, &v))
		return -P2M_ERANGE;
	*pfn = v;
	return 0;
}

static xen_pfn_t root_table(void *ctx)
{
	(void)ctx;
	return pt_root_mfn();
}

static void lock(void *ctx)
{
	(void)ctx;
	if (!spin_lock(&p2m_lock, smp_cpu()))
		__atomic_fetch_add(&platform_stats.lock_errors, 1, __ATOMIC_RELAXED);
}

static void unlock(void *ctx)
{
	(void)ctx;
	if (!spin_unlock(&p2m_lock, smp_cpu()))
		__atomic_fetch_add(&platform_stats.lock_errors, 1, __ATOMIC_RELAXED);
}

static xen_pfn_t to_pfn(xen_pfn_t mfn)
{
	uint64_t pfn;

	if (!m2p_read(mfn, &pfn))
		panic("platform_suspend: table %#lx has no pfn", (unsigned long)mfn);
	return pfn;
}

void platform_suspend(void)
{
	unsigned i, j;

	for (i = 0; i < MAX_RESV; i++) {
		if (!resv[i].used)
			continue;
		resv[i].l3 = to_pfn(resv[i].l3);
		for (j = 0; j < resv[i].nl2; j++)
			resv[i].l2[j] = to_pfn(resv[i].l2[j]);
	}
}

void platform_resume(void)
{
	unsigned i, j;

	for (i = 0; i < MAX_RESV; i++) {
		if (!resv[i].used)
			continue;
		resv[i].l3 = platform_pfn_to_mfn(resv[i].l3);
		for (j = 0; j < resv[i].nl2; j++)
			resv[i].l2[j] = platform_pfn_to_mfn(resv[i].l2[j]);
	}
}

void platform_init(struct p2m_platform *plat)
{
	*plat = (struct p2m_platform){
		.ctx = NULL,
		.alloc_frames = alloc_frames,
		.free_frames = free_frames,
		.frame_map = frame_map,
		.frame_unmap = frame_unmap,
		.reserve = reserve,
		.release = release,
		.make_table = make_table,
		.drop_table = drop_table,
		.set_window = set_window,
		.map_frames = map_frames,
		.m2p = m2p,
		.root_table = root_table,
		.lock = lock,
		.unlock = unlock,
	};
}
