/*
 * p2mpeek: the list read and the tree-only read (see p2mpeek.h).
 */
#include "p2mpeek.h"

#include <string.h>

#include "p2m/entry.h"

static int count_frames(void *arg, const struct p2mr_leaf *leaf)
{
	struct peek_result *r = arg;

	if (leaf->first == 0) { /* a re-read after the generation moved starts again */
		r->frames = 0;
		r->top_frame_pfn = 0;
	}
	for (unsigned i = 0; i < leaf->n; i++) {
		uint64_t e = __atomic_load_n(&leaf->entries[i], __ATOMIC_RELAXED);

		if (e != P2M_INVALID) {
			r->frames++;
			r->top_frame_pfn = leaf->first + i + 1;
		}
	}
	return 0;
}

int peek_run(const struct arch_shared_info *shared, const struct p2mr_frames *fr,
	     struct peek_result *r, FILE *out)
{
	struct p2mr_options list = { 0 }, tree = { .tree_only = true };
	bool ok;

	memset(r, 0, sizeof(*r));
	r->published = __atomic_load_n(&shared->max_pfn, __ATOMIC_RELAXED);
	r->fll = __atomic_load_n(&shared->pfn_to_mfn_frame_list_list, __ATOMIC_RELAXED);
	r->list_rc = p2mr_read(shared, fr, &list, count_frames, r, &r->list);
	if (out) {
		if (r->list_rc)
			fprintf(out, "p2mpeek: list: FAILED (%s): %s\n", p2mr_strerror(r->list_rc),
				r->list.error);
		else
			fprintf(out,
				"p2mpeek: list: %s read, max_pfn %#llx published, %#llx pfns covered "
				"(%llu leaves), %llu entries name a frame (highest pfn %#llx), "
				"%llu frames mapped, generation %llu, %u read(s)\n",
				r->list.mode == P2MR_MODE_LIST ? "p2m_cr3 list" : "tree",
				(unsigned long long)r->list.published,
				(unsigned long long)r->list.count, (unsigned long long)r->list.leaves,
				(unsigned long long)r->frames,
				(unsigned long long)(r->top_frame_pfn ? r->top_frame_pfn - 1 : 0),
				(unsigned long long)r->list.maps, (unsigned long long)r->list.generation,
				r->list.attempts);
	}
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
	return r->list_rc == 0 && ok ? 0 : 1;
}
