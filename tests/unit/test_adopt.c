/*
 * p2m_build_adopt: the list's own frames become the leaves (mapped as
 * they are: the hosted page tables name them), uniform pages go back to
 * the platform, the values equal the list (a plain array kept apart),
 * the tail past n reads missing, the refusals of p2m_build hold and a
 * failure at any allocation or mapping gives every frame back untouched.
 * Every single and double fault, frame_map included: test_faults.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_p2m.h"
#include "p2m/migrate.h"

/* RAM with a legacy hole, identity from the end of window 0 into window
 * 2 (a whole identity window), missing slots, a foreign entry, a tail
 * that ends mid-slot. */
static uint64_t *layout(uint64_t n)
{
	uint64_t *v = malloc(n * sizeof(uint64_t));

	assert_non_null(v);
	for (uint64_t pfn = 0; pfn < n; pfn++) {
		if ((pfn >= 0xa0 && pfn < 0x100) || (pfn >= W - 3 * S && pfn < 2 * W + 5 * S + 3))
			v[pfn] = p2m_identity_entry(pfn);
		else if (pfn >= 20 * S && pfn < 40 * S + 7)
			v[pfn] = P2M_INVALID;
		else if (pfn == 2 * W + 6 * S)
			v[pfn] = p2m_foreign_entry(0x4242);
		else
			v[pfn] = ram_of(pfn);
	}
	return v;
}

/* Is the slot's page, as the page tables say, the list's frame k? */
static bool slot_maps(struct fx *f, uint64_t k)
{
	xen_pfn_t mfn;
	uint64_t pte;

	if (hosted_va_to_mfn(f->h, (uint64_t)(uintptr_t)(f->p.list + k * S), &mfn, &pte))
		return false;
	return mfn == f->list_frames[k];
}

static void adopts_the_frames(void **state)
{
	uint64_t n = 2 * W + 7 * S + 100, pages = (n + S - 1) / S, adopted = 0;
	uint64_t *v = layout(n);
	struct p2m_stats st;
	struct fx f;

	(void)state;
	fx_init(&f, 4 * W, true);
	fx_list_new(&f, v, n);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, f.list_frames, n), 0);
	fx_list_adopted(&f);
	for (uint64_t pfn = 0; pfn < 4 * W; pfn++) {
		uint64_t want = pfn < n ? v[pfn] : P2M_INVALID;

		if (p2m_raw(&f.p, pfn) != want)
			fail_msg("pfn %#llx reads %#llx, the list says %#llx", (unsigned long long)pfn,
				 (unsigned long long)p2m_raw(&f.p, pfn), (unsigned long long)want);
	}
	for (uint64_t k = 0; k < pages; k++) {
		bool uniform = f.p.kinds[k] != P2M_SLOT_PRIVATE;

		/* A leaf is the list's page itself; a uniform page is freed. */
		if (uniform == hosted_is_frame(f.h, f.list_frames[k]))
			fail_msg("page %llu (slot kind %u): frame %#llx %s", (unsigned long long)k,
				 f.p.kinds[k], (unsigned long long)f.list_frames[k],
				 uniform ? "still live" : "freed");
		if (!uniform) {
			assert_true(slot_maps(&f, k));
			assert_int_equal(f.p.mids[k], f.list_frames[k]);
			adopted++;
		}
	}
	p2m_get_stats(&f.p, &st);
	assert_int_equal(st.private_leaves, adopted);
	/* The whole identity window 1 and the missing slots took no frame. */
	assert_int_equal(f.p.windows[1].table, 0);
	assert_true(adopted < pages - 20);
	assert_int_equal(p2m_max_pfn(&f.p), (n + S - 1) / S * S);
	assert_int_equal(p2m_generation(&f.p) & 1, 0);
	fx_check_accounting(&f);
	free(v);
	fx_fini(&f);
}

