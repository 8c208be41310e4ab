/*
 * A program built OUTSIDE the tree against the INSTALLED libp2m, the way a
 * user builds one:
 *
 *   cc example.c $(pkg-config --cflags --libs libp2m) -o example
 *
 * It includes only <p2m/...> headers and links only libp2m.a, so it also
 * proves that the installed headers are complete and self-contained.
 *
 * The platform is its own, and the smallest honest one in Linux user
 * space (docs/porting.md explains each operation): frames are pages of one
 * memfd, so mapping a frame at a slot with mmap(MAP_SHARED|MAP_FIXED)
 * makes the same physical page appear there and at frame_map()'s view.
 * Page tables are real PTE arrays in their frames; set_window() maps what
 * a table's 512 PTEs name, one mmap per slot (512 mappings per window: fine
 * for the one-window capacity used here, which is why the repository's
 * hosted platform, host/platform/, does it differently for big P2Ms). No
 * M2P: m2p() answers -P2M_ERANGE for every mfn.
 *
 * Simplification a real platform must not make: a set_window() whose mmap
 * fails part-way leaves the window half switched (a memfd of a few MiB
 * does not fail to map here; the kernel platform of guest/common/platform.c
 * switches a window with one PTE write).
 *
 * Exit status 0 and "libp2m example: N checks passed" on success; 1 and
 * the failed check otherwise.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <p2m/dump.h>
#include <p2m/p2m.h>

#define PAGE 4096u
#define NFRAMES 1024u              /* 4 MiB of memfd */
#define MFN0 ((xen_pfn_t)0x8000)   /* mfn of memfd page 0 */
#define GIB ((size_t)1 << 30)
#define WINDOW_BYTES ((size_t)2 << 20)
#define MAX_WINDOWS 64u
/* x86 PTE bits, spelled here since this program sees only the installed
 * library (in the tree they live once, in host/platform/x86_pte.h). */
#define PTE_PRESENT 1u
#define PTE_RW 2u

struct mini {
	int fd;
	bool used[NFRAMES];
	unsigned live;
	struct {                           /* the list's, and a one-window */
		uint8_t *base;             /* one while p2m_create runs */
		size_t bytes;
		xen_pfn_t win_table[MAX_WINDOWS]; /* table of each window, 0 = none */
	} resv[2];
	pthread_mutex_t lock;
};

static bool own(const struct mini *m, xen_pfn_t mfn)
{
	return mfn >= MFN0 && mfn - MFN0 < NFRAMES && m->used[mfn - MFN0];
}

static off_t offset_of(xen_pfn_t mfn)
{
	return (off_t)(mfn - MFN0) * PAGE;
}

static int mini_alloc(void *ctx, size_t n, xen_pfn_t *mfns)
{
	struct mini *m = ctx;
	size_t got = 0;

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < NFRAMES && got < n; i++)
		if (!m->used[i])
			mfns[got++] = MFN0 + i;
	if (got == n) {
		for (size_t k = 0; k < n; k++)
			m->used[mfns[k] - MFN0] = true;
		m->live += (unsigned)n;
	}
	pthread_mutex_unlock(&m->lock);
	return got == n ? 0 : -P2M_ENOMEM;
}

static void mini_free(void *ctx, size_t n, const xen_pfn_t *mfns)
{
	struct mini *m = ctx;

	pthread_mutex_lock(&m->lock);
	for (size_t k = 0; k < n; k++)
		if (own(m, mfns[k])) {
			m->used[mfns[k] - MFN0] = false;
			m->live--;
		}
	pthread_mutex_unlock(&m->lock);
}

static void *mini_frame_map(void *ctx, xen_pfn_t mfn)
{
	struct mini *m = ctx;
	void *va;

	if (!own(m, mfn))
		return NULL;
	va = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, offset_of(mfn));
	return va == MAP_FAILED ? NULL : va;
}

static void mini_frame_unmap(void *ctx, void *va)
{
	(void)ctx;
	munmap(va, PAGE);
}

