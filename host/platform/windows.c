/*
 * Reservations, page tables and windows of the hosted platform: the
 * operations that change what the list's virtual window shows.
 *
 * Every window (2 MiB of list VA) is described by its L1 frame (libp2m's
 * table) plus, for a window set to a table that maps one leaf everywhere,
 * a "run" (512 copies of that leaf; see hosted.h). What each slot shows is
 * its backing: a memfd page and whether it is writable. A change is first
 * planned (old and new backing of all 512 slots of every window touched),
 * then checked against the mapping budget, then carried out with one mmap
 * per stretch of slots whose new backing is consecutive memfd pages, and
 * undone if an mmap fails. Only then are the page tables written, so a
 * failing call leaves mappings, tables and counts as they were.
 *
 * Mapping count of a window: one per maximal stretch of consecutive
 * backing pages. The kernel may merge more (across windows), so the sum
 * over windows, plus one per stretch of unset windows (the PROT_NONE
 * reservation around them), bounds what the reservations hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "platform/hosted_impl.h"

#define BIT(bits, i) (((bits)[(i) / 64] >> ((i) % 64)) & 1)

struct plan {
	struct hp_resv *r;
	uint64_t wi;
	uint64_t old_b[HP_SLOTS], new_b[HP_SLOTS];
	uint64_t l1[HP_SLOTS];         /* the window's L1 after the change */
	unsigned pte_lo, pte_hi;       /* entries of l1 to write */
	xen_pfn_t table;               /* new table */
	int run;                       /* new run, or -1 */
	uint64_t bits[HP_SLOTS / 64];  /* new runbits */
	uint32_t vmas;                 /* new mapping count */
	int64_t delta;                 /* mappings added (with gaps) */
	int gap_delta;
	unsigned done;                 /* slots remapped so far */
};

static struct hp_resv *find_resv(struct hosted *h, uint64_t va)
{
	for (struct hp_resv *r = h->resv; r; r = r->next)
		if (va >= (uint64_t)r->base && va - (uint64_t)r->base < r->bytes)
			return r;
	return NULL;
}

static uint8_t *slot_va(const struct hp_resv *r, uint64_t wi, unsigned i)
{
	return r->base + wi * HP_WINDOW_BYTES + (uint64_t)i * HP_PAGE;
}

/* backing = memfd page << 1 | writable; HP_NONE when unmapped. */
static void backing(struct hosted *h, xen_pfn_t table, int run,
		    const uint64_t *bits, const uint64_t *l1, uint64_t *b)
{
	for (unsigned i = 0; i < HP_SLOTS; i++) {
		if (!table)
			b[i] = HP_NONE;
		else if (run >= 0 && BIT(bits, i))
			b[i] = (h->runs[run].first + i) << 1;
		else if (!(l1[i] & X86_PTE_PRESENT))
			b[i] = HP_NONE;
		else
			b[i] = (hp_off(h, hp_in(h, (l1[i] & X86_PTE_MFN_MASK) >> 12)) << 1) |
			       !!(l1[i] & X86_PTE_RW);
	}
}

static uint32_t count_vmas(const uint64_t *b)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < HP_SLOTS; i++)
		if (b[i] != HP_NONE && (i == 0 || b[i - 1] == HP_NONE || b[i] != b[i - 1] + 2))
			n++;
	return n;
}

static int window_set(const struct hp_resv *r, uint64_t wi)
{
	return wi < r->nwin && r->win[wi].table != 0;
}

