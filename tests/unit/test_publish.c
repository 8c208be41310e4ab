/*
 * Publishing into struct arch_shared_info, and what the toolstack reader
 * (host/common/toolstack.c, the 4.17 saver's walks) then sees:
 * max_pfn is a count rounded up to 512 that never shrinks; the tree root
 * is ~0 when the tools read the list (or no tree was asked for), and
 * otherwise names a tree of the first 512 GiB whatever the capacity
 * (docs/tree-rule.md);
 * p2m_cr3 names the root table; p2m_generation is even, moves by 2 per
 * mapping change and stops moving after p2m_unpublish(). Both walks yield
 * every entry, with identity in shared slots shown as ~0, and every
 * populated pfn lies inside the range the saver really covers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/toolstack.h"
#include "helper_p2m.h"

/* What the tools must see at pfn: identity served by a shared page reads
 * ~0 (the shared page cannot hold per-pfn values). */
static uint64_t tools_view(struct fx *f, uint64_t pfn)
{
	uint64_t e = p2m_raw(&f->p, pfn);

	if (pfn < f->p.capacity && f->p.kinds[p2m_pfn_slot(pfn)] != P2M_SLOT_PRIVATE)
		return P2M_INVALID;
	return e;
}

/* Read through the tools, compare every entry, check every populated pfn
 * is inside the saver's range. */
static void tools_agree(struct fx *f, struct arch_shared_info *arch, bool tree_only,
			enum ts_mode want)
{
	struct ts_frames fr;
	struct ts_options opt = { .tree_only = tree_only };
	struct ts_result res;
	uint64_t *e;
	int rc;

	ts_frames_hosted(&fr, f->h, 0);
	rc = ts_read_p2m_array(arch, &fr, &opt, &e, &res);
	if (rc)
		fail_msg("tools: %s", res.error);
	assert_int_equal(res.mode, want);
	assert_int_equal(res.count, p2m_max_pfn(&f->p));
	assert_false(res.gen_changed);
	for (uint64_t pfn = 0; pfn < res.count; pfn++) {
		uint64_t want_e = tools_view(f, pfn);

		if (pfn >= res.saver_count) {
			if (want_e != P2M_INVALID)
				fail_msg("pfn %#llx holds %#llx but the saver stops at %#llx (published %#llx)",
					 (unsigned long long)pfn, (unsigned long long)want_e,
					 (unsigned long long)res.saver_count, (unsigned long long)res.count);
			continue;
		}
		if (e[pfn] != want_e)
			fail_msg("%s: pfn %#llx reads %#llx, the P2M holds %#llx",
				 want == TS_MODE_LIST ? "list" : "tree", (unsigned long long)pfn,
				 (unsigned long long)e[pfn], (unsigned long long)want_e);
	}
	free(e);
}

