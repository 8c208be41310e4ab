/*
 * A program without libc: its own _start, a platform made of static
 * arrays, and libp2m. Built -ffreestanding -nostdinc -nostdlib -static,
 * so every symbol libp2m needs must come from here or from lib/string.c;
 * the link itself is half of the test. The other half runs a small P2M
 * (create, set, ranges, lookups, dump, publish, destroy) and exits with
 * 0, or with the number of the first check that failed, through the raw
 * exit system call.
 *
 * The platform, honestly without mmap: frames are a static array; the
 * list's window is a static 2 MiB-aligned buffer; mapping a frame at a
 * slot COPIES it there. A frame mapped writable at one slot then lives at
 * that slot (frame_map returns the slot, and the contents are copied back
 * when the slot is remapped), so writes through either name agree. Shared
 * leaves are read-only and constant, so their copies stay true. The page
 * tables are real PTE arrays in the frames. Single-threaded: lock() and
 * unlock() have nothing to exclude.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/dump.h"
#include "p2m/p2m.h"
#include "p2m/publish.h"

/* From lib/string.c, the only "libc" there is. */
void *memcpy(void *restrict d, const void *restrict s, size_t n);

#define PAGE 4096u
#define WIN_BYTES (512u * PAGE)
#define NFRAMES 256u
#define MFN0 0x4000u
#define RESV_BYTES (8u << 20)
/* x86 PTE bits, spelled here since this program is also built against
 * the installed library alone (tests/install/run.sh); in the tree they
 * live once, in host/platform/x86_pte.h. */
#define X86_PTE_PRESENT 1u
#define X86_PTE_RW 2u

static uint8_t frame_mem[NFRAMES][PAGE] __attribute__((aligned(4096)));
static bool used[NFRAMES];
static uint8_t *home[NFRAMES];
static unsigned live;

/* Reservations are runs of windows of resv (libp2m holds two while
 * p2m_create runs): owner[w] is 1 + the first window of w's run, or 0. */
static uint8_t resv[RESV_BYTES] __attribute__((aligned(2 << 20)));
static uint8_t owner[RESV_BYTES / WIN_BYTES];
static xen_pfn_t win_table[RESV_BYTES / WIN_BYTES];
static xen_pfn_t slot_mfn[RESV_BYTES / PAGE];

/* _start: align the stack, call fs_main, exit(status) by syscall 60. */
__asm__(".text\n.globl _start\n_start:\n"
	"\txor %ebp, %ebp\n\tand $-16, %rsp\n\tcall fs_main\n"
	"\tmov %eax, %edi\n\tmov $60, %eax\n\tsyscall\n\thlt\n");
int fs_main(void);

static bool own(xen_pfn_t mfn)
{
	return mfn >= MFN0 && mfn - MFN0 < NFRAMES && used[mfn - MFN0];
}

static uint8_t *frame_ptr(xen_pfn_t mfn)
{
	unsigned i = (unsigned)(mfn - MFN0);

	return home[i] ? home[i] : frame_mem[i];
}

static int fs_alloc(void *ctx, size_t n, xen_pfn_t *mfns)
{
	size_t got = 0;

	(void)ctx;
	for (unsigned i = 0; i < NFRAMES && got < n; i++)
		if (!used[i])
			mfns[got++] = MFN0 + i;
	if (got < n)
		return -P2M_ENOMEM;
	for (size_t k = 0; k < n; k++) {
		used[mfns[k] - MFN0] = true;
		home[mfns[k] - MFN0] = 0;
	}
	live += (unsigned)n;
	return 0;
}

static void fs_free(void *ctx, size_t n, const xen_pfn_t *mfns)
{
	(void)ctx;
	for (size_t k = 0; k < n; k++)
		if (own(mfns[k])) {
			used[mfns[k] - MFN0] = false;
			live--;
		}
}

static void *fs_map(void *ctx, xen_pfn_t mfn)
{
	(void)ctx;
	return own(mfn) ? frame_ptr(mfn) : 0;
}

static void fs_unmap(void *ctx, void *va)
{
	(void)ctx;
	(void)va;
}

