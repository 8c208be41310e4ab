/*
 * Save/restore: what the P2M must do around SHUTDOWN_suspend.
 *
 * Every frame libp2m keeps a record of (the shared leaves and tables, the
 * window tables, the frame lists and the tree's top page, the meta chain)
 * is named by mfn, and a restore in a new domain gives every pfn a new
 * mfn. So before suspending, each recorded mfn becomes the pfn behind it
 * (through the M2P, checked by a round trip); after the hypercall returns,
 * each pfn becomes an mfn again through the P2M itself, whose contents the
 * restore tools have rewritten. A cancelled suspend (the same domain
 * resumes) takes the same path and gets the same mfns back.
 *
 * Both directions are transactions, so that a failure changes nothing and
 * a retry can succeed:
 *   - the meta chain lives in frames reached only through frame_map(),
 *     which may fail. One frame (any P2M below about 4 TiB) is read,
 *     translated and written back, the write being the last step that can
 *     fail. A longer chain is copied, translated, into fresh frames, which
 *     are thrown away on failure and replace the old chain (whose frames
 *     are then freed) on success;
 *   - the other records are reached through memory that is always mapped.
 *     Resume checks them all first (a P2M lookup, which cannot fail
 *     differently the second time), then translates them. Suspend asks the
 *     M2P, a platform call, so it translates in place and, if one fails,
 *     translates the ones done back through the unchanged P2M (a lookup:
 *     the undo cannot fail);
 *   - the shared frame list's 512 entries (the shared missing leaf's mfn,
 *     for the tree) are no record: suspend leaves them, resume writes them
 *     from the checked records before the chain (shared_mid_rename()).
 *
 * Between the two calls lookups work, but nothing may change the P2M's
 * structure: every call that could is refused (p2m_refuse_suspended()).
 */
#include "internal.h"
#include "p2m/migrate.h"
#include "p2m/publish.h"

/* While suspended, records hold pfn | SUSPENDED so that no record reads
 * 0 (0 marks a shared window; see the overview in include/p2m/p2m.h). */
#define SUSPENDED ((uint64_t)1 << 61)

typedef int (*xlate_fn)(struct p2m *p, uint64_t in, uint64_t *out);

static int to_pfn(struct p2m *p, uint64_t mfn, uint64_t *out)
{
	xen_pfn_t q = (xen_pfn_t)P2M_INVALID;

	if (p->plat.m2p(p->plat.ctx, (xen_pfn_t)mfn, &q) || q >= p->capacity ||
	    p2m_raw(p, q) != mfn)
		return p2m_fail(p, P2M_ECHECK,
				"frame %#llx of the P2M has no pfn that maps back to it (M2P says %#llx)",
				(unsigned long long)mfn, (unsigned long long)q);
	*out = q | SUSPENDED;
	return 0;
}

static int to_mfn(struct p2m *p, uint64_t in, uint64_t *out)
{
	uint64_t pfn = in & ~SUSPENDED;
	uint64_t e = pfn < p->capacity ? p2m_raw(p, pfn) : P2M_INVALID;

	if (!(in & SUSPENDED) || p2m_entry_kind(e) != P2M_KIND_RAM)
		return p2m_fail(p, P2M_ECHECK,
				"pfn %#llx of a P2M frame has no RAM entry on resume (%#llx)",
				(unsigned long long)pfn, (unsigned long long)e);
	*out = e;
	return 0;
}

/* A pass over the records: translate (or, without write, only check)
 * the first `limit` of them; `done` counts the ones translated. */
struct pass {
	xlate_fn fn;
	bool write;
	uint64_t limit, done;
};

/* 1: the pass reached its limit. */
static int visit(struct p2m *p, xen_pfn_t *rec, struct pass *ps)
{
	uint64_t out;
	int rc;

	if (ps->done == ps->limit)
		return 1;
	rc = ps->fn(p, *rec, &out);
	if (rc)
		return rc;
	if (ps->write)
		*rec = (xen_pfn_t)out;
	ps->done++;
	return 0;
}

/* The records of window w, in a fixed order. */
static int visit_window(struct p2m *p, uint64_t w, struct pass *ps)
{
	uint64_t *mid = mid_va(p, w);
	int rc;

	if (window_parked(p, w)) /* its frame list, of no content */
		return visit(p, &p->windows[w].mid, ps);
	if (window_shared(p, w))
		return 0;
	rc = visit(p, &p->windows[w].table, ps);
	if (!rc)
		rc = visit(p, &p->windows[w].mid, ps);
	for (unsigned i = 0; i < SLOTS_PER_WINDOW && !rc; i++)
		rc = visit(p, (xen_pfn_t *)&mid[i], ps);
	return rc;
}

