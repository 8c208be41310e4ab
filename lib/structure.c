/*
 * Structure changes: splitting shared slots and windows into private
 * frames (the rules: the overview at the top of include/p2m/p2m.h), and
 * the helpers every structure change shares (generation, frees).
 *
 * A split never changes a value that a reader can see: the new leaf starts
 * with exactly what the shared page stood for (~0, or the identity value
 * of each pfn counted from the slot's 512-aligned base), and the new table
 * maps the shared leaf at every slot, as the shared table did. The order
 * under the lock is: mapping first, then the kind byte (release), so a
 * reader that still finds ~0 through the old mapping and then reads
 * "private" knows to load the entry again (see p2m_raw()).
 *
 * A join goes the other way: kind byte first (a reader finding ~0 in the
 * old leaf now reads the new kind), then the mapping. Frames are freed only
 * after the lock is dropped. Every change of a window or a slot between
 * shared and private is made by lib/window.c; this file prepares the
 * frames of a split and decides.
 */
#include "internal.h"

void p2m_gen_begin(struct p2m *p)
{
	uint64_t g = p->generation + 1;

	__atomic_store_n(&p->generation, g, __ATOMIC_RELAXED);
	if (p->arch)
		__atomic_store_n(&p->arch->p2m_generation, g, __ATOMIC_RELAXED);
	/* The odd value is visible before any mapping changes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void p2m_gen_end(struct p2m *p)
{
	uint64_t g = p->generation + 1;

	/* Every mapping change is visible before the even value. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&p->generation, g, __ATOMIC_RELEASE);
	if (p->arch)
		__atomic_store_n(&p->arch->p2m_generation, g, __ATOMIC_RELEASE);
}

void p2m_fill_leaf(uint64_t *leaf, uint64_t slot, uint8_t k)
{
	uint64_t base = p2m_slot_pfn(slot);

	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		leaf[i] = k == P2M_SLOT_IDENTITY ? p2m_identity_entry(base + i) : P2M_INVALID;
}

void p2m_free_frames(struct p2m *p, size_t n, const xen_pfn_t *mfns)
{
	if (n)
		p->plat.free_frames(p->plat.ctx, n, mfns);
}

void p2m_free_table(struct p2m *p, xen_pfn_t table)
{
	p->plat.drop_table(p->plat.ctx, table);
	p->plat.free_frames(p->plat.ctx, 1, &table);
}

/* Fill a fresh frame through a view: a leaf of kind k for slot, or a
 * frame list whose entries are all `all`. */
static int prepare_frame(struct p2m *p, xen_pfn_t mfn, bool leaf, uint64_t slot,
			 uint8_t k, uint64_t all)
{
	uint64_t *f = p->plat.frame_map(p->plat.ctx, mfn);

	if (!f)
		return p2m_fail(p, P2M_EMAP, "cannot map new frame %#lx to fill it", mfn);
	if (leaf) {
		p2m_fill_leaf(f, slot, k);
	} else {
		for (unsigned i = 0; i < P2M_PER_PAGE; i++)
			f[i] = all;
	}
	p->plat.frame_unmap(p->plat.ctx, f);
	return 0;
}

int p2m_refuse_suspended(struct p2m *p, const char *call)
{
	if (!p->suspended)
		return 0;
	return p2m_fail(p, P2M_EBUSY,
			"%s cannot change the P2M while it is suspended (between p2m_suspend and p2m_resume)",
			call);
}

/*
 * Making a slot private, p2m_make_private(), in its steps:
 *
 *   split_look             what is needed, read without the lock
 *   split_prepare          allocate and fill the frames, outside the lock
 *   split_still_as_seen    under the lock: nobody changed the slot since
 *   split_commit           hang the window's table, then the leaf
 *     split_undo_window    when the leaf cannot be mapped
 *   split_release          after the lock: free what was not used
 *
 * The window and slot changes themselves are window.c's.
 */
struct split {
	uint64_t slot, w;
	uint8_t k, wk;  /* kinds seen: the slot's and the window's first slot's */
	xen_pfn_t f[3]; /* table, mid, leaf */
	unsigned nf;
	bool wshared, need_leaf;
	bool table_used, mid_taken, leaf_used;
	xen_pfn_t old_mid; /* a parked frame list the undo released */
};

enum split_need { SPLIT_NOTHING, SPLIT_LOOK_AGAIN, SPLIT_FRAMES };

/* Without the lock: which frames slot needs (a leaf with want_leaf, a
 * table and a frame list if its window is shared). */
static enum split_need split_look(struct p2m *p, struct split *s, uint64_t slot, bool want_leaf)
{
	*s = (struct split){ .slot = slot, .w = p2m_slot_window(slot) };
	s->k = slot_kind(p, slot);
	s->wk = slot_kind(p, p2m_window_slot(s->w));
	s->wshared = window_shared(p, s->w);
	s->need_leaf = want_leaf && s->k != P2M_SLOT_PRIVATE;
	if (!s->need_leaf && !s->wshared)
		return SPLIT_NOTHING;
	/* A writer may have split the window between the loads. Its first
	 * slot then reads private, which no shared window has. */
	if (s->wshared && s->wk == P2M_SLOT_PRIVATE)
		return SPLIT_LOOK_AGAIN;
	return SPLIT_FRAMES;
}

/* After the lock is dropped: free what the split did not use. */
static void split_release(struct p2m *p, struct split *s)
{
	if (s->wshared && !s->table_used)
		p2m_free_table(p, s->f[0]);
	if (s->wshared && !s->mid_taken)
		p2m_free_frames(p, 1, &s->f[1]);
	if (s->old_mid)
		p2m_free_frames(p, 1, &s->old_mid);
	if (s->need_leaf && !s->leaf_used)
		p2m_free_frames(p, 1, &s->f[2]);
}

/* Allocate and fill the frames of a split outside the lock. */
static int split_prepare(struct p2m *p, struct split *s)
{
	int rc = 0;

	s->nf = (s->wshared ? 2 : 0) + (s->need_leaf ? 1 : 0);
	if (p->plat.alloc_frames(p->plat.ctx, s->nf, s->wshared ? s->f : s->f + 2))
		return p2m_fail(p, P2M_ENOMEM,
				"cannot allocate %u frame(s) to make slot %#llx private",
				s->nf, (unsigned long long)s->slot);
	if (s->wshared) {
		rc = prepare_frame(p, s->f[1], false, 0, 0, p->shared_leaf[s->wk]);
		if (!rc && p->plat.make_table(p->plat.ctx, s->f[0], p->shared_leaf[s->wk]))
			rc = p2m_fail(p, P2M_EMAP, "cannot make frame %#lx a table", s->f[0]);
	}
	if (!rc && s->need_leaf)
		rc = prepare_frame(p, s->f[2], true, s->slot, s->k, 0);
	if (rc)
		split_release(p, s);
	return rc;
}

/* Under the lock: whether the slot and its window are as split_look saw
 * them (else another writer changed them: look again). */
static bool split_still_as_seen(struct p2m *p, const struct split *s)
{
	return slot_kind(p, s->slot) == s->k && window_shared(p, s->w) == s->wshared &&
	       (!s->wshared || slot_kind(p, p2m_window_slot(s->w)) == s->wk);
}

/* Under the lock, after the leaf failed to map in the window this split
 * hung: take the window back. Should that fail too, the window stays
 * private: its table shows what the shared one did. */
static void split_undo_window(struct p2m *p, struct split *s)
{
	struct p2m_window old;
	char msg[sizeof(p->error)];

	/* The leaf's failure is what the caller reports. */
	__builtin_memcpy(msg, p->error, sizeof(msg));
	p2m_uninstall_window_locked(p, s->w, s->wk, &old);
	__builtin_memcpy(p->error, msg, sizeof(msg));
	if (!window_shared(p, s->w))
		return;
	s->table_used = false;
	/* The frame list it let go: ours, or one parked by an earlier
	 * failure (0: it stays parked). */
	if (old.mid == s->f[1])
		s->mid_taken = false;
	else if (old.mid)
		s->old_mid = old.mid;
}

/* Under the lock: hang the split's frames, the window's first. */
static int split_commit(struct p2m *p, struct split *s)
{
	int rc = 0;

	if (s->wshared) {
		rc = p2m_install_window_locked(p, s->w, s->f[0], s->f[1], s->wk, NULL,
					       &s->mid_taken);
		s->table_used = rc == 0;
	}
	if (rc || !s->need_leaf)
		return rc;
	rc = p2m_slot_install_leaf_locked(p, s->slot, s->f[2]);
	if (rc) {
		if (s->table_used)
			split_undo_window(p, s);
		return rc;
	}
	s->leaf_used = true;
	return 0;
}

int p2m_make_private(struct p2m *p, uint64_t slot, bool want_leaf)
{
	int rc = p2m_refuse_suspended(p, "a split of a shared slot");
	struct split s;

	if (rc)
		return rc;
	for (;;) {
		enum split_need need = split_look(p, &s, slot, want_leaf);

		if (need == SPLIT_NOTHING)
			return 0;
		if (need == SPLIT_LOOK_AGAIN)
			continue;
		rc = split_prepare(p, &s);
		if (rc)
			return rc;
		p->plat.lock(p->plat.ctx);
		if (!split_still_as_seen(p, &s)) {
			p->plat.unlock(p->plat.ctx);
			split_release(p, &s);
			continue;
		}
		p2m_gen_begin(p);
		rc = split_commit(p, &s);
		p2m_gen_end(p);
		p->plat.unlock(p->plat.ctx);
		split_release(p, &s);
		return rc;
	}
}

void p2m_note_pfn(struct p2m *p, uint64_t pfn)
{
	uint64_t want = (pfn + P2M_PER_PAGE) & ~(P2M_PER_PAGE - 1);
	struct arch_shared_info *arch;

	/* Covered already: max_pfn only grows. */
	if (__atomic_load_n(&p->max_pfn, __ATOMIC_ACQUIRE) >= want)
		return;
	/* Raising is rare (at most once per 512 pfns of growth) and done
	 * under the lock, so that p2m_publish() copies a value no raise can
	 * overtake, and after p2m_unpublish() nothing writes into the
	 * published structure any more (it may be unmapped). */
	p->plat.lock(p->plat.ctx);
	if (p->max_pfn < want)
		__atomic_store_n(&p->max_pfn, want, __ATOMIC_RELEASE);
	arch = __atomic_load_n(&p->arch, __ATOMIC_RELAXED);
	if (arch && __atomic_load_n(&arch->max_pfn, __ATOMIC_RELAXED) < want)
		__atomic_store_n(&arch->max_pfn, want, __ATOMIC_RELEASE);
	p->plat.unlock(p->plat.ctx);
}
