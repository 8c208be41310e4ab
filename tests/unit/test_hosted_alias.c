/*
 * The hosted platform shares pages as a guest does: a frame written
 * through frame_map() is seen at every address that maps it. In alias mode
 * a shared window maps the very frame 512 times; in the default mode a
 * shared window maps a run of copies (refreshed when the window is set
 * again), and single slots mapped by map_frames() are always true aliases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "platform/hosted.h"

#define PAGE 4096u
#define WIN (512u * PAGE)

struct fixture {
	struct hosted *h;
	struct p2m_platform p;
	uint8_t *base;
};

static struct fixture setup(int alias)
{
	struct hosted_config cfg = { .max_frames = 8192, .alias = alias };
	struct fixture f;
	char err[256];
	void *base;

	f.h = hosted_create(&cfg, err, sizeof(err));
	assert_non_null(f.h);
	hosted_platform(f.h, &f.p);
	assert_int_equal(f.p.reserve(f.p.ctx, 2 * WIN, &base), 0);
	assert_int_equal((uintptr_t)base % WIN, 0);
	f.base = base;
	return f;
}

static xen_pfn_t frame_with(struct fixture *f, uint64_t value)
{
	xen_pfn_t m;
	uint64_t *v;

	assert_int_equal(f->p.alloc_frames(f->p.ctx, 1, &m), 0);
	v = f->p.frame_map(f->p.ctx, m);
	assert_non_null(v);
	for (unsigned i = 0; i < 512; i++)
		v[i] = value + i;
	f->p.frame_unmap(f->p.ctx, v);
	return m;
}

static void rewrite(struct fixture *f, xen_pfn_t m, unsigned idx, uint64_t value)
{
	uint64_t *v = f->p.frame_map(f->p.ctx, m);

	assert_non_null(v);
	__atomic_store_n(&v[idx], value, __ATOMIC_RELAXED);
	f->p.frame_unmap(f->p.ctx, v);
}

static uint64_t at(struct fixture *f, unsigned slot, unsigned idx)
{
	return __atomic_load_n((uint64_t *)(f->base + (uint64_t)slot * PAGE) + idx, __ATOMIC_RELAXED);
}

static void shared_window(struct fixture *f, unsigned win, xen_pfn_t leaf, xen_pfn_t *table)
{
	assert_int_equal(f->p.alloc_frames(f->p.ctx, 1, table), 0);
	assert_int_equal(f->p.make_table(f->p.ctx, *table, leaf), 0);
	assert_int_equal(f->p.set_window(f->p.ctx, f->base + (uint64_t)win * WIN, *table), 0);
}

static void alias_mode_shares_one_frame(void **state)
{
	struct fixture f = setup(1);
	xen_pfn_t leaf = frame_with(&f, 0x1000), table;
	struct hosted_stats st;

	(void)state;
	shared_window(&f, 0, leaf, &table);
	assert_int_equal(at(&f, 0, 3), 0x1003);
	assert_int_equal(at(&f, 511, 3), 0x1003);
	/* One physical page: a write through the frame shows everywhere. */
	rewrite(&f, leaf, 3, 0xabcdef);
	assert_int_equal(at(&f, 0, 3), 0xabcdef);
	assert_int_equal(at(&f, 200, 3), 0xabcdef);
	assert_int_equal(at(&f, 511, 3), 0xabcdef);
	hosted_get_stats(f.h, &st);
	assert_int_equal(st.run_frames, 0);
	assert_true(st.mappings >= 512);
	hosted_destroy(f.h);
}

static void default_mode_uses_a_refreshed_run(void **state)
{
	struct fixture f = setup(0);
	xen_pfn_t leaf = frame_with(&f, 0x2000), t0, t1;
	struct hosted_stats st;

	(void)state;
	shared_window(&f, 0, leaf, &t0);
	shared_window(&f, 1, leaf, &t1);
	assert_int_equal(at(&f, 17, 5), 0x2005);
	assert_int_equal(at(&f, 512 + 300, 5), 0x2005);
	hosted_get_stats(f.h, &st);
	assert_int_equal(st.runs, 1);          /* one run serves both windows */
	assert_int_equal(st.run_frames, 512);
	assert_true(st.mappings <= 3);          /* one per window + nothing */
	/* The run is a copy: a later change of the leaf reaches the windows
	 * when a window is set to it again (as libp2m does on a change). */
	rewrite(&f, leaf, 5, 0x77);
	assert_int_equal(f.p.set_window(f.p.ctx, f.base, t0), 0);
	assert_int_equal(at(&f, 17, 5), 0x77);
	assert_int_equal(at(&f, 512 + 300, 5), 0x77);
	hosted_destroy(f.h);
}

static void split_window_slots_alias_their_frames(void **state)
{
	struct fixture f = setup(0);
	xen_pfn_t leaf = frame_with(&f, 0x3000), table, priv[2];
	uint64_t *v;

	(void)state;
	shared_window(&f, 0, leaf, &table);
	assert_int_equal(f.p.alloc_frames(f.p.ctx, 2, priv), 0);
	assert_int_equal(f.p.map_frames(f.p.ctx, f.base + 5 * PAGE, 2, priv, P2M_MAP_RW), 0);
	/* Writes at the window's VA land in the private frame. */
	*(volatile uint64_t *)(f.base + 5 * PAGE) = 0x55;
	*(volatile uint64_t *)(f.base + 6 * PAGE + 8) = 0x66;
	v = f.p.frame_map(f.p.ctx, priv[0]);
	assert_int_equal(v[0], 0x55);
	f.p.frame_unmap(f.p.ctx, v);
	v = f.p.frame_map(f.p.ctx, priv[1]);
	assert_int_equal(v[1], 0x66);
	f.p.frame_unmap(f.p.ctx, v);
	/* The shared leaf mapped at one slot is the frame itself. */
	assert_int_equal(f.p.map_frames(f.p.ctx, f.base + 9 * PAGE, 1, &leaf, P2M_MAP_RO), 0);
	rewrite(&f, leaf, 1, 0x99);
	assert_int_equal(at(&f, 9, 1), 0x99);
	/* Untouched slots still read the leaf's (copied) contents. */
	assert_int_equal(at(&f, 100, 2), 0x3002);
	hosted_destroy(f.h);
}

static void release_drops_everything(void **state)
{
	struct fixture f = setup(0);
	xen_pfn_t leaf = frame_with(&f, 0), table;
	struct hosted_stats st;

	(void)state;
	shared_window(&f, 0, leaf, &table);
	f.p.release(f.p.ctx, f.base, 2 * WIN);
	hosted_get_stats(f.h, &st);
	assert_int_equal(st.mappings, 0);
	assert_int_equal(st.table_frames, 1);   /* the root L4 only */
	f.p.drop_table(f.p.ctx, table);
	f.p.free_frames(f.p.ctx, 1, &table);
	f.p.free_frames(f.p.ctx, 1, &leaf);
	hosted_get_stats(f.h, &st);
	assert_int_equal(st.live_frames, 0);
	assert_int_equal(st.run_frames, 0);     /* the leaf's run went with it */
	assert_string_equal(hosted_last_error(f.h), "");
	hosted_destroy(f.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(alias_mode_shares_one_frame),
		cmocka_unit_test(default_mode_uses_a_refreshed_run),
		cmocka_unit_test(split_window_slots_alias_their_frames),
		cmocka_unit_test(release_drops_everything),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
