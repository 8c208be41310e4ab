/*
 * The 3-level P2M tree of Linux <= 3.18 (and Mini-OS), written from its
 * description: a top page of pointers to mid pages, mid pages of pointers
 * to leaves, leaves of 512 entries. Holes cost nothing: a shared `missing`
 * leaf (all ~0) and a shared mid page pointing at it stand for 2 MiB and
 * 1 GiB of missing guest; an `identity` leaf (also all ~0) is recognised
 * by its address, and a shared identity mid page covers 1 GiB of identity
 * (the 3.17 addition). A lookup is three dependent loads after the bounds
 * check: top[t], then [m], then the entry; identity is a pointer compare.
 *
 * Updates follow the old set_phys_to_machine(): a store into a private
 * leaf; a shared slot accepts only the value it already implies; anything
 * else allocates the mid and leaf it lacks and installs them with
 * compare-and-swap, the loser freeing its page.
 *
 * Pages come from a pool: one reserved region (untouched pages cost
 * nothing), a bump pointer and a free list behind a spin lock, standing
 * for the kernel's page allocator.
 */
#define _GNU_SOURCE
#include <string.h>

#include "bench/bench.h"

#define TREE_PAGE 512u   /* words per page */

static void pool_lock(struct bench_tree *t)
{
	while (__atomic_test_and_set(&t->lock, __ATOMIC_ACQUIRE))
		;
}

static void pool_unlock(struct bench_tree *t)
{
	__atomic_clear(&t->lock, __ATOMIC_RELEASE);
}

static void *page_alloc(struct bench_tree *t)
{
	void *pg = NULL;

	pool_lock(t);
	if (t->free_pages) {
		pg = t->free_pages;
		t->free_pages = *(void **)pg;
	} else if (t->pool_used < t->pool_pages) {
		pg = t->pool + t->pool_used++ * TREE_PAGE;
	}
	pool_unlock(t);
	return pg;
}

static void page_free(struct bench_tree *t, void *pg)
{
	pool_lock(t);
	*(void **)pg = t->free_pages;
	t->free_pages = pg;
	pool_unlock(t);
}

static void fill_leaf(uint64_t *leaf, uint64_t first, uint64_t v_identity)
{
	for (unsigned i = 0; i < TREE_PAGE; i++)
		leaf[i] = v_identity ? p2m_identity_entry(first + i) : P2M_INVALID;
}

/* Kind of the 512 entries at flat[first..]: 0 private (RAM or mixed),
 * 1 all missing, 2 all identity. Beyond n is missing. */
static int block_kind(const uint64_t *flat, uint64_t n, uint64_t first)
{
	uint64_t e;
	int k;

	if (first >= n)
		return 1;
	e = flat[first];
	if (e == P2M_INVALID)
		k = 1;
	else if (e == p2m_identity_entry(first))
		k = 2;
	else
		return 0;
	if (first + TREE_PAGE > n)
		return k == 1 ? 1 : 0;
	for (unsigned i = 1; i < TREE_PAGE; i++) {
		e = flat[first + i];
		if (k == 1 ? e != P2M_INVALID : e != p2m_identity_entry(first + i))
			return 0;
	}
	return k;
}

int bench_tree_build(struct bench_tree *t, const uint64_t *flat, uint64_t n,
		     uint64_t capacity)
{
	uint64_t nleaves_max, nmid;

	memset(t, 0, sizeof(*t));
	nmid = (capacity + P2M_PER_WINDOW - 1) >> 18;       /* mid pages */
	t->ntop = (nmid + TREE_PAGE - 1) / TREE_PAGE * TREE_PAGE;
	/* Beyond the capacity is identity, as for the other designs (old
	 * Linux marked everything above its E820 identity up to the top). */
	t->max_pfn = nmid << 18;
	t->top_pages = t->ntop / TREE_PAGE;
	nleaves_max = nmid * TREE_PAGE;
	/* worst case: every leaf and mid private, plus the shared pages */
	t->pool_pages = nleaves_max + nmid + t->top_pages + 4;
	t->pool = bench_pages(t->pool_pages * 4096);
	if (!t->pool)
		return -P2M_ENOMEM;
	t->top = page_alloc(t);
	for (uint64_t i = 1; i < t->top_pages; i++)
		page_alloc(t);      /* the top is contiguous */
	t->missing = page_alloc(t);
	t->identity = page_alloc(t);
	t->mid_missing = page_alloc(t);
	t->mid_identity = page_alloc(t);
	fill_leaf(t->missing, 0, 0);
	fill_leaf(t->identity, 0, 0);     /* ~0 too: shared pages hold no pfn */
	for (unsigned i = 0; i < TREE_PAGE; i++) {
		t->mid_missing[i] = t->missing;
		t->mid_identity[i] = t->identity;
	}
	for (uint64_t m = 0; m < t->ntop; m++) {
		uint64_t base = m << 18;
		uint64_t **mid;
		int kinds[TREE_PAGE], all;

		all = -1;
		for (unsigned j = 0; j < TREE_PAGE; j++) {
			kinds[j] = block_kind(flat, n, base + (uint64_t)j * TREE_PAGE);
			if (all == -1)
				all = kinds[j];
			else if (all != kinds[j])
				all = 0;
		}
		if (all == 1) {
			t->top[m] = t->mid_missing;
			continue;
		}
		if (all == 2) {
			t->top[m] = t->mid_identity;
			continue;
		}
		mid = page_alloc(t);
		t->mids++;
		t->top[m] = mid;
		for (unsigned j = 0; j < TREE_PAGE; j++) {
			uint64_t first = base + (uint64_t)j * TREE_PAGE;
			uint64_t *leaf;

			if (kinds[j] == 1) {
				mid[j] = t->missing;
				continue;
			}
			if (kinds[j] == 2) {
				mid[j] = t->identity;
				continue;
			}
			leaf = page_alloc(t);
			t->leaves++;
			if (first + TREE_PAGE <= n) {
				memcpy(leaf, flat + first, TREE_PAGE * 8);
			} else {
				fill_leaf(leaf, 0, 0);
				memcpy(leaf, flat + first, (n - first) * 8);
			}
			mid[j] = leaf;
		}
	}
	return 0;
}

