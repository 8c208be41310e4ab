/*
 * p2mpeek: the list read, the tree-only read and, above 512 GiB, the read
 * of the tree's first 512 GiB (see p2mpeek.h).
 */
#include "p2mpeek.h"

#include <stdlib.h>
#include <string.h>

#include "p2m/entry.h"

struct peek_arg {
	struct peek_result *r;
	uint64_t *leaves;            /* the list's leaf mfns, by leaf index */
	uint64_t nleaves;
};

static int count_frames(void *arg, const struct p2mr_leaf *leaf)
{
	struct peek_arg *a = arg;
	struct peek_result *r = a->r;

	if (leaf->first == 0) { /* a re-read after the generation moved starts again */
		r->frames = 0;
		r->top_frame_pfn = 0;
	}
	if (leaf->index < a->nleaves)
		a->leaves[leaf->index] = leaf->mfn;
	for (unsigned i = 0; i < leaf->n; i++) {
		uint64_t e = __atomic_load_n(&leaf->entries[i], __ATOMIC_RELAXED);

		if (e != P2M_INVALID) {
			r->frames++;
			r->top_frame_pfn = leaf->first + i + 1;
		}
	}
	return 0;
}

static int same_leaf(void *arg, const struct p2mr_leaf *leaf)
{
	struct peek_arg *a = arg;

	if (leaf->index < a->nleaves && a->leaves[leaf->index] == leaf->mfn)
		return 0;
	/* Another frame is right only where both hold nothing for the tools:
	 * a shared leaf (missing or identity) is all ~0
	 * (docs/design.md's ABI rule 1), and a tree may name the missing page
	 * where the list maps the identity page, as Linux's does. */
	for (unsigned i = 0; i < leaf->n; i++)
		if (__atomic_load_n(&leaf->entries[i], __ATOMIC_RELAXED) != P2M_INVALID) {
			a->r->low_mismatch++;
			break;
		}
	return 0;
}

static void print_list(const struct peek_result *r, FILE *out)
{
	if (r->list_rc)
		fprintf(out, "p2mpeek: list: FAILED (%s): %s\n", p2mr_strerror(r->list_rc),
			r->list.error);
	else
		fprintf(out,
			"p2mpeek: list: %s read, max_pfn %#llx published, %#llx pfns covered "
			"(%llu leaves), %llu entries name a frame (highest pfn %#llx), "
			"%llu frames mapped, generation %llu, %u read(s)\n",
			r->list.mode == P2MR_MODE_LIST ? "p2m_cr3 list" : "tree",
			(unsigned long long)r->list.published, (unsigned long long)r->list.count,
			(unsigned long long)r->list.leaves, (unsigned long long)r->frames,
			(unsigned long long)(r->top_frame_pfn ? r->top_frame_pfn - 1 : 0),
			(unsigned long long)r->list.maps, (unsigned long long)r->list.generation,
			r->list.attempts);
}

/* The tree as a reader of the first 512 GiB walks it. true when it is
 * as it must be (or not published). */
static bool low_tree(const struct arch_shared_info *shared, const struct p2mr_frames *fr,
		     struct peek_arg *a, FILE *out)
{
	struct p2mr_options tree = { .tree_only = true };
	struct arch_shared_info low = *shared;
	struct peek_result *r = a->r;

	r->low_rc = 1;
	if (r->fll == (uint64_t)P2M_INVALID) {
		if (out)
			fprintf(out, "p2mpeek: tree of the first 512 GiB: none published "
				     "(frame list list ~0: the builder said the tools read the list)\n");
		return true;
	}
	low.max_pfn = P2M_TREE_PFNS;
	r->low_rc = p2mr_read(&low, fr, &tree, same_leaf, a, &r->low);
	if (out) {
		if (r->low_rc)
			fprintf(out, "p2mpeek: tree of the first 512 GiB: FAILED (%s): %s\n",
				p2mr_strerror(r->low_rc), r->low.error);
		else
			fprintf(out,
				"p2mpeek: tree of the first 512 GiB (max_pfn taken as %#llx): "
				"%#llx pfns covered, %llu leaves, %llu of them differ from the list's, "
				"%llu frames mapped\n",
				(unsigned long long)P2M_TREE_PFNS, (unsigned long long)r->low.count,
				(unsigned long long)r->low.leaves, (unsigned long long)r->low_mismatch,
				(unsigned long long)r->low.maps);
	}
	return r->low_rc == 0 && r->low.leaves > 0 && r->low_mismatch == 0;
}

int peek_run(const struct arch_shared_info *shared, const struct p2mr_frames *fr,
	     struct peek_result *r, FILE *out)
{
	struct p2mr_options list = { 0 }, tree = { .tree_only = true };
	struct peek_arg a = { .r = r };
	bool ok;

	memset(r, 0, sizeof(*r));
	r->published = __atomic_load_n(&shared->max_pfn, __ATOMIC_RELAXED);
	r->fll = __atomic_load_n(&shared->pfn_to_mfn_frame_list_list, __ATOMIC_RELAXED);
	if (r->published <= P2MR_DEFAULT_MAX_PFN) {
		a.nleaves = (r->published + P2MR_ENTRIES_PER_PAGE - 1) / P2MR_ENTRIES_PER_PAGE;
		a.leaves = calloc(a.nleaves ? a.nleaves : 1, sizeof(*a.leaves));
		if (!a.leaves)
			a.nleaves = 0;
	}
	r->list_rc = p2mr_read(shared, fr, &list, count_frames, &a, &r->list);
	if (out)
		print_list(r, out);
	r->tree_rc = p2mr_read(shared, fr, &tree, NULL, NULL, &r->tree);
	/* The tree's reach: a count above 2^27 pfns cannot be described. */
	if (r->list.published > P2M_TREE_PFNS)
		ok = r->tree_rc == -P2MR_ETREE_SIZE;
	else
		ok = r->tree_rc == 0 && r->tree.count == r->list.count;
	if (out) {
		if (r->tree_rc)
			fprintf(out, "p2mpeek: tree-only: refused (%s): %s (frame list list %#llx)%s\n",
				p2mr_strerror(r->tree_rc), r->tree.error, (unsigned long long)r->fll,
				ok ? ": as expected, the tree reaches 512 GiB" : "");
		else
			fprintf(out, "p2mpeek: tree-only: read %#llx pfns (%llu leaves)%s\n",
				(unsigned long long)r->tree.count, (unsigned long long)r->tree.leaves,
				ok ? "" : ": NOT expected");
	}
	if (r->list_rc == 0 && r->list.published > P2M_TREE_PFNS && !low_tree(shared, fr, &a, out))
		ok = false;
	free(a.leaves);
	return r->list_rc == 0 && ok ? 0 : 1;
}
