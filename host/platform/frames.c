/*
 * The frame store of the hosted platform: one memfd, sized once and
 * sparse, whose page i is the frame mfn_base + i. Frames come from a free
 * stack (reuse first) and then a bump pointer; freeing punches the page
 * out of the memfd, so its allocated blocks are the true cost. One
 * MAP_SHARED view of the whole file serves frame_map(); frame_unmap()
 * drops the page from the view again so the view never counts in RSS.
 * Page tables and copies go through pread/pwrite, which touch no view.
 *
 * Also here: the M2P, a sparse anonymous array indexed by mfn holding
 * ~pfn, so that a page never written reads as "not set".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/hosted_impl.h"

int hp_valid_mfn(const struct hosted *h, xen_pfn_t mfn)
{
	return mfn >= h->base && mfn - h->base < h->bump &&
	       (h->frames[mfn - h->base].flags & HF_ALLOCATED);
}

xen_pfn_t hp_in(struct hosted *h, xen_pfn_t ext)
{
	uint64_t page;

	if (!h->namer.page_of)
		return ext;
	page = h->namer.page_of(h->namer.ctx, ext);
	if (page >= h->bump || h->ext[page] != ext || ext == 0)
		return 0;
	return h->base + page;
}

uint64_t hp_pte_in(struct hosted *h, uint64_t pte)
{
	if (!h->namer.page_of || !(pte & X86_PTE_PRESENT))
		return pte;
	return (pte & ~X86_PTE_MFN_MASK) |
	       ((uint64_t)hp_in(h, (pte & X86_PTE_MFN_MASK) >> 12) << 12);
}

uint64_t hp_pte_ext(const struct hosted *h, uint64_t pte)
{
	if (!h->namer.page_of || !(pte & X86_PTE_PRESENT))
		return pte;
	return (pte & ~X86_PTE_MFN_MASK) |
	       ((uint64_t)hp_ext(h, (pte & X86_PTE_MFN_MASK) >> 12) << 12);
}

/* n frames, all or none; contiguous asks for consecutive mfns (runs).
 * With a namer, every frame but a run's gets a pfn and mfn of the
 * simulated domain. */
int hp_alloc_locked(struct hosted *h, uint64_t n, xen_pfn_t *mfns,
		    int contiguous, uint32_t flags)
{
	uint64_t from_free = 0, i;

	if (!contiguous)
		from_free = n < h->nfree ? n : h->nfree;
	if (n - from_free > h->max_frames - h->bump)
		return hp_fail(h, -P2M_ENOMEM,
			       "hosted platform: out of frames (%llu of %llu memfd pages used, %llu needed); "
			       "create the platform with a larger max_frames",
			       (unsigned long long)(h->bump - h->nfree),
			       (unsigned long long)h->max_frames,
			       (unsigned long long)n);
	for (i = 0; i < from_free; i++)
		mfns[i] = h->base + h->freelist[--h->nfree];
	for (; i < n; i++)
		mfns[i] = h->base + h->bump++;
	if (h->namer.page_of && !contiguous)
		for (i = 0; i < n; i++) {
			int rc = h->namer.name(h->namer.ctx, hp_off(h, mfns[i]), &h->ext[hp_off(h, mfns[i])]);

			if (rc == 0)
				continue;
			while (i--) {
				uint64_t off = hp_off(h, mfns[i]);

				h->namer.unname(h->namer.ctx, off, h->ext[off]);
				h->ext[off] = 0;
			}
			/* The pages go back where they came from. */
			h->bump -= n - from_free;
			h->nfree += from_free;
			return hp_fail(h, rc, "hosted platform: the simulated domain has no frame left for %llu more",
				       (unsigned long long)n);
		}
	for (i = 0; i < n; i++)
		h->frames[hp_off(h, mfns[i])] = (struct hp_frame){
			flags | HF_ALLOCATED | (h->namer.page_of && !contiguous && i >= from_free ? HF_FRESH : 0u), 0 };
	return 0;
}

