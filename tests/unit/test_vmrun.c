/*
 * vmrun: the process runner under `p2m boot`, exercised with /bin/sh
 * instead of QEMU: lines arrive in order without CR or escape sequences,
 * a trailing partial line is delivered, exit status and exec failure are
 * reported, a timeout kills the whole process group, and a callback can
 * end the run early.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/vmrun.h"

struct seen {
	int n;
	char lines[8][64];
	const char *stop_at;
};

static bool collect(void *ctx, double t, const char *line)
{
	struct seen *s = ctx;
	assert_true(t >= 0);
	if (s->n < 8)
		snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", line);
	s->n++;
	return !(s->stop_at && strcmp(line, s->stop_at) == 0);
}

static void test_lines_and_status(void **state)
{
	(void)state;
	char *argv[] = { "sh", "-c", "printf 'one\\r\\n\\033[2Jtwo\\nthree'; echo err >&2; exit 3", NULL };
	struct seen s = { 0 };
	struct vmrun_result r;
	assert_int_equal(vmrun(argv, 10, collect, &s, &r), 0);
	assert_true(r.started);
	assert_true(r.exited);
	assert_int_equal(r.exit_status, 3);
	assert_false(r.timed_out);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[0], "one");
	assert_string_equal(s.lines[1], "two");
	assert_string_equal(s.lines[2], "threeerr"); /* stderr joins the same stream */
	assert_true(r.peak_rss_kib > 0);
}

static void test_exec_failure(void **state)
{
	(void)state;
	char *argv[] = { "/nonexistent/qemu", NULL };
	struct seen s = { 0 };
	struct vmrun_result r;
	assert_int_equal(vmrun(argv, 10, collect, &s, &r), 0);
	assert_false(r.started);
	assert_int_not_equal(r.errno_exec, 0);
}

static void test_timeout_kills_group(void **state)
{
	(void)state;
	/* The child spawns a grandchild that holds the pipe: both must go. */
	char *argv[] = { "sh", "-c", "sleep 30 & echo started; wait", NULL };
	struct seen s = { 0 };
	struct vmrun_result r;
	assert_int_equal(vmrun(argv, 0.5, collect, &s, &r), 0);
	assert_true(r.timed_out);
	assert_false(r.exited);
	assert_true(r.wall_seconds < 5);
	assert_int_equal(s.n, 1);
}

static void test_callback_stops(void **state)
{
	(void)state;
	char *argv[] = { "sh", "-c", "echo a; echo halt; sleep 30; echo never", NULL };
	struct seen s = { .stop_at = "halt" };
	struct vmrun_result r;
	assert_int_equal(vmrun(argv, 20, collect, &s, &r), 0);
	assert_true(r.stopped_early);
	assert_false(r.timed_out);
	assert_true(r.wall_seconds < 5);
	assert_int_equal(s.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_status),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_callback_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
