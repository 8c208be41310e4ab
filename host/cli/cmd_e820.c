/*
 * `p2m e820`: plan a PV guest's P2M from a real machine's memory map.
 *
 * Flow: read the map (a dmesg, a Xen boot log, /sys/firmware/memmap, a
 * JSON file, or anything pasted: the format is detected), pick one map if
 * the input holds several, plan with libp2m's planner (the same code the
 * guest runs at boot), then print the plan: the sanitised map, what
 * becomes identity, what is remapped where, what is released, what is
 * extra; the P2M layout in the dump format, from a P2M really built on the
 * hosted platform through p2m_e820_apply() (skipped above 128 GiB of RAM,
 * when the layout is printed from the plan instead); and the P2M's cost.
 * --json prints the same as one JSON object, --svg draws it.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/units.h"
#include "e820/e820_parse.h"
#include "e820/e820_report.h"
#include "p2m/dump.h"
#include "p2m/e820.h"
#include "p2m/p2m.h"
#include "platform/hosted.h"

/* Fake machine frames for the guest's RAM in the hosted P2M. */
#define RAM_MFN_BASE ((uint64_t)0x10000000)
/* Build the hosted P2M only up to this many RAM pfns (128 GiB). */
#define HOSTED_MAX_RAM ((uint64_t)1 << 25)

static void usage(FILE *f)
{
	fprintf(f,
"usage: p2m e820 [INPUT | --dmesg FILE | --xen-log FILE | --sysfs DIR |\n"
"                 --sysfs-lines FILE | --json-in FILE] [--map xen|linux|sysfs|N]\n"
"                [--nr-pages SIZE] [--max SIZE] [--dom0 | --domU] [--ibft]\n"
"                [--limit SIZE | --no-limit] [--end SIZE]\n"
"                [--kernel R] [--p2m-list R] [--page-tables R] [--start-info R]\n"
"                [--initrd R] [--json] [--svg FILE] [--no-dump]\n"
"\n"
"Plan the P2M of a 64-bit Xen PV guest from a memory map, with the planner\n"
"the guest runs at boot (libp2m): which pfns become identity (E820 holes,\n"
"non-RAM, everything above the map), which of the frames Xen put under them\n"
"are remapped to RAM above the allocation and where (or released when there\n"
"is no room), what is left for the balloon, and what the P2M costs.\n"
"\n"
"Input (FILE '-' is stdin; INPUT alone: the format is detected):\n"
"  --dmesg FILE       Linux's log: 'BIOS-e820: [mem 0x..-0x..] usable',\n"
"                     'Xen: [mem ...]', old ' BIOS-e820: A - B (usable)'\n"
"  --xen-log FILE     Xen's boot log: '(XEN)  [A, B] (usable)' or older\n"
"                     '(XEN)  A - B (usable)'; may also hold the dom0 kernel's map\n"
"  --sysfs DIR        /sys/firmware/memmap (N/start, N/end, N/type)\n"
"  --sysfs-lines FILE lines '0x100000 0xbffdffff System RAM'\n"
"  --json-in FILE     {\"e820\": [{\"addr\": \"0x0\", \"size\": \"0x9fc00\",\n"
"                     \"type\": \"usable\"}, ...]} (the 'e820' of --json output)\n"
"  --map WHICH        a log with several maps: xen (Xen's own, the default\n"
"                     when present), linux (the first one Linux printed),\n"
"                     sysfs, or its number as listed\n"
"Line prefixes (printk times, '(XEN) [date]', syslog, '> ') are ignored.\n"
"\n"
"Guest (SIZE: bytes with K/M/G/T, e.g. 2G, or a bare number of pages):\n"
"  --nr-pages SIZE    the initial allocation (default: all RAM in the map)\n"
"  --max SIZE         the maximum reservation (default: --nr-pages)\n"
"  --dom0, --domU     whose map this is (default: dom0); dom0 counts E820\n"
"                     'unusable' as RAM and reserves 640K-1M\n"
"  --ibft             dom0: reserve from 512K (the iBFT window of Linux\n"
"                     kernels built with CONFIG_ISCSI_IBFT_FIND, newer than 6.1)\n"
"  --limit SIZE       RAM above it is not used (default: 512G for a domU,\n"
"                     none for dom0, as Linux); --no-limit\n"
"  --end SIZE         plan up to here (default: the map's top, to 1 GiB)\n"
"  --kernel R, --p2m-list R, --page-tables R, --start-info R, --initrd R\n"
"                     where Xen put them, R = START-END (bytes, end\n"
"                     exclusive, as Xen's log prints) or START+SIZE: checked\n"
"                     against the map (the list and initrd may be relocated;\n"
"                     the others under non-RAM are fatal)\n"
"\n"
"Output:\n"
"  --json             everything as one JSON object\n"
"  --svg FILE         the pfn space as coloured bars with a legend\n"
"  --no-dump          leave out the P2M layout\n"
"\n"
"Exit: 0 planned; 1 an error or a fatal conflict (explained); 2 bad usage.\n");
}

