/*
 * Names: p2m_strerror for every code (negated or not, unknown ones), and
 * the kind and run names the dump and messages use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p2m/dump.h"
#include "p2m/entry.h"
#include "p2m/error.h"

static void error_strings(void **state)
{
	(void)state;
	assert_string_equal(p2m_strerror(0), "success");
	assert_string_equal(p2m_strerror(-P2M_EINVAL), "invalid argument");
	assert_string_equal(p2m_strerror(P2M_EINVAL), "invalid argument");
	assert_string_equal(p2m_strerror(-P2M_ERANGE), "out of range");
	assert_string_equal(p2m_strerror(-P2M_ENOMEM), "out of frames");
	assert_string_equal(p2m_strerror(-P2M_EMAP), "mapping failed");
	assert_string_equal(p2m_strerror(-P2M_EBUSY), "entry busy");
	assert_string_equal(p2m_strerror(-P2M_ENOSPC), "array too small");
	assert_string_equal(p2m_strerror(-P2M_ECONFLICT), "conflict");
	assert_string_equal(p2m_strerror(-P2M_EPARSE), "malformed input");
	assert_string_equal(p2m_strerror(-P2M_ENOSYS), "operation not provided");
	assert_string_equal(p2m_strerror(-P2M_ECHECK), "consistency check failed");
	assert_string_equal(p2m_strerror(P2M_NERRORS), "unknown error");
	assert_string_equal(p2m_strerror(-1000), "unknown error");
	assert_string_equal(p2m_strerror(-2147483647 - 1), "unknown error");
	/* Every code has a distinct, non-empty name. */
	for (int a = 0; a < P2M_NERRORS; a++) {
		assert_true(strlen(p2m_strerror(a)) > 0);
		for (int b = 0; b < a; b++)
			assert_string_not_equal(p2m_strerror(a), p2m_strerror(b));
	}
}

static void kind_names(void **state)
{
	(void)state;
	assert_string_equal(p2m_kind_name(P2M_KIND_RAM), "ram");
	assert_string_equal(p2m_kind_name(P2M_KIND_MISSING), "missing");
	assert_string_equal(p2m_kind_name(P2M_KIND_IDENTITY), "identity");
	assert_string_equal(p2m_kind_name(P2M_KIND_FOREIGN), "foreign");
	assert_string_equal(p2m_kind_name((enum p2m_kind)99), "?");
	assert_string_equal(p2m_run_name((enum p2m_run_kind)99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_strings),
		cmocka_unit_test(kind_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