/* Fill in the plan's backing and counts from its new table/run/bits/l1. */
static void plan_finish(struct hosted *h, struct plan *p, const uint64_t *old_l1)
{
	struct hp_window *w = &p->r->win[p->wi];

	backing(h, w->table, w->run, w->runbits, old_l1, p->old_b);
	backing(h, p->table, p->run, p->bits, p->l1, p->new_b);
	p->vmas = count_vmas(p->new_b);
	p->gap_delta = 0;
	if (!w->table && p->table) {
		/* Setting an unset window splits, shortens or ends a gap. */
		int left = p->wi > 0 && !window_set(p->r, p->wi - 1);
		int right = !window_set(p->r, p->wi + 1) && p->wi + 1 < p->r->nwin;

		p->gap_delta = left && right ? 1 : (!left && !right ? -1 : 0);
	}
	p->delta = (int64_t)p->vmas - (int64_t)w->vmas + p->gap_delta;
	p->done = 0;
}

/*
 * ThreadSanitizer models mmap() as a plain write of the whole range, so a
 * lock-free reader of the list would be reported racing with every
 * remap. The kernel swaps the page atomically (a reader sees the old or
 * the new one, as with a guest's PTE write), so under TSan the platform
 * asks it to forget the range's history instead (the runtime resets the
 * shadow of an mmap done while writes are ignored).
 */
#if defined(__SANITIZE_THREAD__)
#define HP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HP_TSAN 1
#endif
#endif
#ifdef HP_TSAN
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
#define ATOMIC_SWAP_BEGIN() AnnotateIgnoreWritesBegin(__FILE__, __LINE__)
#define ATOMIC_SWAP_END() AnnotateIgnoreWritesEnd(__FILE__, __LINE__)
#else
#define ATOMIC_SWAP_BEGIN() ((void)0)
#define ATOMIC_SWAP_END() ((void)0)
#endif

