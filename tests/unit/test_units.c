/*
 * The command line's number parsers (host/common/units.c): sizes with
 * units and hex, pfn range lists with pfn or byte bounds, and a clear
 * error for every malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/units.h"
#include "p2m/error.h"

static void sizes(void **state)
{
	uint64_t v;
	char err[160];

	(void)state;
	assert_int_equal(parse_size("64G", &v, err, sizeof(err)), 0);
	assert_int_equal(v, (uint64_t)64 << 30);
	assert_int_equal(parse_size("1T", &v, err, sizeof(err)), 0);
	assert_int_equal(v, (uint64_t)1 << 40);
	assert_int_equal(parse_size("512MiB", &v, err, sizeof(err)), 0);
	assert_int_equal(v, (uint64_t)512 << 20);
	assert_int_equal(parse_size("4k", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("0x1000", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("12345", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 12345);
}

/* Every subcommand reads sizes through parse_size(): hex and units both,
 * decimal unless 0x (a leading 0 is not octal). */
static void size_forms(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "4GiB", (uint64_t)4 << 30 }, { "4gb", (uint64_t)4 << 30 },
		{ "4Gi", (uint64_t)4 << 30 }, { "0x100000000", (uint64_t)4 << 30 },
		{ "0X10", 16 }, { "010", 10 }, { "0", 0 }, { "1P", (uint64_t)1 << 50 },
		{ "0x10M", (uint64_t)16 << 20 }, { "65536K", (uint64_t)64 << 20 },
	};
	uint64_t v;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (parse_size(ok[i].s, &v, err, sizeof(err)) != 0)
			fail_msg("\"%s\": %s", ok[i].s, err);
		if (v != ok[i].v)
			fail_msg("\"%s\": %llu, want %llu", ok[i].s, (unsigned long long)v,
				 (unsigned long long)ok[i].v);
	}
	assert_int_equal(parse_size("08", &v, err, sizeof(err)), 0);   /* not bad octal */
	assert_int_equal(v, 8);
}

/* --nr-pages and friends: a unit means bytes, a bare number pages. */
static void pages(void **state)
{
	uint64_t v;
	char err[160];

	(void)state;
	assert_int_equal(parse_pages("5G", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1310720);
	assert_int_equal(parse_pages("5GiB", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1310720);
	assert_int_equal(parse_pages("1310720", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1310720);
	assert_int_equal(parse_pages("0x100", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 0x100);
	assert_int_equal(parse_pages("6K", &v, err, sizeof(err)), 0);   /* rounded down */
	assert_int_equal(v, 1);
	assert_int_equal(parse_pages("", &v, err, sizeof(err)), -P2M_EPARSE);
	assert_int_equal(parse_pages("5Q", &v, err, sizeof(err)), -P2M_EPARSE);
}

static void bad_sizes(void **state)
{
	static const struct { const char *s; int rc; const char *msg; } bad[] = {
		{ "", -P2M_EPARSE, "empty" },
		{ "-1", -P2M_EPARSE, "expected a number" },
		{ " 5", -P2M_EPARSE, "expected a number" },
		{ "G", -P2M_EPARSE, "expected a number" },
		{ "12X", -P2M_EPARSE, "unknown unit 'X'" },
		{ "1GG", -P2M_EPARSE, "unexpected \"G\"" },
		{ "0x", -P2M_EPARSE, "unknown unit 'x'" },
		{ "99999999999999999999", -P2M_ERANGE, "too large" },
		{ "16777216T", -P2M_ERANGE, "too large" },
	};
	uint64_t v;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse_size(bad[i].s, &v, err, sizeof(err)), bad[i].rc);
		if (!strstr(err, bad[i].msg))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].s, err, bad[i].msg);
	}
}

static void ranges(void **state)
{
	struct pfn_range r[8];
	size_t n;
	char err[160];

	(void)state;
	assert_int_equal(parse_pfn_ranges("0xa0-0x100,3G-4G", r, 8, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].start, 0xa0);
	assert_int_equal(r[0].end, 0x100);
	assert_int_equal(r[1].start, 0xc0000);
	assert_int_equal(r[1].end, 0x100000);
	/* Byte bounds round outward; ranges sort and merge. */
	assert_int_equal(parse_pfn_ranges("0x20-0x30,1K-5K,0x10-0x21,0x30-0x31", r, 8, &n,
					      err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[0].end, 2);
	assert_int_equal(r[1].start, 0x10);
	assert_int_equal(r[1].end, 0x31);
}

static void bad_ranges(void **state)
{
	static const struct { const char *s; const char *msg; } bad[] = {
		{ "", "empty" },
		{ "5", "expected START-END" },
		{ "5-", "expected a number" },
		{ "5-3", "start is not below end" },
		{ "5-5", "start is not below end" },
		{ "1-2,", "trailing comma" },
		{ "1-2;3-4", "unknown unit ';'" },
		{ "1-2,3-4,5-6", "more than 2" },
	};
	struct pfn_range r[2];
	size_t n;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_true(parse_pfn_ranges(bad[i].s, r, 2, &n, err, sizeof(err)) < 0);
		if (!strstr(err, bad[i].msg))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].s, err, bad[i].msg);
	}
}

static void byte_format(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(format_bytes(0, b, sizeof(b)), "0 B");
	assert_string_equal(format_bytes((uint64_t)64 << 30, b, sizeof(b)), "64 GiB");
	assert_string_equal(format_bytes((uint64_t)1 << 40, b, sizeof(b)), "1 TiB");
	assert_string_equal(format_bytes(1536 * 1024, b, sizeof(b)), "1.50 MiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(size_forms),
		cmocka_unit_test(pages),
		cmocka_unit_test(bad_sizes),
		cmocka_unit_test(ranges),
		cmocka_unit_test(bad_ranges),
		cmocka_unit_test(byte_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
