/*
 * The hosted platform under concurrent callers (run under TSan in CI):
 * writer threads each split their own window of one reservation,
 * allocating, mapping, writing and freeing frames, while reader threads
 * read every window through the list's addresses and walk the page
 * tables. Every read must see a value its writer could have stored.
 */
#include <pthread.h>
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
#define WRITERS 3
#define ROUNDS 150

static struct hosted *h;
static struct p2m_platform p;
static uint8_t *base;
static xen_pfn_t leaf;
static int stop;

/* Shared slots read 0; private slot s of writer w holds w << 32 | round. */
static void *writer(void *arg)
{
	unsigned w = (unsigned)(uintptr_t)arg;
	uint8_t *win = base + (uint64_t)w * WIN;
	xen_pfn_t table;

	assert_int_equal(p.alloc_frames(p.ctx, 1, &table), 0);
	assert_int_equal(p.make_table(p.ctx, table, leaf), 0);
	p.lock(p.ctx);
	assert_int_equal(p.set_window(p.ctx, win, table), 0);
	p.unlock(p.ctx);
	for (unsigned r = 1; r <= ROUNDS; r++) {
		unsigned slot = (r * 37) % 512;
		xen_pfn_t m, got;
		uint64_t *v;

		assert_int_equal(p.alloc_frames(p.ctx, 1, &m), 0);
		v = p.frame_map(p.ctx, m);
		assert_non_null(v);
		for (unsigned i = 0; i < 512; i++)
			__atomic_store_n(&v[i], ((uint64_t)w << 32) | r, __ATOMIC_RELAXED);
		p.frame_unmap(p.ctx, v);
		p.lock(p.ctx);
		assert_int_equal(p.map_frames(p.ctx, win + (uint64_t)slot * PAGE, 1, &m, P2M_MAP_RW), 0);
		p.unlock(p.ctx);
		assert_int_equal(hosted_va_to_mfn(h, (uint64_t)win + slot * PAGE, &got, NULL), 0);
		assert_int_equal(got, m);
		/* Back to the shared leaf, and the private frame is freed. */
		p.lock(p.ctx);
		assert_int_equal(p.map_frames(p.ctx, win + (uint64_t)slot * PAGE, 1, &leaf, P2M_MAP_RO), 0);
		p.unlock(p.ctx);
		p.free_frames(p.ctx, 1, &m);
	}
	return NULL;
}

static void *reader(void *arg)
{
	uint64_t bad = 0, reads = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (unsigned w = 0; w < WRITERS; w++) {
			for (unsigned s = 0; s < 512; s += 37) {
				const uint64_t *e = (const uint64_t *)(base + (uint64_t)w * WIN + (uint64_t)s * PAGE);
				uint64_t v = __atomic_load_n(e + (s & 511), __ATOMIC_RELAXED);

				reads++;
				if (v != 0 && (v >> 32) != w)
					bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
	assert_true(reads > 0);
	return NULL;
}

static void concurrent_writers_and_readers(void **state)
{
	pthread_t wt[WRITERS], rt[2];
	struct hosted_stats st;
	xen_pfn_t table;
	void *b;

	(void)state;
	h = hosted_create(NULL, NULL, 0);
	assert_non_null(h);
	hosted_platform(h, &p);
	assert_int_equal(p.reserve(p.ctx, WRITERS * WIN, &b), 0);
	base = b;
	assert_int_equal(p.alloc_frames(p.ctx, 1, &leaf), 0);
	{
		uint64_t *v = p.frame_map(p.ctx, leaf);

		memset(v, 0, PAGE);
		p.frame_unmap(p.ctx, v);
	}
	/* Every window starts shared, so readers may read them all. */
	assert_int_equal(p.alloc_frames(p.ctx, 1, &table), 0);
	assert_int_equal(p.make_table(p.ctx, table, leaf), 0);
	for (unsigned w = 0; w < WRITERS; w++)
		assert_int_equal(p.set_window(p.ctx, base + (uint64_t)w * WIN, table), 0);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&rt[i], NULL, reader, NULL), 0);
	for (unsigned w = 0; w < WRITERS; w++)
		assert_int_equal(pthread_create(&wt[w], NULL, writer, (void *)(uintptr_t)w), 0);
	for (unsigned w = 0; w < WRITERS; w++)
		pthread_join(wt[w], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(rt[i], NULL);
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 2 + WRITERS);   /* leaf, table, their tables */
	hosted_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_writers_and_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
