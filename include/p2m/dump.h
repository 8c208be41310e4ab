/*
 * The layout of a P2M as runs of one kind, and the dump in the format of
 * Linux's debugfs file xen/mmu/p2m:
 *
 *    [0x0->0x9f] pfn
 *    [0x9f->0x100] identity
 *    [0x100->0x40000] pfn
 *    [0x40000->0x10000000] missing
 *
 * End exclusive, lower-case hex. Unlike Linux, identity served by the
 * shared identity page is reported as identity, not missing. RAM and
 * foreign entries both report as "pfn", as in Linux.
 */
#ifndef P2M_DUMP_H
#define P2M_DUMP_H

#include <stddef.h>

#include "p2m/p2m.h"

/* Kinds as the dump groups them. */
enum p2m_run_kind {
	P2M_RUN_PFN,
	P2M_RUN_IDENTITY,
	P2M_RUN_MISSING,
};

const char *p2m_run_name(enum p2m_run_kind k);

/* Call fn for every maximal run in [start, end); stops early if fn
 * returns nonzero and returns that value. Shared slots and windows are
 * classified from the kind map without reading the list. */
typedef int (*p2m_run_fn)(void *arg, uint64_t start, uint64_t end,
			  enum p2m_run_kind kind);
int p2m_for_each_run(const struct p2m *p, uint64_t start, uint64_t end,
		     p2m_run_fn fn, void *arg);

/* Write the dump of [0, end) through out (end 0: the capacity). */
typedef void (*p2m_out_fn)(void *arg, const char *s, size_t n);
void p2m_dump(const struct p2m *p, uint64_t end, p2m_out_fn out, void *arg);

#endif
