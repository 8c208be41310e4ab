/*
 * The hosted platform's simulated-domain mode (hosted.h, struct
 * hosted_namer): every frame it hands out or uses as a page table is a pfn
 * of the domain with the namer's mfn, everywhere an mfn crosses the
 * boundary (operations, PTEs, the readers); a refused name leaves nothing
 * allocated; a renumbering rewrites the names; a backing file works like
 * the memfd. libp2m and libp2mread run on it end to end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p2m/migrate.h"
#include "p2m/p2m.h"
#include "p2m/publish.h"
#include "p2mread/read.h"
#include "common/toolstack.h"
#include "platform/hosted.h"

#define POOL_FIRST 0x100u
#define POOL_N 0x400u
#define NPFN 0x2000u

/* The domain: pfn p has mfn base + p * mult; the pool hands out pfns
 * from POOL_FIRST, LIFO for freed ones. */
static struct dom {
	uint64_t base, mult;
	uint64_t page_of[NPFN];     /* page + 1 */
	uint64_t freed[POOL_N], nfreed, next, out, limit;
	unsigned names, unnames;
} d;

static uint64_t mfn_of(uint64_t pfn)
{
	return d.base + pfn * d.mult;
}

static int pfn_of(uint64_t mfn, uint64_t *pfn)
{
	if (mfn < d.base || (mfn - d.base) % d.mult || (mfn - d.base) / d.mult >= NPFN)
		return -P2M_ERANGE;
	*pfn = (mfn - d.base) / d.mult;
	return 0;
}

static int name(void *ctx, uint64_t page, xen_pfn_t *mfn)
{
	uint64_t pfn;

	(void)ctx;
	if (d.out == d.limit)
		return -P2M_ENOMEM;
	pfn = d.nfreed ? d.freed[--d.nfreed] : POOL_FIRST + d.next++;
	d.page_of[pfn] = page + 1;
	d.out++;
	d.names++;
	*mfn = mfn_of(pfn);
	return 0;
}

static void unname(void *ctx, uint64_t page, xen_pfn_t mfn)
{
	uint64_t pfn = 0;

	(void)ctx;
	assert_int_equal(pfn_of(mfn, &pfn), 0);
	assert_int_equal(d.page_of[pfn], page + 1);
	d.page_of[pfn] = 0;
	d.freed[d.nfreed++] = pfn;
	d.out--;
	d.unnames++;
}

static uint64_t page_of(void *ctx, xen_pfn_t mfn)
{
	uint64_t pfn;

	(void)ctx;
	if (pfn_of(mfn, &pfn) || !d.page_of[pfn])
		return UINT64_MAX;
	return d.page_of[pfn] - 1;
}

static int m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	uint64_t p;

	(void)ctx;
	if (pfn_of(mfn, &p))
		return -P2M_ERANGE;
	*pfn = p;
	return 0;
}

static const struct hosted_namer namer = { NULL, name, unname, page_of, m2p };
static struct hosted *h;
static struct p2m_platform plat;

static int setup(void **state)
{
	struct hosted_config cfg = { .max_frames = 8192, .mfn_base = 1, .namer = &namer };

	(void)state;
	memset(&d, 0, sizeof(d));
	d.base = 0x3000000;
	d.mult = 7;
	d.limit = POOL_N;
	h = hosted_create(&cfg, NULL, 0);
	if (!h)
		return -1;
	hosted_platform(h, &plat);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hosted_destroy(h);
	return 0;
}

static void frames_are_the_domains(void **state)
{
	xen_pfn_t m[4], pfn;
	uint64_t *v, buf[512];

	(void)state;
	/* The root L4 was the first frame named. */
	assert_int_equal(plat.root_table(plat.ctx), mfn_of(POOL_FIRST));
	assert_int_equal(plat.alloc_frames(plat.ctx, 4, m), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pfn_of(m[i], &pfn), 0);
		assert_int_equal(plat.m2p(plat.ctx, m[i], &pfn), 0);
		assert_true(hosted_is_frame(h, m[i]));
	}
	v = plat.frame_map(plat.ctx, m[2]);
	assert_non_null(v);
	v[5] = 0x1234;
	plat.frame_unmap(plat.ctx, v);
	assert_int_equal(hosted_read_frame(h, m[2], buf), 0);
	assert_int_equal(buf[5], 0x1234);
	buf[6] = 0x5678;
	assert_int_equal(hosted_write_frame(h, m[2], buf), 0);
	v = plat.frame_map(plat.ctx, m[2]);
	assert_int_equal(v[6], 0x5678);
	plat.frame_unmap(plat.ctx, v);
	/* Default numbers mean nothing here. */
	assert_false(hosted_is_frame(h, 2));
	assert_null(plat.frame_map(plat.ctx, 2));
	plat.free_frames(plat.ctx, 4, m);
	assert_int_equal(d.out, 1);
	assert_int_equal(d.unnames, 4);
	assert_false(hosted_is_frame(h, m[0]));
}

