/*
 * `p2m sim`: a simulated PV domain of any size (host/sim/, docs/p2msim.md):
 * its P2M built by libp2m as the guest builds it, saved with libp2mread,
 * restored onto new mfns, saved again, read live under a writer; with
 * --faults, every failure site of that run injected in turn.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/units.h"
#include "sim/sim.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: p2m sim --ram SIZE [--holes LIST] [--extra SIZE] [--init-p2m]\n"
"               [--no-save] [--no-restore] [--no-migrate] [--dir DIR]\n"
"               [--seed N] [--faults] [--quiet]\n"
"\n"
"Simulate a 64-bit PV domain of SIZE RAM: libp2m builds its P2M on the hosted\n"
"platform as the guest boots (E820 plan, p2m_build from the initial list,\n"
"remaps, identity, balloon space, publish), with the P2M's frames in a sparse\n"
"file and every frame numbered by a simulated hypervisor. Then:\n"
"  save     libp2mread reads it through p2m_cr3 as Xen's saver does (and the\n"
"           tree where it is published), with the leaf M2P check; every pfn\n"
"           is checked against the guest's view and the hypervisor's\n"
"  restore  p2m_suspend, new mfns for every frame, the restorer's rewrite of\n"
"           the page tables and the list, p2m_resume\n"
"  save2    must equal the first save modulo the renumbering\n"
"  migrate  rounds with a writer: entry stores, a split during a read (the\n"
"           reader reads again; Xen 4.17's saver would abort), a split during\n"
"           every read (bounded retries give up)\n"
"Each phase prints its time, frames read or written and peak RSS.\n"
"\n"
"  --ram SIZE       the domain's RAM (its boot allocation), e.g. 16T\n"
"  --holes LIST     reserved ranges START-END[,...] (end exclusive; K/M/G/T:\n"
"                   byte addresses): frames under them are remapped above\n"
"                   RAM, as Linux does. Example: 0xa0-0x100,3G-4G\n"
"  --extra SIZE     balloon space above RAM (the migration model needs some;\n"
"                   default 1G)\n"
"  --init-p2m       the initial list at XEN_ELFNOTE_INIT_P2M's place (after\n"
"                   the page tables) instead of after the kernel\n"
"  --no-save, --no-restore, --no-migrate   skip phases\n"
"  --dir DIR        where the backing file goes (unnamed, O_TMPFILE; default\n"
"                   $TMPDIR or /var/tmp); 'memfd' for a memfd (RAM)\n"
"  --seed N         the hypervisor's numbering (default 1)\n"
"  --faults[=KINDS] run again with each failure site injected in turn\n"
"                   (KINDS: alloc,map,hypercall; default all): every run must\n"
"                   pass with the failed step repeated and nothing lost; use\n"
"                   a small --ram\n"
"  --fault KIND:N   one run with the Nth KIND (alloc, map, hypercall) failing\n"
"  --quiet          no progress lines\n");
}

static int size_arg(const char *opt, const char *s, uint64_t *v)
{
	char err[160];

	if (parse_size(s, v, err, sizeof(err)) != 0) {
		fprintf(stderr, "p2m sim: %s: %s\n", opt, err);
		return -1;
	}
	if (*v % 4096) {
		fprintf(stderr, "p2m sim: %s %s is not a multiple of 4 KiB\n", opt, s);
		return -1;
	}
	return 0;
}

static void print_report(const struct sim_report *r)
{
	char b[32];

	printf("domain: %llu pages (%s) of RAM, pfn space %#llx, max_pfn %#llx; %llu pages remapped, %llu released, %llu of balloon space\n",
	       (unsigned long long)r->nr_pages, format_bytes(r->nr_pages * 4096, b, sizeof(b)),
	       (unsigned long long)r->end, (unsigned long long)r->max_pfn,
	       (unsigned long long)r->remapped, (unsigned long long)r->released,
	       (unsigned long long)r->extra_pfns);
	printf("%-8s %9s %12s %12s %12s  %s\n", "phase", "time", "frames read", "written", "peak RSS", "");
	for (unsigned i = 0; i < r->nphases; i++) {
		const struct sim_phase *p = &r->phase[i];

		printf("%-8s %8.2fs %12llu %12llu %9lld MiB  %s\n", p->name, p->secs,
		       (unsigned long long)p->frames_read, (unsigned long long)p->frames_written,
		       (long long)(p->peak_rss_kib >= 0 ? p->peak_rss_kib / 1024 : -1), p->note);
	}
	printf("backing file: %s allocated at the end\n", format_bytes(r->backing_bytes, b, sizeof(b)));
}

static int faults(struct sim_config *c, unsigned kinds_mask)
{
	static const char *const kinds[] = { "", "alloc", "map", "hypercall" };
	struct sim_report r;
	char err[512];
	unsigned total = 0, failed = 0;

	c->log = NULL;
	for (int kind = 1; kind <= 3; kind++) {
		uint64_t n, bad = 0;

		if (!(kinds_mask & (1u << kind)))
			continue;
		for (n = 1;; n++) {
			int rc;

			c->fault_kind = kind;
			c->fault_nth = n;
			rc = sim_run(c, &r, err, sizeof(err));
			if (rc != 0) {
				bad++;
				if (bad <= 5)
					printf("faults: %s:%llu FAILED: %s\n", kinds[kind], (unsigned long long)n, err);
			}
			if (rc == 0 && !r.fault_fired)
				break;
			total++;
		}
		failed += (unsigned)bad;
		printf("faults: %llu %s failure sites: %llu passed, %llu failed\n", (unsigned long long)(n - 1),
		       kinds[kind], (unsigned long long)(n - 1 - bad), (unsigned long long)bad);
	}
	printf("faults: %u runs with one injected failure each, %u failed\n", total, failed);
	return failed ? 1 : 0;
}

/* --faults[=alloc,map,hypercall]: the kinds to sweep, as faults() wants
 * them (bit 1 << kind). */
