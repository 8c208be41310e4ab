/* What the P2M costs, counted from the structure itself. */
#include "internal.h"

void p2m_get_stats(const struct p2m *p, struct p2m_stats *st)
{
	uint64_t nslots = p2m_slots_for(p->capacity);

	*st = (struct p2m_stats){ 0 };
	p->plat.lock(p->plat.ctx);
	st->private_leaves = p->nr_private_leaves;
	st->private_tables = p->nr_private_tables;
	st->mid_pages = p->nr_mids;
	p->plat.unlock(p->plat.ctx);
	st->meta_pages = p->nr_meta;
	st->shared_pages = 5; /* two leaves, two tables, one frame list */
	for (uint64_t w = 0; w < p->nr_windows; w++)
		if (window_shared(p, w))
			st->shared_windows++;
	for (uint64_t s = 0; s < nslots; s++)
		if (slot_kind(p, s) != P2M_SLOT_PRIVATE)
			st->shared_slots++;
	st->bytes = (st->private_leaves + st->private_tables + st->mid_pages +
		     st->meta_pages + st->shared_pages) * P2M_PAGE_SIZE;
}
