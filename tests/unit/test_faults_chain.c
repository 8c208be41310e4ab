/*
 * p2m_create of a 4 TiB P2M under single faults (the driver of
 * helper_fault.c): its meta area takes 539 frames, listed in a meta
 * chain of two frames, so a failure while the second chain frame is
 * filled must free what the first one lists, and a failure once both are
 * full must free both. Its own program, apart from test_faults, because
 * each run builds a 4 TiB reservation: slow on a loaded machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "helper_fault.h"

static int op_create(struct ff *x)
{
	return p2m_create(&x->f.p, &x->plat, (uint64_t)1 << 30, false);
}

static void check_create(struct ff *x)
{
	uint64_t c[P2M_PER_PAGE];

	/* Two chain frames: the first names a next one. */
	assert_int_equal(hosted_read_frame(x->f.h, ff_hosted(x, x->f.p.meta_head), c), 0);
	assert_true(c[0] != P2M_INVALID);
}

static void faults_create_two_chain_frames(void **state)
{
	/* Its 4096 list windows are hung one by one at the end: the first
	 * and last 16 of its calls fail, not those in between (a failure
	 * anywhere in that loop is undone alike). Create's rollback makes no
	 * call that can fail, so there is no pair to run. The small create
	 * of test_faults checks the retry. */
	const struct ff_case c = { .name = "p2m_create (4 TiB)", .create = true,
				   .op = op_create, .check = check_create,
				   .edge = 16, .stride = (uint64_t)1 << 40 };
	struct ff_counts n;

	(void)state;
	ff_run_case(&c, &n);
	assert_int_equal(n.singles, 32);
	assert_int_equal(n.pairs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(faults_create_two_chain_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