/* Reserve more than asked, keep the 1 GiB aligned part, give the rest back. */
static int mini_reserve(void *ctx, size_t bytes, void **base)
{
	struct mini *m = ctx;
	uint8_t *raw, *aligned;
	unsigned r = m->resv[0].base ? 1 : 0;

	if (m->resv[r].base || bytes > MAX_WINDOWS * WINDOW_BYTES)
		return -P2M_ENOMEM;
	raw = mmap(NULL, bytes + GIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -P2M_ENOMEM;
	aligned = (uint8_t *)(((uintptr_t)raw + GIB - 1) & ~(uintptr_t)(GIB - 1));
	if (aligned > raw)
		munmap(raw, (size_t)(aligned - raw));
	munmap(aligned + bytes, (size_t)(raw + GIB - aligned));
	m->resv[r].base = aligned;
	m->resv[r].bytes = bytes;
	memset(m->resv[r].win_table, 0, sizeof(m->resv[r].win_table));
	*base = aligned;
	return 0;
}

static void mini_release(void *ctx, void *base, size_t bytes)
{
	struct mini *m = ctx;

	for (unsigned r = 0; r < 2; r++)
		if (base && base == m->resv[r].base) {
			munmap(base, bytes);
			m->resv[r].base = NULL;
		}
}

static int pte_write(struct mini *m, xen_pfn_t table, unsigned i, uint64_t pte)
{
	return pwrite(m->fd, &pte, sizeof(pte), offset_of(table) + i * 8) == sizeof(pte) ? 0 : -P2M_EMAP;
}

static int mini_make_table(void *ctx, xen_pfn_t table, xen_pfn_t leaf)
{
	struct mini *m = ctx;

	if (!own(m, table) || !own(m, leaf))
		return -P2M_EINVAL;
	for (unsigned i = 0; i < 512; i++)
		if (pte_write(m, table, i, ((uint64_t)leaf << 12) | PTE_PRESENT))
			return -P2M_EMAP;
	return 0;
}

static void mini_drop_table(void *ctx, xen_pfn_t table)
{
	(void)ctx;
	(void)table;   /* nothing is pinned in user space */
}

/* Map frame mfn at va: read-only or writable, replacing what was there. */
static int show(struct mini *m, uint8_t *va, xen_pfn_t mfn, bool rw)
{
	void *got = mmap(va, PAGE, rw ? PROT_READ | PROT_WRITE : PROT_READ,
			 MAP_SHARED | MAP_FIXED, m->fd, offset_of(mfn));

	return got == MAP_FAILED ? -P2M_EMAP : 0;
}

/* The table of the window holding va (0: none), or NULL outside every
 * reservation; *off: va's offset in its window. */
static xen_pfn_t *window_of(struct mini *m, const uint8_t *va, size_t *off)
{
	for (unsigned r = 0; r < 2; r++) {
		uint8_t *b = m->resv[r].base;

		if (b && va >= b && va < b + m->resv[r].bytes) {
			*off = (size_t)(va - b) % WINDOW_BYTES;
			return &m->resv[r].win_table[(size_t)(va - b) / WINDOW_BYTES];
		}
	}
	return NULL;
}

static int mini_set_window(void *ctx, void *va, xen_pfn_t table)
{
	struct mini *m = ctx;
	size_t off;
	xen_pfn_t *w = window_of(m, va, &off);
	uint64_t pte[512];

	if (!w || off || !own(m, table))
		return -P2M_EINVAL;
	if (pread(m->fd, pte, sizeof(pte), offset_of(table)) != (ssize_t)sizeof(pte))
		return -P2M_EMAP;
	for (unsigned i = 0; i < 512; i++)
		if (show(m, (uint8_t *)va + (size_t)i * PAGE, (xen_pfn_t)(pte[i] >> 12), pte[i] & PTE_RW))
			return -P2M_EMAP;
	*w = table;
	return 0;
}

static int mini_map_frames(void *ctx, void *va, size_t n, const xen_pfn_t *mfns, unsigned flags)
{
	struct mini *m = ctx;
	bool rw = flags & P2M_MAP_RW;

	for (size_t k = 0; k < n; k++) {
		uint8_t *at = (uint8_t *)va + k * PAGE;
		size_t off;
		xen_pfn_t *w = window_of(m, at, &off);
		unsigned slot = (unsigned)(off / PAGE);

		if (!w || !*w || !own(m, mfns[k]))
			return -P2M_EINVAL;
		if (pte_write(m, *w, slot,
			      ((uint64_t)mfns[k] << 12) | PTE_PRESENT | (rw ? PTE_RW : 0)) ||
		    show(m, at, mfns[k], rw))
			return -P2M_EMAP;
	}
	return 0;
}

static int mini_m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	(void)ctx;
	(void)mfn;
	(void)pfn;
	return -P2M_ERANGE;
}

