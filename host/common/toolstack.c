/*
 * The toolstack reader (toolstack.h): the saver's two ways into a PV
 * guest's P2M, by frames only.
 *
 * Both walks collect the mfns of the leaf frames first (checking every
 * pointer on the way as the saver does) and then read the leaves, so a
 * bad structure is reported before any entry is handed out. The shared
 * fields are read with atomic loads: the guest may be changing them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/toolstack.h"
#include "p2m/error.h"
#include "platform/hosted.h"

#define FPP 512u                       /* entries per page, 64-bit guest */
#define PAGE 4096u
#define VA_MASK ((uint64_t)0x0000ffffffffffff)

static int fail(struct ts_result *res, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ts_result *res, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
	return -code;
}

static int hosted_read(void *ctx, xen_pfn_t mfn, void *buf)
{
	return hosted_read_frame(ctx, mfn, buf);
}

void ts_frames_hosted(struct ts_frames *f, struct hosted *h, xen_pfn_t max_mfn)
{
	f->ctx = h;
	f->read_frame = hosted_read;
	f->max_mfn = max_mfn ? max_mfn : HOSTED_MFN_BASE + HOSTED_MAX_FRAMES - 1;
}

static bool canonical(uint64_t va)
{
	uint64_t top = va >> 47;

	return top == 0 || top == 0x1ffff;
}

/* The mfns of the leaves are collected here before they are read. */
struct leaves {
	xen_pfn_t *mfn;
	uint64_t n;
};

/* Read the collected leaves and hand [0, res->saver_count) to fn. */
static int read_leaves(const struct ts_frames *fr, const struct leaves *lv,
		       ts_leaf_fn fn, void *arg, struct ts_result *res)
{
	uint64_t buf[FPP];

	for (uint64_t i = 0; i < lv->n; i++) {
		uint64_t first = i * FPP;
		unsigned n;
		int rc;

		if (first >= res->saver_count)
			break;
		n = res->saver_count - first < FPP ? (unsigned)(res->saver_count - first) : FPP;
		if (fr->read_frame(fr->ctx, lv->mfn[i], buf))
			return fail(res, P2M_EMAP, "Failed to map p2m frames (leaf %llu, mfn %#llx)",
				    (unsigned long long)i, (unsigned long long)lv->mfn[i]);
		res->leaves++;
		if (fn && (rc = fn(arg, first, buf, n, lv->mfn[i])))
			return rc;
	}
	return 0;
}

/* Entries [lo, hi] of one level's tables (ptes), off the VA the first
 * one maps: their mfns into next[], checked as the saver checks them; at
 * level 2, *saved_idx is the index of the last distinct L1 table. */
static int level_entries(const struct ts_frames *fr, const uint64_t *ptes, uint64_t lo,
			 uint64_t hi, uint64_t off, int level, uint64_t *next,
			 uint64_t *saved_idx, struct ts_result *res)
{
	unsigned shift = 12 + 9 * (unsigned)(level - 1);
	uint64_t saved_mfn = 0;

	for (uint64_t i = lo; i <= hi; i++) {
		uint64_t pte = ptes[i];
		uint64_t mfn = (pte & P2M_PTE_MFN_MASK) >> 12;
		uint64_t at = off + (i << shift);

		if (!(pte & P2M_PTE_PRESENT) || mfn == 0 || mfn > fr->max_mfn)
			return fail(res, P2M_ECHECK,
				    "Bad mfn %#llx during page table walk for vaddr %#llx at level %d of p2m list%s",
				    (unsigned long long)mfn, (unsigned long long)at, level,
				    (pte & P2M_PTE_PRESENT) ? "" : " (entry not present)");
		if (level > 1 && (pte & P2M_PTE_PSE))
			return fail(res, P2M_ECHECK,
				    "Superpage at level %d for vaddr %#llx of p2m list: the saver walks 4 KiB pages only",
				    level, (unsigned long long)at);
		next[i - lo] = mfn;
		if (level == 2 && mfn != saved_mfn) {
			saved_mfn = mfn;
			*saved_idx = i - lo;
		}
	}
	return 0;
}

/*
 * List mode. Level by level from the root, the table pages covering
 * [va, end] are read in order and their entries indexed as one array (as
 * the saver maps them contiguously): index i is entry i % 512 of table
 * i / 512.
 */
