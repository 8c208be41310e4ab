/*
 * tests/xen/p2mpeek.c, the logic of the dom0 reader of the toolstack
 * tier's --big run, on P2Ms built by libp2m on the hosted platform and
 * published as an xl domU publishes them (no SIF_VIRT_P2M_4TOOLS: the
 * list and the tree of the first 512 GiB, docs/tree-rule.md): a guest
 * beyond 512 GiB is read through the list (every entry that names a
 * frame counted, the highest one above 512 GiB) and refused by the
 * tree-only reader with the tree's limit (P2MR_ETREE_SIZE, "max_pfn ...
 * too large for p2m tree"), while the tree of its first 512 GiB, read
 * as crash reads it, names the list's leaves (none is published with
 * SIF_VIRT_P2M_4TOOLS, which is right); a tree leaf that is not the
 * list's is reported; a guest within 512 GiB in the same capacity is
 * read by both, to the same count; a list that cannot be read, or a
 * missing tree where one should be, is a failure.
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

/* A frame list the test rewrites as it is mapped: entry 1 names the
 * leaf of entry 0. */
static uint64_t tamper_mfn;

static const void *copy_map(void *ctx, uint64_t mfn)
{
	struct ts_frames *tf = ctx;
	uint64_t *page = malloc(4096);

	assert_non_null(page);
	if (tf->read_frame(tf->ctx, (xen_pfn_t)mfn, page) < 0) {
		free(page);
		return NULL;
	}
	if (tamper_mfn && mfn == tamper_mfn)
		page[1] = page[0];
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
	/* The tree of the first 512 GiB: the saver's trim leaves the three
	 * private leaves of window 0 and the shared window after them. */
	assert_int_equal(r.low_rc, 0);
	assert_int_equal(r.low.mode, P2MR_MODE_TREE);
	assert_int_equal(r.low_mismatch, 0);
	assert_true(r.low.leaves >= 3);
	assert_non_null(strstr(out, "p2mpeek: tree of the first 512 GiB (max_pfn taken as 0x8000000)"));

	/* The same guest with SIF_VIRT_P2M_4TOOLS: no tree (~0), which is
	 * right; the tree-only reader is refused by the size first. */
	p2m_publish(&f.p, &arch, true);
	assert_int_equal(peek(&f, &arch, &r, out, sizeof(out)), 0);
	assert_int_equal(r.tree_rc, -P2MR_ETREE_SIZE);
	assert_int_equal(r.low_rc, 1);
	assert_non_null(strstr(out, "none published"));
	fx_fini(&f);
}

/* A tree whose leaves are not the list's (a frame list naming another
 * private leaf) is reported. */
static void tree_differs(void **state)
{
	struct arch_shared_info arch;
	struct peek_result r;
	char out[2048];
	struct fx f;

	(void)state;
	fx_init(&f, P2M_TREE_PFNS + W, true);
	for (uint64_t pfn = 0; pfn < 2 * S; pfn++)
		assert_int_equal(p2m_set(&f.p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set(&f.p, P2M_TREE_PFNS + 7, ram_of(7)), 0);
	p2m_publish(&f.p, &arch, false);
	/* Frame list 0 names leaf 0 twice (leaf 1's pfns hold RAM). */
	{
		uint64_t top[512];

		assert_int_equal(hosted_read_frame(f.h, arch.pfn_to_mfn_frame_list_list, top), 0);
		tamper_mfn = top[0];
	}
	assert_int_equal(peek(&f, &arch, &r, out, sizeof(out)), 1);
	tamper_mfn = 0;
	assert_int_equal(r.low_rc, 0);
	assert_int_equal(r.low_mismatch, 1);
	assert_non_null(strstr(out, "1 of them differ from the list's"));
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
		cmocka_unit_test(tree_differs),
		cmocka_unit_test(failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
