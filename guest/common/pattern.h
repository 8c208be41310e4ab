/*
 * "Nothing lost" across save/restore and live migration (pattern.c).
 *
 * Once armed (a domU with `loop`, before it serves control/shutdown), every
 * free frame of the pool holds a pattern derived from its pfn, and the set
 * of patterned pfns follows the pool: a frame that joins the pool (freed by
 * libp2m, populated by the balloon, back from an exchange) gets the pattern
 * written when it arrives; a frame that leaves it (taken for a leaf or a
 * table, given back to Xen by the balloon) leaves the set. After every
 * resume the `pattern` check reads every page of the set again and counts
 * the pages whose contents differ (must be 0): a page the saver did not
 * send, sent stale, or the restorer put at the wrong pfn shows up there.
 *
 * The set is a bitmap over the first PATTERN_MAX_PFNS pfns (1 GiB, the
 * P2M capacity the boot plans for a small domU); a guest whose balloon
 * reaches beyond it does not arm (pattern_arm says so).
 */
#ifndef GUEST_PATTERN_H
#define GUEST_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PATTERN_MAX_PFNS (1ull << 18)

/* Word i (0..511) of pfn's page: a mix of both, never 0 or ~0 (what a
 * page nobody wrote, or a missing entry, would hold). */
static inline uint64_t pattern_word(uint64_t pfn, unsigned i)
{
	uint64_t x = (pfn << 9 | i) * 0x9e3779b97f4a7c15ull;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (x | 0x100) & ~(uint64_t)0x200; /* bit 8 set, bit 9 clear */
}

/* Fill a page with pfn's pattern; count the words of page that differ. */
static inline void pattern_fill(uint64_t *page, uint64_t pfn)
{
	unsigned i;

	for (i = 0; i < 512; i++)
		page[i] = pattern_word(pfn, i);
}

static inline unsigned pattern_bad_words(const uint64_t *page, uint64_t pfn)
{
	unsigned i, bad = 0;

	for (i = 0; i < 512; i++)
		bad += page[i] != pattern_word(pfn, i);
	return bad;
}

/* Write the pattern into every free frame of the pool; from then on
 * frames_add/frames_take/frames_remove keep the set equal to the pool.
 * False (with the reason printed) when the pool reaches past
 * PATTERN_MAX_PFNS. */
bool pattern_arm(uint64_t ceiling);
bool pattern_armed(void);

/* Hooks of frames.c (no-ops until armed). */
void pattern_join(uint64_t pfn, uint64_t n);
void pattern_leave(uint64_t pfn, uint64_t n);

/* Read every page of the set: pages checked, bad pages (first bad pfn in
 * *first, P2M_INVALID when none). Pages that could not be mapped count as
 * bad. */
struct pattern_result {
	uint64_t pages, bad, first, unmapped;
	uint64_t ms;
};
void pattern_check(struct pattern_result *r);

/* The `pattern` check is due after each resume (suspend.c sets it). */
extern bool pattern_due;

/* Request control/p2m-corrupt (runtime.c): flip one word in 3 pages of
 * the set, run the checker (it must find exactly those 3), write the
 * pattern back and check again (0). Proves the checker can fail. */
bool pattern_corrupt_run(char *line, size_t cap);

#endif