static void fields(void **state)
{
	struct fx f;
	struct arch_shared_info arch;
	uint64_t g;

	(void)state;
	memset(&arch, 0x5a, sizeof(arch));
	fx_init(&f, 2 * W, true);
	p2m_publish(&f.p, &arch, false);
	assert_int_equal(arch.max_pfn, 0);
	assert_int_equal(arch.pfn_to_mfn_frame_list_list, p2m_tree_root(&f.p));
	assert_int_not_equal(p2m_tree_root(&f.p), P2M_INVALID);
	assert_true(hosted_is_frame(f.h, p2m_tree_root(&f.p)));
	assert_int_equal(arch.p2m_cr3, xen_pfn_to_cr3(f.plat.root_table(f.plat.ctx)));
	assert_int_equal(arch.p2m_vaddr, (unsigned long)(uintptr_t)f.p.list);
	assert_int_equal(arch.p2m_generation, p2m_generation(&f.p));
	assert_int_equal(arch.p2m_generation & 1, 0);
	/* max_pfn: a count rounded up to 512, live. */
	assert_int_equal(p2m_set(&f.p, 1000, 0x42), 0);
	assert_int_equal(arch.max_pfn, 1024);
	assert_int_equal(p2m_max_pfn(&f.p), 1024);
	assert_int_equal(p2m_set(&f.p, 1024, 0x43), 0);
	assert_int_equal(arch.max_pfn, 1536);
	/* Never shrinks; identity and missing do not raise it. */
	assert_int_equal(p2m_set_range_missing(&f.p, 0, W), 0);
	assert_int_equal(arch.max_pfn, 1536);
	assert_int_equal(p2m_set(&f.p, W + 7, p2m_identity_entry(W + 7)), 0);
	assert_int_equal(p2m_set_range_identity(&f.p, W + 100, 5000), 0);
	assert_int_equal(arch.max_pfn, 1536);
	/* Foreign raises it. */
	assert_int_equal(p2m_set(&f.p, 4000, p2m_foreign_entry(9)), 0);
	assert_int_equal(arch.max_pfn, 4096);
	p2m_cover(&f.p, 4097);
	assert_int_equal(arch.max_pfn, 4608);
	p2m_cover(&f.p, 10);
	assert_int_equal(arch.max_pfn, 4608);
	p2m_cover(&f.p, 100 * W);
	assert_int_equal(arch.max_pfn, 2 * W);
	/* Generation: +2 per split, in place. */
	g = arch.p2m_generation;
	assert_int_equal(p2m_set(&f.p, 3 * S, 1), 0);
	assert_int_equal(arch.p2m_generation, g + 2);
	assert_int_equal(p2m_generation(&f.p), g + 2);
	/* After unpublish nothing is written. */
	p2m_unpublish(&f.p);
	assert_int_equal(p2m_set(&f.p, 5 * S, 1), 0);
	assert_int_equal(arch.p2m_generation, g + 2);
	assert_int_equal(p2m_generation(&f.p), g + 4);
	fx_fini(&f);
}

static void tree_root_invalid_when_not_kept(void **state)
{
	struct fx f;
	struct arch_shared_info arch;

	(void)state;
	fx_init(&f, W, true);
	p2m_publish(&f.p, &arch, true);
	assert_int_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	assert_int_equal(p2m_tree_root(&f.p), P2M_INVALID);
	p2m_publish(&f.p, &arch, false);
	assert_int_not_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	fx_fini(&f);

	fx_init(&f, W, false);
	p2m_publish(&f.p, &arch, false);
	assert_int_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	fx_fini(&f);

	/* The capacity does not matter: 512 GiB and one window more both
	 * publish the tree; the tools' flag still wins. */
	fx_init(&f, P2M_TREE_PFNS, true);
	p2m_publish(&f.p, &arch, false);
	assert_int_not_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	fx_fini(&f);
	fx_init(&f, P2M_TREE_PFNS + 1, true);
	p2m_publish(&f.p, &arch, false);
	assert_int_not_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	p2m_publish(&f.p, &arch, true);
	assert_int_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	fx_fini(&f);
}

/* A layout with every kind, in several windows. */
static void mixed_layout(struct fx *f)
{
	for (uint64_t pfn = 0; pfn < 0xa0; pfn++)
		assert_int_equal(p2m_set(&f->p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&f->p, 0xa0, 0x100 - 0xa0), 0);
	for (uint64_t pfn = 0x100; pfn < 3 * S + 17; pfn++)
		assert_int_equal(p2m_set(&f->p, pfn, ram_of(pfn)), 0);
	assert_int_equal(p2m_set_range_identity(&f->p, W - 3 * S, 3 * S + 2 * W), 0);
	assert_int_equal(p2m_set(&f->p, W + 77, ram_of(W + 77)), 0);
	assert_int_equal(p2m_set(&f->p, 3 * W + 5, p2m_foreign_entry(0x99)), 0);
	assert_int_equal(p2m_set(&f->p, 3 * W + S + 1, ram_of(3 * W + S + 1)), 0);
}