static int fs_reserve(void *ctx, size_t bytes, void **base)
{
	unsigned nwin = (unsigned)((bytes + WIN_BYTES - 1) / WIN_BYTES), run = 0;

	(void)ctx;
	for (unsigned w = 0; w < RESV_BYTES / WIN_BYTES; w++) {
		run = owner[w] ? 0 : run + 1;
		if (run == nwin) {
			for (unsigned i = w + 1 - nwin; i <= w; i++)
				owner[i] = (uint8_t)(w + 2 - nwin);
			*base = resv + (size_t)(w + 1 - nwin) * WIN_BYTES;
			return 0;
		}
	}
	return -P2M_ENOMEM;
}

static void fs_release(void *ctx, void *base, size_t bytes)
{
	size_t off = (size_t)((uint8_t *)base - resv);
	unsigned first = (unsigned)(off / WIN_BYTES);

	(void)ctx;
	(void)bytes;
	if ((uint8_t *)base < resv || off >= RESV_BYTES || owner[first] != first + 1)
		return;
	for (unsigned w = first; w < RESV_BYTES / WIN_BYTES && owner[w] == first + 1; w++) {
		for (unsigned s = w * 512; s < (w + 1) * 512; s++) {
			xen_pfn_t m = slot_mfn[s];

			if (m && own(m) && home[m - MFN0] == resv + (size_t)s * PAGE) {
				memcpy(frame_mem[m - MFN0], home[m - MFN0], PAGE);
				home[m - MFN0] = 0;
			}
			slot_mfn[s] = 0;
		}
		win_table[w] = 0;
		owner[w] = 0;
	}
}

static int fs_make_table(void *ctx, xen_pfn_t table, xen_pfn_t leaf)
{
	uint64_t *pte;

	(void)ctx;
	if (!own(table) || !own(leaf))
		return -P2M_EINVAL;
	pte = (uint64_t *)frame_ptr(table);
	for (unsigned i = 0; i < 512; i++)
		pte[i] = ((uint64_t)leaf << 12) | X86_PTE_PRESENT;
	return 0;
}

static void fs_drop_table(void *ctx, xen_pfn_t table)
{
	(void)ctx;
	(void)table;
}

/* Show frame mfn at slot s: the copy that stands in for a PTE. */
static int show(unsigned s, xen_pfn_t mfn, bool rw)
{
	uint8_t *va = resv + (size_t)s * PAGE;
	xen_pfn_t old = slot_mfn[s];

	if (old == mfn && (!rw || home[mfn - MFN0] == va))
		return 0;
	if (rw && home[mfn - MFN0])
		return -P2M_EMAP;   /* one writable home per frame */
	if (old && own(old) && home[old - MFN0] == va) {
		memcpy(frame_mem[old - MFN0], va, PAGE);
		home[old - MFN0] = 0;
	}
	memcpy(va, frame_ptr(mfn), PAGE);
	if (rw)
		home[mfn - MFN0] = va;
	slot_mfn[s] = mfn;
	return 0;
}

static int fs_set_window(void *ctx, void *va, xen_pfn_t table)
{
	size_t off = (size_t)((uint8_t *)va - resv);
	const uint64_t *pte;
	int rc;

	(void)ctx;
	if ((uint8_t *)va < resv || off >= RESV_BYTES || off % WIN_BYTES || !own(table))
		return -P2M_EINVAL;
	win_table[off / WIN_BYTES] = table;
	pte = (const uint64_t *)frame_ptr(table);
	for (unsigned i = 0; i < 512; i++) {
		rc = show((unsigned)(off / PAGE) + i, (xen_pfn_t)(pte[i] >> 12), pte[i] & X86_PTE_RW);
		if (rc)
			return rc;
	}
	return 0;
}

static int fs_map_frames(void *ctx, void *va, size_t n, const xen_pfn_t *mfns,
			 unsigned flags)
{
	size_t off = (size_t)((uint8_t *)va - resv);

	(void)ctx;
	if ((uint8_t *)va < resv || off % PAGE || off + n * PAGE > RESV_BYTES)
		return -P2M_EINVAL;
	for (size_t k = 0; k < n; k++) {
		unsigned s = (unsigned)(off / PAGE + k);
		xen_pfn_t t = win_table[s / 512];
		int rc;

		if (!t || !own(mfns[k]))
			return -P2M_EINVAL;
		((uint64_t *)frame_ptr(t))[s % 512] =
			((uint64_t)mfns[k] << 12) | X86_PTE_PRESENT | ((flags & P2M_MAP_RW) ? X86_PTE_RW : 0);
		rc = show(s, mfns[k], flags & P2M_MAP_RW);
		if (rc)
			return rc;
	}
	return 0;
}