void bench_tree_destroy(struct bench_tree *t)
{
	bench_pages_free(t->pool, t->pool_pages * 4096);
	memset(t, 0, sizeof(*t));
}

uint64_t bench_tree_bytes(const struct bench_tree *t)
{
	return (t->leaves + t->mids + t->top_pages + 4) * 4096;
}

bool bench_tree_set_fast(struct bench_tree *t, uint64_t pfn, uint64_t v)
{
	uint64_t *leaf;

	if (pfn >= t->max_pfn)
		return v == P2M_INVALID || v == p2m_identity_entry(pfn);
	leaf = __atomic_load_n(&t->top[pfn >> 18][(pfn >> 9) & 511],
			       __ATOMIC_ACQUIRE);
	if (leaf == t->identity)
		return v == p2m_identity_entry(pfn);
	if (leaf == t->missing)
		return v == P2M_INVALID;
	__atomic_store_n(&leaf[pfn & 511], v, __ATOMIC_RELAXED);
	return true;
}

int bench_tree_set(struct bench_tree *t, uint64_t pfn, uint64_t v)
{
	uint64_t **mid, **expect_mid;
	uint64_t *leaf, *expect_leaf;
	uint64_t ti, mi;

	if (bench_tree_set_fast(t, pfn, v))
		return 0;
	if (pfn >= t->max_pfn)
		return -P2M_ERANGE;
	ti = pfn >> 18;
	mi = (pfn >> 9) & 511;
	mid = __atomic_load_n(&t->top[ti], __ATOMIC_ACQUIRE);
	if (mid == t->mid_missing || mid == t->mid_identity) {
		uint64_t **nmid = page_alloc(t);

		if (!nmid)
			return -P2M_ENOMEM;
		for (unsigned j = 0; j < TREE_PAGE; j++)
			nmid[j] = mid[j];
		expect_mid = mid;
		if (__atomic_compare_exchange_n(&t->top[ti], &expect_mid, nmid,
						false, __ATOMIC_RELEASE,
						__ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&t->mids, 1, __ATOMIC_RELAXED);
			mid = nmid;
		} else {
			page_free(t, nmid);
			mid = expect_mid;
		}
	}
	leaf = __atomic_load_n(&mid[mi], __ATOMIC_ACQUIRE);
	if (leaf == t->missing || leaf == t->identity) {
		uint64_t *nleaf = page_alloc(t);

		if (!nleaf)
			return -P2M_ENOMEM;
		fill_leaf(nleaf, pfn & ~(uint64_t)511, leaf == t->identity);
		expect_leaf = leaf;
		if (__atomic_compare_exchange_n(&mid[mi], &expect_leaf, nleaf,
						false, __ATOMIC_RELEASE,
						__ATOMIC_ACQUIRE))
			__atomic_fetch_add(&t->leaves, 1, __ATOMIC_RELAXED);
		else
			page_free(t, nleaf);
	}
	return bench_tree_set_fast(t, pfn, v) ? 0 : -P2M_EBUSY;
}

uint64_t bench_tree_model_bytes(const uint64_t *flat, uint64_t n,
				uint64_t capacity)
{
	uint64_t nmid = (capacity + P2M_PER_WINDOW - 1) >> 18;
	uint64_t pages = (nmid + TREE_PAGE - 1) / TREE_PAGE + 4;

	for (uint64_t m = 0; m < nmid; m++) {
		uint64_t leaves = 0;
		int all = -1;

		for (unsigned j = 0; j < TREE_PAGE; j++) {
			int k = block_kind(flat, n, (m << 18) + (uint64_t)j * TREE_PAGE);

			leaves += k == 0;
			all = all == -1 ? k : (all == k ? all : 0);
		}
		if (all != 1 && all != 2)
			pages += 1 + leaves;
	}
	return pages * 4096;
}
