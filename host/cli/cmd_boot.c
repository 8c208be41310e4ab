/*
 * `p2m boot`: boot the PV guest as dom0 on real Xen 4.17 under QEMU (TCG)
 * and return its verdict.
 *
 * It builds nothing. It finds the guest ELF (by default in the build tree
 * beside this binary: guest/guest.elf and its INIT_P2M and high variants)
 * and the hypervisor image that scripts/get-xen.sh leaves in
 * cache/xen/xen, then runs QEMU's multiboot loader on Xen with the guest
 * as its first module (and --module as the second, e.g. an initrd).
 *
 * The steps, each in a piece of its own under common/:
 *   options      parse_opts() here: the command line into struct boot_opts
 *   image choice choose_images() here, with common/bootimage: guest, Xen, QEMU
 *   sizing       size_machine() here, with common/bootqemu: RAM, dom0_mem, timeout
 *   QEMU line    common/bootqemu: bootqemu_build(), pure
 *   the lock     common/bootlock: large boots (over 64 GiB) one at a time
 *   the run      run_qemu() here: common/vmrun streams the console with host
 *                timestamps, common/bootlog reads it; QEMU's VmHWM is read
 *                when Xen hands over to dom0, so the peak RSS splits into
 *                what Xen and QEMU hold before dom0 runs and what dom0 adds
 *   the verdict  common/bootverdict: bootverdict(), pure
 *
 * The run passes only when the guest printed its closing "N passed, 0
 * failed" line with N > 0 AND left QEMU through isa-debug-exit with its
 * success code. A Xen panic, a dom0 crash, a timeout or a missing verdict
 * fail with a message saying which. Exit codes: 0 pass, 1 fail, 2 usage,
 * 77 when Xen or QEMU is not provisioned (CTest skips on it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "common/bootimage.h"
#include "common/bootlock.h"
#include "common/bootlog.h"
#include "common/bootqemu.h"
#include "common/bootverdict.h"
#include "common/procstat.h"
#include "common/units.h"
#include "common/vmrun.h"

#define BOOT_EXIT_SKIP 77

struct boot_opts {
	uint64_t mem;
	const char *dom0_mem;  /* verbatim Xen syntax, NULL = derived from mem */
	bool init_p2m, high;
	const char *machine;
	const char *cpu;       /* QEMU -cpu MODEL, NULL = QEMU's default */
	const char *guest, *xen;
	double timeout;        /* 0 = derived from mem */
	const char *log;
	const char *args, *xen_args;
	const char *module;    /* a second multiboot module (dom0's initrd) */
	struct boot_expect expect; /* console substrings that must appear */
	bool dry_run, quiet;
	bool clean_domu;       /* --clean-xen-log=domu: a Linux dom0's warnings are not ours */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: p2m boot [options]\n"
		"Boot the PV guest as dom0 on Xen 4.17 under QEMU (TCG) and return its verdict.\n\n"
		"  --mem SIZE           machine RAM (default 2G; decimal or 0x hex, K/M/G/T\n"
		"                       suffixes, binary: 4G, 4GiB, 0x100000000)\n"
		"  --dom0-mem SPEC      Xen dom0_mem, e.g. 512M or 1G,max:2G\n"
		"                       (default: SIZE less max(SIZE/32, 256M))\n"
		"  --init-p2m           the image with XEN_ELFNOTE_INIT_P2M (guest-initp2m.elf)\n"
		"  --high               the image with VIRT_BASE 0xffffffff80000000\n"
		"                       (guest-high.elf; with --init-p2m guest-high-initp2m.elf)\n"
		"  --machine pc|q35     QEMU machine type (default pc)\n"
		"  --cpu MODEL          QEMU -cpu MODEL, e.g. qemu64,+pdpe1gb (1 GiB pages:\n"
		"                       Xen then maps a large INIT_P2M list with them)\n"
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
		"                       set (to 1, or domu) is the default; a warning containing\n"
		"                       one of the '|'-separated texts of $P2M_XEN_LOG_ALLOW\n"
		"                       (one the run provoked on purpose) is not counted\n"
		"  --quiet              do not stream the console (summary only)\n"
		"  --dry-run            print the QEMU command line and exit\n"
		"  --help               this text\n\n"
		"Boots over 64 GiB take a host-wide lock (%s, or $P2M_BIGMEM_LOCK) so that\n"
		"two never run at once; each needs ~13-17 MB of host RAM per GiB.\n"
		"The summary gives QEMU's peak RSS, and that peak when Xen handed over to\n"
		"dom0 (the rest is what the guest added).\n"
		"Exit status: 0 guest passed, 1 failed (verdict, Xen panic, dom0 crash, timeout),\n"
		"2 bad usage, 77 QEMU or Xen not provisioned (run scripts/get-xen.sh).\n",
		BOOTLOCK_PATH);
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