/* A frame never written is a hole the copy view fills without reading;
 * a write by any way (pwrite, the shared view a second map falls back to)
 * must end that, or the next copy view would show zeros. */
static void fresh_frames(void **state)
{
	xen_pfn_t m[3];
	uint64_t *v, *w, buf[512];

	(void)state;
	assert_int_equal(plat.alloc_frames(plat.ctx, 3, m), 0);
	v = plat.frame_map(plat.ctx, m[0]);
	for (int i = 0; i < 512; i++)
		assert_int_equal(v[i], 0);
	v[1] = 11;
	plat.frame_unmap(plat.ctx, v);
	v = plat.frame_map(plat.ctx, m[0]);
	assert_int_equal(v[1], 11);
	plat.frame_unmap(plat.ctx, v);

	memset(buf, 0, sizeof(buf));
	buf[2] = 22;
	assert_int_equal(hosted_write_frame(h, m[1], buf), 0);
	v = plat.frame_map(plat.ctx, m[1]);
	assert_int_equal(v[2], 22);
	plat.frame_unmap(plat.ctx, v);

	v = plat.frame_map(plat.ctx, m[0]);          /* the copy view */
	w = plat.frame_map(plat.ctx, m[2]);          /* the shared view */
	assert_non_null(w);
	w[3] = 33;
	plat.frame_unmap(plat.ctx, w);
	plat.frame_unmap(plat.ctx, v);
	v = plat.frame_map(plat.ctx, m[2]);
	assert_int_equal(v[3], 33);
	plat.frame_unmap(plat.ctx, v);
	plat.free_frames(plat.ctx, 3, m);
}

static void refused_name_allocates_nothing(void **state)
{
	xen_pfn_t m[8];
	struct hosted_stats st;

	(void)state;
	d.limit = 4;   /* the root and three more */
	assert_int_equal(plat.alloc_frames(plat.ctx, 2, m), 0);
	assert_int_equal(plat.alloc_frames(plat.ctx, 2, m + 2), -P2M_ENOMEM);
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 2);
	assert_int_equal(d.out, 3);
	assert_int_equal(plat.alloc_frames(plat.ctx, 1, m + 2), 0);
	plat.free_frames(plat.ctx, 3, m);
	assert_int_equal(d.out, 1);
}

/* An initial list of consecutive frames (p2m_build_adopt's) would be a
 * run here, without mfns of the domain: refused, nothing allocated. */
static void no_list_of_consecutive_frames(void **state)
{
	xen_pfn_t m[4];
	uint64_t *va = (uint64_t *)1;
	struct hosted_stats st;

	(void)state;
	assert_int_equal(hosted_list_new(h, 4, m, &va), -P2M_EINVAL);
	assert_null(va);
	assert_non_null(strstr(hosted_last_error(h), "simulated-domain mode"));
	hosted_get_stats(h, &st);
	assert_int_equal(st.live_frames, 0);
	assert_int_equal(d.out, 1);
}

/* libp2m on it: every pool pfn RAM in the P2M, so the leaves pass the
 * saver's M2P check; the tools' walk names the domain's frames. */
static int check(void *arg, const struct p2mr_leaf *l)
{
	uint64_t *bad = arg;

	for (unsigned i = 0; i < l->n; i++) {
		uint64_t pfn = l->first + i;
		uint64_t want = pfn >= POOL_FIRST && pfn < POOL_FIRST + POOL_N ? mfn_of(pfn) : P2M_INVALID;

		if (l->entries[i] != want)
			(*bad)++;
	}
	return 0;
}

static int localise(void *ctx, xen_pfn_t mfn)
{
	uint64_t t[512], pfn;

	(void)ctx;
	assert_int_equal(hosted_read_frame(h, mfn, t), 0);
	for (unsigned i = 0; i < 512; i++)
		if (t[i] & X86_PTE_PRESENT) {
			assert_int_equal(pfn_of(((t[i] & X86_PTE_MFN_MASK) >> 12) - 0, &pfn), -P2M_ERANGE);
			/* Old numbering: base 0x3000000, mult 7. */
			pfn = (((t[i] & X86_PTE_MFN_MASK) >> 12) - 0x3000000) / 7;
			t[i] = (t[i] & ~X86_PTE_MFN_MASK) | (mfn_of(pfn) << 12);
		}
	assert_int_equal(hosted_write_frame(h, mfn, t), 0);
	return 0;
}

