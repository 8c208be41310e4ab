/*
 * The hosted platform's page tables mirror its mappings: walking
 * root_table() -> L4 -> L3 -> L2 -> L1 by mfn, as libxc's map_p2m_list()
 * does, yields the frame mapped at each slot, with RW only where asked.
 * Tables in use cannot be remade, shared tables cannot be written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "p2m/error.h"
#include "platform/hosted.h"

#define PAGE 4096u
#define WIN (512u * PAGE)

static struct hosted *h;
static struct p2m_platform p;

static int setup(void **state)
{
	struct hosted_config cfg = { .max_frames = 4096 };

	(void)state;
	h = hosted_create(&cfg, NULL, 0);
	hosted_platform(h, &p);
	return h ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	hosted_destroy(h);
	return 0;
}

static xen_pfn_t alloc1(void)
{
	xen_pfn_t m;

	assert_int_equal(p.alloc_frames(p.ctx, 1, &m), 0);
	return m;
}

/* The toolstack's walk, written out with hosted_read_pte. */
static xen_pfn_t walk(uint64_t va, uint64_t *l1e)
{
	xen_pfn_t t = p.root_table(p.ctx);
	uint64_t e = 0;

	for (int level = 4; level >= 1; level--) {
		unsigned i = (unsigned)(va >> (12 + 9 * (level - 1))) & 511;

		assert_int_equal(hosted_read_pte(h, t, i, &e), 0);
		if (!(e & X86_PTE_PRESENT))
			return 0;
		assert_false(level > 1 && (e & X86_PTE_PSE));
		t = (e & X86_PTE_MFN_MASK) >> 12;
	}
	*l1e = e;
	return t;
}

static void walk_finds_mapped_frames(void **state)
{
	/* 3 windows: enough to straddle nothing, but three L2 entries. */
	xen_pfn_t leaf = alloc1(), t0 = alloc1(), t1 = alloc1(), priv = alloc1(), m;
	uint64_t pte;
	uint8_t *base;
	void *b;

	(void)state;
	assert_int_equal(p.reserve(p.ctx, 3 * WIN, &b), 0);
	base = b;
	assert_int_equal(p.make_table(p.ctx, t0, leaf), 0);
	assert_int_equal(p.make_table(p.ctx, t1, leaf), 0);
	assert_int_equal(walk((uint64_t)base, &pte), 0);            /* not set yet */
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base, &m, NULL), -P2M_ERANGE);
	assert_int_equal(p.set_window(p.ctx, base, t0), 0);
	assert_int_equal(p.set_window(p.ctx, base + 2 * WIN, t1), 0);
	for (unsigned s = 0; s < 512; s += 73) {
		assert_int_equal(walk((uint64_t)base + s * PAGE, &pte), leaf);
		assert_false(pte & X86_PTE_RW);
		assert_int_equal(walk((uint64_t)base + 2 * WIN + s * PAGE, &pte), leaf);
	}
	assert_int_equal(walk((uint64_t)base + WIN, &pte), 0);      /* window 1 unset */
	assert_int_equal(p.map_frames(p.ctx, base + 2 * WIN + 7 * PAGE, 1, &priv, P2M_MAP_RW), 0);
	assert_int_equal(walk((uint64_t)base + 2 * WIN + 7 * PAGE, &pte), priv);
	assert_true(pte & X86_PTE_RW);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base + 2 * WIN + 7 * PAGE, &m, &pte), 0);
	assert_int_equal(m, priv);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base + 2 * WIN + 8 * PAGE, &m, NULL), 0);
	assert_int_equal(m, leaf);
	/* A table in use cannot be remade. */
	assert_int_equal(p.make_table(p.ctx, t0, priv), -P2M_EBUSY);  /* in use */
	assert_non_null(strstr(hosted_last_error(h), "live table of 1 window"));
	p.release(p.ctx, base, 3 * WIN);
	assert_int_equal(walk((uint64_t)base, &pte), 0);
	p.drop_table(p.ctx, t0);
	p.drop_table(p.ctx, t1);
	p.free_frames(p.ctx, 1, &t0);
	p.free_frames(p.ctx, 1, &t1);
	p.free_frames(p.ctx, 1, &priv);
	p.free_frames(p.ctx, 1, &leaf);
	/* No later call failed (the message is the last failure's). */
	assert_non_null(strstr(hosted_last_error(h), "live table of 1 window"));
}

static void shared_tables_are_read_only(void **state)
{
	xen_pfn_t leaf = alloc1(), t = alloc1(), priv = alloc1();
	uint8_t *base;
	void *b;

	(void)state;
	assert_int_equal(p.reserve(p.ctx, 2 * WIN, &b), 0);
	base = b;
	assert_int_equal(p.make_table(p.ctx, t, leaf), 0);
	assert_int_equal(p.set_window(p.ctx, base, t), 0);
	assert_int_equal(p.set_window(p.ctx, base + WIN, t), 0);
	/* One table under two windows: writing a slot would change both. */
	assert_int_equal(p.map_frames(p.ctx, base, 1, &priv, P2M_MAP_RW), -P2M_EBUSY);
	assert_non_null(strstr(hosted_last_error(h), "serves 2 windows"));
	/* A page table is never mapped writable. */
	assert_int_equal(p.map_frames(p.ctx, base, 1, &t, P2M_MAP_RW), -P2M_EINVAL);
	/* Bad arguments name what was wrong. */
	assert_int_equal(p.set_window(p.ctx, base + PAGE, t), -P2M_EINVAL);
	assert_int_equal(p.set_window(p.ctx, base, priv), -P2M_EINVAL);
	assert_non_null(strstr(hosted_last_error(h), "was not made a table"));
	assert_int_equal(p.map_frames(p.ctx, base + 2 * WIN, 1, &priv, P2M_MAP_RW), -P2M_EINVAL);
	assert_int_equal(p.map_frames(p.ctx, base + 511 * PAGE, 2, (xen_pfn_t[]){ priv, priv + 100000 }, 0),
			 -P2M_EINVAL);
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)base, &priv, NULL), 0);
	assert_int_equal(priv, leaf);   /* nothing changed */
	p.release(p.ctx, base, 2 * WIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(walk_finds_mapped_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_tables_are_read_only, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