/* Every record outside the chain, in a fixed order. 0 or an error. */
static int visit_records(struct p2m *p, struct pass *ps)
{
	int rc = 0;

	for (int k = P2M_SLOT_MISSING; k <= P2M_SLOT_IDENTITY && !rc; k++) {
		rc = visit(p, &p->shared_leaf[k], ps);
		if (!rc)
			rc = visit(p, &p->shared_table[k], ps);
	}
	if (!rc)
		rc = visit(p, &p->shared_mid, ps);
	if (!rc)
		rc = visit(p, &p->top_mfn, ps);
	for (unsigned i = 0; i < P2M_PER_PAGE && !rc; i++)
		rc = visit(p, (xen_pfn_t *)&p->top[i], ps);
	for (uint64_t w = 0; w < p->nr_windows && !rc; w++)
		rc = visit_window(p, w, ps);
	return rc < 0 ? rc : 0;
}

/* A translated copy of the meta chain in fresh frames. */
struct chain_copy {
	xen_pfn_t old[CHAIN_MAX_FRAMES];   /* the chain's frames (mfns now) */
	xen_pfn_t fresh[CHAIN_MAX_FRAMES];
	unsigned n;
	uint64_t head;                     /* the copy's head, translated */
};

/* Collect the old chain's frames. resume: its links are pfns. */
static int chain_frames(struct p2m *p, bool resume, struct chain_copy *cc)
{
	uint64_t cur = p->meta_head;

	for (cc->n = 0; cur != P2M_INVALID; cc->n++) {
		uint64_t mfn = cur, *c;
		int rc;

		if (cc->n == CHAIN_MAX_FRAMES)
			return p2m_fail(p, P2M_ECHECK, "the meta chain has more than %d frames",
					CHAIN_MAX_FRAMES);
		if (resume && (rc = to_mfn(p, cur, &mfn)))
			return rc;
		c = p->plat.frame_map(p->plat.ctx, (xen_pfn_t)mfn);
		if (!c)
			return p2m_fail(p, P2M_EMAP, "cannot map meta chain frame %#llx",
					(unsigned long long)mfn);
		cur = c[CHAIN_NEXT];
		p->plat.frame_unmap(p->plat.ctx, c);
		cc->old[cc->n] = (xen_pfn_t)mfn;
	}
	return 0;
}

/* Copy old chain frame i, translated, into fresh frame i. */
static int chain_copy_frame(struct p2m *p, xlate_fn fn, bool resume, struct chain_copy *cc,
			    unsigned i)
{
	uint64_t buf[P2M_PER_PAGE], next = P2M_INVALID, *c;
	int rc = 0;

	c = p->plat.frame_map(p->plat.ctx, cc->old[i]);
	if (!c)
		return p2m_fail(p, P2M_EMAP, "cannot map meta chain frame %#lx", cc->old[i]);
	__builtin_memcpy(buf, c, sizeof(buf));
	p->plat.frame_unmap(p->plat.ctx, c);
	if (buf[CHAIN_COUNT] > CHAIN_CAP)
		return p2m_fail(p, P2M_ECHECK, "meta chain frame %#lx counts %llu entries",
				cc->old[i], (unsigned long long)buf[CHAIN_COUNT]);
	for (uint64_t j = 0; j < buf[CHAIN_COUNT] && !rc; j++) {
		uint64_t v = buf[CHAIN_FIRST + j], out;

		rc = fn(p, v & ~CHAIN_TABLE, &out);
		buf[CHAIN_FIRST + j] = out | (v & CHAIN_TABLE);
	}
	/* Links name the fresh frames: by pfn while suspended. */
	if (!rc && i + 1 < cc->n) {
		next = cc->fresh[i + 1];
		if (!resume)
			rc = to_pfn(p, next, &next);
	}
	if (rc)
		return rc;
	buf[CHAIN_NEXT] = next;
	c = p->plat.frame_map(p->plat.ctx, cc->fresh[i]);
	if (!c)
		return p2m_fail(p, P2M_EMAP, "cannot map new meta chain frame %#lx", cc->fresh[i]);
	__builtin_memcpy(c, buf, sizeof(buf));
	p->plat.frame_unmap(p->plat.ctx, c);
	return 0;
}

