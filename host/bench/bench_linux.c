/*
 * Linux's linear P2M list as it is today (v3.19 on), written from its
 * description, over the same platform as libp2m so that both lists are
 * mapped alike: private leaves, one shared missing and one shared
 * identity leaf (both all ~0), a shared table for each that stands for a
 * whole 1 GiB window.
 *
 * What makes it Linux's and not ours is how ~0 is resolved. A lookup that
 * loads ~0 calls the out-of-line slow path (get_phys_to_machine), which
 * walks the kernel page tables for the entry's address as lookup_address()
 * does: L4, L3, L2, L1, each entry checked for presence and for a large
 * page, and compares the frame of the L1 entry with the identity page's
 * frame. The page tables are a model kept in ordinary memory ("direct
 * mapped": frame f is the page at pt + f * 512 words), mirroring every
 * mapping change made through the platform, so the walk costs what four
 * dependent loads over real tables cost. It is a conservative model: in a
 * PV guest every level's value also goes through a paravirt call that
 * turns the machine frame back into a pfn (an M2P load and a P2M round
 * trip), which this model leaves out.
 *
 * Build follows xen_rebuild_p2m_list(): window by window, a uniform
 * missing or identity window points at the shared table, otherwise the
 * window gets a table, uniform slots map the shared leaves read-only and
 * the other slots get a private page with the 512 entries copied.
 *
 * Updates follow __set_phys_to_machine(): one store, with an exception
 * fixup as xen_safe_write_ulong() has: the store instruction is listed in
 * a table (section bench_extable) and a SIGSEGV handler that finds the
 * faulting address there resumes at the fixup, which reports failure. So
 * a store into a private page costs one store, as in Linux, and only a
 * store into a shared read-only page pays the fault and the walk. A shared
 * slot accepts only the value it stands for; otherwise xen_alloc_p2m_entry():
 * allocate outside the lock a table for a shared window, then a leaf,
 * re-check and install under the lock, bumping the generation around it.
 * Linux never gives a leaf back.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "bench/bench.h"
#include "p2m/e820.h"

#define W 512u   /* entries per page */

static uint64_t *pt_page(const struct bench_linux *l, uint64_t frame)
{
	return l->pt + frame * W;
}

static uint64_t pt_new(struct bench_linux *l)
{
	uint64_t f = l->pt_used++;

	memset(pt_page(l, f), 0, 4096);
	return f;
}

static unsigned va_idx(uintptr_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;
}

static uint64_t pt_entry(uint64_t frame, uint64_t flags)
{
	return (frame << 12) | X86_PTE_PRESENT | flags;
}

/* The L2 entry (pointer) of the window holding va; tables exist from the
 * build on for the whole reservation. */
static uint64_t *l2_entry(struct bench_linux *l, uintptr_t va)
{
	uint64_t e = pt_page(l, l->pgd_frame)[va_idx(va, 4)];

	e = pt_page(l, (e & X86_PTE_MFN_MASK) >> 12)[va_idx(va, 3)];
	return &pt_page(l, (e & X86_PTE_MFN_MASK) >> 12)[va_idx(va, 2)];
}

uint64_t bench_linux_walk(const struct bench_linux *l, uint64_t pfn)
{
	uintptr_t va = (uintptr_t)&l->list[pfn];
	uint64_t e = __atomic_load_n(&pt_page(l, l->pgd_frame)[va_idx(va, 4)],
				     __ATOMIC_RELAXED);

	for (int level = 3; level >= 1; level--) {
		if (!(e & X86_PTE_PRESENT) || (e & X86_PTE_PSE))
			return 0;
		e = __atomic_load_n(&pt_page(l, (e & X86_PTE_MFN_MASK) >> 12)[va_idx(va, level)],
				    __ATOMIC_RELAXED);
	}
	return (e & X86_PTE_PRESENT) ? e : 0;
}

__attribute__((noinline))
uint64_t bench_linux_slow(const struct bench_linux *l, uint64_t pfn)
{
	uint64_t pte;

	if (pfn >= l->size)
		return p2m_identity_entry(pfn);
	pte = bench_linux_walk(l, pfn);
	if (!pte)
		return P2M_INVALID;   /* Linux: BUG() */
	if (((pte & X86_PTE_MFN_MASK) >> 12) == l->identity_leaf)
		return p2m_identity_entry(pfn);
	return __atomic_load_n(&l->list[pfn], __ATOMIC_RELAXED);
}