/* The same list built by copying and by adopting reads the same. */
static void agrees_with_the_copying_build(void **state)
{
	uint64_t n = W + 3 * S + 1;
	uint64_t *v = layout(n);
	struct fx a, c;

	(void)state;
	fx_init(&a, 2 * W, false);
	fx_init(&c, 2 * W, false);
	assert_int_equal(p2m_build(&c.p, v, n), 0);
	fx_list_new(&a, v, n);
	assert_int_equal(p2m_build_adopt(&a.p, a.list_va, a.list_frames, n), 0);
	fx_list_adopted(&a);
	for (uint64_t pfn = 0; pfn < 2 * W; pfn++)
		assert_int_equal(p2m_raw(&a.p, pfn), p2m_raw(&c.p, pfn));
	assert_int_equal(p2m_max_pfn(&a.p), p2m_max_pfn(&c.p));
	/* The last page's tail past n: missing in the leaf itself. */
	assert_int_equal(a.p.list[n], P2M_INVALID);
	free(v);
	fx_fini(&a);
	fx_fini(&c);
}

static void refuses_what_build_refuses(void **state)
{
	uint64_t v[S], arch_buf[64] = { 0 };
	xen_pfn_t zero[1] = { 0 };
	struct fx f;

	(void)state;
	for (unsigned i = 0; i < S; i++)
		v[i] = ram_of(i);
	fx_init(&f, W, true);
	fx_list_new(&f, v, S);
	assert_int_equal(p2m_build_adopt(&f.p, NULL, f.list_frames, 4), -P2M_EINVAL);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, NULL, 4), -P2M_EINVAL);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, zero, 4), -P2M_EINVAL);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, f.list_frames, W + 1), -P2M_ERANGE);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, f.list_frames, 0), 0);
	assert_int_equal(p2m_publish(&f.p, (struct arch_shared_info *)arch_buf, false), 0);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, f.list_frames, 4), -P2M_EBUSY);
	p2m_unpublish(&f.p);
	assert_int_equal(p2m_set(&f.p, W - 1, 0x77), 0);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, f.list_frames, 4), -P2M_EBUSY);
	/* A bad value is refused naming its pfn; nothing taken. */
	f.list_va[7] = (uint64_t)1 << 60;
	assert_int_equal(p2m_set(&f.p, W - 1, P2M_INVALID), 0);
	assert_int_equal(p2m_set_range_missing(&f.p, 0, W), 0);
	assert_int_equal(p2m_build_adopt(&f.p, f.list_va, f.list_frames, S), -P2M_EINVAL);
	assert_non_null(strstr(p2m_last_error(&f.p), "0x7"));
	for (unsigned i = 0; i < S; i++)
		assert_int_equal(p2m_raw(&f.p, i), P2M_INVALID);
	fx_check_accounting(&f);
	fx_fini(&f);
}

/* Failure at the nth allocation or mapping: the list's frames are all
 * still the test's, unchanged, and mapped nowhere in the list window. */
struct afail {
	uint64_t *v;
	uint64_t n;
};

static void afail_setup(struct fx *f, void *arg)
{
	struct afail *a = arg;

	fx_list_new(f, a->v, a->n);
}

static int afail_op(struct fx *f, void *arg)
{
	struct afail *a = arg;
	int rc = p2m_build_adopt(&f->p, f->list_va, f->list_frames, a->n);

	if (rc == 0) {
		fx_list_adopted(f);
		return 0;
	}
	for (uint64_t k = 0; k < f->list_pages; k++) {
		assert_true(hosted_is_frame(f->h, f->list_frames[k]));
		assert_false(slot_maps(f, k));
	}
	assert_memory_equal(f->list_va, a->v, a->n * sizeof(uint64_t));
	return rc;
}

static void afail_check(struct fx *f, void *arg)
{
	struct afail *a = arg;

	for (uint64_t pfn = 0; pfn < a->n; pfn += 3)
		assert_int_equal(p2m_raw(&f->p, pfn), a->v[pfn]);
}

static void failures_give_every_frame_back(void **state)
{
	struct afail a = { .n = 2 * W + 7 * S + 100 };
	unsigned nalloc, nmap;

	(void)state;
	a.v = layout(a.n);
	nalloc = fx_inject_each(FX_INJECT_ALLOC, 4 * W, true, afail_setup, afail_op, afail_check, &a);
	nmap = fx_inject_each(FX_INJECT_MAP, 4 * W, true, afail_setup, afail_op, afail_check, &a);
	print_message("adopt: %u allocation and %u mapping failures injected\n", nalloc, nmap);
	assert_true(nalloc >= 2 && nmap >= 3); /* a table and frame list per private window */
	free(a.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adopts_the_frames),
		cmocka_unit_test(agrees_with_the_copying_build),
		cmocka_unit_test(refuses_what_build_refuses),
		cmocka_unit_test(failures_give_every_frame_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
