/*
 * `p2m boot`: boot the PV guest as dom0 on real Xen 4.17 under QEMU (TCG)
 * and return its verdict.
 *
 * It builds nothing. It finds the guest ELF (by default in the build tree
 * beside this binary: guest/guest.elf and its INIT_P2M and high variants)
 * and the hypervisor image that scripts/get-xen.sh leaves in
 * cache/xen/xen, then runs QEMU's multiboot loader on Xen with the guest
 * as its first module (and --module as the second, e.g. an initrd):
 *
 *   qemu-system-x86_64 -accel tcg -nographic -no-reboot -m MEM -kernel XEN
 *     -append "console=com1 com1=115200 dom0_mem=... loglvl=all ..."
 *     -initrd "GUEST ARGS" -device isa-debug-exit,iobase=0xf4,iosize=0x04
 *
 * Large guests use a lazily backed RAM object (reserve=off) so that QEMU
 * does not commit host memory Xen never touches, and more than ~1 TiB needs
 * 42 physical address bits because QEMU moves high RAM above the AMD
 * HyperTransport hole (xen-lab.md §4).
 *
 * The console is streamed with host timestamps (common/vmrun) and read by
 * common/bootlog. The run passes only when the guest printed its closing
 * "N passed, 0 failed" line with N > 0 AND left QEMU through isa-debug-exit
 * with its success code. Large boots (over 64 GiB) take a host-wide lock
 * first, so two of them (each up to ~17 GB of host RAM) never run at once,
 * whoever starts them. A Xen panic, a dom0 crash, a timeout or a missing
 * verdict fail with a message saying which. Exit codes: 0 pass, 1 fail,
 * 2 usage, 77 when Xen or QEMU is not provisioned (CTest skips on it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/bootlog.h"
#include "common/vmrun.h"

#define BOOT_EXIT_SKIP 77
#define BIGMEM_THRESHOLD (64 * GIB)
#define BIGMEM_LOCK "/tmp/p2m-boot-bigmem.lock"
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

/*
 * The guest's isa-debug-exit convention (guest/README.md): it writes
 * BOOT_DEBUG_EXIT_PASS when every check passed and another value when not;
 * QEMU then exits with status (value << 1) | 1.
 */
#define BOOT_DEBUG_EXIT_PASS 0x10

struct boot_opts {
	uint64_t mem;
	const char *dom0_mem;  /* verbatim Xen syntax, NULL = derived from mem */
	bool init_p2m, high;
	const char *machine;
	const char *guest, *xen;
	double timeout;        /* 0 = derived from mem */
	const char *log;
	const char *args, *xen_args;
	const char *module;    /* a second multiboot module (dom0's initrd) */
	const char *expect[8]; /* console substrings that must appear */
	int n_expect;
	bool dry_run, quiet;
	bool clean_log;        /* fail on Xen's warnings about the guest */
	bool clean_domu;       /* ... about a domU only (a Linux dom0 is not ours) */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: p2m boot [options]\n"
		"Boot the PV guest as dom0 on Xen 4.17 under QEMU (TCG) and return its verdict.\n\n"
		"  --mem SIZE           machine RAM (default 2G; K/M/G/T suffixes, binary)\n"
		"  --dom0-mem SPEC      Xen dom0_mem, e.g. 512M or 1G,max:2G\n"
		"                       (default: SIZE less max(SIZE/32, 256M))\n"
		"  --init-p2m           the image with XEN_ELFNOTE_INIT_P2M (guest-initp2m.elf)\n"
		"  --high               the image with VIRT_BASE 0xffffffff80000000\n"
		"                       (guest-high.elf; with --init-p2m guest-high-initp2m.elf)\n"
		"  --machine pc|q35     QEMU machine type (default pc)\n"
		"  --guest ELF          guest kernel (default: guest/ in the build tree)\n"
		"  --xen PATH           Xen image (default: $P2M_XEN, else cache/xen/xen\n"
		"                       from scripts/get-xen.sh, $P2M_CACHE overrides cache/)\n"
		"  --timeout S          kill QEMU after S seconds (default 60 + 0.3 per GiB of SIZE)\n"
		"  --log FILE           also write the timestamped console to FILE\n"
		"  --args \"...\"         guest command line\n"
		"  --xen-args \"...\"     extra Xen command line options\n"
		"  --module FILE        a second boot module (an initrd for a Linux dom0 given\n"
		"                       as --guest; see scripts/toolstack.sh)\n"
		"  --expect TEXT        fail unless a console line contains TEXT (up to 8)\n"
		"  --clean-xen-log[=domu]  fail if Xen logs a warning about what a guest (or only\n"
		"                       a domU) did; a debug Xen prints them. $P2M_CLEAN_XEN_LOG\n"
		"                       set (to 1, or domu) is the default\n"
		"  --quiet              do not stream the console (summary only)\n"
		"  --dry-run            print the QEMU command line and exit\n"
		"  --help               this text\n\n"
		"Boots over 64 GiB take a host-wide lock (%s, or $P2M_BIGMEM_LOCK) so that\n"
		"two never run at once; each needs ~13-17 MB of host RAM per GiB.\n"
		"Exit status: 0 guest passed, 1 failed (verdict, Xen panic, dom0 crash, timeout),\n"
		"2 bad usage, 77 QEMU or Xen not provisioned (run scripts/get-xen.sh).\n",
		BIGMEM_LOCK);
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "p2m boot: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "4G", "512M", "1T", "65536K", "4GiB": binary units, no suffix = bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024; end++; break;
	case 'm': case 'M': mul = MIB; end++; break;
	case 'g': case 'G': mul = GIB; end++; break;
	case 't': case 'T': mul = 1024 * GIB; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (mul > 1 && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* dom0_mem is passed to Xen verbatim; check its shape so a typo fails here
 * with a message rather than as a Xen default: items "SIZE", "min:SIZE",
 * "max:SIZE", separated by commas. */
static int check_dom0_mem(const char *spec)
{
	char buf[256];
	if (strlen(spec) >= sizeof(buf) || !*spec)
		return -1;
	strcpy(buf, spec);
	for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (!strncmp(it, "min:", 4) || !strncmp(it, "max:", 4))
			it += 4;
		if (parse_size(it, &v) || v == 0)
			return -1;
	}
	return 0;
}