static int alloc_frames(void *ctx, size_t n, xen_pfn_t *mfns)
{
	struct hosted *h = ctx;
	int rc;

	pthread_mutex_lock(&h->mu);
	h->alloc_calls++;
	if (hp_take_injected(&h->fail_alloc_in)) {
		rc = hp_fail(h, -P2M_ENOMEM,
			     "hosted platform: injected failure of alloc_frames (call %llu, %zu frames)",
			     (unsigned long long)h->alloc_calls, n);
	} else {
		rc = hp_alloc_locked(h, n, mfns, 0, 0);
		if (rc == 0)
			h->live += n;
		for (size_t i = 0; rc == 0 && i < n; i++)
			mfns[i] = hp_ext(h, mfns[i]);
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

static void punch(struct hosted *h, uint64_t first, uint64_t n)
{
	/* A backing file is unnamed and goes at close: punching each freed
	 * page there costs a discard per call on some file systems. */
	if (h->backing_dir)
		return;
	if (fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(first * HP_PAGE), (off_t)(n * HP_PAGE)) != 0)
		hp_fail(h, -P2M_EINVAL, "hosted platform: punching frames %#llx+%llu: %s",
			(unsigned long long)(h->base + first), (unsigned long long)n,
			strerror(errno));
}

/* One page back to the free list; its punch joins the pending run
 * [*first, *first + *len), which is punched when the page does not
 * continue it (and by the caller at the end). */
static void free_one_locked(struct hosted *h, uint64_t off, uint64_t *first, uint64_t *len)
{
	if (h->nfree == h->capfree) {
		uint64_t cap = h->capfree ? h->capfree * 2 : 1024;
		uint64_t *fl = realloc(h->freelist, cap * sizeof(*fl));

		if (!fl) {
			/* Keep the frame allocated rather than lose it. */
			hp_fail(h, -P2M_ENOMEM, "hosted platform: no memory for the free list");
			return;
		}
		h->freelist = fl;
		h->capfree = cap;
	}
	h->frames[off] = (struct hp_frame){ 0, 0 };
	if (h->namer.page_of && h->ext[off]) {
		h->namer.unname(h->namer.ctx, off, h->ext[off]);
		h->ext[off] = 0;
	}
	h->freelist[h->nfree++] = off;
	if (*len && off == *first + *len) {
		(*len)++;
		return;
	}
	if (*len)
		punch(h, *first, *len);
	*first = off;
	*len = 1;
}

/* Frees and punches, merging consecutive pages into one fallocate. */
void hp_free_locked(struct hosted *h, uint64_t n, const xen_pfn_t *mfns)
{
	uint64_t run_first = 0, run_len = 0;

	for (uint64_t i = 0; i < n; i++)
		free_one_locked(h, hp_off(h, mfns[i]), &run_first, &run_len);
	if (run_len)
		punch(h, run_first, run_len);
}

/* Each frame is checked and freed at once (a repeat is then refused);
 * consecutive pages share one fallocate (a build gives back runs of a
 * list's pages). */
static void free_frames(void *ctx, size_t n, const xen_pfn_t *mfns)
{
	struct hosted *h = ctx;
	uint64_t run_first = 0, run_len = 0;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < n; i++) {
		struct hp_frame *f;
		xen_pfn_t in = hp_in(h, mfns[i]);

		if (!hp_valid_mfn(h, in)) {
			hp_fail(h, -P2M_EINVAL, "hosted platform: free_frames of mfn %#llx, which is not allocated",
				(unsigned long long)mfns[i]);
			continue;
		}
		f = &h->frames[hp_off(h, in)];
		if (f->flags & HF_PLATFORM) {
			hp_fail(h, -P2M_EINVAL, "hosted platform: free_frames of mfn %#llx, a frame of the platform itself",
				(unsigned long long)mfns[i]);
			continue;
		}
		if (f->refs)
			hp_fail(h, -P2M_EBUSY, "hosted platform: free_frames of mfn %#llx, still the table of %u window(s)",
				(unsigned long long)mfns[i], f->refs);
		if (f->flags & HF_HAS_RUN)
			hp_leaf_freed(h, in);
		free_one_locked(h, hp_off(h, in), &run_first, &run_len);
		h->live--;
	}
	if (run_len)
		punch(h, run_first, run_len);
	pthread_mutex_unlock(&h->mu);
}

/* Simulated-domain mode: a view is a copy, read with pread and written
 * back with pwrite when it is released, so filling a leaf costs no page
 * fault and no TLB flush (libp2m holds one view at a time, of a frame it
 * writes through nothing else meanwhile; a second one falls back to the
 * shared view). */