static int walk_list(const struct arch_shared_info *arch, const struct ts_frames *fr,
		     uint64_t cr3, struct leaves *lv, struct ts_result *res)
{
	xen_pfn_t root = xen_cr3_to_pfn(cr3);
	uint64_t last = res->count - 1, frames, va, end, off = 0;
	uint64_t *tables = NULL, ntables = 1, *next = NULL, *ptes = NULL;
	uint64_t lo = 0, hi = 0;
	int rc = 0;

	if (root == 0 || root > fr->max_mfn)
		return fail(res, P2M_ERANGE, "Bad p2m_cr3 value %#llx", (unsigned long long)cr3);
	va = __atomic_load_n(&arch->p2m_vaddr, __ATOMIC_ACQUIRE);
	frames = last / FPP + 1;
	end = va + frames * PAGE - 1;
	if (!canonical(va) || !canonical(end) || end < va ||
	    (va < __HYPERVISOR_VIRT_END && end >= __HYPERVISOR_VIRT_START))
		return fail(res, P2M_ERANGE, "Bad virtual p2m address range %#llx-%#llx",
			    (unsigned long long)va, (unsigned long long)end);

	tables = malloc(sizeof(*tables));
	if (!tables)
		return fail(res, P2M_ENOMEM, "Cannot allocate memory for array of 1 mfns");
	tables[0] = root;
	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint64_t saved_idx = 0;

		ptes = malloc(ntables * PAGE);
		if (!ptes) {
			rc = fail(res, P2M_ENOMEM, "Cannot allocate %llu page table pages",
				  (unsigned long long)ntables);
			goto out;
		}
		for (uint64_t t = 0; t < ntables; t++)
			if (fr->read_frame(fr->ctx, tables[t], ptes + t * FPP)) {
				rc = fail(res, P2M_EMAP,
					  "Failed to map %llu page table pages for p2m list (mfn %#llx at level %d)",
					  (unsigned long long)ntables, (unsigned long long)tables[t], level);
				goto out;
			}
		lo = ((va - off) & VA_MASK) >> shift;
		hi = ((end - off) & VA_MASK) >> shift;
		next = malloc((hi - lo + 1) * sizeof(*next));
		if (!next) {
			rc = fail(res, P2M_ENOMEM, "Cannot allocate memory for array of %llu mfns",
				  (unsigned long long)(hi - lo + 1));
			goto out;
		}
		rc = level_entries(fr, ptes, lo, hi, off, level, next, &saved_idx, res);
		if (rc)
			goto out;
		if (level == 2) {
			/* The saver's trim, arithmetic included: the index of the
			 * last distinct L1 table is relative, compared with an
			 * absolute end index. */
			uint64_t trimmed;

			if (saved_idx == hi)
				saved_idx++;
			trimmed = ((saved_idx << 9) * FPP) - 1;
			if (trimmed < last) {
				last = trimmed;
				frames = (last + FPP) / FPP;
				end = va + frames * PAGE - 1;
				hi = lo + saved_idx;
			}
		}
		free(ptes);
		ptes = NULL;
		free(tables);
		tables = next;
		ntables = hi - lo + 1;
		next = NULL;
		off = va & ((VA_MASK >> shift) << shift);
	}
	lv->mfn = tables;
	lv->n = ntables;
	tables = NULL;
	res->saver_count = last + 1;
out:
	free(ptes);
	free(next);
	free(tables);
	return rc;
}

/* Tree mode: root (frame list list) -> mid pages -> leaves. */
static int walk_tree(const struct arch_shared_info *arch, const struct ts_frames *fr,
		     struct leaves *lv, struct ts_result *res)
{
	uint64_t last = res->count - 1, fll_entries, fl_entries, saved_mfn = 0, saved_x = 0;
	uint64_t fll[FPP], *fl = NULL, mid[FPP];
	xen_pfn_t root;

