/*
 * The layout as runs, and the dump in Linux's debugfs format.
 *
 * Shared windows and shared slots are classified from the kind map alone;
 * only private slots are read entry by entry. A 1 TiB hole is one step.
 */
#include "internal.h"
#include "p2m/dump.h"

static enum p2m_run_kind entry_run(uint64_t e)
{
	switch (p2m_entry_kind(e)) {
	case P2M_KIND_MISSING: return P2M_RUN_MISSING;
	case P2M_KIND_IDENTITY: return P2M_RUN_IDENTITY;
	default: return P2M_RUN_PFN;
	}
}

static enum p2m_run_kind slot_run(uint8_t k)
{
	return k == P2M_SLOT_IDENTITY ? P2M_RUN_IDENTITY : P2M_RUN_MISSING;
}

struct runs {
	p2m_run_fn fn;
	void *arg;
	uint64_t start;
	enum p2m_run_kind kind;
	bool open;
};

/* Continue the current run at pfn a with kind k, closing it if k differs. */
static int add(struct runs *r, uint64_t a, enum p2m_run_kind k)
{
	int rc = 0;

	if (r->open && r->kind == k)
		return 0;
	if (r->open)
		rc = r->fn(r->arg, r->start, a, r->kind);
	r->open = true;
	r->start = a;
	r->kind = k;
	return rc;
}

int p2m_for_each_run(const struct p2m *p, uint64_t start, uint64_t end,
		     p2m_run_fn fn, void *arg)
{
	struct runs r = { fn, arg, 0, P2M_RUN_MISSING, false };
	uint64_t pfn = start;
	int rc;

	if (end > p->capacity)
		end = p->capacity;
	while (pfn < end) {
		uint64_t slot = p2m_pfn_slot(pfn), w = p2m_pfn_window(pfn);
		uint64_t wend = p2m_window_pfn(w + 1), send = p2m_slot_pfn(slot + 1);
		uint8_t k = slot_kind(p, slot);

		if (window_shared(p, w)) {
			uint64_t b = wend < end ? wend : end;

			if ((rc = add(&r, pfn, slot_run(k))))
				return rc;
			pfn = b;
		} else if (k != P2M_SLOT_PRIVATE) {
			uint64_t b = send < end ? send : end;

			if ((rc = add(&r, pfn, slot_run(k))))
				return rc;
			pfn = b;
		} else {
			uint64_t b = send < end ? send : end;

			for (; pfn < b; pfn++) {
				uint64_t e = __atomic_load_n(&p->list[pfn], __ATOMIC_RELAXED);

				if ((rc = add(&r, pfn, entry_run(e))))
					return rc;
			}
		}
	}
	if (r.open)
		return fn(arg, r.start, end, r.kind);
	return 0;
}

struct dump_ctx {
	p2m_out_fn out;
	void *arg;
};

static int dump_run(void *arg, uint64_t start, uint64_t end, enum p2m_run_kind kind)
{
	struct dump_ctx *d = arg;
	char line[80];
	int n = p2m_snprintf(line, sizeof(line), " [%#llx->%#llx] %s\n",
			     (unsigned long long)start, (unsigned long long)end, p2m_run_name(kind));

	d->out(d->arg, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	return 0;
}

void p2m_dump(const struct p2m *p, uint64_t end, p2m_out_fn out, void *arg)
{
	struct dump_ctx d = { out, arg };

	p2m_for_each_run(p, 0, end ? end : p->capacity, dump_run, &d);
}
