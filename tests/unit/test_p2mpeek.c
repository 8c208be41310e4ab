/*
 * tests/xen/p2mpeek.c, the logic of the dom0 reader of the toolstack
 * tier's --big run, on P2Ms built by libp2m on the hosted platform and
 * published as an xl domU publishes them (no SIF_VIRT_P2M_4TOOLS: the
 * list and the tree of the first 512 GiB, docs/tree-rule.md): a guest
 * beyond 512 GiB is read through the list (every entry that names a
 * frame counted, the highest one above 512 GiB) and refused by the
 * tree-only reader with the tree's limit (P2MR_ETREE_SIZE, "max_pfn ...
 * too large for p2m tree"); a guest within 512 GiB in the same capacity
 * is read by both, to the same count; a tree-only reader that is not
 * refused above 512 GiB, or a list that cannot be read, is a failure.
 * Frames are mapped by copy, as many at once as the reader asks for.
 */
#define _GNU_SOURCE /* fmemopen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../xen/p2mpeek.h"
#include "common/toolstack.h"
#include "helper_p2m.h"

static const void *copy_map(void *ctx, uint64_t mfn)
{
	struct ts_frames *tf = ctx;
	void *page = malloc(4096);

	assert_non_null(page);
	if (tf->read_frame(tf->ctx, (xen_pfn_t)mfn, page) < 0) {
		free(page);
		return NULL;
	}
	return page;
}

static void copy_unmap(void *ctx, uint64_t mfn, const void *page)
{
	(void)ctx;
	(void)mfn;
	free((void *)page);
}

static int peek(struct fx *f, struct arch_shared_info *arch, struct peek_result *r,
		char *out, size_t outlen)
{
	struct ts_frames tf;
	struct p2mr_frames fr;
	FILE *o;
	int rc;

	ts_frames_hosted(&tf, f->h, 0);
	fr = (struct p2mr_frames){ .ctx = &tf, .map = copy_map, .unmap = copy_unmap,
				   .max_mfn = tf.max_mfn };
	o = fmemopen(out, outlen, "w");
	assert_non_null(o);
	rc = peek_run(arch, &fr, r, o);
	fclose(o);
	return rc;
}

static void beyond_512g(void **state)
{
	struct arch_shared_info arch;
	struct peek_result r;
	char out[2048];
	struct fx f;

	(void)state;
	fx_init(&f, P2M_TREE_PFNS + W, true);
	for (uint64_t pfn = 0; pfn < 3 * S; pfn++)
		assert_int_equal(p2m_set(&f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set(&f.p, P2M_TREE_PFNS + 7, ram_of(7)), 0);
	p2m_publish(&f.p, &arch, false);
	assert_int_not_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	assert_int_equal(peek(&f, &arch, &r, out, sizeof(out)), 0);
	assert_int_equal(r.list_rc, 0);
	assert_int_equal(r.list.mode, P2MR_MODE_LIST);
	assert_int_equal(r.published, P2M_TREE_PFNS + S);
	assert_int_equal(r.frames, 3 * S + 1);
	assert_int_equal(r.top_frame_pfn, P2M_TREE_PFNS + 8);
	assert_int_equal(r.tree_rc, -P2MR_ETREE_SIZE);
	assert_non_null(strstr(out, "max_pfn 0x80001ff too large for p2m tree"));
	assert_non_null(strstr(out, "as expected, the tree reaches 512 GiB"));
	assert_non_null(strstr(out, "1537 entries name a frame (highest pfn 0x8000007)"));
	fx_fini(&f);
}

static void within_512g(void **state)
{
	struct arch_shared_info arch;
	struct peek_result r;
	char out[2048];
	struct fx f;

	(void)state;
	fx_init(&f, P2M_TREE_PFNS + W, true);
	for (uint64_t pfn = 0; pfn < 2 * S; pfn++)
		assert_int_equal(p2m_set(&f.p, pfn, ram_of(pfn)), 0);
	p2m_publish(&f.p, &arch, false);
	assert_int_equal(peek(&f, &arch, &r, out, sizeof(out)), 0);
	assert_int_equal(r.tree_rc, 0);
	assert_int_equal(r.tree.count, r.list.count);
	assert_int_equal(r.frames, 2 * S);
	assert_non_null(strstr(out, "p2mpeek: tree-only: read 0x400 pfns"));
	fx_fini(&f);
}

/* Failures are reported as such: no list to read (nothing published), and
 * a tree root of ~0 (a domU whose builder set SIF_VIRT_P2M_4TOOLS) within
 * 512 GiB, where the tree-only reader should have read it. */
static void failures(void **state)
{
	struct arch_shared_info arch;
	struct peek_result r;
	char out[2048];
	struct fx f;

	(void)state;
	fx_init(&f, W, true);
	p2m_publish(&f.p, &arch, false);
	assert_int_equal(peek(&f, &arch, &r, out, sizeof(out)), 1);
	assert_int_equal(r.list_rc, -P2MR_ENOP2M);
	assert_non_null(strstr(out, "p2mpeek: list: FAILED (ENOP2M)"));
	assert_int_equal(p2m_set(&f.p, 5, ram_of(5)), 0);
	p2m_publish(&f.p, &arch, true);
	assert_int_equal(peek(&f, &arch, &r, out, sizeof(out)), 1);
	assert_int_equal(r.list_rc, 0);
	assert_int_equal(r.tree_rc, -P2MR_EFLL_MFN);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(beyond_512g),
		cmocka_unit_test(within_512g),
		cmocka_unit_test(failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
