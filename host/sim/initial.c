/*
 * The generated initial list (initial.h).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "p2m/entry.h"
#include "sim/initial.h"

#define CHUNK ((uint64_t)2 << 20)          /* bytes: 262144 entries */
#define OPEN 4

static struct {
	const struct sim_hv *hv;
	uint8_t *base;
	uint64_t bytes, nr;
	uint64_t open[OPEN];
	unsigned nopen, next;
	uint64_t fills;
	struct sigaction old;
} L;

uint64_t sim_initial_entry(const struct sim_hv *hv, uint64_t pfn)
{
	enum p2m_e820_category c = p2m_e820_category_of(hv->plan, pfn);

	switch (c) {
	case P2M_E820_C_RAM:
	case P2M_E820_C_REMAP_SRC:     /* moved after the build */
		return sim_mfn_of_pfn(hv, pfn);
	case P2M_E820_C_RELEASED:
		return p2m_identity_entry(pfn);
	default:
		return P2M_INVALID;
	}
}

/* Fill entries [first, first + n) run by run of the plan's layout. */
static void fill(uint64_t *v, uint64_t first, uint64_t n)
{
	const struct p2m_e820_plan *plan = L.hv->plan;
	size_t lo = 0, hi = plan->nr_layout;

	while (lo < hi) {   /* the layout range holding first */
		size_t mid = (lo + hi) / 2;

		if (first >= plan->layout[mid].end)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint64_t i = 0; i < n;) {
		uint64_t pfn = first + i, end = first + n;
		uint32_t kind = lo < plan->nr_layout ? plan->layout[lo].kind : P2M_E820_C_UNUSED;

		if (lo < plan->nr_layout && plan->layout[lo].end < end)
			end = plan->layout[lo].end;
		if (kind == P2M_E820_C_RAM || kind == P2M_E820_C_REMAP_SRC) {
			/* Block by block: the frames of a plain block cost no lookup. */
			while (pfn < end) {
				uint64_t stop = (pfn | 511) + 1 < end ? (pfn | 511) + 1 : end;
				unsigned cnt = (unsigned)(stop - pfn);

				sim_frames_of_block(L.hv, pfn, cnt, &v[i]);
				for (unsigned j = 0; j < cnt; j++)
					v[i + j] = sim_mfn_of_frame(L.hv, v[i + j]);
				pfn += cnt;
				i += cnt;
			}
		}
		for (; pfn < end; pfn++, i++) {
			if (kind == P2M_E820_C_RELEASED)
				v[i] = p2m_identity_entry(pfn);
			else
				v[i] = P2M_INVALID;
		}
		lo++;
	}
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr, *dst;
	uint64_t c, first, n;

	if (!L.base || a < L.base || a >= L.base + L.bytes) {
		/* Not ours: the default action, as if we were not here. */
		sigaction(sig, &L.old, NULL);
		(void)uc;
		return;
	}
	c = (uint64_t)(a - L.base) / CHUNK;
	dst = L.base + c * CHUNK;
	if (L.nopen == OPEN) {
		uint8_t *old = L.base + L.open[L.next] * CHUNK;

		/* The oldest chunk's pages move to the new place with their
		 * page tables: a fresh page costs a fault each, and faults are
		 * most of a build's time on a virtual machine. The old place is
		 * reserved again. */
		mprotect(old, CHUNK, PROT_READ | PROT_WRITE);
		if (mremap(old, CHUNK, CHUNK, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED) {
			madvise(old, CHUNK, MADV_DONTNEED);
			mprotect(old, CHUNK, PROT_NONE);
			mprotect(dst, CHUNK, PROT_READ | PROT_WRITE);
		} else {
			mmap(old, CHUNK, PROT_NONE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0);
		}
	} else {
		L.nopen++;
		mprotect(dst, CHUNK, PROT_READ | PROT_WRITE);
	}
	L.open[L.next] = c;
	L.next = (L.next + 1) % OPEN;
	first = c * (CHUNK / 8);
	n = L.nr - first < CHUNK / 8 ? L.nr - first : CHUNK / 8;
	fill((uint64_t *)(void *)dst, first, n);
	mprotect(dst, CHUNK, PROT_READ);
	L.fills++;
}

const uint64_t *sim_initial_open(const struct sim_hv *hv, uint64_t nr_pages,
				 char *err, size_t errlen)
{
	struct sigaction sa;

	if (L.base) {
		snprintf(err, errlen, "sim: an initial list is already open");
		return NULL;
	}
	L.hv = hv;
	L.nr = nr_pages;
	L.bytes = (nr_pages * 8 + CHUNK - 1) / CHUNK * CHUNK;
	L.nopen = L.next = 0;
	L.fills = 0;
	L.base = mmap(NULL, L.bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (L.base == MAP_FAILED) {
		L.base = NULL;
		snprintf(err, errlen, "sim: reserving %llu bytes for the initial list failed",
			 (unsigned long long)L.bytes);
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &L.old) != 0) {
		munmap(L.base, L.bytes);
		L.base = NULL;
		snprintf(err, errlen, "sim: cannot install the fault handler of the initial list");
		return NULL;
	}
	return (const uint64_t *)(void *)L.base;
}

uint64_t sim_initial_fills(void)
{
	return L.fills;
}

void sim_initial_close(void)
{
	if (!L.base)
		return;
	sigaction(SIGSEGV, &L.old, NULL);
	munmap(L.base, L.bytes);
	L.base = NULL;
}
