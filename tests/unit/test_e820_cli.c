/*
 * `p2m e820` end to end: the built command (helper_cli.h) run on the sample
 * logs. Its text names Linux's remap counts for the three QEMU boots; its
 * JSON reads back through the parser; --svg writes a picture; garbage and
 * bad usage give the documented exit codes and messages.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "e820/e820_parse.h"
#include "helper_cli.h"

/* `p2m e820 ARGS`: every call below passes its format as a literal. */
#define run(out, ...) cli_run((out), "e820 " __VA_ARGS__)

static void qemu_counts(void **state)
{
	static const struct {
		const char *file, *nr, *line;
	} cases[] = {
		{ "qemu-2g-dom0-1g.log", "1G", "\"Remapped 97 page(s)\"" },
		{ "qemu-6g-dom0-5g.log", "5GiB", "\"Remapped 262273 page(s)\"" },   /* 5GiB: bytes, as 5G */
		{ "qemu-64g-dom0-62g.log", "62G", "\"Remapped 262273 page(s)\"" },
	};
	char *out;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(run(&out, "%s --nr-pages %s", cases[i].file, cases[i].nr), 0);
		assert_non_null(strstr(out, cases[i].line));
		assert_non_null(strstr(out, "\"Released 0 page(s)\""));
		assert_non_null(strstr(out, "Xen-e820 RAM map"));
		assert_non_null(strstr(out, "P2M layout (a P2M built on the hosted platform"));
		assert_non_null(strstr(out, " [0x9f->0x100] identity\n"));
		free(out);
		/* The dom0 kernel's own map gives the same count. */
		assert_int_equal(run(&out, "--dmesg %s --nr-pages %s --no-dump", cases[i].file,
				     cases[i].nr), 0);
		assert_non_null(strstr(out, cases[i].line));
		assert_non_null(strstr(out, "linux map \"Xen\""));
		free(out);
	}
	/* Newer Linux's iBFT window (512K-640K): 31 pages more remapped. */
	assert_int_equal(run(&out, "qemu-6g-dom0-5g.log --nr-pages 5G --no-dump --ibft"), 0);
	assert_non_null(strstr(out, "\"Remapped 262304 page(s)\""));
	free(out);
	/* ACPI NVS under dom0's kernel moves (Linux 6.12). */
	assert_int_equal(run(&out, "nvs-under-kernel.json --nr-pages 1G --no-dump "
			     "--kernel 0x3f00000+0x200000"), 0);
	assert_non_null(strstr(out, "ACPI NVS [0x4000->0x4100] moved to pfns [0x7ff00->0x80000]"));
	assert_non_null(strstr(out, "conflicts (0): none"));
	assert_non_null(strstr(out, "\"Remapped 256 non-RAM page(s)\""));
	free(out);
	/* A domU's stays a fatal conflict. */
	assert_int_equal(run(&out, "nvs-under-kernel.json --domU --nr-pages 1G --no-dump "
			     "--kernel 0x3f00000+0x200000"), 1);
	assert_non_null(strstr(out, "kernel [mem 0x3f00000-0x40fffff] lies under E820 ACPI NVS"));
	free(out);
}