struct opts {
	const char *input, *sysfs_dir, *map, *svg;
	enum memmap_format fmt;
	const char *default_map;
	uint64_t nr_pages, max_pages, limit, end;
	bool have_nr, have_max, have_limit, dom0, ibft, json, dump;
	bool xen_view;           /* the map chosen is a PV kernel's "Xen:" one */
	struct p2m_e820_object objects[P2M_E820_NOBJ];
};

/* SIZE: a byte size with a suffix, or a bare number of pages. */
static int pages_arg(const char *opt, const char *s, uint64_t *pages)
{
	char err[160];

	if (parse_pages(s, pages, err, sizeof(err))) {
		fprintf(stderr, "p2m e820: %s: %s\n", opt, err);
		return -1;
	}
	return 0;
}

/* R: START-END or START+SIZE, bytes; pages rounded outward. */
static int parse_object(const char *opt, const char *s, struct p2m_e820_object *o)
{
	char buf[128], err[160];
	const char *sep = strpbrk(s, "-+");
	uint64_t a, b;

	if (!sep || (size_t)(sep - s) >= sizeof(buf)) {
		fprintf(stderr, "p2m e820: %s %s: expected START-END or START+SIZE\n", opt, s);
		return -1;
	}
	memcpy(buf, s, (size_t)(sep - s));
	buf[sep - s] = 0;
	if (parse_size(buf, &a, err, sizeof(err)) ||
	    parse_size(sep + 1, &b, err, sizeof(err))) {
		fprintf(stderr, "p2m e820: %s %s: %s\n", opt, s, err);
		return -1;
	}
	if (*sep == '+')
		b = a + b;
	if (b <= a) {
		fprintf(stderr, "p2m e820: %s %s: empty range\n", opt, s);
		return -1;
	}
	o->pfn = a >> 12;
	o->count = ((b + 4095) >> 12) - o->pfn;
	return 0;
}

enum { O_DMESG = 256, O_XEN, O_SYSFS, O_SYSFS_LINES, O_JSON_IN, O_MAP, O_NR,
       O_MAX, O_DOM0, O_DOMU, O_LIMIT, O_NOLIMIT, O_END, O_JSON, O_SVG,
       O_NODUMP, O_IBFT, O_OBJ };
static const struct option long_opts[] = {
	{ "dmesg", required_argument, 0, O_DMESG },
	{ "xen-log", required_argument, 0, O_XEN },
	{ "sysfs", required_argument, 0, O_SYSFS },
	{ "sysfs-lines", required_argument, 0, O_SYSFS_LINES },
	{ "json-in", required_argument, 0, O_JSON_IN },
	{ "map", required_argument, 0, O_MAP },
	{ "nr-pages", required_argument, 0, O_NR },
	{ "max", required_argument, 0, O_MAX },
	{ "dom0", no_argument, 0, O_DOM0 },
	{ "domU", no_argument, 0, O_DOMU },
	{ "domu", no_argument, 0, O_DOMU },
	{ "limit", required_argument, 0, O_LIMIT },
	{ "no-limit", no_argument, 0, O_NOLIMIT },
	{ "end", required_argument, 0, O_END },
	{ "json", no_argument, 0, O_JSON },
	{ "svg", required_argument, 0, O_SVG },
	{ "no-dump", no_argument, 0, O_NODUMP },
	{ "ibft", no_argument, 0, O_IBFT },
	{ "kernel", required_argument, 0, O_OBJ + P2M_E820_OBJ_KERNEL },
	{ "p2m-list", required_argument, 0, O_OBJ + P2M_E820_OBJ_P2M_LIST },
	{ "page-tables", required_argument, 0, O_OBJ + P2M_E820_OBJ_PAGE_TABLES },
	{ "start-info", required_argument, 0, O_OBJ + P2M_E820_OBJ_START_INFO },
	{ "initrd", required_argument, 0, O_OBJ + P2M_E820_OBJ_INITRD },
	{ "help", no_argument, 0, 'h' },
	{ 0, 0, 0, 0 },
};