/* out = a + "/" + b; false when it does not fit. */
static bool join(char *out, size_t n, const char *a, const char *b)
{
	int len = snprintf(out, n, "%s/%s", a, b);
	return len >= 0 && (size_t)len < n;
}

static bool is_file(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	if (!path)
		return false;
	for (const char *p = path; *p;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p += n + (c ? 1 : 0);
	}
	return false;
}

/* The directory that holds this binary (the build tree), or "." */
static void self_dir(char *dir, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", dir, n - 1);
	if (len <= 0) {
		snprintf(dir, n, ".");
		return;
	}
	dir[len] = '\0';
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
}

/* Find NAME in the build tree: DIR/guest/NAME, then DIR/NAME. */
static bool find_guest(const char *name, char *out, size_t n)
{
	char dir[PATH_MAX];
	const char *env = getenv("P2M_GUEST_DIR");
	if (env)
		return join(out, n, env, name) && is_file(out);
	self_dir(dir, sizeof(dir));
	char sub[64];
	if (join(sub, sizeof(sub), "guest", name) && join(out, n, dir, sub) && is_file(out))
		return true;
	return join(out, n, dir, name) && is_file(out);
}

/* $P2M_CACHE/xen/xen, else cache/xen/xen in this binary's directory or one
 * of its parents (the build tree sits in the repo), else from the cwd up. */
static bool find_xen(char *out, size_t n)
{
	const char *env = getenv("P2M_CACHE");
	if (env)
		return join(out, n, env, "xen/xen") && is_file(out);
	char start[2][PATH_MAX];
	self_dir(start[0], sizeof(start[0]));
	if (!getcwd(start[1], sizeof(start[1])))
		snprintf(start[1], sizeof(start[1]), ".");
	for (int s = 0; s < 2; s++) {
		char *dir = start[s];
		for (int up = 0; up < 4; up++) {
			if (join(out, n, dir, "cache/xen/xen") && is_file(out))
				return true;
			char *slash = strrchr(dir, '/');
			if (!slash || slash == dir)
				break;
			*slash = '\0';
		}
	}
	snprintf(out, n, "cache/xen/xen");
	return false;
}

/* Append printf output to a growing argument string. */
static void sappend(char *buf, size_t n, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + len, len < n ? n - len : 0, fmt, ap);
	va_end(ap);
}

/* QEMU's -initrd list separates modules with commas; a comma inside one is
 * written twice. */