static xen_pfn_t renumber(void *ctx, xen_pfn_t old)
{
	(void)ctx;
	return mfn_of((old - 0x3000000) / 7);
}

static void libp2m_and_the_reader(void **state)
{
	struct p2m p;
	struct arch_shared_info arch = { 0 };
	static struct ts_copies copies;
	struct ts_frames tf;
	struct p2mr_frames fr;
	struct p2mr_result res;
	xen_pfn_t leaf, pfn;
	uint64_t pte, bad = 0;

	(void)state;
	/* The saver's leaf check asks the platform's M2P: the namer's. */
	ts_frames_hosted(&tf, h, 1ull << 36);
	tf.m2p = ts_hosted_m2p;
	ts_copies_frames(&copies, &tf, &fr);
	assert_int_equal(p2m_create(&p, &plat, NPFN, true), 0);
	for (uint64_t q = POOL_FIRST; q < POOL_FIRST + POOL_N; q++)
		assert_int_equal(p2m_set(&p, q, mfn_of(q)), 0);
	assert_int_equal(p2m_publish(&p, &arch, false), 0);
	assert_int_equal(p2mr_read(&arch, &fr, NULL, check, &bad, &res), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(res.count, p2m_max_pfn(&p));
	/* The walk and the PTEs name the domain's frames. */
	assert_int_equal(hosted_va_to_mfn(h, (uint64_t)p.list + POOL_FIRST * 8, &leaf, &pte), 0);
	assert_int_equal(pfn_of(leaf, &pfn), 0);
	assert_int_equal((pte & X86_PTE_MFN_MASK) >> 12, leaf);
	assert_int_equal(hosted_read_pte(h, plat.root_table(plat.ctx), ((uint64_t)p.list >> 39) & 511, &pte), 0);
	assert_int_equal(pfn_of((pte & X86_PTE_MFN_MASK) >> 12, &pfn), 0);

	/* A restore onto new mfns: suspend, renumber, localise the page
	 * tables, rewrite the leaves (as a restorer), resume, read again. */
	p2m_unpublish(&p);
	assert_int_equal(p2m_suspend(&p), 0);
	d.base = 0x5000000;
	d.mult = 11;
	hosted_renumber(h, renumber, NULL);
	assert_int_equal(hosted_for_each_table(h, localise, NULL), 0);
	for (uint64_t s = POOL_FIRST / 512; s <= (POOL_FIRST + POOL_N - 1) / 512; s++) {
		uint64_t buf[512], *v;
		xen_pfn_t lm;

		assert_int_equal(hosted_va_to_mfn(h, (uint64_t)p.list + s * 4096, &lm, NULL), 0);
		v = plat.frame_map(plat.ctx, lm);
		assert_non_null(v);
		memcpy(buf, v, sizeof(buf));
		plat.frame_unmap(plat.ctx, v);
		for (unsigned i = 0; i < 512; i++)
			if (buf[i] != P2M_INVALID)
				buf[i] = mfn_of(s * 512 + i);
		assert_int_equal(hosted_write_frame(h, lm, buf), 0);
	}
	assert_int_equal(p2m_resume(&p, true), 0);
	memset(&arch, 0, sizeof(arch));
	assert_int_equal(p2m_publish(&p, &arch, false), 0);
	assert_int_equal(plat.root_table(plat.ctx), mfn_of(POOL_FIRST));
	assert_int_equal(p2mr_read(&arch, &fr, NULL, check, &bad, &res), 0);
	assert_int_equal(bad, 0);
	p2m_destroy(&p);
	assert_int_equal(d.out, 1);
}

static void backing_file(void **state)
{
	struct hosted_config cfg = { .max_frames = 1024, .backing_dir = "/tmp" };
	struct hosted *f;
	struct p2m_platform fp;
	struct hosted_stats st;
	xen_pfn_t m;
	uint64_t *v;

	(void)state;
	f = hosted_create(&cfg, NULL, 0);
	assert_non_null(f);
	hosted_platform(f, &fp);
	assert_int_equal(fp.alloc_frames(fp.ctx, 1, &m), 0);
	v = fp.frame_map(fp.ctx, m);
	v[0] = 42;
	fp.frame_unmap(fp.ctx, v);
	hosted_get_stats(f, &st);
	assert_true(st.memfd_bytes >= 4096);
	hosted_drop_cache(f);
	v = fp.frame_map(fp.ctx, m);
	assert_int_equal(v[0], 42);
	fp.frame_unmap(fp.ctx, v);
	fp.free_frames(fp.ctx, 1, &m);
	hosted_destroy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(frames_are_the_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(fresh_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(refused_name_allocates_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(no_list_of_consecutive_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(libp2m_and_the_reader, setup, teardown),
		cmocka_unit_test(backing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