/* One option: 0, or -1 on bad usage (said). */
static int set_opt(int c, const char *arg, struct opts *o, int *inputs)
{
	switch (c) {
	case 'h':
		usage(stdout);
		exit(0);
	case O_DMESG:
	case O_XEN:
	case O_SYSFS_LINES:
	case O_JSON_IN:
		o->input = arg;
		o->fmt = c == O_JSON_IN ? MEMMAP_FMT_JSON :
			 c == O_SYSFS_LINES ? MEMMAP_FMT_SYSFS : MEMMAP_FMT_LOG;
		o->default_map = c == O_DMESG ? "linux" : c == O_XEN ? "xen" : NULL;
		(*inputs)++;
		break;
	case O_SYSFS:
		o->sysfs_dir = arg;
		(*inputs)++;
		break;
	case O_MAP:
		o->map = arg;
		break;
	case O_NR:
		if (pages_arg("--nr-pages", arg, &o->nr_pages))
			return -1;
		o->have_nr = true;
		break;
	case O_MAX:
		if (pages_arg("--max", arg, &o->max_pages))
			return -1;
		o->have_max = true;
		break;
	case O_DOM0:
	case O_DOMU:
		o->dom0 = c == O_DOM0;
		break;
	case O_LIMIT:
		if (pages_arg("--limit", arg, &o->limit))
			return -1;
		if (!o->limit) {
			fprintf(stderr, "p2m e820: --limit 0: use --no-limit\n");
			return -1;
		}
		o->have_limit = true;
		break;
	case O_NOLIMIT:
		o->limit = 0;
		o->have_limit = true;
		break;
	case O_END:
		if (pages_arg("--end", arg, &o->end))
			return -1;
		break;
	case O_JSON:
		o->json = true;
		break;
	case O_SVG:
		o->svg = arg;
		break;
	case O_NODUMP:
		o->dump = false;
		break;
	case O_IBFT:
		o->ibft = true;
		break;
	default:
		if (c >= O_OBJ && c < O_OBJ + P2M_E820_NOBJ) {
			static const char *const names[P2M_E820_NOBJ] = {
				"--kernel", "--p2m-list", "--page-tables",
				"--start-info", "--initrd",
			};

			if (parse_object(names[c - O_OBJ], arg,
					 &o->objects[c - O_OBJ]))
				return -1;
			break;
		}
		usage(stderr);
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c, inputs = 0;

	memset(o, 0, sizeof(*o));
	o->dom0 = true;
	o->dump = true;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
		if (set_opt(c, optarg, o, &inputs))
			return -1;
	if (optind < argc) {
		if (optind + 1 < argc) {
			fprintf(stderr, "p2m e820: one input only ('%s' is extra)\n", argv[optind + 1]);
			return -1;
		}
		o->input = argv[optind];
		o->fmt = MEMMAP_FMT_AUTO;
		inputs++;
	}
	if (inputs != 1) {
		fprintf(stderr, inputs ? "p2m e820: give one input, not %d\n" :
			"p2m e820: no input (a file, '-', --sysfs DIR, ...; see --help)\n", inputs);
		return -1;
	}
	return 0;
}

static void fmt_size(uint64_t pfns, char *buf, size_t n)
{
	format_bytes(pfns << 12, buf, n);
}

static void print_ranges(const char *title, const struct p2m_e820_range *r, size_t n,
			 bool cat)
{
	char sz[32];

	printf("%s (%zu):%s\n", title, n, n ? "" : " none");
	for (size_t i = 0; i < n; i++) {
		fmt_size(r[i].end - r[i].start, sz, sizeof(sz));
		printf("  [%#" PRIx64 "->%#" PRIx64 "]  %" PRIu64 " pfns (%s)%s%s\n",
		       r[i].start, r[i].end, r[i].end - r[i].start, sz, cat ? "  " : "",
		       cat ? p2m_e820_category_name((enum p2m_e820_category)r[i].kind) : "");
	}
}

static void out_stdout(void *arg, const char *s, size_t n)
{
	(void)arg;
	fwrite(s, 1, n, stdout);
}

/* The layout in the dump format, from the plan (when no P2M is built). */
static void dump_from_plan(const struct p2m_e820_plan *p)
{
	static const char *const names[] = { "pfn", "missing", "identity", "pfn" };
	uint64_t s = 0;
	int k = -1;

	for (size_t i = 0; i <= p->nr_layout; i++) {
		int ki = i < p->nr_layout ?
			 (int)plan_category_kind((enum p2m_e820_category)p->layout[i].kind) : -2;

		if (ki == k)
			continue;
		if (k >= 0)
			printf(" [%#" PRIx64 "->%#" PRIx64 "] %s\n", s, p->layout[i - 1].end, names[k]);
		if (i < p->nr_layout)
			s = p->layout[i].start;
		k = ki;
	}
}

/* Build the P2M on the hosted platform: identity and missing through
 * p2m_e820_apply(), RAM with fake mfns, remap targets with the mfns of
 * their sources. Prints the dump and the measured cost. */
static int build_hosted(const struct p2m_e820_plan *p, bool dump)
{
	struct p2m_platform plat;
	struct hosted *h;
	struct p2m_stats st;
	struct p2m pm;
	char err[256], sz[32];
	uint64_t cap = p2m_window_pfn(p2m_windows_for(p->end));
	int rc;

	h = hosted_create(NULL, err, sizeof(err));
	if (!h) {
		fprintf(stderr, "p2m e820: hosted platform: %s\n", err);
		return -1;
	}
	hosted_platform(h, &plat);
	rc = p2m_create(&pm, &plat, cap, true);
	if (rc) {
		fprintf(stderr, "p2m e820: p2m_create: %s: %s\n", p2m_strerror(rc), p2m_last_error(&pm));
		hosted_destroy(h);
		return -1;
	}
	rc = p2m_e820_apply(&pm, p);
	for (size_t i = 0; !rc && i < p->nr_layout; i++) {
		const struct p2m_e820_range *r = &p->layout[i];

		if (r->kind != P2M_E820_C_RAM)
			continue;
		for (uint64_t q = r->start; !rc && q < r->end; q++)
			rc = p2m_set(&pm, q, RAM_MFN_BASE + q);
	}
	for (size_t i = 0; !rc && i < p->nr_remap; i++)
		for (uint64_t k = 0; !rc && k < p->remap[i].count; k++)
			rc = p2m_set(&pm, p->remap[i].dst + k, RAM_MFN_BASE + p->remap[i].src + k);
	if (rc) {
		fprintf(stderr, "p2m e820: building the P2M: %s: %s\n", p2m_strerror(rc),
			p2m_last_error(&pm));
		p2m_destroy(&pm);
		hosted_destroy(h);
		return -1;
	}
	if (dump) {
		printf("\nP2M layout (a P2M built on the hosted platform, p2m_dump):\n");
		p2m_dump(&pm, p->end, out_stdout, NULL);
	}
	p2m_get_stats(&pm, &st);
	printf("\nP2M memory, measured (libp2m's statistics): %s: %" PRIu64 " private leaves, "
	       "%" PRIu64 " private tables, %" PRIu64 " frame lists, %" PRIu64 " meta pages, "
	       "%" PRIu64 " shared pages\n", format_bytes(st.bytes, sz, sizeof(sz)),
	       st.private_leaves, st.private_tables, st.mid_pages, st.meta_pages, st.shared_pages);
	p2m_destroy(&pm);
	hosted_destroy(h);
	return 0;
}

static void print_text(const struct opts *o, const struct p2m_e820_input *in,
		       const struct p2m_e820_plan *p, const struct plan_cost *cost,
		       const char *why)
{
	char a[32], b[32], c[32], tb[24], msg[256];

	printf("input: %s\n", why);
	if (o->xen_view)
		printf("note: a \"Xen: [mem ...]\" map is what a PV kernel made of Xen's map: RAM\n"
		       "      beyond its allocation and remap room is already cut off. Prefer Xen's\n"
		       "      own map (--map xen) or pass the allocation with --nr-pages.\n");
	printf("\nsanitised map (%zu ranges; %zu input entries dropped as empty or "
	       "smaller than a page):\n", p->nr_map, p->dropped);
	for (size_t i = 0; i < p->nr_map; i++) {
		fmt_size(p->map[i].end - p->map[i].start, a, sizeof(a));
		printf("  [mem 0x%016" PRIx64 "-0x%016" PRIx64 "] %-20s pfns [%#" PRIx64 "->%#"
		       PRIx64 "] %s\n", p->map[i].start << 12, (p->map[i].end << 12) - 1,
		       p2m_e820_type_name(p->map[i].kind, tb, sizeof(tb)), p->map[i].start,
		       p->map[i].end, a);
	}
	fmt_size(p->nr_pages, a, sizeof(a));
	fmt_size(p->max_pages, b, sizeof(b));
	fmt_size(p->end, c, sizeof(c));
	printf("\nplan: %s, nr_pages %#" PRIx64 " (%s), max %#" PRIx64 " (%s), ",
	       in->dom0 ? "dom0" : "domU", p->nr_pages, a, p->max_pages, b);
	if (p->limit) {
		fmt_size(p->limit, a, sizeof(a));
		printf("limit %#" PRIx64 " (%s)", p->limit, a);
	} else {
		printf("no limit");
	}
	printf(", planned [0, %#" PRIx64 ") (%s)\n", p->end, c);
	for (int k = 0; k < P2M_E820_NCAT; k++) {
		fmt_size(p->pfns[k], a, sizeof(a));
		printf("  %-13s %12" PRIu64 " pfns  %s\n",
		       p2m_e820_category_name((enum p2m_e820_category)k), p->pfns[k], a);
	}
	printf("  Linux would log: \"Released %" PRIu64 " page(s)\", \"Remapped %" PRIu64
	       " page(s)\"", p->pfns[P2M_E820_C_RELEASED] + p->pfns[P2M_E820_C_TRIMMED],
	       p->pfns[P2M_E820_C_REMAP_DST]);
	if (p->nr_moved)
		printf(", \"Remapped %" PRIu64 " non-RAM page(s)\" (6.12 and later)",
		       p->pfns[P2M_E820_C_NVS_MOVED]);
	printf("\n");
	printf("\n");
	print_ranges("identity ranges", p->identity, p->nr_identity, false);
	printf("remap (%zu):%s\n", p->nr_remap, p->nr_remap ? "" : " none");
	for (size_t i = 0; i < p->nr_remap; i++)
		printf("  frames of [%#" PRIx64 "->%#" PRIx64 "] move to [%#" PRIx64 "->%#"
		       PRIx64 "]  %" PRIu64 " pages\n", p->remap[i].src,
		       p->remap[i].src + p->remap[i].count, p->remap[i].dst,
		       p->remap[i].dst + p->remap[i].count, p->remap[i].count);
	for (size_t i = 0; i < p->nr_moved; i++)
		printf("ACPI NVS [%#" PRIx64 "->%#" PRIx64 "] moved to pfns [%#" PRIx64 "->%#"
		       PRIx64 "] (Linux 6.12: it lay under the kernel, its page tables or start_info)\n",
		       p->moved[i].src, p->moved[i].src + p->moved[i].count, p->moved[i].dst,
		       p->moved[i].dst + p->moved[i].count);
	print_ranges("released to Xen", p->release, p->nr_release, true);
	print_ranges("extra (balloon, missing)", p->extra, p->nr_extra, false);
	printf("conflicts (%zu):%s\n", p->nr_conflicts, p->nr_conflicts ? "" :
	       " none (or no --kernel/--p2m-list/... given)");
	for (size_t i = 0; i < p->nr_conflicts; i++) {
		p2m_e820_describe_conflict(&p->conflicts[i], msg, sizeof(msg));
		printf("  %s: %s\n", p->conflicts[i].action == P2M_E820_RELOCATE ?
		       "relocate" : "FATAL", msg);
	}
	printf("\nP2M memory, estimated from the plan: %s: %" PRIu64 " of %" PRIu64 " slots private, "
	       "%" PRIu64 " of %" PRIu64 " windows split, %s of kind map and window records\n",
	       format_bytes(cost->bytes, a, sizeof(a)), cost->private_leaves, cost->slots,
	       cost->private_windows, cost->windows,
	       format_bytes(cost->meta_bytes, c, sizeof(c)));
	printf("  Linux's list for the same plan: %" PRIu64 " private leaves, %" PRIu64 " split "
	       "windows: %s (it gives balloon space private leaves), against %s for ours\n",
	       cost->linux_leaves, cost->linux_windows,
	       format_bytes(cost->linux_bytes, b, sizeof(b)),
	       format_bytes(cost->bytes - cost->meta_bytes, a, sizeof(a)));
}

/* Read and parse the input into maps: 0, or 1 (said). */
static int read_maps(const struct opts *o, struct memmaps *maps, char **text)
{
	const char *name = o->sysfs_dir ? o->sysfs_dir : o->input;
	struct memmap_error perr;
	size_t len = 0;
	int rc;

	if (o->sysfs_dir) {
		rc = memmap_parse_sysfs_dir(o->sysfs_dir, maps, &perr);
	} else {
		rc = memmap_read_file(o->input, text, &len);
		if (rc) {
			fprintf(stderr, "p2m e820: %s: %s\n", o->input, strerror(-rc));
			return 1;
		}
		rc = memmap_parse(*text, len, o->fmt, maps, &perr);
	}
	if (!rc)
		return 0;
	if (perr.line)
		fprintf(stderr, "p2m e820: %s:%u: %s\n    %s\n", name, perr.line, perr.msg, perr.text);
	else
		fprintf(stderr, "p2m e820: %s: %s\n", name,
			rc == -P2M_EPARSE ? perr.msg : p2m_strerror(rc));
	return 1;
}

/* The planner's input from the options and the chosen map. */
static void setup_input(const struct opts *o, const struct memmap *map,
			struct p2m_e820_input *in)
{
	p2m_e820_input_init(in, o->dom0);
	in->ibft = o->ibft;
	in->map = map->entries;
	in->nr_map = map->n;
	if (o->have_limit)
		in->limit = o->limit;
	in->end = o->end;
	memcpy(in->objects, o->objects, sizeof(in->objects));
}

/* First pass: sanitise alone to size the lists and, without --nr-pages,
 * count the map's RAM. Leaves p->map allocated. 0, or an exit code (said). */
static int first_pass(const struct opts *o, struct p2m_e820_input *in, struct p2m_e820_plan *p)
{
	size_t n = P2M_E820_MAP_CAP(in->nr_map);
	int rc;

	p2m_e820_plan_init(p, calloc(n, sizeof(struct p2m_e820_range)), n);
	if (!p->map) {
		fprintf(stderr, "p2m e820: out of memory\n");
		return 1;
	}
	rc = p2m_e820_sanitize(in, p);
	if (rc) {
		fprintf(stderr, "p2m e820: %s: %s\n", p2m_strerror(rc), p->error);
		return 1;
	}
	if (o->have_nr) {
		in->nr_pages = o->nr_pages;
	} else {
		for (size_t i = 0; i < p->nr_map; i++)
			if (p->map[i].kind == P2M_E820_RAM)
				in->nr_pages += p->map[i].end - p->map[i].start;
		if (!in->dom0 && in->limit && in->nr_pages > in->limit)
			in->nr_pages = in->limit;
	}
	in->max_pages = o->have_max ? o->max_pages : in->nr_pages;
	/* A P2M ends at 128 TiB at most; above it every pfn is identity. */
	if (!in->end && p->map_top > P2M_CAPACITY_MAX) {
		in->end = P2M_CAPACITY_MAX;
		fprintf(stderr, "p2m e820: the map reaches pfn %#llx; planning up to 128 TiB, "
			"the largest P2M\n", (unsigned long long)p->map_top);
	}
	if (in->nr_pages > P2M_CAPACITY_MAX || in->max_pages > P2M_CAPACITY_MAX ||
	    in->end > P2M_CAPACITY_MAX) {
		fprintf(stderr, "p2m e820: --nr-pages, --max and --end are at most 128T (%#llx pages)\n",
			(unsigned long long)P2M_CAPACITY_MAX);
		return 2;
	}
	return 0;
}

/* The plan's lists: every list has at most one range per map range and
 * cut (moved NVS ranges cut twice each), and the remap list one per
 * source/target stretch. 0 or -1. */
static int alloc_lists(struct p2m_e820_plan *p)
{
	size_t n = 3 * p->nr_map + 8 + 4 * P2M_E820_MAX_MOVED;

	p->layout = calloc(n, sizeof(*p->layout));
	p->identity = calloc(n, sizeof(*p->identity));
	p->release = calloc(n, sizeof(*p->release));
	p->extra = calloc(n, sizeof(*p->extra));
	p->remap = calloc(2 * n, sizeof(*p->remap));
	p->conflicts = calloc(P2M_E820_NOBJ, sizeof(*p->conflicts));
	p->layout_cap = p->identity_cap = p->release_cap = p->extra_cap = n;
	p->remap_cap = 2 * n;
	p->conflicts_cap = P2M_E820_NOBJ;
	if (!p->layout || !p->identity || !p->release || !p->extra || !p->remap || !p->conflicts) {
		fprintf(stderr, "p2m e820: out of memory\n");
		return -1;
	}
	return 0;
}

static void free_lists(struct p2m_e820_plan *p)
{
	free(p->map);
	free(p->layout);
	free(p->identity);
	free(p->release);
	free(p->extra);
	free(p->remap);
	free(p->conflicts);
}

/* --svg FILE: 0 or -1 (said). */
static int write_svg(const struct opts *o, const struct p2m_e820_input *in,
		     const struct p2m_e820_plan *p, const char *label)
{
	FILE *f = fopen(o->svg, "w");
	char title[400];

	if (!f) {
		perror(o->svg);
		return -1;
	}
	snprintf(title, sizeof(title), "%s, nr_pages %#" PRIx64 ", %s: %s",
		 in->dom0 ? "dom0" : "domU", in->nr_pages,
		 o->sysfs_dir ? o->sysfs_dir : o->input, label);
	plan_write_svg(f, p, title);
	if (fclose(f)) {
		perror(o->svg);
		return -1;
	}
	return 0;
}

/* The text report, the layout (from a hosted P2M when it is small enough)
 * and the plan's error if it had a fatal conflict (rc). 0 or -1. */
static int write_text(const struct opts *o, const struct p2m_e820_input *in,
		      const struct p2m_e820_plan *p, const struct plan_cost *cost,
		      const char *why, int rc)
{
	print_text(o, in, p, cost, why);
	if (o->dump || !rc) {
		uint64_t ram = p->pfns[P2M_E820_C_RAM] + p->pfns[P2M_E820_C_REMAP_DST];

		if (ram <= HOSTED_MAX_RAM && p->end <= P2M_CAPACITY_MAX) {
			if (build_hosted(p, o->dump))
				return -1;
		} else if (o->dump) {
			printf("\nP2M layout (from the plan; %" PRIu64 " RAM pfns are too many "
			       "to build here):\n", ram);
			dump_from_plan(p);
		}
	}
	if (rc)
		fprintf(stderr, "p2m e820: %s\n", p->error);
	return 0;
}

/* Plan and report the chosen map: the exit code. */
static int plan_map(struct opts *o, const struct memmap *map, const char *why)
{
	struct p2m_e820_input in;
	struct p2m_e820_plan p;
	struct plan_cost cost;
	int rc, ret;

	setup_input(o, map, &in);
	ret = first_pass(o, &in, &p);
	if (!ret)
		ret = alloc_lists(&p) ? 1 : 0;
	if (ret) {
		free_lists(&p);
		return ret;
	}
	rc = p2m_e820_plan(&in, &p);
	if (rc && rc != -P2M_ECONFLICT) {
		fprintf(stderr, "p2m e820: %s: %s\n", p2m_strerror(rc), p.error);
		free_lists(&p);
		return 1;
	}
	plan_cost(&p, p.end <= P2M_TREE_PFNS, &cost);
	if (o->svg && write_svg(o, &in, &p, map->label)) {
		free_lists(&p);
		return 1;
	}
	ret = rc ? 1 : 0;
	if (o->json)
		plan_write_json(stdout, &in, &p, &cost, why, rc);
	else if (write_text(o, &in, &p, &cost, why, rc))
		ret = 1;
	free_lists(&p);
	return ret;
}

int cmd_e820(int argc, char **argv)
{
	struct memmaps maps = { 0 };
	struct opts o;
	char why[256], *text = NULL;
	size_t idx;
	int ret = 1;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (read_maps(&o, &maps, &text))
		goto out;
	if (memmaps_select(&maps, o.map ? o.map : o.default_map, &idx, why, sizeof(why))) {
		fprintf(stderr, "p2m e820: %s\n", why);
		ret = 2;
		goto out;
	}
	o.xen_view = maps.v[idx].origin == MEMMAP_ORIGIN_LINUX && !strcmp(maps.v[idx].label, "Xen");
	if (maps.v[idx].n > P2M_E820_MAX_ENTRIES) {
		fprintf(stderr, "p2m e820: the map has %zu entries, at most %u are planned\n",
			maps.v[idx].n, P2M_E820_MAX_ENTRIES);
		goto out;
	}
	ret = plan_map(&o, &maps.v[idx], why);
out:
	memmaps_free(&maps);
	free(text);
	return ret;
}