static void qemu_escape_commas(char *dst, size_t n, const char *src)
{
	size_t j = 0;
	for (; *src && j + 2 < n; src++) {
		dst[j++] = *src;
		if (*src == ',')
			dst[j++] = ',';
	}
	dst[j] = '\0';
}

struct watch {
	struct bootlog log;
	FILE *logf;
	bool quiet;
	const struct boot_opts *o;
	bool found[8];         /* which --expect texts were seen */
};

static bool on_line(void *ctx, double t, const char *line)
{
	struct watch *w = ctx;
	if (!w->quiet) {
		printf("[%8.3f] %s\n", t, line);
		fflush(stdout);
	}
	if (w->logf) {
		fprintf(w->logf, "[%8.3f] %s\n", t, line);
		fflush(w->logf);
	}
	for (int i = 0; i < w->o->n_expect; i++)
		if (!w->found[i] && strstr(line, w->o->expect[i]))
			w->found[i] = true;
	/* Stop as soon as Xen says nothing more will come (dom0 halted,
	 * crashed, or a panic's reboot countdown): Xen merely halts, and a
	 * reboot countdown is 5 s of nothing. */
	return bootlog_line(&w->log, line) != BOOTLOG_FINAL;
}

static int parse_opts(int argc, char **argv, struct boot_opts *o)
{
	enum { O_MEM = 256, O_DOM0, O_INIT, O_HIGH, O_MACH, O_GUEST, O_XEN, O_TMO, O_LOG,
	       O_ARGS, O_XARGS, O_MOD, O_EXPECT, O_DRY, O_QUIET, O_HELP, O_CLEAN };
	static const struct option lo[] = {
		{ "mem", required_argument, 0, O_MEM },
		{ "dom0-mem", required_argument, 0, O_DOM0 },
		{ "init-p2m", no_argument, 0, O_INIT },
		{ "high", no_argument, 0, O_HIGH },
		{ "machine", required_argument, 0, O_MACH },
		{ "guest", required_argument, 0, O_GUEST },
		{ "xen", required_argument, 0, O_XEN },
		{ "timeout", required_argument, 0, O_TMO },
		{ "log", required_argument, 0, O_LOG },
		{ "args", required_argument, 0, O_ARGS },
		{ "xen-args", required_argument, 0, O_XARGS },
		{ "module", required_argument, 0, O_MOD },
		{ "expect", required_argument, 0, O_EXPECT },
		{ "dry-run", no_argument, 0, O_DRY },
		{ "quiet", no_argument, 0, O_QUIET },
		{ "help", no_argument, 0, O_HELP },
		{ "clean-xen-log", optional_argument, 0, O_CLEAN },
		{ 0, 0, 0, 0 },
	};
	o->mem = 2 * GIB;
	o->machine = "pc";
	o->args = "";
	o->xen_args = "";
	const char *clean = getenv("P2M_CLEAN_XEN_LOG");
	o->clean_log = clean != NULL;
	o->clean_domu = clean && !strcmp(clean, "domu");
	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, "h", lo, NULL);
		if (c < 0)
			break;
		char *end;
		switch (c) {
		case O_MEM:
			if (parse_size(optarg, &o->mem) || o->mem < 64 * MIB || o->mem % MIB) {
				fail("--mem '%s': want a size of at least 64M in whole MiB (e.g. 4G)", optarg);
				return 2;
			}
			break;
		case O_DOM0:
			if (check_dom0_mem(optarg)) {
				fail("--dom0-mem '%s': want SIZE, or items SIZE/min:SIZE/max:SIZE joined by commas", optarg);
				return 2;
			}
			o->dom0_mem = optarg;
			break;
		case O_INIT: o->init_p2m = true; break;
		case O_HIGH: o->high = true; break;
		case O_MACH:
			if (strcmp(optarg, "pc") && strcmp(optarg, "q35")) {
				fail("--machine '%s': want pc or q35", optarg);
				return 2;
			}
			o->machine = optarg;
			break;
		case O_GUEST: o->guest = optarg; break;
		case O_XEN: o->xen = optarg; break;
		case O_TMO:
			errno = 0;
			o->timeout = strtod(optarg, &end);
			if (errno || *end || !(o->timeout > 0)) {
				fail("--timeout '%s': want a positive number of seconds", optarg);
				return 2;
			}
			break;
		case O_LOG: o->log = optarg; break;
		case O_ARGS: o->args = optarg; break;
		case O_XARGS: o->xen_args = optarg; break;
		case O_MOD: o->module = optarg; break;
		case O_EXPECT:
			if (o->n_expect == (int)(sizeof(o->expect) / sizeof(o->expect[0])) || !*optarg) {
				fail("--expect: at most 8, each non-empty");
				return 2;
			}
			o->expect[o->n_expect++] = optarg;
			break;
		case O_DRY: o->dry_run = true; break;
		case O_QUIET: o->quiet = true; break;
		case O_CLEAN:
			if (optarg && strcmp(optarg, "domu")) {
				fail("--clean-xen-log='%s': the only value is domu", optarg);
				return 2;
			}
			o->clean_log = true;
			o->clean_domu = optarg && !strcmp(optarg, "domu");
			break;
		case O_HELP: case 'h': usage(stdout); return -1;
		default:
			fail("unknown or incomplete option '%s' (see p2m boot --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fail("unexpected argument '%s' (see p2m boot --help)", argv[optind]);
		return 2;
	}
	return 0;
}

