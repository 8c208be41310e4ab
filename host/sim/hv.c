/*
 * The simulated hypervisor (hv.h): numbering, M2P, pool, hypercalls.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "p2m/error.h"
#include "sim/hv.h"

#define MAP_CAP ((size_t)1 << 16)

/* --- a small hash map --- */

static int map_init(struct sim_map *m)
{
	m->cap = MAP_CAP;
	m->n = 0;
	m->key = malloc(m->cap * sizeof(*m->key));
	m->val = malloc(m->cap * sizeof(*m->val));
	if (!m->key || !m->val)
		return -P2M_ENOMEM;
	memset(m->key, 0xff, m->cap * sizeof(*m->key));
	return 0;
}

static size_t slot(const struct sim_map *m, uint64_t k)
{
	size_t i = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 40) & (m->cap - 1);

	while (m->key[i] != SIM_NONE && m->key[i] != k)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static bool map_get(const struct sim_map *m, uint64_t k, uint64_t *v)
{
	size_t i;

	if (!m->n)
		return false;
	i = slot(m, k);
	if (m->key[i] == SIM_NONE)
		return false;
	*v = m->val[i];
	return true;
}

static int map_put(struct sim_map *m, uint64_t k, uint64_t v)
{
	size_t i = slot(m, k);

	if (m->key[i] == SIM_NONE) {
		if (m->n + 1 > m->cap / 2)
			return -P2M_ENOMEM;   /* the balloon model stays far below */
		m->key[i] = k;
		m->n++;
	}
	m->val[i] = v;
	return 0;
}

/* --- numbering --- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A new perm: frame extents to distinct machine extents, drawn at
 * random from twice as many. */
static void draw(struct sim_hv *hv, uint32_t *perm, uint32_t *inv)
{
	uint32_t *all = malloc(hv->mach_ext * sizeof(*all));

	for (uint64_t i = 0; i < hv->mach_ext; i++) {
		inv[i] = UINT32_MAX;
		if (all)
			all[i] = (uint32_t)i;
	}
	for (uint64_t i = 0; i < hv->nr_ext; i++) {
		uint64_t j = i + (all ? rnd(&hv->seed) % (hv->mach_ext - i) : 0);
		uint32_t t;

		if (!all) {
			perm[i] = (uint32_t)i;
		} else {
			t = all[i];
			all[i] = all[j];
			all[j] = t;
			perm[i] = all[i];
		}
		inv[perm[i]] = (uint32_t)i;
	}
	free(all);
}

int sim_hv_init(struct sim_hv *hv, const struct p2m_e820_plan *plan,
		uint64_t nr_pages, uint64_t seed)
{
	memset(hv, 0, sizeof(*hv));
	hv->plan = plan;
	hv->nr_pages = nr_pages;
	hv->end = plan->end;
	hv->seed = seed;
	/* Room for the boot frames and as many again from the balloon. */
	hv->nr_ext = ((2 * nr_pages + 4096) >> SIM_EXT_SHIFT) + 1;
	hv->mach_ext = 2 * hv->nr_ext;
	hv->max_mfn = ((hv->mach_ext + 1) << SIM_EXT_SHIFT) - 1;
	hv->perm = malloc(hv->nr_ext * sizeof(uint32_t));
	hv->old_perm = malloc(hv->nr_ext * sizeof(uint32_t));
	hv->inv = malloc(hv->mach_ext * sizeof(uint32_t));
	hv->old_inv = malloc(hv->mach_ext * sizeof(uint32_t));
	hv->moved = calloc(plan->nr_remap + 1, sizeof(bool));
	hv->page_of_pfn = mmap(NULL, (hv->end + 1) * sizeof(uint32_t), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hv->page_of_pfn == MAP_FAILED)
		hv->page_of_pfn = NULL;
	if (!hv->perm || !hv->old_perm || !hv->inv || !hv->old_inv || !hv->moved ||
	    !hv->page_of_pfn || map_init(&hv->pfn_frame) || map_init(&hv->frame_pfn) ||
	    map_init(&hv->pfn_blocks)) {
		sim_hv_fini(hv);
		return -P2M_ENOMEM;
	}
	hv->xr = rnd(&hv->seed) & SIM_EXT_MASK;
	draw(hv, hv->perm, hv->inv);
	memcpy(hv->old_perm, hv->perm, hv->nr_ext * sizeof(uint32_t));
	memcpy(hv->old_inv, hv->inv, hv->mach_ext * sizeof(uint32_t));
	hv->old_xr = hv->xr;
	hv->next_frame = nr_pages;
	return 0;
}