static _Thread_local struct {
	uint64_t buf[512] __attribute__((aligned(4096)));
	struct hosted *h;
	xen_pfn_t in;
	int held;
} cv;

static void *frame_map(void *ctx, xen_pfn_t mfn)
{
	struct hosted *h = ctx;
	void *va = NULL;

	if (h->namer.page_of && !cv.held) {
		pthread_mutex_lock(&h->mu);
		cv.in = hp_in(h, mfn);
		if (!hp_valid_mfn(h, cv.in))
			hp_fail(h, -P2M_ERANGE, "hosted platform: frame_map of mfn %#llx, which is not allocated",
				(unsigned long long)mfn);
		else if (h->frames[hp_off(h, cv.in)].flags & HF_FRESH) {
			memset(cv.buf, 0, HP_PAGE);
			h->frames[hp_off(h, cv.in)].flags &= ~(uint32_t)HF_FRESH;
			va = cv.buf;
		} else if (hp_pread(h, cv.in, 0, cv.buf, HP_PAGE) == 0)
			va = cv.buf;
		pthread_mutex_unlock(&h->mu);
		if (va) {
			cv.h = h;
			cv.held = 1;
		}
		return va;
	}
	pthread_mutex_lock(&h->mu);
	if (!hp_valid_mfn(h, hp_in(h, mfn)))
		hp_fail(h, -P2M_ERANGE, "hosted platform: frame_map of mfn %#llx, which is not allocated",
			(unsigned long long)mfn);
	else {
		va = h->view + hp_off(h, hp_in(h, mfn)) * HP_PAGE;
		h->frames[hp_off(h, hp_in(h, mfn))].flags &= ~(uint32_t)HF_FRESH;
	}
	pthread_mutex_unlock(&h->mu);
	return va;
}

static void frame_unmap(void *ctx, void *va)
{
	struct hosted *h = ctx;
	uint8_t *p = va;

	if (va == cv.buf && cv.held && cv.h == h) {
		pthread_mutex_lock(&h->mu);
		if (hp_valid_mfn(h, cv.in))
			hp_pwrite(h, cv.in, 0, cv.buf, HP_PAGE);
		pthread_mutex_unlock(&h->mu);
		cv.held = 0;
		return;
	}
	if (p < h->view || p >= h->view + h->max_frames * HP_PAGE ||
	    (uintptr_t)p % HP_PAGE) {
		pthread_mutex_lock(&h->mu);
		hp_fail(h, -P2M_EINVAL, "hosted platform: frame_unmap of %p, not a frame_map() address", va);
		pthread_mutex_unlock(&h->mu);
		return;
	}
	/* The page stays in the memfd; only this view's PTE goes. */
	madvise(p, HP_PAGE, MADV_DONTNEED);
}

/* An initial list as a guest's builder hands one over: consecutive
 * frames, one mapping of their memfd pages (see hosted.h). */
