/*
 * The page-frame allocator (see frames.h): sorted extents of free pfns.
 * Taking is from the bottom of the lowest extent; giving back merges
 * with both neighbours. The extent table is static: 16384 extents is far
 * more fragmentation than the boot sequence produces.
 */
#include "common/frames.h"
#include "common/pattern.h"

#define MAX_EXTENTS 16384u

struct extent {
	uint64_t start, end; /* [start, end) */
};

static struct extent ext[MAX_EXTENTS];
static unsigned nr_ext;
static uint64_t nr_free;

/* First extent whose end is above pfn. */
static unsigned find(uint64_t pfn)
{
	unsigned lo = 0, hi = nr_ext;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (ext[mid].end <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool frames_is_free(uint64_t pfn)
{
	unsigned i = find(pfn);

	return i < nr_ext && ext[i].start <= pfn;
}

static void insert_at(unsigned i, uint64_t s, uint64_t e)
{
	unsigned j;

	for (j = nr_ext; j > i; j--)
		ext[j] = ext[j - 1];
	ext[i].start = s;
	ext[i].end = e;
	nr_ext++;
}

static void remove_at(unsigned i)
{
	unsigned j;

	for (j = i; j + 1 < nr_ext; j++)
		ext[j] = ext[j + 1];
	nr_ext--;
}

bool frames_add(uint64_t pfn, uint64_t n)
{
	uint64_t end = pfn + n;
	unsigned i;
	bool left, right;

	if (!n)
		return true;
	i = find(pfn);
	if (i < nr_ext && ext[i].start < end)
		return false; /* overlaps a free extent */
	left = i > 0 && ext[i - 1].end == pfn;
	right = i < nr_ext && ext[i].start == end;
	if (left && right) {
		ext[i - 1].end = ext[i].end;
		remove_at(i);
	} else if (left) {
		ext[i - 1].end = end;
	} else if (right) {
		ext[i].start = pfn;
	} else {
		if (nr_ext == MAX_EXTENTS)
			return false;
		insert_at(i, pfn, end);
	}
	nr_free += n;
	pattern_join(pfn, n);
	return true;
}

bool frames_take(uint64_t n, uint64_t *out)
{
	uint64_t got = 0;

	if (n > nr_free)
		return false;
	/* Lowest extent first, from its bottom: frames given back or added
	 * later at higher pfns (remap targets, chunk by chunk) then merge
	 * into one extent instead of leaving one per chunk. */
	while (got < n) {
		struct extent *x = &ext[0];

		pattern_leave(x->start, 1);
		out[got++] = x->start++;
		if (x->end == x->start)
			remove_at(0);
	}
	nr_free -= n;
	return true;
}

bool frames_take_run(uint64_t n, uint64_t *pfn)
{
	unsigned i;

	for (i = 0; i < nr_ext; i++) {
		if (ext[i].end - ext[i].start < n)
			continue;
		*pfn = ext[i].start;
		pattern_leave(*pfn, n);
		ext[i].start += n;
		if (ext[i].start == ext[i].end)
			remove_at(i);
		nr_free -= n;
		return true;
	}
	return false;
}

void frames_remove(uint64_t pfn, uint64_t n)
{
	uint64_t end = pfn + n;
	unsigned i = find(pfn);

	pattern_leave(pfn, n);
	while (i < nr_ext && ext[i].start < end) {
		struct extent *x = &ext[i];
		uint64_t s = x->start > pfn ? x->start : pfn;
		uint64_t e = x->end < end ? x->end : end;

		nr_free -= e - s;
		if (s == x->start && e == x->end) {
			remove_at(i);
			continue;
		}
		if (s == x->start) {
			x->start = e;
		} else if (e == x->end) {
			x->end = s;
		} else {
			if (nr_ext == MAX_EXTENTS) {
				nr_free += e - s; /* cannot split: keep it */
				return;
			}
			insert_at(i + 1, e, x->end);
			x->end = s;
		}
		i++;
	}
}

uint64_t frames_count_in(uint64_t pfn, uint64_t n)
{
	uint64_t end = pfn + n, got = 0;
	unsigned i;

	for (i = find(pfn); i < nr_ext && ext[i].start < end; i++)
		got += (ext[i].end < end ? ext[i].end : end) -
		       (ext[i].start > pfn ? ext[i].start : pfn);
	return got;
}

uint64_t frames_free_count(void)
{
	return nr_free;
}

unsigned frames_extents(void)
{
	return nr_ext;
}