void sim_hv_fini(struct sim_hv *hv)
{
	free(hv->perm);
	free(hv->old_perm);
	free(hv->inv);
	free(hv->old_inv);
	free(hv->moved);
	free(hv->pfn_frame.key);
	free(hv->pfn_frame.val);
	free(hv->frame_pfn.key);
	free(hv->frame_pfn.val);
	free(hv->pfn_blocks.key);
	free(hv->pfn_blocks.val);
	free(hv->freed);
	if (hv->page_of_pfn)
		munmap(hv->page_of_pfn, (hv->end + 1) * sizeof(uint32_t));
	memset(hv, 0, sizeof(*hv));
}

void sim_hv_renumber(struct sim_hv *hv)
{
	uint64_t xr;

	memcpy(hv->old_perm, hv->perm, hv->nr_ext * sizeof(uint32_t));
	memcpy(hv->old_inv, hv->inv, hv->mach_ext * sizeof(uint32_t));
	hv->old_xr = hv->xr;
	do
		xr = rnd(&hv->seed) & SIM_EXT_MASK;
	while (xr == hv->xr);
	hv->xr = xr;
	draw(hv, hv->perm, hv->inv);
	hv->epoch++;
}

/* The plan's range lists are sorted: the index of the range holding x. */
static bool in_release(const struct sim_hv *hv, uint64_t x)
{
	const struct p2m_e820_range *r = hv->plan->release;
	size_t lo = 0, hi = hv->plan->nr_release;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (x < r[mid].start)
			hi = mid;
		else if (x >= r[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static size_t remap_of(const struct sim_hv *hv, uint64_t x, bool dst)
{
	const struct p2m_e820_remap *r = hv->plan->remap;
	size_t lo = 0, hi = hv->plan->nr_remap;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint64_t s = dst ? r[mid].dst : r[mid].src;

		if (x < s)
			hi = mid;
		else if (x >= s + r[mid].count)
			lo = mid + 1;
		else
			return mid;
	}
	return SIZE_MAX;
}

uint64_t sim_frame_of_pfn(const struct sim_hv *hv, uint64_t pfn)
{
	uint64_t v;
	size_t i;

	if (map_get(&hv->pfn_frame, pfn, &v))
		return v;
	if (pfn < hv->nr_pages) {
		if (hv->released && in_release(hv, pfn))
			return SIM_NONE;
		i = remap_of(hv, pfn, false);
		return i != SIZE_MAX && hv->moved[i] ? SIM_NONE : pfn;
	}
	i = remap_of(hv, pfn, true);
	if (i != SIZE_MAX && hv->moved[i])
		return hv->plan->remap[i].src + (pfn - hv->plan->remap[i].dst);
	return SIM_NONE;
}

/* Whether [a, b) meets one of the plan's release ranges, or remap ranges
 * by source or by destination (each list sorted and disjoint). */
static bool meets_release(const struct sim_hv *hv, uint64_t a, uint64_t b)
{
	const struct p2m_e820_range *r = hv->plan->release;
	size_t lo = 0, hi = hv->plan->nr_release;

	while (lo < hi) {   /* the first range ending after a */
		size_t mid = (lo + hi) / 2;

		if (r[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < hv->plan->nr_release && r[lo].start < b;
}

static bool meets_remap(const struct sim_hv *hv, uint64_t a, uint64_t b, bool dst)
{
	const struct p2m_e820_remap *r = hv->plan->remap;
	size_t lo = 0, hi = hv->plan->nr_remap;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if ((dst ? r[mid].dst : r[mid].src) + r[mid].count <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < hv->plan->nr_remap && (dst ? r[lo].dst : r[lo].src) < b;
}

void sim_frames_of_block(const struct sim_hv *hv, uint64_t first, unsigned n, uint64_t *out)
{
	uint64_t end = first + n, v;
	bool plain = !(hv->pfn_blocks.n && map_get(&hv->pfn_blocks, first >> 9, &v)) &&
		     (first >> 9) == ((end - 1) >> 9) && (end <= hv->nr_pages || first >= hv->nr_pages) &&
		     !meets_release(hv, first, end) && !meets_remap(hv, first, end, false) &&
		     !meets_remap(hv, first, end, true);

	if (!plain) {
		for (unsigned i = 0; i < n; i++)
			out[i] = sim_frame_of_pfn(hv, first + i);
		return;
	}
	/* No exception: frame k is at pfn k below nr_pages, nothing above. */
	for (unsigned i = 0; i < n; i++)
		out[i] = first < hv->nr_pages ? first + i : SIM_NONE;
}

uint64_t sim_pfn_of_frame(const struct sim_hv *hv, uint64_t k)
{
	uint64_t v;
	size_t i;

	if (map_get(&hv->frame_pfn, k, &v))
		return v;
	if (k >= hv->nr_pages)
		return SIM_NONE;
	if (hv->released && in_release(hv, k))
		return SIM_NONE;
	i = remap_of(hv, k, false);
	if (i != SIZE_MAX && hv->moved[i])
		return hv->plan->remap[i].dst + (k - hv->plan->remap[i].src);
	return k;
}

uint64_t sim_mfn_of_pfn(const struct sim_hv *hv, uint64_t pfn)
{
	return sim_mfn_of_frame(hv, sim_frame_of_pfn(hv, pfn));
}

int sim_m2p(const struct sim_hv *hv, uint64_t mfn, uint64_t *pfn)
{
	uint64_t k = sim_frame_of_mfn(hv, mfn, false), p;

	if (k == SIM_NONE)
		return -P2M_ERANGE;
	p = sim_pfn_of_frame(hv, k);
	if (p == SIM_NONE || sim_frame_of_pfn(hv, p) != k)
		return -P2M_ERANGE;
	*pfn = p;
	return 0;
}

/* --- hypercalls --- */

static int hypercall(struct sim_hv *hv, const char *what)
{
	hv->hypercalls++;
	if (hv->fail_in && --hv->fail_in == 0) {
		snprintf(hv->err, sizeof(hv->err), "simulated hypervisor: injected failure of %s (hypercall %llu)",
			 what, (unsigned long long)hv->hypercalls);
		return -P2M_ENOMEM;
	}
	return 0;
}

void sim_hv_fail_nth(struct sim_hv *hv, uint64_t n)
{
	hv->fail_in = n;
}

bool sim_hv_failure_pending(const struct sim_hv *hv)
{
	return hv->fail_in != 0;
}

int sim_hc_release(struct sim_hv *hv)
{
	int rc = hypercall(hv, "XENMEM_decrease_reservation (the plan's releases)");

	if (rc == 0)
		hv->released = true;
	return rc;
}

int sim_hc_remap(struct sim_hv *hv, size_t range)
{
	int rc = hypercall(hv, "MMU_MACHPHYS_UPDATE (a remap range)");

	if (rc == 0)
		hv->moved[range] = true;
	return rc;
}

int sim_hc_populate(struct sim_hv *hv, uint64_t pfn, uint64_t *mfn)
{
	uint64_t k;
	int rc;

	if (sim_frame_of_pfn(hv, pfn) != SIM_NONE) {
		snprintf(hv->err, sizeof(hv->err), "simulated hypervisor: populate of pfn %#llx, which has a frame",
			 (unsigned long long)pfn);
		return -P2M_EBUSY;
	}
	if ((hv->next_frame >> SIM_EXT_SHIFT) >= hv->nr_ext)
		return -P2M_ENOMEM;
	rc = hypercall(hv, "XENMEM_populate_physmap");
	if (rc)
		return rc;
	k = hv->next_frame;
	if ((rc = map_put(&hv->pfn_blocks, pfn >> 9, 1)) || (rc = map_put(&hv->pfn_frame, pfn, k)) ||
	    (rc = map_put(&hv->frame_pfn, k, pfn)))
		return rc;
	hv->next_frame++;
	*mfn = sim_mfn_of_frame(hv, k);
	return 0;
}

int sim_hc_decrease(struct sim_hv *hv, uint64_t pfn)
{
	uint64_t k = sim_frame_of_pfn(hv, pfn);
	int rc;

	if (k == SIM_NONE) {
		snprintf(hv->err, sizeof(hv->err), "simulated hypervisor: decrease of pfn %#llx, which has no frame",
			 (unsigned long long)pfn);
		return -P2M_EINVAL;
	}
	rc = hypercall(hv, "XENMEM_decrease_reservation");
	if (rc)
		return rc;
	if ((rc = map_put(&hv->pfn_blocks, pfn >> 9, 1)) || (rc = map_put(&hv->pfn_frame, pfn, SIM_NONE)) ||
	    (rc = map_put(&hv->frame_pfn, k, SIM_NONE)))
		return rc;
	return 0;
}

int sim_hc_suspend(struct sim_hv *hv)
{
	return hypercall(hv, "SCHEDOP_shutdown(SHUTDOWN_suspend)");
}

/* --- the pool --- */

int sim_pool_add(struct sim_hv *hv, uint64_t start, uint64_t end)
{
	if (start >= end)
		return 0;
	if (hv->npool == SIM_MAX_POOL)
		return -P2M_ENOSPC;
	hv->pool[hv->npool++] = (struct sim_range){ start, end };
	hv->pool_total += end - start;
	if (hv->npool == 1)
		hv->pool_at = start;
	return 0;
}

uint64_t sim_pool_take(struct sim_hv *hv)
{
	if (hv->nfreed) {
		hv->out++;
		return hv->freed[--hv->nfreed];
	}
	while (hv->ipool < hv->npool) {
		if (hv->pool_at < hv->pool[hv->ipool].start)
			hv->pool_at = hv->pool[hv->ipool].start;
		if (hv->pool_at < hv->pool[hv->ipool].end) {
			hv->out++;
			return hv->pool_at++;
		}
		hv->ipool++;
	}
	return SIM_NONE;
}

int sim_pool_put(struct sim_hv *hv, uint64_t pfn)
{
	if (hv->nfreed == hv->capfreed) {
		size_t cap = hv->capfreed ? hv->capfreed * 2 : 4096;
		uint64_t *f = realloc(hv->freed, cap * sizeof(*f));

		if (!f)
			return -P2M_ENOMEM;
		hv->freed = f;
		hv->capfreed = cap;
	}
	hv->freed[hv->nfreed++] = pfn;
	hv->out--;
	return 0;
}

/* --- the namer --- */

static int name(void *ctx, uint64_t page, xen_pfn_t *mfn)
{
	struct sim_hv *hv = ctx;
	uint64_t pfn = sim_pool_take(hv);

	/* A pfn the balloon gave back has no frame: not for the pool. */
	while (pfn != SIM_NONE && sim_mfn_of_pfn(hv, pfn) == SIM_NONE) {
		hv->out--;
		pfn = sim_pool_take(hv);
	}
	if (pfn == SIM_NONE)
		return -P2M_ENOMEM;
	hv->page_of_pfn[pfn] = (uint32_t)(page + 1);
	*mfn = sim_mfn_of_pfn(hv, pfn);
	return 0;
}

static void unname(void *ctx, uint64_t page, xen_pfn_t mfn)
{
	struct sim_hv *hv = ctx;
	uint64_t pfn;

	(void)page;
	if (sim_m2p(hv, mfn, &pfn) == 0) {
		hv->page_of_pfn[pfn] = 0;
		if (sim_pool_put(hv, pfn))
			snprintf(hv->err, sizeof(hv->err), "simulated hypervisor: pfn %#llx lost: no memory for the pool",
				 (unsigned long long)pfn);
	}
}

static uint64_t page_of(void *ctx, xen_pfn_t mfn)
{
	struct sim_hv *hv = ctx;
	uint64_t pfn;

	if (sim_m2p(hv, mfn, &pfn) || pfn >= hv->end || !hv->page_of_pfn[pfn])
		return UINT64_MAX;
	return hv->page_of_pfn[pfn] - 1;
}

static int m2p(void *ctx, xen_pfn_t mfn, xen_pfn_t *pfn)
{
	uint64_t p;
	int rc = sim_m2p(ctx, mfn, &p);

	if (rc == 0)
		*pfn = p;
	return rc;
}

void sim_hv_namer(struct sim_hv *hv, struct hosted_namer *n)
{
	n->ctx = hv;
	n->name = name;
	n->unname = unname;
	n->page_of = page_of;
	n->m2p = m2p;
}
