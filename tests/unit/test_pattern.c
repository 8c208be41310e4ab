/*
 * The guest's page pattern (guest/common/pattern.h), hosted: the checker
 * run after every resume counts a page as bad when any word differs from
 * its pfn's pattern. It must see a single flipped bit, a page that holds
 * another pfn's pattern (a page put at the wrong pfn), a page nobody
 * wrote (zeros) and a page of ~0 (what a missing entry reads as).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/pattern.h"

static uint64_t page[512];

static void fill_then_clean(void **state)
{
	uint64_t pfn;

	(void)state;
	for (pfn = 0; pfn < 4096; pfn += 97) {
		pattern_fill(page, pfn);
		assert_int_equal(pattern_bad_words(page, pfn), 0);
	}
}

static void one_bit_is_bad(void **state)
{
	unsigned w, b;

	(void)state;
	for (w = 0; w < 512; w += 73)
		for (b = 0; b < 64; b += 9) {
			pattern_fill(page, 0x1234);
			page[w] ^= 1ull << b;
			assert_int_equal(pattern_bad_words(page, 0x1234), 1);
		}
}

static void other_pfn_is_bad(void **state)
{
	uint64_t pfn;

	(void)state;
	/* Neighbours, and pfns that differ in one high bit. */
	for (pfn = 1; pfn < (1ull << 40); pfn <<= 1) {
		pattern_fill(page, 0x40000 ^ pfn);
		assert_int_equal(pattern_bad_words(page, 0x40000), 512);
	}
	pattern_fill(page, 0x3ffff);
	assert_int_equal(pattern_bad_words(page, 0x40000), 512);
}

static void blank_pages_are_bad(void **state)
{
	(void)state;
	memset(page, 0, sizeof(page));
	assert_int_equal(pattern_bad_words(page, 0), 512);
	assert_int_equal(pattern_bad_words(page, 77), 512);
	memset(page, 0xff, sizeof(page));
	assert_int_equal(pattern_bad_words(page, 77), 512);
}

static void words_are_neither_zero_nor_all_ones(void **state)
{
	uint64_t pfn;
	unsigned i;

	(void)state;
	for (pfn = 0; pfn < 1024; pfn++)
		for (i = 0; i < 512; i++) {
			uint64_t w = pattern_word(pfn, i);

			assert_true(w != 0 && w != ~0ull);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fill_then_clean),
		cmocka_unit_test(one_bit_is_bad),
		cmocka_unit_test(other_pfn_is_bad),
		cmocka_unit_test(blank_pages_are_bad),
		cmocka_unit_test(words_are_neither_zero_nor_all_ones),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