static void tools_read_list_and_tree(void **state)
{
	struct fx f;
	struct arch_shared_info arch;

	(void)state;
	fx_init(&f, 5 * W, true);
	mixed_layout(&f);
	p2m_publish(&f.p, &arch, false);
	tools_agree(&f, &arch, false, TS_MODE_LIST);
	tools_agree(&f, &arch, true, TS_MODE_TREE);
	/* Through later splits and joins the published structure follows. */
	assert_int_equal(p2m_set_range_missing(&f.p, 0, W), 0);
	assert_int_equal(p2m_set(&f.p, 2 * W + 3, ram_of(1)), 0);
	tools_agree(&f, &arch, false, TS_MODE_LIST);
	tools_agree(&f, &arch, true, TS_MODE_TREE);
	fx_fini(&f);
}

/* Every window holds RAM at its end: every L1 table is distinct. */
static void tools_see_every_window(void **state)
{
	struct fx f;
	struct arch_shared_info arch;

	(void)state;
	fx_init(&f, 4 * W, true);
	for (uint64_t w = 0; w < 4; w++)
		assert_int_equal(p2m_set(&f.p, (w + 1) * W - 1, ram_of(w)), 0);
	p2m_publish(&f.p, &arch, false);
	tools_agree(&f, &arch, false, TS_MODE_LIST);
	tools_agree(&f, &arch, true, TS_MODE_TREE);
	fx_fini(&f);
}

static int read_err(struct arch_shared_info *arch, struct fx *f, bool tree_only,
		    struct ts_result *res)
{
	struct ts_frames fr;
	struct ts_options opt = { .tree_only = tree_only };

	ts_frames_hosted(&fr, f->h, 0);
	return ts_read_p2m(arch, &fr, &opt, NULL, NULL, res);
}

static void expect_tools_error(struct arch_shared_info *arch, struct fx *f, bool tree_only,
			       const char *needle)
{
	struct ts_result res;
	int rc = read_err(arch, f, tree_only, &res);

	if (rc == 0)
		fail_msg("the tools read the P2M, expected \"%s\"", needle);
	if (!strstr(res.error, needle))
		fail_msg("tools error \"%s\" lacks \"%s\"", res.error, needle);
}

/* A leaf read by a tree reader limited to the first 512 GiB (crash's
 * view of a dom0 through Xen's crash note) against the P2M. */
struct tree_cmp {
	struct fx *f;
	uint64_t leaves, private_leaves;
};

static int tree_leaf_agrees(void *arg, uint64_t first, const uint64_t *e, unsigned n,
			    xen_pfn_t leaf)
{
	struct tree_cmp *tc = arg;

	(void)leaf;
	tc->leaves++;
	for (unsigned i = 0; i < n; i++)
		if (e[i] != tools_view(tc->f, first + i))
			fail_msg("tree: pfn %#llx reads %#llx, the P2M holds %#llx",
				 (unsigned long long)(first + i), (unsigned long long)e[i],
				 (unsigned long long)tools_view(tc->f, first + i));
	if (tc->f->p.kinds[p2m_pfn_slot(first)] == P2M_SLOT_PRIVATE)
		tc->private_leaves++;
	return 0;
}

/*
 * The tree rule (docs/tree-rule.md), case by case, read by the 4.17
 * saver's walks: the tree is published unless the tools read the list,
 * and covers the first 512 GiB whatever the capacity.
 */