/* dom0_mem is passed to Xen verbatim; check its shape so a typo fails here
 * with a message rather than as a Xen default: items "SIZE", "min:SIZE",
 * "max:SIZE", separated by commas. */
static int check_dom0_mem(const char *spec)
{
	char buf[256], err[160];

	if (strlen(spec) >= sizeof(buf) || !*spec)
		return -1;
	strcpy(buf, spec);
	for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (!strncmp(it, "min:", 4) || !strncmp(it, "max:", 4))
			it += 4;
		if (parse_size(it, &v, err, sizeof(err)) || v == 0)
			return -1;
	}
	return 0;
}

enum { O_MEM = 256, O_DOM0, O_INIT, O_HIGH, O_MACH, O_CPU, O_GUEST, O_XEN, O_TMO, O_LOG,
       O_ARGS, O_XARGS, O_MOD, O_EXPECT, O_DRY, O_QUIET, O_HELP, O_CLEAN };

static const struct option long_opts[] = {
	{ "mem", required_argument, 0, O_MEM },
	{ "dom0-mem", required_argument, 0, O_DOM0 },
	{ "init-p2m", no_argument, 0, O_INIT },
	{ "high", no_argument, 0, O_HIGH },
	{ "machine", required_argument, 0, O_MACH },
	{ "cpu", required_argument, 0, O_CPU },
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

/* The options that take a value to check: 0, or 2 (bad usage, said). */
static int parse_value(int c, const char *arg, struct boot_opts *o)
{
	char err[160], *end;

	switch (c) {
	case O_MEM:
		if (parse_size(arg, &o->mem, err, sizeof(err)) || o->mem < 64 * BOOT_MIB ||
		    o->mem % BOOT_MIB) {
			fail("--mem '%s': want a size of at least 64M in whole MiB (e.g. 4G)", arg);
			return 2;
		}
		if (o->mem > BOOTQEMU_MAX_MEM) {
			fail("--mem '%s': at most %lluT (x86-64's 52 physical address bits, RAM "
			     "above 4 GiB starting at 1 TiB)", arg,
			     (unsigned long long)(BOOTQEMU_MAX_MEM >> 40));
			return 2;
		}
		return 0;
	case O_DOM0:
		if (check_dom0_mem(arg)) {
			fail("--dom0-mem '%s': want SIZE, or items SIZE/min:SIZE/max:SIZE joined by commas", arg);
			return 2;
		}
		o->dom0_mem = arg;
		return 0;
	case O_MACH:
		if (strcmp(arg, "pc") && strcmp(arg, "q35")) {
			fail("--machine '%s': want pc or q35", arg);
			return 2;
		}
		o->machine = arg;
		return 0;
	case O_TMO:
		errno = 0;
		o->timeout = strtod(arg, &end);
		if (errno || *end || !(o->timeout > 0)) {
			fail("--timeout '%s': want a positive number of seconds", arg);
			return 2;
		}
		return 0;
	case O_EXPECT:
		if (o->expect.n == BOOT_MAX_EXPECT || !*arg) {
			fail("--expect: at most %d, each non-empty", BOOT_MAX_EXPECT);
			return 2;
		}
		o->expect.text[o->expect.n++] = arg;
		return 0;
	case O_ARGS:
		/* Xen copies the guest's command line into start_info.cmd_line
		 * (MAX_GUEST_CMDLINE bytes with its NUL) and cuts the rest. */
		if (strlen(arg) >= 1024) {
			fail("--args: %zu characters; a PV guest's command line "
			     "(start_info.cmd_line) holds at most 1023", strlen(arg));
			return 2;
		}
		o->args = arg;
		return 0;
	case O_CPU:
		if (!*arg) {
			fail("--cpu '': want a QEMU CPU model, e.g. qemu64,+pdpe1gb");
			return 2;
		}
		o->cpu = arg;
		return 0;
	}
	return 0;
}

/* 0 to go on, -1 after --help, 2 on bad usage (said). */
static int parse_opts(int argc, char **argv, struct boot_opts *o)
{
	o->mem = 2 * BOOT_GIB;
	o->machine = "pc";
	o->args = "";
	const char *clean = getenv("P2M_CLEAN_XEN_LOG");
	o->expect.clean_log = clean != NULL;
	o->clean_domu = clean && !strcmp(clean, "domu");
	o->xen_args = "";
	optind = 1;
	opterr = 0;
	for (int c, rc; (c = getopt_long(argc, argv, "h", long_opts, NULL)) >= 0;) {
		switch (c) {
		case O_MEM: case O_DOM0: case O_MACH: case O_TMO: case O_EXPECT: case O_ARGS:
		case O_CPU:
			if ((rc = parse_value(c, optarg, o)))
				return rc;
			break;
		case O_INIT: o->init_p2m = true; break;
		case O_HIGH: o->high = true; break;
		case O_GUEST: o->guest = optarg; break;
		case O_XEN: o->xen = optarg; break;
		case O_LOG: o->log = optarg; break;
		case O_XARGS: o->xen_args = optarg; break;
		case O_MOD: o->module = optarg; break;
		case O_DRY: o->dry_run = true; break;
		case O_QUIET: o->quiet = true; break;
		case O_CLEAN:
			if (optarg && strcmp(optarg, "domu")) {
				fail("--clean-xen-log='%s': the only value is domu", optarg);
				return 2;
			}
			o->expect.clean_log = true;
			o->clean_domu = optarg != NULL;
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

/* The Xen image: --xen, $P2M_XEN, else the cache. 0 or BOOT_EXIT_SKIP. */
static int choose_xen(const struct boot_opts *o, char *xen, size_t n)
{
	const char *given = o->xen ? o->xen : getenv("P2M_XEN");

	if (given) {
		snprintf(xen, n, "%s", given);
		if (bootimage_is_file(xen))
			return 0;
		fail("Xen image '%s'%s not found", xen, o->xen ? "" : " (from P2M_XEN)");
		return BOOT_EXIT_SKIP;
	}
	if (!bootimage_find_xen(xen, n)) {
		fail("Xen image not found (%s): run scripts/get-xen.sh first", xen);
		return BOOT_EXIT_SKIP;
	}
	return 0;
}

/* Image choice: the guest, the module, Xen and QEMU. Missing Xen or QEMU
 * means "not provisioned", which tests skip on. 0 or an exit code. */
static int choose_images(const struct boot_opts *o, char *guest, char *xen, size_t n)
{
	const char *gname = bootimage_guest_name(o->init_p2m, o->high);

	if (o->guest) {
		snprintf(guest, n, "%s", o->guest);
		if (!bootimage_is_file(guest)) {
			fail("guest kernel '%s' not found", guest);
			return 1;
		}
	} else if (!bootimage_find_guest(gname, guest, n)) {
		fail("guest kernel %s not found (looked in guest/ beside this binary: build the "
		     "'guest' directory, or give --guest ELF)", gname);
		return 1;
	}
	if (strchr(guest, ' ')) {
		fail("guest path '%s' contains a space, which QEMU's module list cannot carry", guest);
		return 2;
	}
	if (o->module && (!bootimage_is_file(o->module) || strchr(o->module, ' '))) {
		fail("--module '%s': %s", o->module,
		     bootimage_is_file(o->module) ? "path contains a space" : "not found");
		return 1;
	}
	int rc = choose_xen(o, xen, n);
	if (rc)
		return rc;
	if (!o->dry_run && !bootimage_on_path("qemu-system-x86_64")) {
		fail("qemu-system-x86_64 not found on PATH: run scripts/get-xen.sh (installs qemu-system-x86)");
		return BOOT_EXIT_SKIP;
	}
	return 0;
}

/* Sizing: dom0's share and the timeout. 0 or 2 (said). */
static int size_machine(const struct boot_opts *o, char *dom0, size_t n, double *timeout)
{
	if (o->dom0_mem) {
		snprintf(dom0, n, "%s", o->dom0_mem);
	} else if (!bootqemu_default_dom0(o->mem, dom0, n)) {
		char mem[32];

		bootqemu_fmt_size(mem, sizeof(mem), o->mem);
		fail("--mem %s leaves no room for dom0 by default: give --dom0-mem", mem);
		return 2;
	}
	*timeout = o->timeout ? o->timeout : bootqemu_default_timeout(o->mem);
	return 0;
}

struct watch {
	struct bootlog log;
	FILE *logf;
	bool quiet;
	struct boot_expect expect;
	const struct vmrun_result *run; /* for QEMU's pid */
	int64_t handover_hwm_kib;       /* QEMU's VmHWM at Xen's hand-over to dom0, or 0 */
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
	boot_expect_line(&w->expect, line);
	bool started = w->log.dom0_started;
	bool go_on = bootlog_line(&w->log, line) != BOOTLOG_FINAL;

	/* What Xen and QEMU hold before dom0 runs its first instruction (Xen
	 * jumps to it right after this line): the rest of the peak is dom0's. */
	if (!started && w->log.dom0_started && w->run->pid > 0)
		w->handover_hwm_kib = proc_pid_status_kib(w->run->pid, "VmHWM");
	/* Stop as soon as Xen says nothing more will come (dom0 halted,
	 * crashed, or a panic's reboot countdown): Xen merely halts, and a
	 * reboot countdown is 5 s of nothing. */
	return go_on;
}

/* The run, under the large-boot lock when it needs it: 0, or an exit code
 * (said) when QEMU could not run at all. */
static int run_qemu(const struct boot_opts *o, char **argv, double timeout, struct watch *w,
		    struct vmrun_result *r)
{
	int lock_fd = o->mem > BOOTLOCK_THRESHOLD ? bootlock_take(o->mem) : -1;
	int rc = 0;

	if (o->log && !(w->logf = fopen(o->log, "w"))) {
		fail("cannot write log '%s': %s", o->log, strerror(errno));
		rc = 1;
	} else if (vmrun(argv, timeout, on_line, w, r) != 0) {
		fail("cannot start %s: %s", argv[0], strerror(errno));
		rc = 1;
	} else if (!r->started) {
		fail("cannot run %s: %s", argv[0], strerror(r->errno_exec));
		rc = r->errno_exec == ENOENT ? BOOT_EXIT_SKIP : 1;
	}
	if (w->logf)
		fclose(w->logf);
	if (lock_fd >= 0)
		close(lock_fd); /* the next large boot may start */
	return rc;
}

int cmd_boot(int argc, char **argv)
{
	struct boot_opts o = { 0 };
	char guest[PATH_MAX], xen[PATH_MAX], dom0[64], why[512];
	static struct bootqemu q;
	struct vmrun_result r;
	struct watch w = { 0 };
	double timeout;
	int rc = parse_opts(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = choose_images(&o, guest, xen, sizeof(guest))) ||
	    (rc = size_machine(&o, dom0, sizeof(dom0), &timeout)))
		return rc;
	const struct boot_machine m = {
		.qemu = "qemu-system-x86_64", .machine = o.machine, .mem = o.mem,
		.dom0_mem = dom0, .xen = xen, .guest = guest, .args = o.args,
		.xen_args = o.xen_args, .module = o.module, .cpu = o.cpu,
	};
	if (!bootqemu_build(&m, &q)) {
		fail("the QEMU command line is too long (--args, --xen-args or a path)");
		return 2;
	}
	if (o.dry_run) {
		bootqemu_print(stdout, q.argv);
		return 0;
	}
	printf("p2m boot: %s, machine %s, dom0_mem=%s, guest %s, timeout %g s\n", q.mem, o.machine,
	       dom0, guest, timeout);
	printf("p2m boot: ");
	bootqemu_print(stdout, q.argv);
	fflush(stdout);

	w.quiet = o.quiet;
	w.expect = o.expect;
	w.log.warn_from_domid = o.clean_domu; /* domu: from domain 1 on */
	w.log.warn_allow = getenv("P2M_XEN_LOG_ALLOW"); /* provoked on purpose */
	w.run = &r;
	if ((rc = run_qemu(&o, q.argv, timeout, &w, &r)))
		return rc;
	bool pass = bootverdict(&w.log, &r, timeout, &w.expect, why, sizeof(why));
	bootverdict_print(stdout, &w.log, &r, pass, why);
	if (w.handover_hwm_kib > 0)
		printf("p2m boot: QEMU peak RSS at Xen's hand-over to dom0 %.1f MiB; dom0 added %.1f MiB\n",
		       (double)w.handover_hwm_kib / 1024.0,
		       (double)(r.peak_rss_kib - w.handover_hwm_kib) / 1024.0);
	return pass ? 0 : 1;
}
