/*
 * `p2m demo`, `p2m bench` and `p2m boot` end to end with the inputs a new
 * user tries (`p2m e820`'s are in test_e820_cli.c, `p2m boot`'s sizing in
 * test_bootqemu.c): every bad value is refused with exit 2 and a message
 * naming the option and what is wrong (never a crash or a sanitizer
 * report, which would give another exit status), and unusual but valid
 * guests (one page of RAM, RAM that is no multiple of 2 MiB, a hole at
 * pfn 0) are built and checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_cli.h"

/* `p2m demo --no-dump ARGS` exits with `code` and says `text`. */
static void expect(int code, const char *text, const char *args)
{
	cli_expect(code, text, "demo --no-dump %s", args);
}

static void bad_values(void **state)
{
	(void)state;
	expect(2, "--ram SIZE is required", "");
	expect(2, "--ram SIZE is required", "--ram 0");
	expect(2, "--ram: size: expected a number", "--ram -1");
	expect(2, "is not a multiple of 4 KiB", "--ram 4097");
	expect(2, "is too large", "--ram 0x10000000000000000");
	expect(2, "start is not below end", "--ram 1G --holes 0x100-0x100");
	expect(2, "exceeds libp2m's maximum", "--ram 129T");
	expect(2, "--capacity must not be 0", "--ram 1G --capacity 0");
	/* A hole reaching the top of the pfn space: the automatic capacity
	 * (rounded up to 1 GiB) must not wrap around to 0. */
	expect(2, "--holes: [0->0xffffffffffffffff] ends above libp2m's maximum",
	       "--ram 1G --holes 0-0xffffffffffffffff");
	expect(2, "--holes: [0xfffffffffffff000->0xfffffffffffffffe] ends above",
	       "--ram 1G --holes 0xfffffffffffff000-0xfffffffffffffffe");
}

static void small_guests(void **state)
{
	(void)state;
	expect(0, "1 entries read back as built", "--ram 4K");
	expect(0, "256 entries read back as built", "--ram 1M");
	expect(0, "768 entries read back as built", "--ram 3M");
	/* RAM after a hole at pfn 0, a hole right at the end of RAM. */
	expect(0, "262400 entries read back as built", "--ram 1G --holes 0-0x100");
	expect(0, "524288 entries read back as built", "--ram 1G --holes 1G-2G");
}

/* `p2m boot` refuses what QEMU or Xen would refuse or cut later (its
 * sizing and QEMU line are test_bootqemu.c's). */
static void boot_values(void **state)
{
	char args[1100];

	(void)state;
	memset(args, 'a', 1024);
	args[1024] = 0;
	cli_expect(2, "--args: 1024 characters; a PV guest's command line "
		   "(start_info.cmd_line) holds at most 1023", "boot --dry-run --args %s", args);
	cli_expect(2, "--cpu '': want a QEMU CPU model", "boot --dry-run --cpu ''");
	cli_expect(2, "--mem '5000T': at most 4095T", "boot --dry-run --mem 5000T");
}

/* An output file that cannot be written is said before the run, not
 * after it (--long takes ten minutes). */
static void bench_outputs(void **state)
{
	(void)state;
	cli_expect(2, "p2m bench: --csv /nonexistent/b.csv: No such file or directory",
		   "bench --only lookup --rounds 1 --lookups 1024 --space 1 --csv /nonexistent/b.csv");
	cli_expect(2, "p2m bench: --svg /nonexistent/b.svg: No such file or directory",
		   "bench --only lookup --rounds 1 --lookups 1024 --space 1 --svg /nonexistent/b.svg");
}

/* `p2m sim` names the option and the value it cannot use (before any
 * domain is made). */
static void sim_values(void **state)
{
	(void)state;
	cli_expect(2, "--seed 'abc': want an unsigned number", "sim --ram 64M --seed abc");
	cli_expect(2, "--seed '-1': want an unsigned number", "sim --ram 64M --seed -1");
	cli_expect(2, "--fault 'map:x': want KIND:N", "sim --ram 64M --fault map:x");
	cli_expect(2, "--fault 'map:-1': want KIND:N", "sim --ram 64M --fault map:-1");
	cli_expect(2, "--fault 'disk:1': want KIND:N", "sim --ram 64M --fault disk:1");
	cli_expect(2, "--faults: 'al': want a list of alloc, map, hypercall", "sim --ram 64M --faults=al");
	cli_expect(2, "--ram SIZE (at least 64M) is required", "sim --ram 1M");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_values),
		cmocka_unit_test(small_guests),
		cmocka_unit_test(bench_outputs),
		cmocka_unit_test(boot_values),
		cmocka_unit_test(sim_values),
	};

	return cmocka_run_group_tests(tests, cli_setup, NULL);
}