/* ---- the fault-tolerant store ---- */

extern const uintptr_t __start_bench_extable[], __stop_bench_extable[];
static struct sigaction old_segv;

static void segv_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

	(void)sig;
	(void)si;
	for (const uintptr_t *e = __start_bench_extable; e < __stop_bench_extable; e += 2)
		if (e[0] == ip) {
			uc->uc_mcontext.gregs[REG_RIP] = (greg_t)e[1];
			return;
		}
	/* Not ours: the previous disposition, and the access faults again. */
	sigaction(SIGSEGV, &old_segv, NULL);
}

/* Installed at every build, since a test harness may have replaced it
 * (the one it replaced becomes the fallback). */
static void segv_install(void)
{
	struct sigaction sa, cur;

	if (sigaction(SIGSEGV, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
	    cur.sa_sigaction == segv_handler)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
}

/* One 8-byte store; false if the page is not writable. */
static inline bool safe_write(uint64_t *p, uint64_t v)
{
	int ok = 1;

	__asm__ volatile("1:\tmovq %[v], %[mem]\n"
			 "2:\n"
			 "\t.pushsection bench_extable, \"aw\"\n"
			 "\t.balign 8\n"
			 "\t.quad 1b, 3f\n"
			 "\t.popsection\n"
			 "\t.pushsection .text.unlikely.bench_fixup, \"ax\"\n"
			 "3:\tmovl $0, %[ok]\n"
			 "\tjmp 2b\n"
			 "\t.popsection\n"
			 : [ok] "+r"(ok), [mem] "=m"(*p)
			 : [v] "r"(v)
			 : "memory");
	return ok;
}

static uint64_t *slot_va(const struct bench_linux *l, uint64_t slot)
{
	return l->list + slot * W;
}

static int fill_frame(struct bench_linux *l, xen_pfn_t mfn, uint64_t first,
		      bool identity)
{
	uint64_t *f = l->plat.frame_map(l->plat.ctx, mfn);

	if (!f)
		return -P2M_EMAP;
	for (unsigned i = 0; i < W; i++)
		f[i] = identity ? p2m_identity_entry(first + i) : P2M_INVALID;
	l->plat.frame_unmap(l->plat.ctx, f);
	return 0;
}

/* Point window w at platform table `table`, model L1 page `l1`. */
static int set_window(struct bench_linux *l, uint64_t w, xen_pfn_t table,
		      uint64_t l1, bool private_table)
{
	uintptr_t va = (uintptr_t)(l->list + w * P2M_PER_WINDOW);
	int rc = l->plat.set_window(l->plat.ctx, (void *)va, table);

	if (rc)
		return rc;
	__atomic_store_n(l2_entry(l, va), pt_entry(l1, X86_PTE_RW), __ATOMIC_RELEASE);
	l->win_table[w] = private_table ? table : 0;
	return 0;
}

/* Map n frames at slots from `slot` and record them in the model. */
static int map_slots(struct bench_linux *l, uint64_t slot, size_t n,
		     const xen_pfn_t *mfns, bool rw)
{
	uintptr_t va = (uintptr_t)slot_va(l, slot);
	int rc = l->plat.map_frames(l->plat.ctx, (void *)va, n, mfns,
				    rw ? P2M_MAP_RW : P2M_MAP_RO);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uintptr_t a = va + i * 4096;
		uint64_t l1 = (*l2_entry(l, a) & X86_PTE_MFN_MASK) >> 12;

		__atomic_store_n(&pt_page(l, l1)[va_idx(a, 1)],
				 pt_entry(mfns[i], rw ? X86_PTE_RW : 0), __ATOMIC_RELEASE);
	}
	return 0;
}

/* A private model L1 page starting as a copy of a shared one. */
static uint64_t model_l1_copy(struct bench_linux *l, uint64_t from)
{
	uint64_t f = pt_new(l);

	memcpy(pt_page(l, f), pt_page(l, from), 4096);
	return f;
}

