/*
 * libFuzzer target: libp2mread (include/p2mread/read.h) reading the memory
 * of a malicious guest. The input is everything the reader sees: the
 * shared_info fields and up to 64 machine frames at arbitrary mfns below
 * 2^40 (page tables, frame lists, leaves), sparse, with entries that name
 * other frames by their index in the input (so valid structures are easy
 * to reach) or hold constants and raw values.
 *
 * Input
 *   header (24 bytes)
 *     0      flags: 1 tree_only, 2 p2m_cr3 = 0, 4 the generation moves at
 *            every map, 8 it starts odd, 16 the generation moves once (at
 *            map byte 22 >> 2), 32 p2m_vaddr used raw (not sign-extended
 *            from 48 bits nor page aligned), 64 frame list list is a
 *            constant (byte 2 picks it), 128 the caller gives an M2P
 *            (frames.m2p, the saver's leaf check): frame k's pfn is its
 *            mfn's low 20 bits, an mfn no frame has has none
 *     1      p2m_cr3: frame index; 2 frame list list: frame index
 *     3      max_pfn shift (% 54); >= 0xf0: max_pfn = ~0 - mantissa
 *     4-7    max_pfn mantissa (u32)
 *     8-15   p2m_vaddr (u64)
 *     16     max_mfn: % 4: 2^40 - 1, highest frame, highest frame - 1,
 *            bytes 17-21 (u40)
 *     22     attempts (% 4 + 1) and, >> 2, the map where a single move
 *            happens
 *     23     the reader's limit: 2^(10 + b % 11) pfns (at most 2^20)
 *   frames (until the input ends, at most 64): mfn (5 bytes, u40), fill
 *     (1 byte: % 4 zero / ~0 / every entry the value that follows /
 *     entry i = value + i; >> 2 the number of explicit entries), the fill
 *     value (2 bytes), then per explicit entry its index (2 bytes, % 512)
 *     and value (2 bytes).
 *   value (2 bytes t, k) by t % 4: a PTE naming frame k (present unless
 *     t & 4, RW if t & 8, PSE if t & 16); frame k's mfn alone; one of a
 *     table of edge values; k * 0x0101010101010101 ^ t << 56.
 *
 * Checked on every input: the reader maps only mfns in [1, max_mfn],
 * never more than P2MR_MAX_MAPPINGS at once, and releases every mapping;
 * it reads nothing outside a mapped frame (each frame is its own
 * allocation, poisoned under ASan while unmapped); its work is bounded by
 * the limit; a refusal has a code and a message, a success none; leaves
 * arrive in order, each a mapped frame of the right mfn, and cover
 * exactly [0, count); when every map moves the generation of a list, the
 * result is the generation's refusal; the M2P is asked only about frames
 * the reader walked to (in [1, max_mfn]) and its refusal comes only with
 * an M2P.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p2mread/read.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p) ASAN_POISON_MEMORY_REGION((p), 4096)
#define UNPOISON(p) ASAN_UNPOISON_MEMORY_REGION((p), 4096)
#else
#define POISON(p) ((void)(p))
#define UNPOISON(p) ((void)(p))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 64
#define MFN_LIMIT ((uint64_t)1 << 40)

#define CHECK(c)                                                                   \
	do {                                                                       \
		if (!(c)) {                                                        \
			fprintf(stderr, "fuzz_p2mread: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                   \
		}                                                                  \
	} while (0)

struct frame {
	uint64_t mfn;
	uint64_t *page;
	unsigned held;
};

static struct guest {
	struct frame f[MAX_FRAMES];
	unsigned n, held;
	uint64_t max_mfn, maps, mapped, move_at;
	struct arch_shared_info shared;
	bool move_each;
} g;

static struct frame *frame_of(uint64_t mfn)
{
	for (unsigned i = 0; i < g.n; i++)
		if (g.f[i].mfn == mfn)
			return &g.f[i];
	return NULL;
}

static const void *fz_map(void *ctx, uint64_t mfn)
{
	struct frame *f = frame_of(mfn);

	(void)ctx;
	CHECK(mfn != 0 && mfn <= g.max_mfn);
	g.maps++;
	if (g.move_each || g.maps == g.move_at)
		g.shared.p2m_generation += 2;
	if (!f)
		return NULL;
	g.mapped++;
	CHECK(++g.held <= P2MR_MAX_MAPPINGS);
	if (f->held++ == 0)
		UNPOISON(f->page);
	return f->page;
}

static void fz_unmap(void *ctx, uint64_t mfn, const void *page)
{
	struct frame *f = frame_of(mfn);

	(void)ctx;
	CHECK(f && f->page == page && f->held > 0 && g.held > 0);
	g.held--;
	if (--f->held == 0)
		POISON(f->page);
}

/* The M2P of flag 128: a pfn for every frame of the input, so that a
 * leaf naming itself at that pfn passes (the fuzzer reaches it through
 * comparisons), and none for any other mfn. */
