/*
 * The initial list of `p2m sim`: the flat pfn -> mfn array Xen's domain
 * builder hands a PV guest (start_info.mfn_list), nr_pages entries, read
 * once by p2m_build().
 *
 * At 16 TiB it is 32 GiB, more than this machine's RAM, and writing it to
 * the backing file would double the disk the simulation needs. Its
 * content is a function of the simulated hypervisor's numbering and the
 * E820 plan (what the builder wrote, with the guest's early rewrites:
 * released pfns identity, trimmed ones missing), so it is generated on
 * demand: the array is reserved PROT_NONE; a touch of a 2 MiB chunk
 * faults (SIGSEGV), the handler opens the chunk, fills it and closes the
 * oldest of the few chunks kept open: its pages move to the new chunk
 * (mremap), so each is faulted in only once in the whole build. The
 * build reads it in order, so a chunk is filled about once and the list
 * costs a few MiB of RAM whatever its size. One list at a time per
 * process.
 */
#ifndef P2M_SIM_INITIAL_H
#define P2M_SIM_INITIAL_H

#include <stdint.h>

#include "sim/hv.h"

/* NULL on failure (message in err). */
const uint64_t *sim_initial_open(const struct sim_hv *hv, uint64_t nr_pages,
				 char *err, size_t errlen);
/* Chunks filled so far (a measure of re-reads). */
uint64_t sim_initial_fills(void);
void sim_initial_close(void);

/* The entry the builder wrote for pfn (< nr_pages). */
uint64_t sim_initial_entry(const struct sim_hv *hv, uint64_t pfn);

#endif