/* MemAvailable from /proc/meminfo in KiB, or -1. */
static long long mem_available_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * Serialise large boots on this host: an exclusive flock on a well-known
 * file (P2M_BIGMEM_LOCK overrides), held until this process exits. Waiting
 * is announced; the run's timeout starts after the lock is taken. Returns
 * the fd (kept open), or -1 when locking is impossible (then we go on).
 */
static int take_bigmem_lock(uint64_t mem)
{
	const char *path = getenv("P2M_BIGMEM_LOCK") ? getenv("P2M_BIGMEM_LOCK") : BIGMEM_LOCK;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		fail("warning: cannot open the large-boot lock %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		printf("p2m boot: another large boot holds %s; waiting for it to finish\n", path);
		fflush(stdout);
		while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
			;
	}
	/* Xen's frame table, M2P and the guest's P2M cost ~13-17 MB per GiB. */
	long long avail = mem_available_kib();
	unsigned long long need_mb = (unsigned long long)(mem / GIB) * 17;
	if (avail >= 0 && (unsigned long long)avail / 1024 < need_mb)
		printf("p2m boot: warning: this boot may need ~%llu MB of host RAM; %lld MB available\n",
		       need_mb, avail / 1024);
	return fd;
}

/* Print a size the way Xen and QEMU read it, in the largest exact unit. */
static void fmt_size(char *buf, size_t n, uint64_t v)
{
	if (v % (1024 * GIB) == 0)
		snprintf(buf, n, "%" PRIu64 "T", v / (1024 * GIB));
	else if (v % GIB == 0)
		snprintf(buf, n, "%" PRIu64 "G", v / GIB);
	else
		snprintf(buf, n, "%" PRIu64 "M", v / MIB);
}

static void print_cmd(FILE *f, char **argv)
{
	for (int i = 0; argv[i]; i++) {
		bool q = strpbrk(argv[i], " \",=") && strchr(argv[i], ' ');
		fprintf(f, i ? (q ? " \"%s\"" : " %s") : "%s", argv[i]);
	}
	fputc('\n', f);
}

