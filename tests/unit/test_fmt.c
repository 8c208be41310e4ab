/*
 * p2m_snprintf: every documented conversion agrees with the C library's
 * snprintf (the one deliberate difference: "%#x" of 0 is "0x0", the form
 * the dump needs), output is truncated and always NUL-terminated, the
 * return value is the full length.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "p2m/fmt.h"

#define SAME(...)                                                              \
	do {                                                                   \
		char a[128], b[128];                                           \
		int ra = p2m_snprintf(a, sizeof(a), __VA_ARGS__);              \
		int rb = snprintf(b, sizeof(b), __VA_ARGS__);                  \
		if (strcmp(a, b) || ra != rb)                                  \
			fail_msg("%s: ours \"%s\" (%d), libc \"%s\" (%d)",     \
				 #__VA_ARGS__, a, ra, b, rb);                  \
	} while (0)

static void agrees_with_libc(void **state)
{
	(void)state;
	SAME("plain text");
	SAME("%d %d %d", 0, -1, 42);
	SAME("%d %d", INT_MAX, INT_MIN);
	SAME("%u %u", 0u, UINT_MAX);
	SAME("%x %x", 0xabcdu, UINT_MAX);
	SAME("%lu %lx", ULONG_MAX, 0x123456789abcul);
	SAME("%llu %llx", ULLONG_MAX, 0xfedcba9876543210ull);
	SAME("%ld %lld", LONG_MIN, LLONG_MIN);
	SAME("%zu", (size_t)123456789);
	SAME("%#x %#lx %#llx", 0x1fu, 0x9ful, 0x40000ull);
	SAME("%08x|%8x|%2x", 0xbeefu, 0xbeefu, 0xbeefu);
	SAME("%#010x|%#6x", 0x1fu, 0x1fu);
	SAME("%5u|%05u|%1u", 42u, 42u, 42u);
	SAME("%s|%8s|%1s", "abc", "abc", "abc");
	SAME("%c%c", 'x', 'y');
	SAME("100%%");
	SAME("%5d|%05d", 42, 42);
}

static void negative_with_width(void **state)
{
	(void)state;
	/* The sign counts in the width, as in C. */
	SAME("%5d|", -42);
	SAME("%05d|", -42);
	SAME("%3d|", -42);
}

static void dump_style_hex(void **state)
{
	char buf[64];

	(void)state;
	p2m_snprintf(buf, sizeof(buf), " [%#llx->%#llx] %s", 0ull, 0x9full, "pfn");
	assert_string_equal(buf, " [0x0->0x9f] pfn");
}

static void truncation(void **state)
{
	char buf[8];
	int r;

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	r = p2m_snprintf(buf, sizeof(buf), "pfn %#llx too big", 0x123456ull);
	assert_int_equal(r, (int)strlen("pfn 0x123456 too big"));
	assert_string_equal(buf, "pfn 0x1");
	r = p2m_snprintf(buf, 1, "abc");
	assert_int_equal(r, 3);
	assert_int_equal(buf[0], '\0');
	buf[0] = 'Q';
	r = p2m_snprintf(buf, 0, "abc");
	assert_int_equal(r, 3);
	assert_int_equal(buf[0], 'Q');
	r = p2m_snprintf(buf, sizeof(buf), "%s", "1234567");
	assert_int_equal(r, 7);
	assert_string_equal(buf, "1234567");
	r = p2m_snprintf(buf, sizeof(buf), "%s", "12345678");
	assert_int_equal(r, 8);
	assert_string_equal(buf, "1234567");
}

static void odd_input(void **state)
{
	/* Through a pointer: the compiler's format check would refuse these. */
	int (*fmt)(char *, size_t, const char *, ...) = p2m_snprintf;
	const char *volatile null = NULL;
	char buf[32];

	(void)state;
	fmt(buf, sizeof(buf), "%s", null);
	assert_string_equal(buf, "(null)");
	fmt(buf, sizeof(buf), "a%qb");
	assert_string_equal(buf, "a%qb");
	fmt(buf, sizeof(buf), "end%");
	assert_string_equal(buf, "end%");
	p2m_snprintf(buf, sizeof(buf), "%p", (void *)0x1000);
	assert_string_equal(buf, "0x1000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(agrees_with_libc),
		cmocka_unit_test(negative_with_width),
		cmocka_unit_test(dump_style_hex),
		cmocka_unit_test(truncation),
		cmocka_unit_test(odd_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