	fll_entries = last / ((uint64_t)FPP * FPP) + 1;
	if (fll_entries > FPP)
		return fail(res, P2M_ERANGE,
			    "max_pfn %#llx too large for p2m tree (the tree covers 512 GiB; publish p2m_cr3)",
			    (unsigned long long)last);
	root = __atomic_load_n(&arch->pfn_to_mfn_frame_list_list, __ATOMIC_ACQUIRE);
	if (root == 0 || root > fr->max_mfn)
		return fail(res, P2M_ECHECK, "Bad mfn %#llx for p2m frame list list",
			    (unsigned long long)root);
	if (fr->read_frame(fr->ctx, root, fll))
		return fail(res, P2M_EMAP, "Failed to map p2m frame list list at %#llx",
			    (unsigned long long)root);
	for (uint64_t x = 0; x < fll_entries; x++) {
		if (fll[x] == 0 || fll[x] > fr->max_mfn)
			return fail(res, P2M_ECHECK,
				    "Bad mfn %#llx at index %llu (of %llu) in p2m frame list list",
				    (unsigned long long)fll[x], (unsigned long long)x,
				    (unsigned long long)fll_entries);
		if (fll[x] != saved_mfn) {
			saved_mfn = fll[x];
			saved_x = x;
		}
	}
	/* Trailing repeats of one mid page stand for missing pfns: trim. */
	if ((saved_x + 1) * FPP * FPP - 1 < last) {
		last = (saved_x + 1) * FPP * FPP - 1;
		fll_entries = last / ((uint64_t)FPP * FPP) + 1;
	}
	fl_entries = last / FPP + 1;
	fl = malloc(fl_entries * sizeof(*fl));
	if (!fl)
		return fail(res, P2M_ENOMEM, "Cannot allocate %llu bytes for local p2m frame list",
			    (unsigned long long)(fl_entries * sizeof(*fl)));
	for (uint64_t x = 0; x < fll_entries; x++) {
		if (fr->read_frame(fr->ctx, fll[x], mid)) {
			free(fl);
			return fail(res, P2M_EMAP, "Failed to map p2m frame list (mid %#llx at index %llu)",
				    (unsigned long long)fll[x], (unsigned long long)x);
		}
		for (uint64_t i = 0; i < FPP && x * FPP + i < fl_entries; i++)
			fl[x * FPP + i] = mid[i];
	}
	for (uint64_t x = 0; x < fl_entries; x++)
		if (fl[x] == 0 || fl[x] > fr->max_mfn) {
			int rc = fail(res, P2M_ECHECK,
				      "Bad mfn %#llx at index %llu (of %llu) in p2m frame list",
				      (unsigned long long)fl[x], (unsigned long long)x,
				      (unsigned long long)fl_entries);
			free(fl);
			return rc;
		}
	lv->mfn = fl;
	lv->n = fl_entries;
	res->saver_count = last + 1;
	return 0;
}

int ts_read_p2m(const struct arch_shared_info *arch, const struct ts_frames *fr,
		const struct ts_options *opt, ts_leaf_fn fn, void *arg,
		struct ts_result *res)
{
	struct leaves lv = { NULL, 0 };
	uint64_t cr3;
	int rc;

	*res = (struct ts_result){ 0 };
	res->gen_before = __atomic_load_n(&arch->p2m_generation, __ATOMIC_ACQUIRE);
	res->count = __atomic_load_n(&arch->max_pfn, __ATOMIC_ACQUIRE);
	cr3 = __atomic_load_n(&arch->p2m_cr3, __ATOMIC_ACQUIRE);
	if (res->count == 0)
		return fail(res, P2M_EINVAL, "max_pfn is 0: the guest has published no P2M");
	res->mode = cr3 && !(opt && opt->tree_only) ? TS_MODE_LIST : TS_MODE_TREE;
	if (res->mode == TS_MODE_LIST)
		rc = walk_list(arch, fr, cr3, &lv, res);
	else
		rc = walk_tree(arch, fr, &lv, res);
	if (rc == 0)
		rc = read_leaves(fr, &lv, fn, arg, res);
	free(lv.mfn);
	res->gen_after = __atomic_load_n(&arch->p2m_generation, __ATOMIC_ACQUIRE);
	res->gen_changed = res->gen_after != res->gen_before;
	return rc;
}

struct into_array {
	uint64_t *a;
};

static int copy_leaf(void *arg, uint64_t first, const uint64_t *e, unsigned n, xen_pfn_t leaf)
{
	struct into_array *ia = arg;

	(void)leaf;
	memcpy(ia->a + first, e, n * sizeof(*e));
	return 0;
}

int ts_read_p2m_array(const struct arch_shared_info *arch, const struct ts_frames *fr,
		      const struct ts_options *opt, uint64_t **out, struct ts_result *res)
{
	uint64_t count = __atomic_load_n(&arch->max_pfn, __ATOMIC_ACQUIRE);
	struct into_array ia;
	int rc;

	*out = NULL;
	ia.a = malloc((count ? count : 1) * sizeof(uint64_t));
	if (!ia.a) {
		*res = (struct ts_result){ 0 };
		return fail(res, P2M_ENOMEM, "Cannot allocate %llu entries",
			    (unsigned long long)count);
	}
	memset(ia.a, 0xff, (count ? count : 1) * sizeof(uint64_t));
	rc = ts_read_p2m(arch, fr, opt, copy_leaf, &ia, res);
	if (rc == 0 && res->count != count)
		rc = fail(res, P2M_ECHECK, "max_pfn changed during the read (%#llx, then %#llx)",
			  (unsigned long long)count, (unsigned long long)res->count);
	if (rc) {
		free(ia.a);
		return rc;
	}
	*out = ia.a;
	return 0;
}
