/*
 * `p2m demo`: build the P2M of a synthetic guest on the hosted platform
 * and show what it looks like and what it costs.
 *
 * The guest: `--ram` bytes of RAM laid out from pfn 0 upwards, stepping
 * over the holes (identity, as E820 gaps and MMIO are), so RAM continues
 * above a hole as on real machines; then `--extra` bytes of balloon space
 * (missing, but covered by max_pfn); then missing pfns up to the capacity.
 * RAM pfns get mfns from a separate numeric range (RAM_MFN_BASE), not
 * frames of the platform: the guest's RAM costs nothing here, only the
 * P2M does. The initial list is laid out as Xen hands it to a guest: in
 * frames of the platform, mapped at one address. p2m_build_adopt() makes
 * its pages the P2M's leaves (uniform ones go back to the platform); the
 * P2M is checked entry by entry against the layout and run by run,
 * published into a struct arch_shared_info, and the list's old mapping
 * dropped.
 *
 * Memory figures: libp2m's statistics, the platform's frames (the memfd's
 * blocks are the physical truth) and the process's VmRSS before and after.
 * The check reads every entry of the initial range, so the list's private
 * pages are resident; shared windows are classified from the kind map and
 * never read, since a page mapped at 512 addresses counts 512 times in
 * VmRSS.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cli.h"
#include "common/procstat.h"
#include "common/toolstack.h"
#include "common/units.h"
#include "p2m/dump.h"
#include "p2m/p2m.h"
#include "p2m/publish.h"
#include "platform/hosted.h"

#define RAM_MFN_BASE ((uint64_t)0x10000000)   /* 1 TiB into machine space */
#define MAX_HOLES 64

struct demo {
	uint64_t ram, extra, capacity;     /* bytes; capacity 0: automatic */
	struct pfn_range holes[MAX_HOLES];
	size_t nholes;
	bool tree, dump;
	/* derived, in pfns */
	uint64_t ram_pages, ram_end, n, extra_end, cap_pfns;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: p2m demo --ram SIZE [--holes LIST] [--extra SIZE] [--capacity SIZE]\n"
"                [--tree | --list-only] [--dump | --no-dump]\n"
"\n"
"Build the P2M of a synthetic 64-bit PV guest on the hosted platform (page\n"
"frames in a memfd, shared pages mapped at many addresses), check it, publish\n"
"it into a struct arch_shared_info, and print its layout (Linux's debugfs\n"
"format), libp2m's statistics, the shared_info fields, the platform's frames,\n"
"what the toolstack reads through libp2mread (time, frames read) and the\n"
"process's RSS.\n"
"\n"
"  --ram SIZE        guest RAM (required), laid out from pfn 0, stepping over\n"
"                    the holes; RAM pfns get mfns from %#llx up\n"
"  --holes LIST      identity ranges START-END[,...], end exclusive; a bare\n"
"                    number is a pfn, one with a K/M/G/T suffix a byte\n"
"                    address (rounded outward to pages). Example:\n"
"                    --holes 0xa0-0x100,3G-4G (VGA hole, 32-bit PCI hole)\n"
"  --extra SIZE      balloon/extra space above RAM: missing, but covered by\n"
"                    max_pfn (pfns the guest may populate later)\n"
"  --capacity SIZE   guest pfn space the list covers (default: RAM, holes\n"
"                    and extra rounded up to 1 GiB); up to 128T\n"
"  --tree            publish the 3-level frame-list tree for the tools (the\n"
"                    default; it covers the first 512 GiB, whatever the\n"
"                    capacity: docs/tree-rule.md)\n"
"  --list-only       the tools read the linear list (SIF_VIRT_P2M_4TOOLS):\n"
"                    no tree, pfn_to_mfn_frame_list_list = ~0\n"
"  --dump, --no-dump print the layout or not (default: print)\n"
"\n"
"Above RAM and extra, up to the capacity, pfns are MISSING, not identity:\n"
"that space is room for memory the guest may get later (hotplug, balloon),\n"
"and an identity entry would claim the machine frame of the same number,\n"
"which the guest does not own. Identity is right only for holes (E820\n"
"gaps, MMIO) and for a dom0's space above its last E820 entry; libp2m also\n"
"answers identity for every pfn beyond the capacity.\n"
"\n"
"SIZE: bytes, hex or decimal, with an optional K/M/G/T suffix (binary),\n"
"a multiple of 4 KiB. Example: p2m demo --ram 64G --holes 0xa0-0x100,3G-4G --capacity 1T\n",
		(unsigned long long)RAM_MFN_BASE);
}