static xen_pfn_t root = MFN0;

static xen_pfn_t mini_root(void *ctx)
{
	(void)ctx;
	return root;
}

static void mini_lock(void *ctx)
{
	pthread_mutex_lock(&((struct mini *)ctx)->lock);
}

static void mini_unlock(void *ctx)
{
	pthread_mutex_unlock(&((struct mini *)ctx)->lock);
}

/* --- the run --- */

static int checks;

#define CHECK(cond) do { \
		checks++; \
		if (!(cond)) { \
			fprintf(stderr, "libp2m example: check %d failed: %s\n", checks, #cond); \
			return 1; \
		} \
	} while (0)

static void to_stdout(void *arg, const char *s, size_t n)
{
	(void)arg;
	fwrite(s, 1, n, stdout);
}

int main(void)
{
	static struct mini m = { .lock = PTHREAD_MUTEX_INITIALIZER };
	const struct p2m_platform plat = {
		.ctx = &m,
		.alloc_frames = mini_alloc, .free_frames = mini_free,
		.frame_map = mini_frame_map, .frame_unmap = mini_frame_unmap,
		.reserve = mini_reserve, .release = mini_release,
		.make_table = mini_make_table, .drop_table = mini_drop_table,
		.set_window = mini_set_window, .map_frames = mini_map_frames,
		.m2p = mini_m2p, .root_table = mini_root,
		.lock = mini_lock, .unlock = mini_unlock,
	};
	struct p2m p;
	struct p2m_stats st;

	m.fd = memfd_create("libp2m-example", MFD_CLOEXEC);
	CHECK(m.fd >= 0 && ftruncate(m.fd, (off_t)NFRAMES * PAGE) == 0);
	CHECK(mini_alloc(&m, 1, &root) == 0);   /* stands in for the top-level table */

	CHECK(p2m_create(&p, &plat, P2M_PER_WINDOW, true) == 0);
	CHECK(p2m_kind_of(&p, 7) == P2M_KIND_MISSING);
	CHECK(p2m_set(&p, 7, 0x1234) == 0);
	CHECK(p2m_mfn(&p, 7) == 0x1234);
	CHECK(p2m_set_range_identity(&p, 0xa0, 0x60) == 0);
	CHECK(p2m_kind_of(&p, 0xa5) == P2M_KIND_IDENTITY && p2m_mfn(&p, 0xa5) == 0xa5);
	CHECK(p2m_set_range_identity(&p, 1024, 2048) == 0);   /* four whole slots */
	CHECK(p2m_mfn(&p, 2000) == 2000);
	CHECK(p2m_set(&p, P2M_PER_WINDOW, 1) == -P2M_ERANGE);   /* beyond capacity */
	CHECK(strstr(p2m_last_error(&p), "capacity") != NULL);
	p2m_get_stats(&p, &st);
	CHECK(st.private_leaves == 1);   /* only the slot holding pfns 0-511 */
	p2m_dump(&p, 0, to_stdout, NULL);
	p2m_destroy(&p);
	CHECK(m.live == 1);   /* only the root: libp2m freed every frame it took */
	printf("libp2m example: %d checks passed\n", checks);
	return 0;
}