int hosted_list_new(struct hosted *h, uint64_t nframes, xen_pfn_t *mfns, uint64_t **va)
{
	void *m;
	int rc;

	*va = NULL;
	pthread_mutex_lock(&h->mu);
	/* Consecutive frames are runs there, which get no mfn of the domain. */
	if (h->namer.page_of)
		rc = hp_fail(h, -P2M_EINVAL, "hosted platform: hosted_list_new is not for the simulated-domain mode");
	else
		rc = hp_alloc_locked(h, nframes, mfns, 1, 0);
	if (rc == 0) {
		m = mmap(NULL, nframes * HP_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd,
			 (off_t)(hp_off(h, mfns[0]) * HP_PAGE));
		if (m == MAP_FAILED) {
			rc = hp_fail(h, -P2M_ENOMEM, "hosted platform: mapping a list of %llu frames: %s",
				     (unsigned long long)nframes, strerror(errno));
			hp_free_locked(h, nframes, mfns);
		} else {
			h->live += nframes;
			*va = m;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void hosted_list_unmap(struct hosted *h, uint64_t *va, uint64_t nframes)
{
	(void)h;
	if (va)
		munmap(va, nframes * HP_PAGE);
}

int hp_pread(struct hosted *h, xen_pfn_t mfn, uint64_t at, void *buf,
	     uint64_t len)
{
	off_t pos = (off_t)(hp_off(h, mfn) * HP_PAGE + at);

	if (pread(h->fd, buf, len, pos) != (ssize_t)len)
		return hp_fail(h, -P2M_EINVAL, "hosted platform: reading frame %#llx: %s",
			       (unsigned long long)mfn, strerror(errno));
	return 0;
}

int hp_pwrite(struct hosted *h, xen_pfn_t mfn, uint64_t at,
	      const void *buf, uint64_t len)
{
	off_t pos = (off_t)(hp_off(h, mfn) * HP_PAGE + at);

	h->frames[hp_off(h, mfn)].flags &= ~(uint32_t)HF_FRESH;
	if (pwrite(h->fd, buf, len, pos) != (ssize_t)len)
		return hp_fail(h, -P2M_ENOMEM, "hosted platform: writing frame %#llx: %s",
			       (unsigned long long)mfn, strerror(errno));
	return 0;
}

/* Under the lock: 0 when the domain's mfn names a live frame. */
static int live_frame_locked(struct hosted *h, xen_pfn_t mfn)
{
	if (!hp_valid_mfn(h, hp_in(h, mfn)))
		return hp_fail(h, -P2M_ERANGE, "hosted platform: mfn %#llx is not a live frame",
			       (unsigned long long)mfn);
	return 0;
}

/* A whole frame by the domain's mfn, read or written (then buf is only
 * read: the const of hosted_write_frame holds). One buffer and a flag,
 * not a NULL for the unused one: gcc -O3 would see a NULL pread/pwrite. */
static int frame_io(struct hosted *h, xen_pfn_t mfn, void *buf, bool write)
{
	int rc;

	pthread_mutex_lock(&h->mu);
	rc = live_frame_locked(h, mfn);
	if (rc == 0)
		rc = write ? hp_pwrite(h, hp_in(h, mfn), 0, buf, HP_PAGE) :
			     hp_pread(h, hp_in(h, mfn), 0, buf, HP_PAGE);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int hosted_read_frame(struct hosted *h, xen_pfn_t mfn, void *buf)
{
	return frame_io(h, mfn, buf, false);
}

int hosted_write_frame(struct hosted *h, xen_pfn_t mfn, const void *buf)
{
	return frame_io(h, mfn, (void *)(uintptr_t)buf, true);
}

int hosted_for_each_table(struct hosted *h, int (*fn)(void *ctx, xen_pfn_t mfn),
			  void *ctx)
{
	uint64_t n;
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	n = h->bump;
	pthread_mutex_unlock(&h->mu);
	for (uint64_t page = 0; page < n && rc == 0; page++) {
		uint32_t fl;
		xen_pfn_t m;

		pthread_mutex_lock(&h->mu);
		fl = h->frames[page].flags;
		m = hp_ext(h, h->base + page);
		pthread_mutex_unlock(&h->mu);
		/* L1s of libp2m; the mirror's own tables (not runs: unnamed). */
		if ((fl & HF_ALLOCATED) && ((fl & HF_TABLE) ||
		    ((fl & HF_PLATFORM) && (!h->namer.page_of || m))))
			rc = fn(ctx, m);
	}
	return rc;
}

void hosted_renumber(struct hosted *h, xen_pfn_t (*fn)(void *ctx, xen_pfn_t old),
		     void *ctx)
{
	pthread_mutex_lock(&h->mu);
	if (h->namer.page_of)
		for (uint64_t page = 0; page < h->bump; page++)
			if (h->ext[page])
				h->ext[page] = fn(ctx, h->ext[page]);
	pthread_mutex_unlock(&h->mu);
}

void hosted_drop_cache(struct hosted *h)
{
	fdatasync(h->fd);
	posix_fadvise(h->fd, 0, 0, POSIX_FADV_DONTNEED);
}

bool hosted_is_frame(struct hosted *h, xen_pfn_t mfn)
{
	int ok;

	pthread_mutex_lock(&h->mu);
	ok = hp_valid_mfn(h, hp_in(h, mfn));
	pthread_mutex_unlock(&h->mu);
	return ok;
}

/* --- the M2P --- */

static int m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	struct hosted *h = ctx;
	xen_pfn_t v;

	if (h->namer.m2p)
		return h->namer.m2p(h->namer.ctx, mfn, pfn);
	if (mfn >= h->m2p_entries)
		return -P2M_ERANGE;
	v = __atomic_load_n(&h->m2p[mfn], __ATOMIC_RELAXED);
	if (v == 0)
		return -P2M_ERANGE;
	*pfn = ~v;
	return 0;
}

int hosted_m2p(struct hosted *h, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	return m2p(h, mfn, pfn);
}

int hosted_m2p_set(struct hosted *h, xen_pfn_t mfn, xen_pfn_t pfn)
{
	if (mfn >= h->m2p_entries || pfn == ~(xen_pfn_t)0) {
		pthread_mutex_lock(&h->mu);
		hp_fail(h, -P2M_ERANGE, "hosted platform: M2P entry mfn %#llx -> pfn %#llx is outside the M2P (%llu entries)",
			(unsigned long long)mfn, (unsigned long long)pfn,
			(unsigned long long)h->m2p_entries);
		pthread_mutex_unlock(&h->mu);
		return -P2M_ERANGE;
	}
	__atomic_store_n(&h->m2p[mfn], ~pfn, __ATOMIC_RELAXED);
	return 0;
}

int hosted_m2p_clear(struct hosted *h, xen_pfn_t mfn)
{
	if (mfn >= h->m2p_entries) {
		pthread_mutex_lock(&h->mu);
		hp_fail(h, -P2M_ERANGE, "hosted platform: mfn %#llx is outside the M2P (%llu entries)",
			(unsigned long long)mfn, (unsigned long long)h->m2p_entries);
		pthread_mutex_unlock(&h->mu);
		return -P2M_ERANGE;
	}
	__atomic_store_n(&h->m2p[mfn], 0, __ATOMIC_RELAXED);
	return 0;
}

/* --- setup --- */

static void *map_sparse(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int hp_frames_init(struct hosted *h, char *err, size_t errlen)
{
	uint64_t bytes = h->max_frames * HP_PAGE;

	if (h->backing_dir)
		h->fd = open(h->backing_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	else
		h->fd = memfd_create("p2m-frames", MFD_CLOEXEC);
	if (h->fd < 0) {
		snprintf(err, errlen, "hosted platform: %s%s: %s",
			 h->backing_dir ? "an unnamed file in " : "memfd_create",
			 h->backing_dir ? h->backing_dir : "", strerror(errno));
		return -P2M_ENOMEM;
	}
	if (ftruncate(h->fd, (off_t)bytes) != 0) {
		snprintf(err, errlen, "hosted platform: sizing the memfd to %llu frames: %s",
			 (unsigned long long)h->max_frames, strerror(errno));
		return -P2M_ENOMEM;
	}
	h->view = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, h->fd, 0);
	if (h->view == MAP_FAILED) {
		h->view = NULL;
		snprintf(err, errlen, "hosted platform: mapping the frame view (%llu bytes): %s",
			 (unsigned long long)bytes, strerror(errno));
		return -P2M_ENOMEM;
	}
	h->frames = map_sparse(h->max_frames * sizeof(*h->frames));
	h->m2p = map_sparse(h->m2p_entries * sizeof(*h->m2p));
	if (h->namer.page_of)
		h->ext = map_sparse(h->max_frames * sizeof(*h->ext));
	if (!h->frames || !h->m2p || (h->namer.page_of && !h->ext)) {
		snprintf(err, errlen, "hosted platform: reserving the frame table and the M2P (%llu entries): %s",
			 (unsigned long long)h->m2p_entries, strerror(errno));
		return -P2M_ENOMEM;
	}
	return 0;
}

void hp_frames_fini(struct hosted *h)
{
	if (h->m2p)
		munmap(h->m2p, h->m2p_entries * sizeof(*h->m2p));
	if (h->frames)
		munmap(h->frames, h->max_frames * sizeof(*h->frames));
	if (h->ext)
		munmap(h->ext, h->max_frames * sizeof(*h->ext));
	if (h->view)
		munmap(h->view, h->max_frames * HP_PAGE);
	if (h->fd >= 0)
		close(h->fd);
	free(h->freelist);
}

void hp_frame_ops(struct p2m_platform *plat)
{
	plat->alloc_frames = alloc_frames;
	plat->free_frames = free_frames;
	plat->frame_map = frame_map;
	plat->frame_unmap = frame_unmap;
	plat->m2p = m2p;
}