static void json_and_svg(void **state)
{
	struct memmaps m = { 0 };
	struct memmap_error err;
	char *out, svg[] = "/tmp/test_e820_cli_XXXXXX";
	int fd = mkstemp(svg);
	FILE *f;
	char buf[64] = "";

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(run(&out, "qemu-6g-dom0-5g.log --nr-pages 5G --max 6G --json --svg %s",
			     svg), 0);
	assert_non_null(strstr(out, "\"remapped\": 262273"));
	assert_non_null(strstr(out, "\"status\": \"ok\""));
	assert_int_equal(memmap_parse(out, strlen(out), MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.v[0].n, 8);
	memmaps_free(&m);
	free(out);
	f = fopen(svg, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_non_null(strstr(buf, "<svg"));
	unlink(svg);
}

static void errors_and_usage(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(run(&out, "garbage-dmesg.txt"), 1);
	assert_non_null(strstr(out, "garbage-dmesg.txt:2:"));
	assert_non_null(strstr(out, "zzzz"));
	free(out);
	assert_int_equal(run(&out, "syslog.txt --kernel 0xbff00000-0xc0100000 --no-dump"), 1);
	assert_non_null(strstr(out, "kernel [mem 0xbff00000-0xc00fffff] lies under E820 reserved"));
	free(out);
	assert_int_equal(run(&out, "qemu-6g-dom0-5g.log --map 7"), 2);
	assert_non_null(strstr(out, "maps 1 to 4"));
	free(out);
	assert_int_equal(run(&out, "--nr-pages 1G"), 2);
	assert_non_null(strstr(out, "no input"));
	free(out);
	assert_int_equal(run(&out, "syslog.txt --nr-pages lots"), 2);
	free(out);
	assert_int_equal(run(&out, "--help"), 0);
	assert_non_null(strstr(out, "usage: p2m e820"));
	free(out);
	assert_int_equal(run(&out, "--sysfs sysfs --domU --no-dump"), 0);
	assert_non_null(strstr(out, "plan: domU"));
	free(out);
}

/* A map in a scratch file: its path, in `path` (PATH_MAX). */
static void scratch_map(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/p2m-e820-cli.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Inputs a new user tries: each bad one is named, with exit 1 (the
 * input) or 2 (the options), never a crash or a wrapped number. */
static void odd_inputs(void **state)
{
	char huge[64], noram[64];

	(void)state;
	/* RAM to the top of the address space, no --nr-pages: the default
	 * allocation is the RAM the plan covers (128 TiB less dom0's
	 * 640K-1M), not an error about options the user never gave. */
	scratch_map(huge, "{\"e820\": [{\"addr\": \"0x0\", \"size\": \"0xffffffffffffffff\", "
		    "\"type\": \"usable\"}]}\n");
	cli_expect(0, "nr_pages 0x7ffffffa0 (128.00 TiB)", "e820 %s --no-dump", huge);
	/* --end without --nr-pages: the RAM below it. */
	cli_expect(0, "nr_pages 0x3ff9f (1023.62 MiB)", "e820 qemu-6g-dom0-5g.log --end 1G --no-dump");
	/* No RAM at all: nothing to plan. */
	scratch_map(noram, "BIOS-e820: [mem 0x0000000000000000-0x000000003fffffff] reserved\n");
	cli_expect(1, "no RAM in the map", "e820 %s", noram);
	unlink(noram);
	scratch_map(noram, "{\"e820\": []}\n");
	cli_expect(1, "no RAM in the map", "e820 - < %s", noram);
	unlink(noram);
	scratch_map(noram, "BIOS-e820: [mem 0x0000900000000000-0x00009000ffffffff] usable\n");
	cli_expect(1, "no RAM in the map below 128 TiB: nothing to plan", "e820 %s", noram);
	cli_expect(1, "no RAM in the map below --end: nothing to plan", "e820 %s --end 1T", noram);
	cli_expect(2, "--nr-pages 0: a guest has at least one page", "e820 syslog.txt --nr-pages 0");
	cli_expect(2, "--end 0: leave --end out", "e820 syslog.txt --end 0");
	/* Ranges of Xen's objects at the top of the address space. */
	cli_expect(2, "--kernel 0x1000+0xffffffffffffffff: runs past the top of the address space",
		   "e820 syslog.txt --kernel 0x1000+0xffffffffffffffff");
	cli_expect(1, "kernel pfns [0xfffffffffffff, +0x1)",
		   "e820 syslog.txt --kernel 0xfffffffffffff000-0xffffffffffffffff");
	/* Endless input: refused at a size no memory map reaches. */
	cli_expect(1, "/dev/zero: more than 256 MiB", "e820 /dev/zero");
	/* A log that holds no map of the kind asked for. */
	cli_expect(2, "syslog.txt holds no xen map", "e820 --xen-log syslog.txt");
	unlink(huge);
	unlink(noram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_counts),
		cmocka_unit_test(json_and_svg),
		cmocka_unit_test(errors_and_usage),
		cmocka_unit_test(odd_inputs),
	};

	return cmocka_run_group_tests(tests, cli_setup, NULL);
}