/* Build the translated copy; on failure nothing is left allocated and
 * nothing has changed. A chain of one frame (every P2M below about 4 TiB
 * of capacity) is rewritten in place instead: its one write is the last
 * step that can fail, and needs no frame the guest must spare. */
static int chain_copy(struct p2m *p, xlate_fn fn, bool resume, struct chain_copy *cc)
{
	int rc = chain_frames(p, resume, cc);

	if (rc || cc->n == 0)
		return rc;
	if (cc->n == 1)
		cc->fresh[0] = cc->old[0];
	else if (p->plat.alloc_frames(p->plat.ctx, cc->n, cc->fresh))
		return p2m_fail(p, P2M_ENOMEM, "cannot allocate %u frames for the meta chain",
				cc->n);
	cc->head = cc->fresh[0];
	if (!resume)
		rc = to_pfn(p, cc->fresh[0], &cc->head);
	for (unsigned i = 0; i < cc->n && !rc; i++)
		rc = chain_copy_frame(p, fn, resume, cc, i);
	if (rc && cc->n > 1)
		p2m_free_frames(p, cc->n, cc->fresh);
	return rc;
}

/* The copy replaces the old chain, whose frames are freed. */
static void chain_commit(struct p2m *p, struct chain_copy *cc)
{
	if (cc->n == 0)
		return;
	p->meta_head = (xen_pfn_t)cc->head;
	if (cc->n > 1)
		p2m_free_frames(p, cc->n, cc->old);
}

int p2m_suspend(struct p2m *p)
{
	struct chain_copy cc;
	struct pass ps = { to_pfn, true, UINT64_MAX, 0 };
	int rc;

	if (p->suspended)
		return p2m_fail(p, P2M_EBUSY, "the P2M is suspended already");
	/* Records first, the chain last: a chain rewritten in place must be
	 * the step after which nothing fails. */
	rc = visit_records(p, &ps);
	if (!rc)
		rc = chain_copy(p, to_pfn, false, &cc);
	if (rc) {
		/* Translate back the records done: a P2M lookup each. */
		char msg[sizeof(p->error)];
		struct pass undo = { to_mfn, true, ps.done, 0 };

		__builtin_memcpy(msg, p->error, sizeof(msg));
		visit_records(p, &undo);
		__builtin_memcpy(p->error, msg, sizeof(msg));
		return rc;
	}
	chain_commit(p, &cc);
	p2m_unpublish(p);
	p->suspended = true;
	return 0;
}

/*
 * The shared frame list's 512 entries name the shared missing leaf: the
 * tree's page for every shared window below 512 GiB. They are content, not
 * records (suspend leaves them alone; no restore tool rewrites a data
 * page), so resume writes them from the records, once those are checked.
 * Writing them is idempotent: a resume that fails after it has changed
 * no record, and its retry writes the same values again.
 */
static int shared_mid_rename(struct p2m *p)
{
	uint64_t mid, leaf, *v;
	int rc = to_mfn(p, p->shared_mid, &mid);

	if (!rc)
		rc = to_mfn(p, p->shared_leaf[P2M_SLOT_MISSING], &leaf);
	if (rc)
		return rc;
	v = p->plat.frame_map(p->plat.ctx, (xen_pfn_t)mid);
	if (!v)
		return p2m_fail(p, P2M_EMAP, "cannot map the shared frame list %#llx to name the missing leaf %#llx",
				(unsigned long long)mid, (unsigned long long)leaf);
	for (unsigned i = 0; i < P2M_PER_PAGE; i++)
		v[i] = leaf;
	p->plat.frame_unmap(p->plat.ctx, v);
	return 0;
}

int p2m_resume(struct p2m *p, bool new_domain)
{
	struct chain_copy cc;
	struct pass check = { to_mfn, false, UINT64_MAX, 0 };
	struct pass commit = { to_mfn, true, UINT64_MAX, 0 };
	int rc;

	if (!p->suspended)
		return p2m_fail(p, P2M_EBUSY, "the P2M is not suspended");
	rc = visit_records(p, &check);
	/* Before the chain: an in-place chain write must be the last step
	 * that can fail. */
	if (!rc)
		rc = shared_mid_rename(p);
	if (!rc)
		rc = chain_copy(p, to_mfn, true, &cc);
	if (rc)
		return rc;
	/* Checked above, and a lookup answers the same twice. */
	visit_records(p, &commit);
	chain_commit(p, &cc);
	if (new_domain)
		p->generation = 0;
	p->suspended = false;
	return 0;
}
