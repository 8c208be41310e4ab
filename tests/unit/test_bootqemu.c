/*
 * bootqemu: the sizing and the QEMU command line of `p2m boot`, built
 * without running anything. Each case checks the whole line, so an option
 * that appears, disappears or moves is caught.
 */
#define _GNU_SOURCE /* fmemopen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/bootqemu.h"

#define GIB BOOT_GIB
#define MIB BOOT_MIB

/* The argv joined by blanks. */
static const char *joined(const struct bootqemu *q)
{
	static char buf[8192];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < q->argc; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", q->argv[i]);
	assert_null(q->argv[q->argc]);
	return buf;
}

static struct boot_machine machine(uint64_t mem, const char *dom0)
{
	struct boot_machine m = {
		.qemu = "qemu-system-x86_64", .machine = "pc", .mem = mem, .dom0_mem = dom0,
		.xen = "/c/xen", .guest = "/b/guest.elf", .args = "", .xen_args = "",
	};

	return m;
}

static void sizes(void **state)
{
	char b[32];

	(void)state;
	bootqemu_fmt_size(b, sizeof(b), 2 * GIB);
	assert_string_equal(b, "2G");
	bootqemu_fmt_size(b, sizeof(b), 1024 * GIB);
	assert_string_equal(b, "1T");
	bootqemu_fmt_size(b, sizeof(b), 1792 * MIB);
	assert_string_equal(b, "1792M");
	/* dom0: RAM less max(RAM/32, 256M). */
	assert_true(bootqemu_default_dom0(2 * GIB, b, sizeof(b)));
	assert_string_equal(b, "1792M");
	assert_true(bootqemu_default_dom0(64 * GIB, b, sizeof(b)));
	assert_string_equal(b, "62G");
	assert_true(bootqemu_default_dom0(1000 * GIB, b, sizeof(b)));
	assert_string_equal(b, "992000M");
	assert_true(bootqemu_default_dom0(300 * MIB, b, sizeof(b)));
	assert_string_equal(b, "44M");
	assert_false(bootqemu_default_dom0(256 * MIB, b, sizeof(b)));
	assert_true(bootqemu_default_timeout(0) == 60.0);
	assert_true(bootqemu_default_timeout(10 * GIB) == 63.0);
}

static void small_machine(void **state)
{
	static struct bootqemu q;
	struct boot_machine m = machine(2 * GIB, "1792M");

	(void)state;
	assert_true(bootqemu_build(&m, &q));
	assert_string_equal(joined(&q),
		"qemu-system-x86_64 -accel tcg -nographic -no-reboot -machine pc -m 2G "
		"-kernel /c/xen -append console=com1 com1=115200 dom0_mem=1792M loglvl=all "
		"guest_loglvl=all bootscrub=false -initrd /b/guest.elf "
		"-device isa-debug-exit,iobase=0xf4,iosize=0x04");
}

/* Over 16 GiB a lazily backed RAM object; over 900 GiB 42 address bits. */
static void large_machines(void **state)
{
	static struct bootqemu q;
	struct boot_machine m = machine(17 * GIB, "16G");

	(void)state;
	assert_true(bootqemu_build(&m, &q));
	assert_non_null(strstr(joined(&q), "-machine pc,memory-backend=m0 -m 17G "
				"-object memory-backend-ram,id=m0,size=17G,reserve=off -kernel"));
	m = machine(16 * GIB, "15G");
	assert_true(bootqemu_build(&m, &q));
	assert_null(strstr(joined(&q), "-object"));
	m = machine(1024 * GIB, "1G,max:3G");
	m.machine = "q35";
	assert_true(bootqemu_build(&m, &q));
	assert_non_null(strstr(joined(&q), "-machine q35,memory-backend=m0 -m 1T -object "
				"memory-backend-ram,id=m0,size=1T,reserve=off "
				"-cpu qemu64,phys-bits=42 -kernel"));
	assert_non_null(strstr(joined(&q), "dom0_mem=1G,max:3G "));
	m = machine(900 * GIB, "800G");
	assert_true(bootqemu_build(&m, &q));
	assert_null(strstr(joined(&q), "-cpu"));
	/* --cpu is passed as given; over 900 GiB the address bits follow it. */
	m.cpu = "qemu64,+pdpe1gb";
	assert_true(bootqemu_build(&m, &q));
	assert_non_null(strstr(joined(&q), " -cpu qemu64,+pdpe1gb -kernel"));
	m = machine(1024 * GIB, "1000G");
	m.cpu = "EPYC";
	assert_true(bootqemu_build(&m, &q));
	assert_non_null(strstr(joined(&q), " -cpu EPYC,phys-bits=42 -kernel"));
	/* More RAM, more address bits: QEMU refuses 5T at 42 (its top is
	 * near 6 TiB), so the bits follow the size up to x86-64's 52. */
	m = machine(5 * 1024 * GIB, "4960G");
	assert_true(bootqemu_build(&m, &q));
	assert_non_null(strstr(joined(&q), " -cpu qemu64,phys-bits=43 -kernel"));
	assert_int_equal(bootqemu_phys_bits(900 * GIB), 0);
	assert_int_equal(bootqemu_phys_bits(3 * 1024 * GIB), 42);
	assert_int_equal(bootqemu_phys_bits(3 * 1024 * GIB + MIB), 43);
	assert_int_equal(bootqemu_phys_bits(BOOTQEMU_MAX_MEM), 52);
}

/* Guest arguments ride in the first module; commas in any module are
 * doubled for QEMU's list; Xen's extra options end its command line. */
static void modules_and_args(void **state)
{
	static struct bootqemu q;
	struct boot_machine m = machine(6 * GIB, "5G");

	(void)state;
	m.args = "a=1,b=2 c";
	m.xen_args = "x=y,z";
	m.module = "/i/init,rd";
	assert_true(bootqemu_build(&m, &q));
	assert_string_equal(q.initrd, "/b/guest.elf a=1,,b=2 c,/i/init,,rd");
	assert_string_equal(q.append, "console=com1 com1=115200 dom0_mem=5G loglvl=all "
			    "guest_loglvl=all bootscrub=false x=y,z");
	/* Too long to carry: refused, not cut. */
	static char huge[20000];
	memset(huge, 'a', sizeof(huge) - 1);
	m.args = huge;
	assert_false(bootqemu_build(&m, &q));
}

static void printed(void **state)
{
	static struct bootqemu q;
	struct boot_machine m = machine(2 * GIB, "1792M");
	char out[4096] = "";
	FILE *f = fmemopen(out, sizeof(out), "w");

	(void)state;
	m.args = "x y";
	assert_true(bootqemu_build(&m, &q));
	bootqemu_print(f, q.argv);
	fclose(f);
	assert_non_null(strstr(out, " -append \"console=com1 "));
	assert_non_null(strstr(out, " -initrd \"/b/guest.elf x y\" -device isa-debug-exit"));
	assert_non_null(strstr(out, "qemu-system-x86_64 -accel tcg "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sizes),
		cmocka_unit_test(small_machine),
		cmocka_unit_test(large_machines),
		cmocka_unit_test(modules_and_args),
		cmocka_unit_test(printed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