static int fz_m2p(void *ctx, uint64_t mfn, uint64_t *pfn)
{
	(void)ctx;
	CHECK(mfn != 0 && mfn <= g.max_mfn);
	if (!frame_of(mfn))
		return -1;
	*pfn = mfn & 0xfffff;
	return 0;
}

struct seen {
	uint64_t next, leaves;
	unsigned attempt;
	volatile uint64_t sum;
};

static int fz_leaf(void *arg, const struct p2mr_leaf *l)
{
	struct seen *s = arg;
	struct frame *f = frame_of(l->mfn);

	if (l->attempt != s->attempt) {
		CHECK(l->attempt > s->attempt && l->first == 0);
		s->attempt = l->attempt;
		s->next = s->leaves = 0;
	}
	CHECK(l->first == s->next && l->index * P2MR_ENTRIES_PER_PAGE == l->first);
	CHECK(l->n >= 1 && l->n <= P2MR_ENTRIES_PER_PAGE);
	CHECK(f && f->held > 0 && (const void *)l->entries == f->page);
	/* Both ends of what is handed out (under ASan, touching memory that
	 * is not a mapped frame aborts). */
	s->sum += l->entries[0] + l->entries[l->n - 1];
	s->next += l->n;
	s->leaves++;
	return 0;
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint64_t value(const uint8_t *p)
{
	static const uint64_t edge[] = {
		0, ~(uint64_t)0, 1, 0xfff, 0x1000, 0x1001, MFN_LIMIT - 1, MFN_LIMIT,
		(MFN_LIMIT - 1) << 12 | 1, 0x8000000000000001ull, 0xffff800000000000ull,
		0x000ffffffffff081ull, 0x81, 0x7fffffffffffffffull,
	};
	unsigned t = p[0], k = p[1];
	const struct frame *f = &g.f[g.n ? k % g.n : 0];

	switch (t % 4) {
	case 0:
		return (f->mfn << 12) | (t & 4 ? 0 : 1) | (t & 8 ? 2 : 0) | (t & 16 ? 0x80 : 0);
	case 1:
		return f->mfn;
	case 2:
		return k % 16 == 14 ? g.max_mfn : k % 16 == 15 ? g.max_mfn + 1
			: edge[k % 16 % (sizeof(edge) / sizeof(edge[0]))];
	default:
		return (uint64_t)k * 0x0101010101010101ull ^ (uint64_t)t << 56;
	}
}

/* Frames: first their mfns (entries name frames by index, so every mfn
 * must be known before any entry is made), then their contents. */
static void build_frames(const uint8_t *data, size_t size)
{
	const uint8_t *rec[MAX_FRAMES];
	size_t len[MAX_FRAMES];

	g.n = 0;
	while (size >= 8 && g.n < MAX_FRAMES) {
		size_t need = 8 + 4 * (size_t)(data[5] >> 2);

		if (need > size)
			need = 8 + (size - 8) / 4 * 4;
		rec[g.n] = data;
		len[g.n] = need;
		g.f[g.n].mfn = rd(data, 5);
		g.f[g.n].held = 0;
		g.n++;
		data += need;
		size -= need;
	}
	for (unsigned i = 0; i < g.n; i++) {
		uint64_t *p = g.f[i].page, v = value(rec[i] + 6);

		UNPOISON(p);
		for (unsigned e = 0; e < 512; e++)
			p[e] = rec[i][5] % 4 == 0 ? 0 : rec[i][5] % 4 == 1 ? ~(uint64_t)0
				: rec[i][5] % 4 == 2 ? v : v + e;
		for (size_t o = 8; o + 4 <= len[i]; o += 4)
			p[rd(rec[i] + o, 2) % 512] = value(rec[i] + o + 2);
		POISON(p);
	}
}

static uint64_t highest_mfn(void)
{
	uint64_t m = 1;

	for (unsigned i = 0; i < g.n; i++)
		if (g.f[i].mfn > m)
			m = g.f[i].mfn;
	return m;
}

static void setup_shared(const uint8_t *h)
{
	struct arch_shared_info *a = &g.shared;
	uint64_t mant = rd(h + 4, 4), va = rd(h + 8, 8);
	static const uint64_t fll_const[] = { 0, ~(uint64_t)0, 1, MFN_LIMIT };

	memset(a, 0, sizeof(*a));
	a->max_pfn = h[3] >= 0xf0 ? ~(uint64_t)0 - mant : mant << (h[3] % 54);
	a->p2m_cr3 = h[0] & 2 || !g.n ? 0 : xen_pfn_to_cr3(g.f[h[1] % g.n].mfn);
	a->pfn_to_mfn_frame_list_list = h[0] & 64 || !g.n ? fll_const[h[2] % 4]
		: g.f[h[2] % g.n].mfn;
	if (!(h[0] & 32))
		va = (uint64_t)((int64_t)(va << 16) >> 16) & ~(uint64_t)0xfff;
	a->p2m_vaddr = va;
	a->p2m_generation = h[0] & 8 ? 1 : 0;
	switch (h[16] % 4) {
	case 0: g.max_mfn = MFN_LIMIT - 1; break;
	case 1: g.max_mfn = highest_mfn(); break;
	case 2: g.max_mfn = highest_mfn() - 1; break;
	default: g.max_mfn = rd(h + 17, 5); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static int verbose = -1;
	struct p2mr_frames fr = { .map = fz_map, .unmap = fz_unmap };
	struct p2mr_options opt = { 0 };
	struct p2mr_result res;
	struct seen s = { 0, 0, 1, 0 };
	uint64_t slots, windows, bound;
	int rc;

	if (size < 24)
		return 0;
	if (!ready) {
		for (unsigned i = 0; i < MAX_FRAMES; i++) {
			g.f[i].page = malloc(4096);
			CHECK(g.f[i].page);
			POISON(g.f[i].page);
		}
		ready = true;
	}
	build_frames(data + 24, size - 24);
	setup_shared(data);
	g.held = 0;
	g.maps = g.mapped = 0;
	g.move_each = data[0] & 4;
	g.move_at = data[0] & 16 ? (uint64_t)(data[22] >> 2) + 1 : 0;
	fr.max_mfn = g.max_mfn;
	fr.m2p = data[0] & 128 ? fz_m2p : NULL;
	opt.tree_only = data[0] & 1;
	opt.attempts = data[22] % 4 + 1;
	opt.max_pfn = (uint64_t)1 << (10 + data[23] % 11);

	rc = p2mr_read(&g.shared, &fr, &opt, fz_leaf, &s, &res);
	if (verbose < 0)
		verbose = getenv("P2MREAD_FUZZ_VERBOSE") != NULL;
	if (verbose) /* to see what a corpus reaches */
		printf("rc %d %s: %s (count %#llx, %llu leaves, %u attempts)\n", rc,
		       p2mr_strerror(rc), res.error, (unsigned long long)res.count,
		       (unsigned long long)res.leaves, res.attempts);

	CHECK(g.held == 0);
	CHECK(rc <= 0 && rc > -P2MR_NERRORS && rc != -P2MR_EINVAL && rc != -P2MR_ESTOPPED);
	CHECK((rc == 0) == (res.error[0] == '\0'));
	CHECK(rc != -P2MR_ELEAF_M2P || fr.m2p);
	CHECK(res.attempts >= 1 && res.attempts <= opt.attempts && res.maps == g.mapped);
	/* Work: per attempt, one walk per 2 MiB window and two per leaf (with
	 * the M2P, one more walk and a view of the leaf it names). */
	slots = opt.max_pfn / P2MR_ENTRIES_PER_PAGE + 2;
	windows = opt.max_pfn / (P2MR_ENTRIES_PER_PAGE * P2MR_ENTRIES_PER_PAGE) + 2;
	bound = (uint64_t)res.attempts * (5 * windows + (fr.m2p ? 4 * 5 + 1 : 3 * 5) * slots);
	CHECK(g.maps <= bound);
	if (rc == 0) {
		CHECK(res.published <= opt.max_pfn && res.count <= res.published && res.count > 0);
		CHECK(s.next == res.count && s.leaves == res.leaves);
		CHECK(res.leaves == (res.count + P2MR_ENTRIES_PER_PAGE - 1) / P2MR_ENTRIES_PER_PAGE);
	}
	if (g.move_each && g.shared.p2m_cr3 && g.maps)
		CHECK(rc == -P2MR_EGENERATION);
	return 0;
}
