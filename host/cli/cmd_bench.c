/*
 * `p2m bench`: lookups, updates, build, memory and concurrency of libp2m
 * against a flat array, the old 3-level tree and Linux's linear list,
 * all in this process (host/bench/). Prints a table and every target with
 * its measured ratio and PASS or SHORT; exits 0 whatever the verdicts (it
 * measures, it does not gate), 1 when a workload could not run, 2 on bad
 * usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: p2m bench [--short | --long] [options]\n"
		"\n"
		"Measures libp2m (ours) against a flat array (the physical limit), the\n"
		"3-level tree of Linux <= 3.18 and Linux's linear list with its page-table\n"
		"walk, side by side in one process, in alternation, median of rounds.\n"
		"\n"
		"  --short          seconds (default; CI): 4 GiB lookups, small scenarios\n"
		"  --long           full run (~10 min): lookups over 4 GiB, 64 GiB, 1 TiB;\n"
		"                   build of a 256 GiB guest; 1 TiB dom0, 16 TiB capacity\n"
		"  --only SECTION   lookup, update, build, memory or concurrency\n"
		"  --rounds N       rounds per measurement (median; max 32)\n"
		"  --lookups N      lookups per timed run\n"
		"  --readers N      reader threads in the concurrency workload\n"
		"  --space GIB      lookup pfn space (repeat for several, at most 4)\n"
		"  --build-gib N    guest size of the build workload\n"
		"  --csv FILE       write the rows and targets as CSV\n"
		"  --json FILE      write them as JSON\n"
		"  --svg FILE       plot ns/lookup per implementation and workload\n"
		"  -v, --verbose    progress on stderr\n"
		"\n"
		"Every target is printed with its measured ratio and PASS or SHORT; the\n"
		"exit status is 0 whatever the verdicts, 1 if a workload failed to run.\n");
}

static void defaults(struct bench_opts *o, bool long_mode)
{
	const char *only = o->only;
	bool verbose = o->verbose;

	memset(o, 0, sizeof(*o));
	o->only = only;
	o->verbose = verbose;
	o->long_mode = long_mode;
	o->readers = 1;
	if (long_mode) {
		o->rounds = 15;
		o->lookups = (uint64_t)1 << 20;
		o->nspaces = 3;
		o->space_gib[0] = 4;
		o->space_gib[1] = 64;
		o->space_gib[2] = 1024;
		o->build_gib = 256;
		o->build_rounds = 5;
		o->update_gib = 64;
		o->update_slots = 512;
		o->conc_seconds = 1.0;
		o->conc_rounds = 5;
		o->dom0_ram_gib = 512;
		o->dom0_extra_gib = 512;
		o->holes = 300;
		o->holes_gib = 64;
		o->cap_tib = 16;
		o->cap_ram_gib = 64;
	} else {
		o->rounds = 3;
		o->lookups = (uint64_t)1 << 18;
		o->nspaces = 1;
		o->space_gib[0] = 4;
		o->build_gib = 4;
		o->build_rounds = 3;
		o->update_gib = 4;
		o->update_slots = 128;
		o->conc_seconds = 0.2;
		o->conc_rounds = 3;
		o->dom0_ram_gib = 8;
		o->dom0_extra_gib = 8;
		o->holes = 100;
		o->holes_gib = 8;
		o->cap_tib = 1;
		o->cap_ram_gib = 4;
	}
}

static int number(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = s ? strtoull(s, &end, 0) : 0;
	if (!s || errno || *end || end == s || x < lo || x > hi) {
		fprintf(stderr, "p2m bench: %s wants a number from %" PRIu64 " to %" PRIu64
			", not '%s'\n", opt, lo, hi, s ? s : "");
		return -1;
	}
	*v = x;
	return 0;
}

static const char *const sections[] = { "lookup", "update", "build", "memory", "concurrency" };
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* The command line, before the mode's defaults are applied. */
struct bench_args {
	const char *csv, *json, *svg, *only;
	uint64_t rounds, lookups, readers, spaces[4], build_gib;
	unsigned nspaces;
	bool long_mode, verbose;
};

/* An option with a value at argv[i + 1] (v, NULL when missing): 0, or 2
 * (said). */