/* 0 RAM or mixed, 1 all missing, 2 all identity (beyond n: missing). */
static int slot_kind(const uint64_t *flat, uint64_t n, uint64_t slot)
{
	uint64_t first = slot * W;
	int k;

	if (first >= n)
		return 1;
	if (flat[first] == P2M_INVALID)
		k = 1;
	else if (flat[first] == p2m_identity_entry(first))
		k = 2;
	else
		return 0;
	for (unsigned i = 1; i < W; i++) {
		uint64_t e = first + i < n ? flat[first + i] : P2M_INVALID;

		if (k == 1 ? e != P2M_INVALID : e != p2m_identity_entry(first + i))
			return 0;
	}
	return k;
}

static int build_window(struct bench_linux *l, const uint64_t *flat,
			uint64_t n, uint64_t w)
{
	int kinds[W], all = -1;
	xen_pfn_t table, mfns[W];
	uint64_t l1;
	int rc;

	for (unsigned s = 0; s < W; s++) {
		kinds[s] = slot_kind(flat, n, w * W + s);
		all = all == -1 ? kinds[s] : (all == kinds[s] ? all : 0);
	}
	if (all == 1)
		return set_window(l, w, l->missing_table, l->missing_pte_frame, false);
	if (all == 2)
		return set_window(l, w, l->identity_table, l->identity_pte_frame, false);
	rc = l->plat.alloc_frames(l->plat.ctx, 1, &table);
	if (rc)
		return rc;
	rc = l->plat.make_table(l->plat.ctx, table, l->missing_leaf);
	if (rc)
		return rc;
	l1 = model_l1_copy(l, l->missing_pte_frame);
	rc = set_window(l, w, table, l1, true);
	if (rc)
		return rc;
	l->private_tables++;
	for (unsigned s = 0; s < W;) {
		uint64_t slot = w * W + s;
		unsigned run = 0;

		if (kinds[s] == 1) {
			s++;
			continue;
		}
		if (kinds[s] == 2) {
			rc = map_slots(l, slot, 1, &l->identity_leaf, false);
			if (rc)
				return rc;
			s++;
			continue;
		}
		while (s + run < W && kinds[s + run] == 0)
			run++;
		rc = l->plat.alloc_frames(l->plat.ctx, run, mfns);
		if (rc)
			return rc;
		rc = map_slots(l, slot, run, mfns, true);
		if (rc)
			return rc;
		l->private_leaves += run;
		for (unsigned i = 0; i < run; i++) {
			uint64_t first = (slot + i) * W;
			uint64_t *dst = slot_va(l, slot + i);

			if (first + W <= n) {
				memcpy(dst, flat + first, W * 8);
			} else {
				for (unsigned j = 0; j < W; j++)
					dst[j] = first + j < n ? flat[first + j] : P2M_INVALID;
			}
		}
		s += run;
	}
	return 0;
}