static void tree_rule(void **state)
{
	const uint64_t cap = 4 * P2M_TREE_PFNS;   /* 2 TiB of pfn space */
	struct arch_shared_info arch, low;
	struct ts_frames fr;
	struct ts_options tree_only = { .tree_only = true };
	struct ts_result res;
	struct tree_cmp tc;
	struct fx f;

	(void)state;
	/* A small guest (or dom0) with a large capacity, no tools flag: an
	 * old tree reader reads every entry. */
	fx_init(&f, cap, true);
	mixed_layout(&f);
	p2m_publish(&f.p, &arch, false);
	assert_int_not_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	tools_agree(&f, &arch, true, TS_MODE_TREE);
	tools_agree(&f, &arch, false, TS_MODE_LIST);

	/* The same domU with SIF_VIRT_P2M_4TOOLS: no tree; the list. */
	p2m_publish(&f.p, &arch, true);
	assert_int_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	expect_tools_error(&arch, &f, true, "Bad mfn 0xffffffffffffffff for p2m frame list list");
	tools_agree(&f, &arch, false, TS_MODE_LIST);

	fx_fini(&f);

	/* A dom0 beyond 512 GiB: the tree stays published for the first
	 * 512 GiB. The saver reads the list (a tree reader of the whole
	 * guest fails cleanly, as it does on Linux); a reader of the first
	 * 512 GiB (crash, makedumpfile) reads them right through the tree. */
	fx_init(&f, P2M_TREE_PFNS + W, true);
	mixed_layout(&f);
	p2m_publish(&f.p, &arch, false);
	assert_int_equal(p2m_set(&f.p, P2M_TREE_PFNS + 7, ram_of(7)), 0);
	assert_true(arch.max_pfn > P2M_TREE_PFNS);
	assert_int_not_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	assert_int_equal(read_err(&arch, &f, false, &res), 0);
	assert_int_equal(res.mode, TS_MODE_LIST);
	expect_tools_error(&arch, &f, true, "too large for p2m tree");
	low = arch;
	low.max_pfn = P2M_TREE_PFNS;
	ts_frames_hosted(&fr, f.h, 0);
	tc = (struct tree_cmp){ &f, 0, 0 };
	if (ts_read_p2m(&low, &fr, &tree_only, tree_leaf_agrees, &tc, &res))
		fail_msg("tree of the first 512 GiB: %s", res.error);
	/* The saver trims the trailing run of the shared frame list down to
	 * its first entry: windows 0-3 of mixed_layout and one shared. */
	assert_int_equal(res.saver_count, 5 * W);
	assert_int_equal(tc.leaves, 5 * W / P2M_PER_PAGE);
	{
		uint64_t priv = 0;

		for (uint64_t sl = 0; sl < 4 * W / P2M_PER_PAGE; sl++)
			priv += f.p.kinds[sl] == P2M_SLOT_PRIVATE;
		assert_int_equal(tc.private_leaves, priv);
		assert_true(priv > 0);
	}
	fx_fini(&f);

	/* No tree asked for (a P2M built for list readers only). */
	fx_init(&f, cap, false);
	assert_int_equal(p2m_set(&f.p, 5, ram_of(5)), 0);
	p2m_publish(&f.p, &arch, false);
	assert_int_equal(arch.pfn_to_mfn_frame_list_list, (xen_pfn_t)P2M_INVALID);
	fx_fini(&f);
}

static void old_reader_fails_cleanly_above_512g(void **state)
{
	struct fx f;
	struct arch_shared_info arch;
	struct ts_result res;

	(void)state;
	fx_init(&f, P2M_TREE_PFNS + W, true);
	assert_int_equal(p2m_set(&f.p, 5, ram_of(5)), 0);
	p2m_publish(&f.p, &arch, false);
	/* Small guest in a big capacity: both the tree and the list. */
	assert_int_equal(read_err(&arch, &f, true, &res), 0);
	assert_int_equal(res.mode, TS_MODE_TREE);
	assert_int_equal(read_err(&arch, &f, false, &res), 0);
	assert_int_equal(res.mode, TS_MODE_LIST);
	/* A guest beyond 512 GiB. */
	assert_int_equal(p2m_set(&f.p, P2M_TREE_PFNS + 3, ram_of(3)), 0);
	assert_int_equal(arch.max_pfn, P2M_TREE_PFNS + 512);
	expect_tools_error(&arch, &f, true, "max_pfn 0x80001ff too large for p2m tree");
	assert_int_equal(read_err(&arch, &f, false, &res), 0);
	assert_true(res.saver_count > P2M_TREE_PFNS + 3);
	fx_fini(&f);
}