static int map_stretch(struct hosted *h, uint8_t *va, unsigned n, uint64_t b)
{
	void *p;

	ATOMIC_SWAP_BEGIN();
	if (b == HP_NONE)
		p = mmap(va, (size_t)n * HP_PAGE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	else {
		p = mmap(va, (size_t)n * HP_PAGE, PROT_READ | ((b & 1) ? PROT_WRITE : 0),
			 MAP_SHARED | MAP_FIXED, h->fd, (off_t)((b >> 1) * HP_PAGE));
		for (unsigned i = 0; i < n; i++)   /* writable through va from now on */
			h->frames[(b >> 1) + i].flags &= ~(uint32_t)HF_FRESH;
	}
	ATOMIC_SWAP_END();
	h->map_calls++;
	return p == MAP_FAILED ? -errno : 0;
}

/* Remap the slots whose backing changes from `from` to `to`, up to slot
 * `limit`; returns how far it got in *done. */
static int remap(struct hosted *h, struct plan *p, const uint64_t *from,
		 const uint64_t *to, unsigned limit, unsigned *done)
{
	unsigned i = 0;

	while (i < limit) {
		unsigned j = i + 1;
		int e;

		if (to[i] == from[i]) {
			i++;
			continue;
		}
		while (j < limit && to[j] != from[j] && to[j] != HP_NONE &&
		       to[j] == to[j - 1] + 2)
			j++;
		if (to[i] == HP_NONE)
			while (j < limit && to[j] != from[j] && to[j] == HP_NONE)
				j++;
		e = map_stretch(h, slot_va(p->r, p->wi, i), j - i, to[i]);
		if (e) {
			*done = i;
			return e;
		}
		i = j;
	}
	*done = limit;
	return 0;
}

static void run_put(struct hosted *h, int k);

static int execute(struct hosted *h, struct plan *plans, unsigned np)
{
	unsigned k;
	int e = 0;

	for (k = 0; k < np; k++) {
		e = remap(h, &plans[k], plans[k].old_b, plans[k].new_b, HP_SLOTS, &plans[k].done);
		if (e)
			break;
	}
	if (e) {
		/* Undo, newest first; the stretches before `done` changed. */
		unsigned ignored;

		for (int u = (int)k; u >= 0; u--)
			remap(h, &plans[u], plans[u].new_b, plans[u].old_b, plans[u].done, &ignored);
		return hp_fail(h, -P2M_EMAP, "hosted platform: mmap in the list window at %p: %s",
			       (void *)slot_va(plans[k].r, plans[k].wi, plans[k].done), strerror(-e));
	}
	for (k = 0; k < np; k++) {
		struct plan *p = &plans[k];
		struct hp_window *w = &p->r->win[p->wi];

		if (p->pte_hi > p->pte_lo)
			hp_pwrite(h, p->table, (uint64_t)p->pte_lo * 8, &p->l1[p->pte_lo],
				  (uint64_t)(p->pte_hi - p->pte_lo) * 8);
		if (w->table != p->table) {
			hp_pt_set_l2(h, (uint64_t)slot_va(p->r, p->wi, 0), p->table);
			if (w->table)
				h->frames[hp_off(h, w->table)].refs--;
			h->frames[hp_off(h, p->table)].refs++;
		}
		if (p->run >= 0 && p->run != w->run)
			h->runs[p->run].refs++;
		if (w->run >= 0 && p->run != w->run)
			run_put(h, w->run);
		w->table = p->table;
		w->run = p->run;
		memcpy(w->runbits, p->bits, sizeof(w->runbits));
		w->vmas = p->vmas;
		p->r->gaps = (uint64_t)((int64_t)p->r->gaps + p->gap_delta);
		h->vmas = (uint64_t)((int64_t)h->vmas + p->delta);
	}
	return 0;
}

/* --- runs --- */

static void run_free(struct hosted *h, struct hp_run *run)
{
	xen_pfn_t mfns[HP_SLOTS];

	for (unsigned i = 0; i < HP_SLOTS; i++)
		mfns[i] = h->base + run->first + i;
	hp_free_locked(h, HP_SLOTS, mfns);
	h->run_frames -= HP_SLOTS;
	run->live = 0;
}

static void run_put(struct hosted *h, int k)
{
	struct hp_run *run = &h->runs[k];

	if (--run->refs == 0 && run->leaf_freed)
		run_free(h, run);
}

void hp_leaf_freed(struct hosted *h, xen_pfn_t mfn)
{
	for (uint64_t k = 0; k < h->nruns; k++) {
		struct hp_run *run = &h->runs[k];

		if (!run->live || run->leaf_freed || run->leaf != mfn)
			continue;
		if (run->refs == 0)
			run_free(h, run);
		else
			run->leaf_freed = 1;
	}
	h->frames[hp_off(h, mfn)].flags &= ~(uint32_t)HF_HAS_RUN;
}

static int run_fill(struct hosted *h, const struct hp_run *run, const uint8_t *page)
{
	for (unsigned i = 0; i < HP_SLOTS; i++) {
		int rc = hp_pwrite(h, h->base + run->first + i, 0, page, HP_PAGE);

		if (rc)
			return rc;
	}
	return 0;
}

/* The run of leaf, made or refreshed from the leaf's current contents. */
static int run_get(struct hosted *h, xen_pfn_t leaf, int *out)
{
	uint8_t page[HP_PAGE], copy[HP_PAGE];
	struct hp_run *run = NULL;
	xen_pfn_t first;
	int rc = hp_pread(h, leaf, 0, page, HP_PAGE);

	if (rc)
		return rc;
	for (uint64_t k = 0; k < h->nruns; k++) {
		run = &h->runs[k];
		if (!run->live || run->leaf_freed || run->leaf != leaf)
			continue;
		rc = hp_pread(h, h->base + run->first, 0, copy, HP_PAGE);
		if (rc == 0 && memcmp(page, copy, HP_PAGE) != 0)
			rc = run_fill(h, run, page);
		*out = (int)k;
		return rc;
	}
	rc = hp_alloc_locked(h, HP_SLOTS, (xen_pfn_t[HP_SLOTS]){ 0 }, 1, HF_PLATFORM);
	if (rc)
		return rc;
	first = h->bump - HP_SLOTS;
	run = NULL;
	for (uint64_t k = 0; k < h->nruns; k++)
		if (!h->runs[k].live)
			run = &h->runs[k];
	if (!run) {
		if (h->nruns == h->capruns) {
			uint64_t cap = h->capruns ? h->capruns * 2 : 8;
			struct hp_run *nr = realloc(h->runs, cap * sizeof(*nr));

			if (!nr) {
				xen_pfn_t mfns[HP_SLOTS];

				for (unsigned i = 0; i < HP_SLOTS; i++)
					mfns[i] = h->base + first + i;
				hp_free_locked(h, HP_SLOTS, mfns);
				return hp_fail(h, -P2M_ENOMEM, "hosted platform: no memory for a run record");
			}
			h->runs = nr;
			h->capruns = cap;
		}
		run = &h->runs[h->nruns++];
	}
	*run = (struct hp_run){ .leaf = leaf, .first = first, .live = 1 };
	h->run_frames += HP_SLOTS;
	h->frames[hp_off(h, leaf)].flags |= HF_HAS_RUN;
	*out = (int)(run - h->runs);
	rc = run_fill(h, run, page);
	if (rc)
		run_free(h, run);
	return rc;
}

/* --- operations --- */

static int check_table(struct hosted *h, xen_pfn_t t, const char *what)
{
	if (!hp_valid_mfn(h, t) || (h->frames[hp_off(h, t)].flags & HF_PLATFORM))
		return hp_fail(h, -P2M_EINVAL, "hosted platform: %s: mfn %#llx is not an allocated frame",
			       what, (unsigned long long)t);
	return 0;
}

int hp_make_table(void *ctx, xen_pfn_t table, xen_pfn_t leaf)
{
	struct hosted *h = ctx;
	uint64_t l1[HP_SLOTS];
	xen_pfn_t table_ext = table, leaf_ext = leaf;
	int rc;

	pthread_mutex_lock(&h->mu);
	table = hp_in(h, table);
	leaf = hp_in(h, leaf);
	rc = check_table(h, table, "make_table");
	if (rc == 0 && !hp_valid_mfn(h, leaf))
		rc = hp_fail(h, -P2M_EINVAL, "hosted platform: make_table: leaf mfn %#llx is not an allocated frame",
			     (unsigned long long)leaf_ext);
	if (rc == 0 && h->frames[hp_off(h, table)].refs)
		rc = hp_fail(h, -P2M_EBUSY, "hosted platform: make_table: mfn %#llx is the live table of %u window(s)",
			     (unsigned long long)table, h->frames[hp_off(h, table)].refs);
	if (rc == 0 && table == leaf)
		rc = hp_fail(h, -P2M_EINVAL, "hosted platform: make_table: table %#llx cannot map itself",
			     (unsigned long long)table_ext);
	if (rc == 0) {
		for (unsigned i = 0; i < HP_SLOTS; i++)
			l1[i] = ((uint64_t)leaf_ext << 12) | X86_PTE_PRESENT | X86_PTE_USER | X86_PTE_ACCESSED;
		rc = hp_pwrite(h, table, 0, l1, sizeof(l1));
	}
	if (rc == 0)
		h->frames[hp_off(h, table)].flags |= HF_TABLE;
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void hp_drop_table(void *ctx, xen_pfn_t table)
{
	struct hosted *h = ctx;

	pthread_mutex_lock(&h->mu);
	table = hp_in(h, table);
	if (check_table(h, table, "drop_table") == 0) {
		struct hp_frame *f = &h->frames[hp_off(h, table)];

		/* A frame never made a table: nothing to unpin (platform.h). */
		if (!(f->flags & HF_TABLE))
			;
		else if (f->refs)
			hp_fail(h, -P2M_EBUSY, "hosted platform: drop_table: mfn %#llx is still the table of %u window(s)",
				(unsigned long long)table, f->refs);
		else
			f->flags &= ~(uint32_t)HF_TABLE;
	}
	pthread_mutex_unlock(&h->mu);
}

static int injected_map_failure(struct hosted *h, const char *op)
{
	if (!hp_take_injected(&h->fail_map_in))
		return 0;
	return hp_fail(h, -P2M_EMAP, "hosted platform: injected failure of %s", op);
}

static int set_window_locked(struct hosted *h, void *va, xen_pfn_t table)
{
	uint64_t a = (uint64_t)va, old_l1[HP_SLOTS];
	struct hp_resv *r = find_resv(h, a);
	struct hp_window *w;
	struct plan *p;
	int rc, uniform = 1;

	if (!r || a % HP_WINDOW_BYTES)
		return hp_fail(h, -P2M_EINVAL, "hosted platform: set_window at %p: not a window of a reservation", va);
	rc = check_table(h, table, "set_window");
	if (rc)
		return rc;
	if (!(h->frames[hp_off(h, table)].flags & HF_TABLE))
		return hp_fail(h, -P2M_EINVAL, "hosted platform: set_window: mfn %#llx was not made a table",
			       (unsigned long long)table);
	rc = injected_map_failure(h, "set_window");
	if (rc)
		return rc;
	p = malloc(sizeof(*p));
	if (!p)
		return hp_fail(h, -P2M_ENOMEM, "hosted platform: no memory for a mapping plan");
	p->r = r;
	p->wi = (a - (uint64_t)r->base) / HP_WINDOW_BYTES;
	w = &r->win[p->wi];
	rc = hp_pread(h, table, 0, p->l1, sizeof(p->l1));
	if (rc == 0 && w->table)
		rc = hp_pread(h, w->table, 0, old_l1, sizeof(old_l1));
	if (rc)
		goto out;
	for (unsigned i = 0; i < HP_SLOTS; i++)
		if (p->l1[i] != p->l1[0] || (p->l1[i] & X86_PTE_RW) || !(p->l1[i] & X86_PTE_PRESENT))
			uniform = 0;
	p->table = table;
	p->run = -1;
	p->pte_lo = p->pte_hi = 0;
	memset(p->bits, 0, sizeof(p->bits));
	if (uniform && !h->alias) {
		rc = run_get(h, hp_in(h, (p->l1[0] & X86_PTE_MFN_MASK) >> 12), &p->run);
		if (rc)
			goto out;
		memset(p->bits, 0xff, sizeof(p->bits));
	}
	plan_finish(h, p, old_l1);
	rc = hp_map_budget(h, p->delta);
	if (rc == 0)
		rc = execute(h, p, 1);
out:
	free(p);
	return rc;
}

int hp_set_window(void *ctx, void *va, xen_pfn_t table)
{
	struct hosted *h = ctx;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = set_window_locked(h, va, hp_in(h, table));
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static int map_frames_locked(struct hosted *h, void *va, size_t n,
			     const xen_pfn_t *mfns, unsigned flags)
{
	uint64_t a = (uint64_t)va, first, last, old_l1[HP_SLOTS];
	struct hp_resv *r = find_resv(h, a);
	struct plan *plans;
	unsigned np;
	int64_t delta = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	if (flags & ~P2M_MAP_RW)
		return hp_fail(h, -P2M_EINVAL, "hosted platform: map_frames: unknown flags %#x", flags);
	if (!r || a % HP_PAGE || n > (r->bytes - (a - (uint64_t)r->base)) / HP_PAGE)
		return hp_fail(h, -P2M_EINVAL, "hosted platform: map_frames of %zu slots at %p: outside every reservation",
			       n, va);
	for (size_t i = 0; i < n; i++) {
		if (!hp_valid_mfn(h, mfns[i]))
			return hp_fail(h, -P2M_EINVAL, "hosted platform: map_frames: mfn %#llx (slot %zu) is not an allocated frame",
				       (unsigned long long)mfns[i], i);
		if ((flags & P2M_MAP_RW) && (h->frames[hp_off(h, mfns[i])].flags & (HF_TABLE | HF_PLATFORM)))
			return hp_fail(h, -P2M_EINVAL, "hosted platform: map_frames: mfn %#llx is a page table; it cannot be mapped writable",
				       (unsigned long long)mfns[i]);
	}
	first = (a - (uint64_t)r->base) / HP_WINDOW_BYTES;
	last = (a - (uint64_t)r->base + n * HP_PAGE - 1) / HP_WINDOW_BYTES;
	for (uint64_t wi = first; wi <= last; wi++) {
		const struct hp_window *w = &r->win[wi];

		if (!w->table)
			return hp_fail(h, -P2M_EINVAL, "hosted platform: map_frames at %p: its window has no table (set_window first)",
				       (void *)slot_va(r, wi, 0));
		if (h->frames[hp_off(h, w->table)].refs != 1)
			return hp_fail(h, -P2M_EBUSY, "hosted platform: map_frames at %p: table %#llx serves %u windows; a private table is needed",
				       (void *)slot_va(r, wi, 0), (unsigned long long)w->table,
				       h->frames[hp_off(h, w->table)].refs);
	}
	rc = injected_map_failure(h, "map_frames");
	if (rc)
		return rc;
	np = (unsigned)(last - first + 1);
	plans = malloc(np * sizeof(*plans));
	if (!plans)
		return hp_fail(h, -P2M_ENOMEM, "hosted platform: no memory for a mapping plan");
	for (unsigned k = 0; k < np && rc == 0; k++) {
		struct plan *p = &plans[k];
		const struct hp_window *w = &r->win[first + k];
		uint64_t wva = (uint64_t)slot_va(r, first + k, 0);
		uint64_t lo = a > wva ? (a - wva) / HP_PAGE : 0;
		uint64_t end = (a + n * HP_PAGE - wva) / HP_PAGE;

		if (end > HP_SLOTS)
			end = HP_SLOTS;
		p->r = r;
		p->wi = first + k;
		p->table = w->table;
		rc = hp_pread(h, w->table, 0, old_l1, sizeof(old_l1));
		if (rc)
			break;
		memcpy(p->l1, old_l1, sizeof(old_l1));
		memcpy(p->bits, w->runbits, sizeof(p->bits));
		for (uint64_t i = lo; i < end; i++) {
			xen_pfn_t m = mfns[(wva + i * HP_PAGE - a) / HP_PAGE];

			p->l1[i] = ((uint64_t)hp_ext(h, m) << 12) | X86_PTE_PRESENT | X86_PTE_USER |
				   X86_PTE_ACCESSED | ((flags & P2M_MAP_RW) ? X86_PTE_RW : 0);
			p->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
		}
		p->run = w->run;
		if (p->run >= 0) {
			uint64_t any = 0;

			for (unsigned b = 0; b < HP_SLOTS / 64; b++)
				any |= p->bits[b];
			if (!any)
				p->run = -1;
		}
		p->pte_lo = (unsigned)lo;
		p->pte_hi = (unsigned)end;
		plan_finish(h, p, old_l1);
		delta += p->delta;
	}
	if (rc == 0)
		rc = hp_map_budget(h, delta);
	if (rc == 0)
		rc = execute(h, plans, np);
	free(plans);
	return rc;
}

int hp_map_frames(void *ctx, void *va, size_t n, const xen_pfn_t *mfns,
		  unsigned flags)
{
	struct hosted *h = ctx;
	xen_pfn_t *in = NULL;
	int rc;

	pthread_mutex_lock(&h->mu);
	if (h->namer.page_of && n) {
		in = malloc(n * sizeof(*in));
		if (!in) {
			rc = hp_fail(h, -P2M_ENOMEM, "hosted platform: no memory for %zu frame numbers", n);
			pthread_mutex_unlock(&h->mu);
			return rc;
		}
		for (size_t i = 0; i < n; i++)
			in[i] = hp_in(h, mfns[i]);
		mfns = in;
	}
	rc = map_frames_locked(h, va, n, mfns, flags);
	free(in);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

/* --- reservations --- */

static int reserve_locked(struct hosted *h, size_t bytes, void **out)
{
	uint64_t len = (bytes + HP_WINDOW_BYTES - 1) & ~(HP_WINDOW_BYTES - 1);
	struct hp_resv *r;
	uint8_t *raw, *base;
	int rc;

	if (bytes == 0 || len < bytes)
		return hp_fail(h, -P2M_EINVAL, "hosted platform: reserve of %zu bytes", bytes);
	rc = hp_map_budget(h, 1);
	if (rc)
		return rc;
	/* Aligned to 1 GiB, as the guest's reservations (a whole L4 slot):
	 * the 4.17 saver's level-2 trim in map_p2m_list() mixes a relative
	 * and an absolute L2 index and drops the list's last GiB unless the
	 * list starts at L2 index 0 (tests/unit/test_publish.c). */
	raw = mmap(NULL, len + HP_L2_SPAN, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return hp_fail(h, -P2M_ENOMEM, "hosted platform: reserving %llu bytes of address space: %s",
			       (unsigned long long)len, strerror(errno));
	base = (uint8_t *)(((uint64_t)raw + HP_L2_SPAN - 1) & ~(HP_L2_SPAN - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	if (raw + HP_L2_SPAN > base)
		munmap(base + len, (size_t)(raw + HP_L2_SPAN - base));
	r = calloc(1, sizeof(*r));
	if (r)
		r->win = calloc(len / HP_WINDOW_BYTES, sizeof(*r->win));
	if (!r || !r->win) {
		if (r)
			free(r);
		munmap(base, len);
		return hp_fail(h, -P2M_ENOMEM, "hosted platform: no memory for %llu window records",
			       (unsigned long long)(len / HP_WINDOW_BYTES));
	}
	rc = hp_pt_cover(h, (uint64_t)base, len);
	if (rc) {
		free(r->win);
		free(r);
		munmap(base, len);
		return rc;
	}
	r->base = base;
	r->bytes = len;
	r->nwin = len / HP_WINDOW_BYTES;
	r->gaps = 1;
	for (uint64_t i = 0; i < r->nwin; i++)
		r->win[i].run = -1;
	r->next = h->resv;
	h->resv = r;
	h->vmas += 1;
	*out = base;
	return 0;
}

int hp_reserve(void *ctx, size_t bytes, void **base)
{
	struct hosted *h = ctx;
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = reserve_locked(h, bytes, base);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static void drop_resv(struct hosted *h, struct hp_resv *r)
{
	struct hp_resv **pp = &h->resv;

	for (uint64_t i = 0; i < r->nwin; i++) {
		struct hp_window *w = &r->win[i];

		if (w->table) {
			h->frames[hp_off(h, w->table)].refs--;
			h->vmas -= w->vmas;
		}
		if (w->run >= 0)
			run_put(h, w->run);
	}
	h->vmas -= r->gaps;
	munmap(r->base, r->bytes);
	hp_pt_uncover(h, (uint64_t)r->base, r->bytes);
	while (*pp != r)
		pp = &(*pp)->next;
	*pp = r->next;
	free(r->win);
	free(r);
}

void hp_release(void *ctx, void *base, size_t bytes)
{
	struct hosted *h = ctx;
	struct hp_resv *r;
	uint64_t len = (bytes + HP_WINDOW_BYTES - 1) & ~(HP_WINDOW_BYTES - 1);

	pthread_mutex_lock(&h->mu);
	r = find_resv(h, (uint64_t)base);
	if (!r || r->base != base || r->bytes != len)
		hp_fail(h, -P2M_EINVAL, "hosted platform: release of %p (%zu bytes): not a reservation",
			base, bytes);
	else
		drop_resv(h, r);
	pthread_mutex_unlock(&h->mu);
}

void hp_windows_fini(struct hosted *h)
{
	while (h->resv)
		drop_resv(h, h->resv);
	free(h->runs);
}