int cmd_boot(int argc, char **argv)
{
	struct boot_opts o = { 0 };
	int rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;

	/* The guest image. */
	char guest[PATH_MAX];
	const char *gname = o.high ? (o.init_p2m ? "guest-high-initp2m.elf" : "guest-high.elf")
				   : (o.init_p2m ? "guest-initp2m.elf" : "guest.elf");
	if (o.guest) {
		snprintf(guest, sizeof(guest), "%s", o.guest);
		if (!is_file(guest)) {
			fail("guest kernel '%s' not found", guest);
			return 1;
		}
	} else if (!find_guest(gname, guest, sizeof(guest))) {
		fail("guest kernel %s not found (looked in guest/ beside this binary: build the "
		     "'guest' directory, or give --guest ELF)", gname);
		return 1;
	}
	if (strchr(guest, ' ')) {
		fail("guest path '%s' contains a space, which QEMU's module list cannot carry", guest);
		return 2;
	}

	if (o.module && (!is_file(o.module) || strchr(o.module, ' '))) {
		fail("--module '%s': %s", o.module, is_file(o.module) ? "path contains a space" : "not found");
		return 1;
	}

	/* Xen and QEMU: missing means "not provisioned", which tests skip on. */
	char xen[PATH_MAX];
	if (o.xen) {
		snprintf(xen, sizeof(xen), "%s", o.xen);
		if (!is_file(xen)) {
			fail("Xen image '%s' not found", xen);
			return BOOT_EXIT_SKIP;
		}
	} else if (getenv("P2M_XEN")) {
		snprintf(xen, sizeof(xen), "%s", getenv("P2M_XEN"));
		if (!is_file(xen)) {
			fail("Xen image '%s' (from P2M_XEN) not found", xen);
			return BOOT_EXIT_SKIP;
		}
	} else if (!find_xen(xen, sizeof(xen))) {
		fail("Xen image not found (%s): run scripts/get-xen.sh first", xen);
		return BOOT_EXIT_SKIP;
	}
	const char *qemu = "qemu-system-x86_64";
	if (!o.dry_run && !on_path(qemu)) {
		fail("%s not found on PATH: run scripts/get-xen.sh (installs qemu-system-x86)", qemu);
		return BOOT_EXIT_SKIP;
	}

	/* Memory: dom0 gets all but a slice Xen keeps for itself by default. */
	char mem[32], dom0[64];
	fmt_size(mem, sizeof(mem), o.mem);
	if (o.dom0_mem) {
		snprintf(dom0, sizeof(dom0), "%s", o.dom0_mem);
	} else {
		uint64_t keep = o.mem / 32 > 256 * MIB ? o.mem / 32 : 256 * MIB;
		keep = (keep + MIB - 1) / MIB * MIB;
		if (keep >= o.mem) {
			fail("--mem %s leaves no room for dom0 by default: give --dom0-mem", mem);
			return 2;
		}
		fmt_size(dom0, sizeof(dom0), o.mem - keep);
	}
	double timeout = o.timeout ? o.timeout : 60.0 + 0.3 * (double)(o.mem / GIB);

	char append[1024] = "", initrd[PATH_MAX * 3 + 1024] = "", mod[PATH_MAX + 512];
	sappend(append, sizeof(append),
		"console=com1 com1=115200 dom0_mem=%s loglvl=all guest_loglvl=all bootscrub=false%s%s",
		dom0, *o.xen_args ? " " : "", o.xen_args);
	snprintf(mod, sizeof(mod), "%s%s%s", guest, *o.args ? " " : "", o.args);
	qemu_escape_commas(initrd, sizeof(initrd), mod);
	if (o.module) {
		char m2[PATH_MAX * 2];
		qemu_escape_commas(m2, sizeof(m2), o.module);
		sappend(initrd, sizeof(initrd), ",%s", m2);
	}

	/* Large memory: lazily backed RAM (reserve=off); above ~1 TiB QEMU
	 * relocates high RAM to 1 TiB, past the default 40 address bits. */
	bool big = o.mem > 16 * GIB;
	char machine[128], backend[128];
	snprintf(machine, sizeof(machine), "%s%s", o.machine, big ? ",memory-backend=m0" : "");
	snprintf(backend, sizeof(backend), "memory-backend-ram,id=m0,size=%s,reserve=off", mem);
	char *qa[40];
	int n = 0;
	qa[n++] = (char *)qemu;
	qa[n++] = "-accel";
	qa[n++] = "tcg";
	qa[n++] = "-nographic";
	qa[n++] = "-no-reboot";
	qa[n++] = "-machine";
	qa[n++] = machine;
	qa[n++] = "-m";
	qa[n++] = mem;
	if (big) {
		qa[n++] = "-object";
		qa[n++] = backend;
	}
	if (o.mem > 900 * GIB) {
		qa[n++] = "-cpu";
		qa[n++] = "qemu64,phys-bits=42";
	}
	qa[n++] = "-kernel";
	qa[n++] = xen;
	qa[n++] = "-append";
	qa[n++] = append;
	qa[n++] = "-initrd";
	qa[n++] = initrd;
	qa[n++] = "-device";
	qa[n++] = "isa-debug-exit,iobase=0xf4,iosize=0x04";
	qa[n] = NULL;

	if (o.dry_run) {
		print_cmd(stdout, qa);
		return 0;
	}
	printf("p2m boot: %s, machine %s, dom0_mem=%s, guest %s, timeout %g s\n", mem, o.machine,
	       dom0, guest, timeout);
	printf("p2m boot: ");
	print_cmd(stdout, qa);
	fflush(stdout);

	int lock_fd = o.mem > BIGMEM_THRESHOLD ? take_bigmem_lock(o.mem) : -1;
	struct watch w = { .quiet = o.quiet, .o = &o, .log.warn_from_domid = o.clean_domu };
	if (o.log) {
		w.logf = fopen(o.log, "w");
		if (!w.logf) {
			fail("cannot write log '%s': %s", o.log, strerror(errno));
			return 1;
		}
	}
	struct vmrun_result r;
	if (vmrun(qa, timeout, on_line, &w, &r) != 0) {
		fail("cannot start %s: %s", qemu, strerror(errno));
		if (w.logf)
			fclose(w.logf);
		return 1;
	}
	if (w.logf)
		fclose(w.logf);
	if (lock_fd >= 0)
		close(lock_fd); /* the next large boot may start */
	if (!r.started) {
		fail("cannot run %s: %s", qemu, strerror(r.errno_exec));
		return r.errno_exec == ENOENT ? BOOT_EXIT_SKIP : 1;
	}

	/* The verdict. */
	const struct bootlog *b = &w.log;
	bool debug_exit = r.exited && (r.exit_status & 1);
	int code = debug_exit ? r.exit_status >> 1 : -1;
	char why[512] = "";
	if (r.interrupted_by)
		snprintf(why, sizeof(why), "interrupted (signal %d); QEMU ended", r.interrupted_by);
	else if (b->xen_panic)
		snprintf(why, sizeof(why), "Xen panic: %s", b->panic_reason[0] ? b->panic_reason : "(no reason printed)");
	else if (b->guest_panic[0])
		snprintf(why, sizeof(why), "the guest panicked: %s", b->guest_panic);
	else if (b->dom0_crashed)
		snprintf(why, sizeof(why), "dom0 crashed (Xen: \"%s\")", b->dom0_end);
	else if (r.timed_out)
		snprintf(why, sizeof(why), "timeout after %g s: QEMU killed (%s)", timeout,
			 !b->dom0_started ? "Xen never started dom0" :
			 !b->guest_lines ? "the guest printed nothing" :
			 b->have_verdict ? "after the guest's verdict" : "the guest gave no verdict");
	else if (!b->have_verdict)
		snprintf(why, sizeof(why), "no \"N passed, N failed\" line from the guest (%s)",
			 !b->dom0_started ? "Xen never started dom0" :
			 !b->guest_lines ? "the guest printed nothing" :
			 b->dom0_ended ? b->dom0_end : "it stopped early");
	else if (b->failed > 0 || b->passed <= 0)
		snprintf(why, sizeof(why), "the guest reported %ld passed, %ld failed", b->passed, b->failed);
	else if (!debug_exit)
		snprintf(why, sizeof(why), "the guest passed but did not leave through isa-debug-exit (%s)",
			 b->dom0_ended ? b->dom0_end : "QEMU ended otherwise");
	else if (code != BOOT_DEBUG_EXIT_PASS)
		snprintf(why, sizeof(why), "the guest passed its checks but wrote 0x%x to isa-debug-exit (pass is 0x%x)",
			 code, BOOT_DEBUG_EXIT_PASS);

	if (!why[0] && o.clean_log && b->guest_warnings)
		snprintf(why, sizeof(why), "Xen logged %lu warning(s) about the guest, the first: %s",
			 b->guest_warnings, b->guest_warning);
	for (int i = 0; i < o.n_expect && !why[0]; i++)
		if (!w.found[i])
			snprintf(why, sizeof(why), "no console line contains the expected \"%s\"", o.expect[i]);

	printf("p2m boot: guest: ");
	if (b->have_verdict)
		printf("%ld passed, %ld failed", b->passed, b->failed);
	else
		printf("no verdict");
	printf("; QEMU: ");
	if (r.exited)
		printf("exit status %d%s", r.exit_status, debug_exit ? "" : " (not via isa-debug-exit)");
	else
		printf("killed by signal %d", r.term_signal);
	if (debug_exit)
		printf(" (isa-debug-exit 0x%x)", code);
	printf("\np2m boot: wall %.2f s, QEMU peak RSS %.1f MiB\n", r.wall_seconds, (double)r.peak_rss_kib / 1024.0);
	if (why[0]) {
		printf("p2m boot: FAIL: %s\n", why);
		return 1;
	}
	printf("p2m boot: PASS\n");
	return 0;
}
