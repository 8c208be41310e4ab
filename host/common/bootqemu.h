/*
 * bootqemu: the machine `p2m boot` asks QEMU for, as data, and the QEMU
 * command line built from it. Pure: no file is looked at, nothing runs,
 * so tests/unit/test_bootqemu.c checks every line the builder writes.
 *
 * Sizing. dom0 gets the machine's RAM less what Xen keeps for itself by
 * default: max(RAM/32, 256 MiB), rounded up to a MiB. Sizes are printed in
 * the largest exact unit (T, G, else M), which both Xen and QEMU read.
 *
 * The command line (qemu-system-x86_64 under TCG, Xen as the multiboot
 * kernel, the guest as its first module):
 *
 *   qemu-system-x86_64 -accel tcg -nographic -no-reboot -machine M -m MEM
 *     [-object memory-backend-ram,...,reserve=off]  (RAM over 16 GiB)
 *     [-cpu MODEL[,phys-bits=N]]    (--cpu; phys-bits for RAM over 900 GiB)
 *     -kernel XEN -append "console=com1 ... dom0_mem=D ... XEN_ARGS"
 *     -initrd "GUEST ARGS[,MODULE]" -device isa-debug-exit,iobase=0xf4,iosize=0x04
 *
 * Large guests get a lazily backed RAM object so that QEMU does not commit
 * host memory Xen never touches; above ~1 TiB QEMU moves high RAM past
 * AMD's HyperTransport hole, beyond the default 40 physical address bits:
 * it then gets 42 bits, or as many as 1 TiB + RAM needs (43 from 3 TiB),
 * up to the 52 of x86-64, which bound --mem (BOOTQEMU_MAX_MEM).
 * QEMU's -initrd separates modules with commas, so a comma inside one is
 * written twice.
 *
 * A new QEMU option is one field in struct boot_machine and one line in
 * bootqemu_build().
 */
#ifndef HOST_BOOTQEMU_H
#define HOST_BOOTQEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BOOT_MIB ((uint64_t)1 << 20)
#define BOOT_GIB ((uint64_t)1 << 30)

/* What to boot and on what. Strings are borrowed, not copied. */
struct boot_machine {
	const char *qemu;      /* the emulator, searched in PATH */
	const char *machine;   /* QEMU machine type: pc or q35 */
	uint64_t mem;          /* machine RAM, bytes, whole MiB */
	const char *dom0_mem;  /* Xen's dom0_mem, verbatim */
	const char *xen;       /* the hypervisor image */
	const char *guest;     /* dom0's kernel: first module */
	const char *args;      /* dom0's command line ("" for none) */
	const char *xen_args;  /* extra Xen options ("" for none) */
	const char *module;    /* second module (dom0's initrd), or NULL */
	const char *cpu;       /* QEMU -cpu MODEL, or NULL for QEMU's default */
};

#define BOOTQEMU_MAX_ARGS 48

/* The built command line: argv points into the buffers. */
struct bootqemu {
	char *argv[BOOTQEMU_MAX_ARGS];
	int argc;
	char mem[32];
	char machine[128];
	char backend[128];
	char cpu[160];
	char append[1024];
	char initrd[3 * 4096 + 1024];   /* three paths (PATH_MAX) and the args */
};

/* Where QEMU puts RAM above 4 GiB on a machine over ~1 TiB, and the
 * largest RAM 52 physical address bits (x86-64's limit) then hold. */
#define BOOTQEMU_HIGH_RAM_BASE ((uint64_t)1 << 40)
#define BOOTQEMU_MAX_MEM (((uint64_t)1 << 52) - BOOTQEMU_HIGH_RAM_BASE)

/* The -cpu phys-bits a machine of `mem` bytes needs: 0 (QEMU's default
 * does) up to 900 GiB, else 42 or more. */
unsigned bootqemu_phys_bits(uint64_t mem);

/* "4G", "1T", "1792M": v in the largest unit that divides it exactly. */
void bootqemu_fmt_size(char *buf, size_t n, uint64_t v);

/* dom0_mem when none is given: mem less Xen's default share, in buf.
 * false when that leaves nothing for dom0 (mem too small). */
bool bootqemu_default_dom0(uint64_t mem, char *buf, size_t n);

/* The run's timeout when none is given: 60 s + 0.3 s per GiB of RAM. */
double bootqemu_default_timeout(uint64_t mem);

/* Fill q from m. false (with q->argc 0) if a string does not fit. */
bool bootqemu_build(const struct boot_machine *m, struct bootqemu *q);

/* One line, arguments with a blank quoted: what --dry-run prints. */
void bootqemu_print(FILE *f, char *const *argv);

#endif