static int size_arg(const char *opt, const char *s, uint64_t *v)
{
	char err[160];

	if (parse_size(s, v, err, sizeof(err)) != 0) {
		fprintf(stderr, "p2m demo: %s: %s\n", opt, err);
		return -1;
	}
	if (*v % 4096) {
		fprintf(stderr, "p2m demo: %s %s is not a multiple of 4 KiB\n", opt, s);
		return -1;
	}
	return 0;
}

static int parse(struct demo *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ram", required_argument, NULL, 'r' },
		{ "holes", required_argument, NULL, 'H' },
		{ "extra", required_argument, NULL, 'e' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "tree", no_argument, NULL, 't' },
		{ "list-only", no_argument, NULL, 'l' },
		{ "dump", no_argument, NULL, 'd' },
		{ "no-dump", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[160];
	int c, have_ram = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (size_arg("--ram", optarg, &d->ram))
				return 2;
			have_ram = 1;
			break;
		case 'e':
			if (size_arg("--extra", optarg, &d->extra))
				return 2;
			break;
		case 'c':
			if (size_arg("--capacity", optarg, &d->capacity))
				return 2;
			if (!d->capacity) {
				fprintf(stderr, "p2m demo: --capacity must not be 0\n");
				return 2;
			}
			break;
		case 'H':
			if (parse_pfn_ranges(optarg, d->holes, MAX_HOLES, &d->nholes, err, sizeof(err))) {
				fprintf(stderr, "p2m demo: --holes: %s\n", err);
				return 2;
			}
			break;
		case 't': d->tree = true; break;
		case 'l': d->tree = false; break;
		case 'd': d->dump = true; break;
		case 'D': d->dump = false; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			for (const struct option *o = opts; o->name; o++)
				if (optopt && o->val == optopt) {
					fprintf(stderr, "p2m demo: --%s needs a value (see p2m demo --help)\n",
						o->name);
					return 2;
				}
			fprintf(stderr, "p2m demo: unknown option %s (see p2m demo --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "p2m demo: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!have_ram || !d->ram) {
		fprintf(stderr, "p2m demo: --ram SIZE is required and must not be 0 (see p2m demo --help)\n");
		return 2;
	}
	return -1;
}

/* RAM pfns step over holes: the pfn after `pages` RAM pfns. */
static uint64_t place_ram(const struct demo *d, uint64_t pages)
{
	uint64_t pfn = 0;

	for (size_t i = 0; i < d->nholes && pages; i++) {
		uint64_t before = d->holes[i].start > pfn ? d->holes[i].start - pfn : 0;

		if (before >= pages)
			break;
		pages -= before;
		pfn = d->holes[i].end;
	}
	return pfn + pages;
}

static int in_hole(const struct demo *d, uint64_t pfn, uint64_t *hole_end)
{
	for (size_t i = 0; i < d->nholes; i++)
		if (pfn >= d->holes[i].start && pfn < d->holes[i].end) {
			*hole_end = d->holes[i].end;
			return 1;
		}
	return 0;
}

static int layout(struct demo *d)
{
	uint64_t top;

	d->ram_pages = d->ram >> 12;
	d->ram_end = place_ram(d, d->ram_pages);
	d->n = d->ram_end;
	if (d->nholes && d->holes[d->nholes - 1].end > d->n)
		d->n = d->holes[d->nholes - 1].end;
	d->extra_end = d->ram_end + (d->extra >> 12);
	top = d->extra_end > d->n ? d->extra_end : d->n;
	if (d->capacity) {
		d->cap_pfns = d->capacity >> 12;
		if (d->cap_pfns < top) {
			fprintf(stderr, "p2m demo: --capacity %#llx pfns is below the guest, which needs %#llx "
				"(RAM, holes and extra)\n", (unsigned long long)d->cap_pfns,
				(unsigned long long)top);
			return 2;
		}
	} else {
		d->cap_pfns = (top + P2M_PER_WINDOW - 1) & ~(P2M_PER_WINDOW - 1);
	}
	if (d->cap_pfns > P2M_CAPACITY_MAX) {
		fprintf(stderr, "p2m demo: capacity %#llx pfns exceeds libp2m's maximum %#llx (128 TiB)\n",
			(unsigned long long)d->cap_pfns, (unsigned long long)P2M_CAPACITY_MAX);
		return 2;
	}
	if (RAM_MFN_BASE + d->ram_pages > P2M_MFN_LIMIT) {
		fprintf(stderr, "p2m demo: --ram is too large for the synthetic mfn range\n");
		return 2;
	}
	return -1;
}

static uint64_t expected_entry(const struct demo *d, uint64_t pfn, uint64_t *next_ram)
{
	uint64_t end;

	if (in_hole(d, pfn, &end))
		return p2m_identity_entry(pfn);
	if (pfn >= d->ram_end)
		return P2M_INVALID;
	return RAM_MFN_BASE + (*next_ram)++;
}

/* The initial list as Xen's builder hands one over: in frames of the
 * platform (hosted_list_new), mapped at one address, written there. */
static uint64_t *initial_list(const struct demo *d, struct hosted *h, xen_pfn_t **frames)
{
	uint64_t pages = (d->n + P2M_PER_PAGE - 1) / P2M_PER_PAGE, *list, next = 0;

	*frames = malloc(pages * sizeof(xen_pfn_t));
	if (!*frames)
		return NULL;
	if (hosted_list_new(h, pages, *frames, &list)) {
		free(*frames);
		*frames = NULL;
		return NULL;
	}
	for (uint64_t pfn = 0; pfn < d->n; pfn++)
		list[pfn] = expected_entry(d, pfn, &next);
	return list;
}

/* --- checks --- */

struct run_check {
	const struct demo *d;
	uint64_t runs, bad;
	char first_bad[160];
};

static enum p2m_run_kind kind_at(const struct demo *d, uint64_t pfn)
{
	uint64_t end;

	if (in_hole(d, pfn, &end))
		return P2M_RUN_IDENTITY;
	return pfn < d->ram_end ? P2M_RUN_PFN : P2M_RUN_MISSING;
}

/* A run is right if every pfn in it has its kind (checked at the ends of
 * every stretch of the guest's layout inside it). */
static int check_run(void *arg, uint64_t start, uint64_t end, enum p2m_run_kind kind)
{
	struct run_check *c = arg;
	const struct demo *d = c->d;
	uint64_t cuts[2 * MAX_HOLES + 4];
	size_t nc = 0;

	c->runs++;
	cuts[nc++] = start;
	cuts[nc++] = end - 1;
	if (d->ram_end > start && d->ram_end < end)
		cuts[nc++] = d->ram_end - 1, cuts[nc++] = d->ram_end;
	for (size_t i = 0; i < d->nholes; i++) {
		if (d->holes[i].start > start && d->holes[i].start < end)
			cuts[nc++] = d->holes[i].start;
		if (d->holes[i].end > start && d->holes[i].end < end)
			cuts[nc++] = d->holes[i].end;
	}
	for (size_t i = 0; i < nc; i++)
		if (kind_at(d, cuts[i]) != kind) {
			if (!c->bad++)
				snprintf(c->first_bad, sizeof(c->first_bad),
					 "run [%#llx->%#llx] %s, but pfn %#llx should be %s",
					 (unsigned long long)start, (unsigned long long)end,
					 p2m_run_name(kind), (unsigned long long)cuts[i],
					 p2m_run_name(kind_at(d, cuts[i])));
			break;
		}
	return 0;
}

/* The list was adopted (its pages are the P2M's now): the entries are
 * compared with the layout itself. */
static int check(const struct demo *d, const struct p2m *p)
{
	struct run_check c = { .d = d };
	uint64_t bad = 0, next = 0;

	for (uint64_t pfn = 0; pfn < d->n; pfn++) {
		uint64_t e = p2m_raw(p, pfn), want = expected_entry(d, pfn, &next);

		if (e != want && !bad++)
			fprintf(stderr, "p2m demo: check: pfn %#llx reads %#llx, expected %#llx\n",
				(unsigned long long)pfn, (unsigned long long)e,
				(unsigned long long)want);
	}
	p2m_for_each_run(p, 0, p->capacity, check_run, &c);
	if (c.bad)
		fprintf(stderr, "p2m demo: check: %s\n", c.first_bad);
	printf("check: %llu entries read back as built, %llu runs match the guest's layout%s\n",
	       (unsigned long long)(d->n - bad), (unsigned long long)c.runs,
	       bad || c.bad ? " -- FAILED" : "");
	return bad || c.bad ? -1 : 0;
}

/* --- output --- */

static void out_stdout(void *arg, const char *s, size_t n)
{
	(void)arg;
	fwrite(s, 1, n, stdout);
}

static const char *mib(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.2f MiB", (double)bytes / (1 << 20));
	return buf;
}

static void print_guest(const struct demo *d)
{
	char a[32], b[32], c[32];

	printf("guest: RAM %s (%#llx pfns) in pfns [0x0, %#llx), extra %s up to pfn %#llx, "
	       "capacity %#llx pfns (%s)\n",
	       format_bytes(d->ram, a, sizeof(a)), (unsigned long long)d->ram_pages,
	       (unsigned long long)d->ram_end, format_bytes(d->extra, b, sizeof(b)),
	       (unsigned long long)d->extra_end, (unsigned long long)d->cap_pfns,
	       format_bytes(d->cap_pfns << 12, c, sizeof(c)));
	for (size_t i = 0; i < d->nholes; i++)
		printf("  hole (identity) [%#llx->%#llx]\n", (unsigned long long)d->holes[i].start,
		       (unsigned long long)d->holes[i].end);
}

static void print_stats(const struct p2m *p)
{
	struct p2m_stats st;
	char m[32];

	p2m_get_stats(p, &st);
	printf("\np2m_get_stats:\n");
	printf("  private_leaves  %llu\n", (unsigned long long)st.private_leaves);
	printf("  private_tables  %llu\n", (unsigned long long)st.private_tables);
	printf("  mid_pages       %llu\n", (unsigned long long)st.mid_pages);
	printf("  meta_pages      %llu\n", (unsigned long long)st.meta_pages);
	printf("  shared_pages    %llu\n", (unsigned long long)st.shared_pages);
	printf("  shared_slots    %llu\n", (unsigned long long)st.shared_slots);
	printf("  shared_windows  %llu\n", (unsigned long long)st.shared_windows);
	printf("  bytes           %llu (%s)\n", (unsigned long long)st.bytes, mib(st.bytes, m, sizeof(m)));
}

static void print_shared_info(const struct arch_shared_info *a)
{
	printf("\nshared_info.arch:\n");
	printf("  max_pfn                     %#llx\n", (unsigned long long)a->max_pfn);
	printf("  pfn_to_mfn_frame_list_list  %#llx\n",
	       (unsigned long long)a->pfn_to_mfn_frame_list_list);
	printf("  p2m_cr3                     %#llx (mfn %#llx)\n", (unsigned long long)a->p2m_cr3,
	       (unsigned long long)(a->p2m_cr3 >> 12));
	printf("  p2m_vaddr                   %#llx\n", (unsigned long long)a->p2m_vaddr);
	printf("  p2m_generation              %llu\n", (unsigned long long)a->p2m_generation);
}

static void print_platform(struct hosted *h)
{
	struct hosted_stats st;
	char m[32];

	hosted_get_stats(h, &st);
	printf("\nhosted platform:\n");
	printf("  live frames     %llu (%s)\n", (unsigned long long)st.live_frames,
	       mib(st.live_frames * 4096, m, sizeof(m)));
	printf("  L4/L3/L2 frames %llu (platform's page tables)\n", (unsigned long long)st.table_frames);
	printf("  run frames      %llu (%llu runs: copies backing shared windows, platform overhead)\n",
	       (unsigned long long)st.run_frames, (unsigned long long)st.runs);
	printf("  memfd memory    %s (every frame above)\n", mib(st.memfd_bytes, m, sizeof(m)));
	printf("  mappings        %llu of vm.max_map_count %llu\n", (unsigned long long)st.mappings,
	       (unsigned long long)st.map_limit);
}

/* What the toolstack's saver would read, through libp2mread: the list,
 * and the tree when one is published. */
static void print_tools_read(const struct arch_shared_info *a, struct hosted *h)
{
	bool tree = a->pfn_to_mfn_frame_list_list != (xen_pfn_t)P2M_INVALID;

	printf("\ntoolstack read (libp2mread, as the 4.17 saver):\n");
	for (int t = 0; t < (tree ? 2 : 1); t++) {
		struct ts_options o = { .tree_only = t == 1, .max_pfn = a->max_pfn ? a->max_pfn : 1 };
		struct ts_frames fr;
		struct ts_result res;
		struct timespec t0, t1;
		int rc;

		ts_frames_hosted(&fr, h, 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = ts_read_p2m(a, &fr, &o, NULL, NULL, &res);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("  %-4s %#llx of %#llx pfns, %llu frames read, %.3f s%s%s\n", t ? "tree" : "list",
		       (unsigned long long)res.saver_count, (unsigned long long)res.count,
		       (unsigned long long)res.maps,
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		       rc ? ": " : "", rc ? res.error : "");
	}
}

static void print_rss(const char *what, int64_t kib, int64_t base)
{
	printf("  %-34s %9.2f MiB", what, (double)kib / 1024);
	if (base >= 0)
		printf("  (%+.2f MiB)", (double)(kib - base) / 1024);
	printf("\n");
}

/* --- the command --- */

static int run(struct demo *d)
{
	struct hosted *h;
	struct p2m_platform plat;
	struct arch_shared_info arch;
	struct p2m p;
	uint64_t *list, pages = (d->n + P2M_PER_PAGE - 1) / P2M_PER_PAGE;
	xen_pfn_t *frames = NULL;
	int64_t rss0, rss1, rss2, rss3, shm;
	char err[256];
	int rc, status = 0;
	bool held = true;

	print_guest(d);
	rss0 = proc_status_kib("VmRSS");
	h = hosted_create(NULL, err, sizeof(err));
	if (!h) {
		fprintf(stderr, "p2m demo: %s\n", err);
		return 1;
	}
	hosted_platform(h, &plat);
	list = initial_list(d, h, &frames);
	if (!list) {
		fprintf(stderr, "p2m demo: no frames for the initial list of %#llx entries: %s\n",
			(unsigned long long)d->n, hosted_last_error(h));
		hosted_destroy(h);
		return 1;
	}
	rss1 = proc_status_kib("VmRSS");
	memset(&p, 0, sizeof(p));
	rc = p2m_create(&p, &plat, d->cap_pfns, d->tree);
	if (rc) {
		fprintf(stderr, "p2m demo: p2m_create: %s: %s\n", p2m_strerror(rc), p2m_last_error(&p));
		fprintf(stderr, "p2m demo: platform: %s\n", hosted_last_error(h));
		status = 1;
		goto out;
	}
	/* The list's pages become the P2M's leaves; uniform ones are freed. */
	rc = p2m_build_adopt(&p, list, frames, d->n);
	if (rc) {
		fprintf(stderr, "p2m demo: p2m_build_adopt: %s: %s\n", p2m_strerror(rc),
			p2m_last_error(&p));
		fprintf(stderr, "p2m demo: platform: %s\n", hosted_last_error(h));
		status = 1;
		goto out;
	}
	held = false;
	p2m_cover(&p, d->extra_end);
	memset(&arch, 0, sizeof(arch));
	p2m_publish(&p, &arch, !d->tree);
	if (check(d, &p))
		status = 1;
	rss2 = proc_status_kib("VmRSS");
	/* Drop the old mapping, as a guest drops Xen's. */
	hosted_list_unmap(h, list, pages);
	list = NULL;
	rss3 = proc_status_kib("VmRSS");
	shm = proc_status_kib("RssShmem");

	if (d->dump) {
		printf("\np2m layout (end exclusive):\n");
		p2m_dump(&p, 0, out_stdout, NULL);
	}
	print_stats(&p);
	print_shared_info(&arch);
	print_platform(h);
	print_tools_read(&arch, h);
	printf("\nprocess memory (VmRSS):\n");
	print_rss("before", rss0, -1);
	print_rss("with the initial list", rss1, rss0);
	print_rss("after p2m_build_adopt and the check", rss2, rss1);
	print_rss("after unmapping the initial list", rss3, rss0);
	printf("  RSS delta over the build (list adopted, its old mapping gone): %.2f MiB, "
	       "of which shared memory (memfd) %.2f MiB\n",
	       (double)(rss3 - rss0) / 1024, (double)shm / 1024);
	p2m_unpublish(&p);
out:
	if (list) {
		if (held)
			plat.free_frames(plat.ctx, pages, frames);
		hosted_list_unmap(h, list, pages);
	}
	free(frames);
	p2m_destroy(&p);
	hosted_destroy(h);
	return status;
}

int cmd_demo(int argc, char **argv)
{
	struct demo d = { .tree = true, .dump = true };
	int rc = parse(&d, argc, argv);

	if (rc >= 0)
		return rc;
	rc = layout(&d);
	if (rc >= 0)
		return rc;
	return run(&d);
}
