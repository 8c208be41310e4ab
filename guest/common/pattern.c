/*
 * The pool's pages hold a pattern of their pfn (see pattern.h). Pages are
 * written and read through pt.c's scratch views by mfn (a pool frame is
 * mapped nowhere else), so the set costs no mapping at rest.
 */
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/clock.h"
#include "common/frames.h"
#include "common/pattern.h"
#include "p2m/fmt.h"

static uint64_t set[PATTERN_MAX_PFNS / 64];
static bool armed;
static uint64_t unwritable, beyond;
bool pattern_due;

bool pattern_armed(void)
{
	return armed;
}

static bool in_set(uint64_t pfn)
{
	return (__atomic_load_n(&set[pfn / 64], __ATOMIC_RELAXED) >> (pfn % 64)) & 1;
}

/* Map a pool frame by its pfn: the P2M names its frame (NULL: no frame or
 * no view). */
static uint64_t *map_pfn(uint64_t pfn, bool rw)
{
	uint64_t mfn = boot_pfn_to_mfn(pfn);

	if (mfn >= P2M_MFN_LIMIT)
		return NULL;
	return pt_map(mfn, rw);
}

static void write_one(uint64_t pfn)
{
	uint64_t *page;

	if (pfn >= PATTERN_MAX_PFNS) {
		if (!beyond++)
			printk("pattern: pfn %#lx is beyond the set's reach\n", (unsigned long)pfn);
		return;
	}
	page = map_pfn(pfn, true);
	if (!page) {
		if (!unwritable++)
			printk("pattern: cannot map pool pfn %#lx read-write\n", (unsigned long)pfn);
		return;
	}
	pattern_fill(page, pfn);
	pt_unmap(page);
	__atomic_fetch_or(&set[pfn / 64], 1ull << (pfn % 64), __ATOMIC_RELAXED);
}

void pattern_join(uint64_t pfn, uint64_t n)
{
	uint64_t i;

	if (!armed)
		return;
	for (i = 0; i < n; i++)
		write_one(pfn + i);
}

void pattern_leave(uint64_t pfn, uint64_t n)
{
	uint64_t i;

	if (!armed)
		return;
	for (i = 0; i < n && pfn + i < PATTERN_MAX_PFNS; i++)
		__atomic_fetch_and(&set[(pfn + i) / 64], ~(1ull << ((pfn + i) % 64)),
				   __ATOMIC_RELAXED);
}

bool pattern_arm(uint64_t ceiling)
{
	uint64_t t0 = clock_ns(), pfn, n = 0;

	if (armed)
		return true;
	if (frames_count_in(PATTERN_MAX_PFNS, ~0ull - PATTERN_MAX_PFNS)) {
		printk("pattern: not armed: pool frames above pfn %#lx (the set's reach)\n",
		       (unsigned long)PATTERN_MAX_PFNS);
		return false;
	}
	armed = true;
	(void)ceiling;
	for (pfn = 0; pfn < PATTERN_MAX_PFNS; pfn++)
		if (frames_is_free(pfn)) {
			write_one(pfn);
			n++;
		}
	printk("pattern: wrote the pfn pattern into %lu free pool pages in %lu ms (%lu not writable)\n",
	       (unsigned long)n, (unsigned long)clock_ms_since(t0), (unsigned long)unwritable);
	return true;
}

void pattern_check(struct pattern_result *r)
{
	uint64_t t0 = clock_ns(), w;

	r->pages = r->bad = r->unmapped = 0;
	r->first = P2M_INVALID;
	for (w = 0; w < PATTERN_MAX_PFNS / 64; w++) {
		uint64_t bits = __atomic_load_n(&set[w], __ATOMIC_RELAXED);

		while (bits) {
			uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(bits);
			const uint64_t *page;
			bool bad;

			bits &= bits - 1;
			r->pages++;
			/* A page of the set that left the pool without
			 * leaving the set would be a bookkeeping error. */
			page = frames_is_free(pfn) ? map_pfn(pfn, false) : NULL;
			if (!page) {
				r->unmapped++;
				bad = true;
			} else {
				unsigned words = pattern_bad_words(page, pfn);

				bad = words != 0;
				if (bad && r->bad < 3)
					printk("pattern: pfn %#lx (mfn %#lx): %u of 512 words differ, "
					       "word 0 %#lx\n",
					       (unsigned long)pfn, (unsigned long)boot_pfn_to_mfn(pfn),
					       words, (unsigned long)page[0]);
				pt_unmap((void *)page);
			}
			if (bad && r->first == P2M_INVALID)
				r->first = pfn;
			r->bad += bad;
		}
	}
	r->ms = clock_ms_since(t0);
}

/* The k-th page of the set (in pfn order), P2M_INVALID past its end. */
static uint64_t nth(uint64_t k)
{
	uint64_t pfn;

	for (pfn = 0; pfn < PATTERN_MAX_PFNS; pfn++)
		if (in_set(pfn) && !k--)
			return pfn;
	return P2M_INVALID;
}

bool pattern_corrupt_run(char *line, size_t cap)
{
	struct pattern_result before, found, after;
	uint64_t pfns[3];
	unsigned i, flipped = 0;

	if (!armed) {
		p2m_snprintf(line, cap, "the pattern is not armed");
		return false;
	}
	pattern_check(&before);
	for (i = 0; i < 3; i++) {
		uint64_t *page;

		/* The first, the middle and the last page of the set. */
		pfns[i] = before.pages < 3 ? P2M_INVALID
					   : nth(i == 0 ? 0 : i == 1 ? before.pages / 2 : before.pages - 1);
		page = pfns[i] == P2M_INVALID ? NULL : map_pfn(pfns[i], true);
		if (!page)
			continue;
		page[37 + i] ^= 1ull << (7 * i); /* one bit of one word */
		pt_unmap(page);
		flipped++;
	}
	pattern_check(&found);
	for (i = 0; i < 3; i++)
		if (pfns[i] != P2M_INVALID)
			write_one(pfns[i]);
	pattern_check(&after);
	p2m_snprintf(line, cap,
		     "flipped one bit in %u of %lu pool pages (pfns %#lx, %#lx, %#lx): the checker "
		     "found %lu bad (first pfn %#lx), %lu before; rewritten: %lu bad",
		     flipped, (unsigned long)found.pages, (unsigned long)pfns[0],
		     (unsigned long)pfns[1], (unsigned long)pfns[2], (unsigned long)found.bad,
		     (unsigned long)found.first, (unsigned long)before.bad,
		     (unsigned long)after.bad);
	return flipped == 3 && !before.bad && found.bad == 3 && found.first == pfns[0] &&
	       !after.bad;
}