static int faults_arg(const char *arg, unsigned *mask)
{
	*mask = 0;
	if (!arg || !strcmp(arg, "all")) {
		*mask = 0xe;
		return 0;
	}
	for (const char *t = arg; *t;) {
		size_t l = strcspn(t, ",");

		*mask |= !strncmp(t, "alloc", l) && l == 5 ? 2 :
			 !strncmp(t, "map", l) && l == 3 ? 4 :
			 !strncmp(t, "hypercall", l) && l == 9 ? 8 : 0x100;
		t += l + (t[l] == ',');
	}
	if (!*mask || (*mask & 0x100)) {
		fprintf(stderr, "p2m sim: --faults: '%s': want a list of alloc, map, hypercall (or all)\n",
			arg);
		return 2;
	}
	return 0;
}

/* --fault KIND:N: one failure, the Nth call of that kind. */
static int fault_arg(const char *arg, struct sim_config *c)
{
	const char *colon = strchr(arg, ':');
	char *end = NULL;

	c->fault_kind = !strncmp(arg, "alloc:", 6) ? 1 : !strncmp(arg, "map:", 4) ? 2 :
			!strncmp(arg, "hypercall:", 10) ? 3 : 0;
	errno = 0;
	c->fault_nth = c->fault_kind && colon[1] != '-' ? strtoull(colon + 1, &end, 0) : 0;
	if (!c->fault_kind || !c->fault_nth || errno || !end || *end) {
		fprintf(stderr, "p2m sim: --fault '%s': want KIND:N, KIND alloc, map or hypercall, N >= 1\n",
			arg);
		return 2;
	}
	return 0;
}

/* --seed N: a number, all of it. */
static int seed_arg(const char *arg, uint64_t *seed)
{
	char *end;

	errno = 0;
	*seed = strtoull(arg, &end, 0);
	if (!*arg || *end || errno || *arg == '-') {
		fprintf(stderr, "p2m sim: --seed '%s': want an unsigned number\n", arg);
		return 2;
	}
	return 0;
}

int cmd_sim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ram", required_argument, NULL, 'r' },
		{ "holes", required_argument, NULL, 'H' },
		{ "extra", required_argument, NULL, 'e' },
		{ "init-p2m", no_argument, NULL, 'i' },
		{ "save", no_argument, NULL, 's' },
		{ "no-save", no_argument, NULL, 'S' },
		{ "no-restore", no_argument, NULL, 'R' },
		{ "no-migrate", no_argument, NULL, 'M' },
		{ "dir", required_argument, NULL, 'd' },
		{ "seed", required_argument, NULL, 'x' },
		{ "faults", optional_argument, NULL, 'f' },
		{ "fault", required_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_config c = { .save = true, .restore = true, .migrate = true, .log = stderr };
	struct sim_report r;
	char err[512];
	int opt, have_ram = 0;
	unsigned do_faults = 0;
	const char *dir = getenv("TMPDIR");

	c.extra = (uint64_t)1 << 30;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (size_arg("--ram", optarg, &c.ram))
				return 2;
			have_ram = 1;
			break;
		case 'e':
			if (size_arg("--extra", optarg, &c.extra))
				return 2;
			break;
		case 'H':
			if (parse_pfn_ranges(optarg, c.holes, SIM_MAX_HOLES, &c.nholes, err, sizeof(err))) {
				fprintf(stderr, "p2m sim: --holes: %s\n", err);
				return 2;
			}
			break;
		case 'i': c.init_p2m = true; break;
		case 's': c.save = true; break;
		case 'S': c.save = false; break;
		case 'R': c.restore = false; break;
		case 'M': c.migrate = false; break;
		case 'd': dir = optarg; break;
		case 'x':
			if (seed_arg(optarg, &c.seed))
				return 2;
			break;
		case 'f':
			if (faults_arg(optarg, &do_faults))
				return 2;
			break;
		case 'F':
			if (fault_arg(optarg, &c))
				return 2;
			break;
		case 'q': c.log = NULL; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "p2m sim: bad option %s (see p2m sim --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "p2m sim: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!have_ram || c.ram < ((uint64_t)64 << 20)) {
		fprintf(stderr, "p2m sim: --ram SIZE (at least 64M) is required (see p2m sim --help)\n");
		return 2;
	}
	c.dir = dir && !strcmp(dir, "memfd") ? NULL : dir ? dir : "/var/tmp";
	if (do_faults) {
		if (!getenv("TMPDIR") && dir == getenv("TMPDIR"))
			c.dir = NULL;   /* small runs: a memfd */
		return faults(&c, do_faults);
	}
	if (sim_run(&c, &r, err, sizeof(err)) != 0) {
		print_report(&r);
		fprintf(stderr, "p2m sim: %s\n", err);
		return 1;
	}
	print_report(&r);
	printf("sim: every check passed\n");
	return 0;
}
