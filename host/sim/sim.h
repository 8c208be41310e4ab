/*
 * `p2m sim`: a simulated PV domain of any size whose P2M libp2m builds on
 * the hosted platform (frames in a backing file, numbered by the
 * simulated hypervisor of hv.h), saved through libp2mread, restored onto
 * new mfns, saved again, and read live while a writer changes it.
 * docs/p2msim.md describes the phases and the figures.
 */
#ifndef P2M_SIM_SIM_H
#define P2M_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/units.h"

#define SIM_MAX_HOLES 32
#define SIM_MAX_PHASES 12

struct sim_config {
	uint64_t ram, extra;               /* bytes */
	struct pfn_range holes[SIM_MAX_HOLES];
	size_t nholes;
	bool init_p2m;                     /* the initial list's placement */
	bool save, restore, migrate;       /* phases after the build */
	const char *dir;                   /* backing file's directory; NULL: memfd */
	uint64_t seed;
	FILE *log;                         /* progress lines; NULL: quiet */
	/* failure injection: kind 0 none, 1 alloc, 2 map, 3 hypercall */
	int fault_kind;
	uint64_t fault_nth;
};

struct sim_phase {
	char name[24];
	double secs;
	uint64_t frames_read;      /* frames the reader mapped */
	uint64_t frames_written;   /* frames the restorer wrote */
	int64_t peak_rss_kib;      /* VmHWM during the phase (-1: unknown) */
	char note[200];
};

struct sim_report {
	struct sim_phase phase[SIM_MAX_PHASES];
	unsigned nphases;
	uint64_t nr_pages, end, max_pfn, remapped, released, extra_pfns;
	uint64_t p2m_frames;           /* libp2m's frames after the build */
	uint64_t backing_bytes;        /* the backing file's blocks, at most */
	uint64_t initial_fills;        /* 2 MiB chunks of the initial list generated */
	bool fault_fired;              /* the armed failure happened */
	unsigned retries;              /* steps repeated after it */
};

/* Run every phase the config asks for. 0 when all checks pass; else
 * nonzero with the reason in err. */
int sim_run(const struct sim_config *c, struct sim_report *r, char *err, size_t errlen);

#endif