static int value_arg(const char *a, const char *v, struct bench_args *g)
{
	if (!strcmp(a, "--csv") || !strcmp(a, "--json") || !strcmp(a, "--svg") ||
	    !strcmp(a, "--only")) {
		if (!v) {
			fprintf(stderr, "p2m bench: %s needs an argument\n", a);
			return 2;
		}
		if (!strcmp(a, "--csv"))
			g->csv = v;
		else if (!strcmp(a, "--json"))
			g->json = v;
		else if (!strcmp(a, "--svg"))
			g->svg = v;
		else
			g->only = v;
		return 0;
	}
	if (!strcmp(a, "--rounds"))
		return number(a, v, 1, BENCH_MAX_ROUNDS, &g->rounds) ? 2 : 0;
	if (!strcmp(a, "--lookups"))
		return number(a, v, 1024, (uint64_t)1 << 28, &g->lookups) ? 2 : 0;
	if (!strcmp(a, "--build-gib"))
		return number(a, v, 1, 4096, &g->build_gib) ? 2 : 0;
	if (!strcmp(a, "--readers"))
		return number(a, v, 1, 16, &g->readers) ? 2 : 0;
	if (!strcmp(a, "--space")) {
		if (g->nspaces == 4) {
			fprintf(stderr, "p2m bench: at most 4 --space options\n");
			return 2;
		}
		if (number(a, v, 1, 4096, &g->spaces[g->nspaces]))
			return 2;
		g->nspaces++;
		return 0;
	}
	fprintf(stderr, "p2m bench: unknown option '%s'\n", a);
	usage(stderr);
	return 2;
}

/* The output files are written after the run: find out now, not after
 * ten minutes of --long, that one cannot be. "a" creates a missing file
 * and leaves an existing one as it is until then. 0, or 2 (said). */
static int check_outputs(const struct bench_args *g)
{
	const char *const outs[3][2] = { { "--csv", g->csv }, { "--json", g->json },
					 { "--svg", g->svg } };

	for (size_t k = 0; k < 3; k++) {
		FILE *f = outs[k][1] ? fopen(outs[k][1], "a") : NULL;

		if (outs[k][1] && !f) {
			fprintf(stderr, "p2m bench: %s %s: %s\n", outs[k][0], outs[k][1],
				strerror(errno));
			return 2;
		}
		if (f)
			fclose(f);
	}
	return 0;
}

/* 0 to run, -1 after --help, 2 on bad usage (said). */
static int parse_args(int argc, char **argv, struct bench_args *g)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int rc;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return -1;
		} else if (!strcmp(a, "--short") || !strcmp(a, "--long")) {
			g->long_mode = !strcmp(a, "--long");
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			g->verbose = true;
		} else if ((rc = value_arg(a, i + 1 < argc ? argv[i + 1] : NULL, g))) {
			return rc;
		} else {
			i++;
		}
	}
	if (check_outputs(g))
		return 2;
	if (g->only) {
		size_t k;

		for (k = 0; k < NSECTIONS; k++)
			if (!strcmp(g->only, sections[k]))
				break;
		if (k == NSECTIONS) {
			fprintf(stderr, "p2m bench: --only wants lookup, update, build, memory or "
				"concurrency, not '%s'\n", g->only);
			return 2;
		}
	}
	return 0;
}

/* The mode's defaults, then what the command line overrides. */
static void apply_args(const struct bench_args *g, struct bench_opts *o)
{
	o->only = g->only;
	o->verbose = g->verbose;
	defaults(o, g->long_mode);
	if (g->rounds)
		o->rounds = (unsigned)g->rounds;
	if (g->lookups)
		o->lookups = g->lookups;
	if (g->readers)
		o->readers = (unsigned)g->readers;
	if (g->build_gib)
		o->build_gib = g->build_gib;
	if (g->nspaces) {
		o->nspaces = g->nspaces;
		for (unsigned k = 0; k < g->nspaces; k++)
			o->space_gib[k] = g->spaces[k];
	}
}

int cmd_bench(int argc, char **argv)
{
	int (*const run[NSECTIONS])(const struct bench_opts *, struct bench_report *) = {
		bench_lookups, bench_updates, bench_build, bench_memory, bench_concurrency,
	};
	struct bench_args g = { 0 };
	struct bench_opts o = { 0 };
	struct bench_report r;
	int failed = 0, rc = parse_args(argc, argv, &g);

	if (rc)
		return rc < 0 ? 0 : rc;
	apply_args(&g, &o);
	bench_report_init(&r);
	printf("p2m bench (%s mode): %u rounds, %" PRIu64 " lookups per run, ratios in one run\n",
	       o.long_mode ? "long" : "short", o.rounds, o.lookups);
	for (size_t k = 0; k < NSECTIONS; k++) {
		if (o.only && strcmp(o.only, sections[k]))
			continue;
		bench_log(&o, "section %s", sections[k]);
		rc = run[k](&o, &r);
		bench_note_rss(&r);
		if (rc) {
			fprintf(stderr, "p2m bench: section %s failed (%d)\n", sections[k], rc);
			failed = 1;
		}
	}
	bench_print_table(&r, stdout);
	if (g.csv && bench_write_csv(&r, g.csv))
		failed = 1;
	if (g.json && bench_write_json(&r, &o, g.json))
		failed = 1;
	if (g.svg && bench_write_svg(&r, g.svg))
		failed = 1;
	bench_report_free(&r);
	return failed;
}