static int fs_m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	(void)ctx;
	(void)mfn;
	(void)pfn;
	return -P2M_ERANGE;   /* no M2P here */
}

static xen_pfn_t root;

static xen_pfn_t fs_root(void *ctx)
{
	(void)ctx;
	return root;
}

static void fs_nolock(void *ctx)
{
	(void)ctx;
}

/* --- the run --- */

static char dump[2048];
static size_t dump_len;

static void collect(void *arg, const char *s, size_t n)
{
	(void)arg;
	if (dump_len + n < sizeof(dump)) {
		memcpy(dump + dump_len, s, n);
		dump_len += n;
		dump[dump_len] = 0;
	}
}

static bool contains(const char *hay, const char *needle)
{
	for (; *hay; hay++) {
		size_t i = 0;

		while (needle[i] && hay[i] == needle[i])
			i++;
		if (!needle[i])
			return true;
	}
	return false;
}

static struct p2m p2m;
static struct arch_shared_info arch;

int fs_main(void)
{
	const struct p2m_platform plat = {
		.alloc_frames = fs_alloc, .free_frames = fs_free,
		.frame_map = fs_map, .frame_unmap = fs_unmap,
		.reserve = fs_reserve, .release = fs_release,
		.make_table = fs_make_table, .drop_table = fs_drop_table,
		.set_window = fs_set_window, .map_frames = fs_map_frames,
		.m2p = fs_m2p, .root_table = fs_root,
		.lock = fs_nolock, .unlock = fs_nolock,
	};
	struct p2m *p = &p2m;
	int check = 0;

	if (fs_alloc(0, 1, &root))
		return 100;
#define CHECK(cond) do { check++; if (!(cond)) return check; } while (0)
	CHECK(p2m_create(p, &plat, P2M_PER_WINDOW, true) == 0);
	CHECK(p2m_kind_of(p, 5) == P2M_KIND_MISSING);
	CHECK(p2m_set(p, 5, 0x1234) == 0);
	CHECK(p2m_raw(p, 5) == 0x1234);
	CHECK(p2m_mfn(p, 5) == 0x1234);
	CHECK(p2m_kind_of(p, 6) == P2M_KIND_MISSING);
	CHECK(p2m_set_range_identity(p, 512, 512) == 0);
	CHECK(p2m_kind_of(p, 700) == P2M_KIND_IDENTITY);
	CHECK(p2m_mfn(p, 700) == 700);
	CHECK(p2m_set(p, 1030, p2m_foreign_entry(0x777)) == 0);
	CHECK(p2m_kind_of(p, 1030) == P2M_KIND_FOREIGN);
	CHECK(p2m_mfn(p, 1030) == 0x777);
	CHECK(p2m_kind_of(p, P2M_PER_WINDOW + 9) == P2M_KIND_IDENTITY);   /* beyond capacity */
	CHECK(p2m_set(p, P2M_PER_WINDOW, 1) < 0);                            /* refused */
	CHECK(p2m_last_error(p)[0] != 0);
	CHECK(p2m_set_range_missing(p, 0, 512) == 0);
	CHECK(p2m_kind_of(p, 5) == P2M_KIND_MISSING);
	p2m_dump(p, 0, collect, 0);
	CHECK(contains(dump, "[0x200->0x400] identity"));
	CHECK(contains(dump, "[0x406->0x407] pfn"));
	p2m_publish(p, &arch, false);
	CHECK(arch.max_pfn >= 0x600 && arch.max_pfn % 512 == 0);
	CHECK(arch.p2m_cr3 == (uint64_t)root << 12);
	CHECK(arch.p2m_vaddr == (uint64_t)(uintptr_t)resv);
	CHECK(arch.p2m_generation % 2 == 0);
	p2m_unpublish(p);
	p2m_destroy(p);
	CHECK(live == 1);   /* only the root: libp2m freed every frame */
	return 0;
}