static void tools_errors(void **state)
{
	struct fx f;
	struct arch_shared_info arch, bad;

	(void)state;
	fx_init(&f, W, true);
	p2m_publish(&f.p, &arch, false);
	expect_tools_error(&arch, &f, false, "max_pfn is 0");
	assert_int_equal(p2m_set(&f.p, 5, ram_of(5)), 0);

	bad = arch;
	bad.p2m_cr3 = xen_pfn_to_cr3((uint64_t)1 << 39);
	expect_tools_error(&bad, &f, false, "Bad p2m_cr3 value 0x");
	bad = arch;
	bad.p2m_vaddr = 0x0000800000000000ul;
	expect_tools_error(&bad, &f, false, "Bad virtual p2m address range 0x800000000000-");
	bad.p2m_vaddr = 0xffff800000001000ul;
	expect_tools_error(&bad, &f, false, "Bad virtual p2m address range");
	bad.p2m_vaddr = arch.p2m_vaddr ^ ((uint64_t)1 << 39); /* another L4 slot */
	expect_tools_error(&bad, &f, false, "during page table walk for vaddr");
	bad = arch;
	bad.p2m_cr3 = 0;
	bad.pfn_to_mfn_frame_list_list = 0;
	expect_tools_error(&bad, &f, false, "Bad mfn 0 for p2m frame list list");
	/* A frame that is no page of the host's: freed or never allocated. */
	bad.pfn_to_mfn_frame_list_list = HOSTED_MFN_BASE + 0x100000;
	expect_tools_error(&bad, &f, false, "Failed to map p2m frame list list");
	bad.max_pfn = P2M_TREE_PFNS + 1;
	expect_tools_error(&bad, &f, false, "too large for p2m tree");
	fx_fini(&f);
}

/*
 * A writer raises max_pfn while p2m_publish() runs (it read max_pfn
 * before taking the lock; the writer still saw no published structure).
 * Made deterministic by a platform whose lock() runs the writer just
 * before publish takes the lock. The published max_pfn must cover it.
 */
static struct fx pub_race;
static void (*pub_real_lock)(void *);
static int pub_countdown;

static void pub_lock(void *ctx)
{
	if (pub_countdown && --pub_countdown == 0)
		assert_int_equal(p2m_set(&pub_race.p, 5000, 0x42), 0);
	pub_real_lock(ctx);
}

static void publish_races_a_writer(void **state)
{
	struct p2m_platform pl;
	struct arch_shared_info arch;

	(void)state;
	fx_platform(&pub_race);
	pl = pub_race.plat;
	pub_real_lock = pl.lock;
	pl.lock = pub_lock;
	assert_int_equal(p2m_create(&pub_race.p, &pl, W, true), 0);
	pub_race.created = true;
	assert_int_equal(p2m_set(&pub_race.p, 10, 0x44), 0);
	assert_int_equal(p2m_max_pfn(&pub_race.p), 512);
	pub_countdown = 1;
	p2m_publish(&pub_race.p, &arch, false);
	assert_int_equal(pub_countdown, 0);
	assert_int_equal(p2m_max_pfn(&pub_race.p), 5120);
	if (arch.max_pfn != p2m_max_pfn(&pub_race.p))
		fail_msg("published max_pfn %#lx, the P2M's %#llx", arch.max_pfn,
			 (unsigned long long)p2m_max_pfn(&pub_race.p));
	fx_fini(&pub_race);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fields),
		cmocka_unit_test(tree_root_invalid_when_not_kept),
		cmocka_unit_test(tree_rule),
		cmocka_unit_test(tools_read_list_and_tree),
		cmocka_unit_test(tools_see_every_window),
		cmocka_unit_test(old_reader_fails_cleanly_above_512g),
		cmocka_unit_test(tools_errors),
		cmocka_unit_test(publish_races_a_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