int bench_linux_build(struct bench_linux *l, const struct p2m_platform *plat,
		      const uint64_t *flat, uint64_t n, uint64_t capacity)
{
	xen_pfn_t sh[4];
	uint64_t l2pages;
	int rc;

	memset(l, 0, sizeof(*l));
	segv_install();
	l->plat = *plat;
	capacity = (capacity + P2M_PER_WINDOW - 1) & ~(P2M_PER_WINDOW - 1);
	l->size = capacity;
	l->nwin = capacity / P2M_PER_WINDOW;
	l->reserved = capacity * 8;
	l->win_table = calloc(l->nwin, sizeof(*l->win_table));
	/* L4 + L3s + L2s for the area, L1s: two shared, one per window */
	l2pages = l->nwin / 512 + 2;
	l->pt_pages = 1 + 2 * (l2pages + 1) + l->nwin + 2;
	l->pt = bench_pages(l->pt_pages * 4096);
	if (!l->win_table || !l->pt)
		return -P2M_ENOMEM;
	rc = plat->reserve(plat->ctx, l->reserved, &l->base);
	if (rc)
		return rc;
	l->list = l->base;
	if ((rc = plat->alloc_frames(plat->ctx, 4, sh)))
		return rc;
	l->missing_leaf = sh[0];
	l->identity_leaf = sh[1];
	l->missing_table = sh[2];
	l->identity_table = sh[3];
	if ((rc = fill_frame(l, sh[0], 0, false)) || (rc = fill_frame(l, sh[1], 0, false)) ||
	    (rc = plat->make_table(plat->ctx, sh[2], sh[0])) ||
	    (rc = plat->make_table(plat->ctx, sh[3], sh[1])))
		return rc;
	/* The model's tables: L4, then L3/L2 pages covering the area. */
	l->pgd_frame = pt_new(l);
	l->missing_pte_frame = pt_new(l);
	l->identity_pte_frame = pt_new(l);
	for (unsigned i = 0; i < W; i++) {
		pt_page(l, l->missing_pte_frame)[i] = pt_entry(l->missing_leaf, 0);
		pt_page(l, l->identity_pte_frame)[i] = pt_entry(l->identity_leaf, 0);
	}
	for (uintptr_t va = (uintptr_t)l->base & ~(((uintptr_t)1 << 30) - 1);
	     va < (uintptr_t)l->base + l->reserved; va += (uintptr_t)1 << 30) {
		uint64_t *e4 = &pt_page(l, l->pgd_frame)[va_idx(va, 4)];
		uint64_t *e3;

		if (!(*e4 & X86_PTE_PRESENT))
			*e4 = pt_entry(pt_new(l), X86_PTE_RW);
		e3 = &pt_page(l, (*e4 & X86_PTE_MFN_MASK) >> 12)[va_idx(va, 3)];
		if (!(*e3 & X86_PTE_PRESENT))
			*e3 = pt_entry(pt_new(l), X86_PTE_RW);
	}
	for (uint64_t w = 0; w < l->nwin; w++)
		if ((rc = build_window(l, flat, n, w)))
			return rc;
	return 0;
}

void bench_linux_destroy(struct bench_linux *l)
{
	if (l->base) {
		/* Releasing the reservation drops every mapping; then the frames. */
		l->plat.release(l->plat.ctx, l->base, l->reserved);
		for (uint64_t w = 0; w < l->nwin; w++)
			if (l->win_table[w]) {
				l->plat.drop_table(l->plat.ctx, l->win_table[w]);
				l->plat.free_frames(l->plat.ctx, 1, &l->win_table[w]);
			}
	}
	bench_pages_free(l->pt, l->pt_pages * 4096);
	free(l->win_table);
	memset(l, 0, sizeof(*l));
}

uint64_t bench_linux_bytes(const struct bench_linux *l)
{
	return (l->private_leaves + l->private_tables + 4) * 4096;
}

static void lock(struct bench_linux *l)
{
	l->plat.lock(l->plat.ctx);
}

static void unlock(struct bench_linux *l)
{
	l->plat.unlock(l->plat.ctx);
}

bool bench_linux_set_fast(struct bench_linux *l, uint64_t pfn, uint64_t v)
{
	uint64_t pte, frame;

	if (pfn >= l->size)
		return v == P2M_INVALID || v == p2m_identity_entry(pfn);
	if (safe_write(&l->list[pfn], v))
		return true;
	pte = bench_linux_walk(l, pfn);
	frame = (pte & X86_PTE_MFN_MASK) >> 12;
	if (frame == l->missing_leaf)
		return v == P2M_INVALID;
	if (frame == l->identity_leaf)
		return v == p2m_identity_entry(pfn);
	return false;
}

