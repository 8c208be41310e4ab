/* `p2m SUBCOMMAND ...`: dispatch to cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Weak, so that the command builds while a subcommand is being written;
 * a missing one is reported, never silently skipped. */
#pragma weak cmd_demo
#pragma weak cmd_e820
#pragma weak cmd_bench
#pragma weak cmd_boot
#pragma weak cmd_sim

struct subcommand {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
};

static const struct subcommand subcommands[] = {
	{ "demo", cmd_demo, "build a hosted P2M for a guest and show its layout and cost" },
	{ "e820", cmd_e820, "plan a P2M from a machine's memory map (dmesg, Xen log, sysfs, JSON)" },
	{ "bench", cmd_bench, "measure lookups, updates, build and memory against baselines" },
	{ "boot", cmd_boot, "boot the PV guest on real Xen under QEMU and report its verdict" },
	{ "sim", cmd_sim, "simulate a PV domain of any size: build, save, restore, migrate, faults" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: p2m SUBCOMMAND [options]   (p2m SUBCOMMAND --help)\n\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-6s %s\n", subcommands[i].name, subcommands[i].what);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
		if (strcmp(argv[1], subcommands[i].name))
			continue;
		if (!subcommands[i].fn) {
			fprintf(stderr, "p2m: subcommand '%s' is not built into this binary\n", argv[1]);
			return 1;
		}
		return subcommands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "p2m: unknown subcommand '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