/* xen_alloc_p2m_entry(): a table for a shared window, then a leaf. */
static int alloc_entry(struct bench_linux *l, uint64_t pfn)
{
	uint64_t w = pfn / P2M_PER_WINDOW, slot = pfn / W;
	uintptr_t wva = (uintptr_t)(l->list + w * P2M_PER_WINDOW);
	uint64_t pte, frame;
	xen_pfn_t mfn;
	int rc;

	if (__atomic_load_n(&l->win_table[w], __ATOMIC_ACQUIRE) == 0) {
		uint64_t shared_l1 = (*l2_entry(l, wva) & X86_PTE_MFN_MASK) >> 12;
		xen_pfn_t leaf = shared_l1 == l->identity_pte_frame ?
				 l->identity_leaf : l->missing_leaf;

		if ((rc = l->plat.alloc_frames(l->plat.ctx, 1, &mfn)))
			return rc;
		if ((rc = l->plat.make_table(l->plat.ctx, mfn, leaf)))
			return rc;
		lock(l);
		if (l->win_table[w] == 0) {
			uint64_t l1 = model_l1_copy(l, shared_l1);

			__atomic_store_n(&l->generation, l->generation + 1, __ATOMIC_RELEASE);
			rc = set_window(l, w, mfn, l1, true);
			__atomic_store_n(&l->generation, l->generation + 1, __ATOMIC_RELEASE);
			if (!rc)
				l->private_tables++;
			mfn = rc ? mfn : 0;
		}
		unlock(l);
		if (mfn) {
			l->plat.drop_table(l->plat.ctx, mfn);
			l->plat.free_frames(l->plat.ctx, 1, &mfn);
		}
		if (rc)
			return rc;
	}
	pte = bench_linux_walk(l, pfn);
	frame = (pte & X86_PTE_MFN_MASK) >> 12;
	if (frame != l->missing_leaf && frame != l->identity_leaf)
		return 0;
	if ((rc = l->plat.alloc_frames(l->plat.ctx, 1, &mfn)))
		return rc;
	if ((rc = fill_frame(l, mfn, slot * W, frame == l->identity_leaf)))
		return rc;
	lock(l);
	if (bench_linux_walk(l, pfn) == pte) {
		__atomic_store_n(&l->generation, l->generation + 1, __ATOMIC_RELEASE);
		rc = map_slots(l, slot, 1, &mfn, true);
		__atomic_store_n(&l->generation, l->generation + 1, __ATOMIC_RELEASE);
		if (!rc)
			l->private_leaves++;
		mfn = rc ? mfn : 0;
	}
	unlock(l);
	if (mfn)
		l->plat.free_frames(l->plat.ctx, 1, &mfn);
	return rc;
}

int bench_linux_set(struct bench_linux *l, uint64_t pfn, uint64_t v)
{
	int rc;

	if (bench_linux_set_fast(l, pfn, v))
		return 0;
	if (pfn >= l->size)
		return -P2M_ERANGE;
	if ((rc = alloc_entry(l, pfn)))
		return rc;
	return bench_linux_set_fast(l, pfn, v) ? 0 : -P2M_EBUSY;
}

uint64_t bench_linux_extra_pfns(const uint64_t *flat, uint64_t n, uint64_t wanted)
{
	uint64_t ram = 0, budget;

	for (uint64_t pfn = 0; pfn < n; pfn++)
		ram += flat[pfn] != P2M_INVALID && flat[pfn] != p2m_identity_entry(pfn);
	budget = P2M_E820_EXTRA_RATIO * (ram < P2M_E820_MAXMEM_PFNS ? ram : P2M_E820_MAXMEM_PFNS);
	budget = budget > n - ram ? budget - (n - ram) : 0;
	return wanted < budget ? wanted : budget;
}

void bench_linux_model_cost(const uint64_t *flat, uint64_t n,
			    uint64_t capacity, uint64_t extra_first,
			    uint64_t extra_n, struct bench_linux_cost *c)
{
	uint64_t nwin = (capacity + P2M_PER_WINDOW - 1) / P2M_PER_WINDOW;

	memset(c, 0, sizeof(*c));
	c->shared = 4;
	for (uint64_t w = 0; w < nwin; w++) {
		uint64_t leaves = 0;
		int all = -1;

		for (unsigned s = 0; s < W; s++) {
			uint64_t slot = w * W + s, first = slot * W;
			int k;

			/* xen_inv_extra_mem(): extra pfns become ~0 one by one,
			 * which an identity (or missing) shared page refuses for
			 * identity, so every extra slot is private. */
			if (first < extra_first + extra_n && first + W > extra_first)
				k = 0;
			else if (first >= n)
				k = 2;   /* above the initial list: identity */
			else
				k = slot_kind(flat, n, slot);
			leaves += k == 0;
			all = all == -1 ? k : (all == k ? all : 0);
		}
		if (all == 1 || all == 2)
			continue;
		c->tables++;
		c->leaves += leaves;
	}
	c->bytes = (c->leaves + c->tables + c->shared) * 4096;
}
