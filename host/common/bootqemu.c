/*
 * bootqemu: sizing and the QEMU command line of `p2m boot` (see bootqemu.h).
 */
#include "common/bootqemu.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

void bootqemu_fmt_size(char *buf, size_t n, uint64_t v)
{
	if (v % (1024 * BOOT_GIB) == 0)
		snprintf(buf, n, "%" PRIu64 "T", v / (1024 * BOOT_GIB));
	else if (v % BOOT_GIB == 0)
		snprintf(buf, n, "%" PRIu64 "G", v / BOOT_GIB);
	else
		snprintf(buf, n, "%" PRIu64 "M", v / BOOT_MIB);
}

bool bootqemu_default_dom0(uint64_t mem, char *buf, size_t n)
{
	uint64_t keep = mem / 32 > 256 * BOOT_MIB ? mem / 32 : 256 * BOOT_MIB;

	keep = (keep + BOOT_MIB - 1) / BOOT_MIB * BOOT_MIB;
	if (keep >= mem)
		return false;
	bootqemu_fmt_size(buf, n, mem - keep);
	return true;
}

double bootqemu_default_timeout(uint64_t mem)
{
	return 60.0 + 0.3 * (double)(mem / BOOT_GIB);
}

/* printf into buf; false when it does not fit. */
static bool put(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return len >= 0 && (size_t)len < n;
}

/* Append src to dst (of size n, holding len bytes) with every comma
 * doubled; false when it does not fit. */
static bool put_escaped(char *dst, size_t n, size_t len, const char *src)
{
	for (; *src; src++) {
		if (len + (*src == ',' ? 2 : 1) >= n)
			return false;
		dst[len++] = *src;
		if (*src == ',')
			dst[len++] = ',';
	}
	dst[len] = '\0';
	return true;
}

/* The -initrd list: "GUEST ARGS" then ",MODULE", commas inside doubled. */
static bool initrd_list(const struct boot_machine *m, struct bootqemu *q)
{
	char first[sizeof(q->initrd)];
	size_t len;

	if (!put(first, sizeof(first), "%s%s%s", m->guest, *m->args ? " " : "", m->args) ||
	    !put_escaped(q->initrd, sizeof(q->initrd), 0, first))
		return false;
	if (!m->module)
		return true;
	len = strlen(q->initrd);
	if (len + 1 >= sizeof(q->initrd))
		return false;
	q->initrd[len++] = ',';
	return put_escaped(q->initrd, sizeof(q->initrd), len, m->module);
}

static void arg(struct bootqemu *q, const char *a)
{
	if (q->argc < BOOTQEMU_MAX_ARGS - 1)
		q->argv[q->argc++] = (char *)a;
}

/* An option and its value. */
static void opt(struct bootqemu *q, const char *option, const char *value)
{
	arg(q, option);
	arg(q, value);
}

unsigned bootqemu_phys_bits(uint64_t mem)
{
	unsigned bits = 42;

	if (mem <= 900 * BOOT_GIB)
		return 0;
	/* RAM above 4 GiB starts at 1 TiB: the top is below 1 TiB + mem. */
	while (bits < 64 && ((uint64_t)1 << bits) - BOOTQEMU_HIGH_RAM_BASE < mem)
		bits++;
	return bits;
}

bool bootqemu_build(const struct boot_machine *m, struct bootqemu *q)
{
	bool big = m->mem > 16 * BOOT_GIB;
	unsigned bits = bootqemu_phys_bits(m->mem);

	q->argc = 0;
	bootqemu_fmt_size(q->mem, sizeof(q->mem), m->mem);
	if (!put(q->machine, sizeof(q->machine), "%s%s", m->machine,
		 big ? ",memory-backend=m0" : "") ||
	    !put(q->backend, sizeof(q->backend), "memory-backend-ram,id=m0,size=%s,reserve=off",
		 q->mem) ||
	    !put(q->append, sizeof(q->append),
		 "console=com1 com1=115200 dom0_mem=%s loglvl=all guest_loglvl=all bootscrub=false%s%s",
		 m->dom0_mem, *m->xen_args ? " " : "", m->xen_args) ||
	    !initrd_list(m, q))
		return false;

	arg(q, m->qemu);
	opt(q, "-accel", "tcg");
	arg(q, "-nographic");
	arg(q, "-no-reboot");
	opt(q, "-machine", q->machine);
	opt(q, "-m", q->mem);
	if (big)
		opt(q, "-object", q->backend);
	/* Above ~1 TiB QEMU moves high RAM past the default 40 address bits. */
	if (m->cpu || bits) {
		char pb[24] = "";

		if (bits)
			snprintf(pb, sizeof(pb), ",phys-bits=%u", bits);
		if (!put(q->cpu, sizeof(q->cpu), "%s%s", m->cpu ? m->cpu : "qemu64", pb))
			return false;
		opt(q, "-cpu", q->cpu);
	}
	opt(q, "-kernel", m->xen);
	opt(q, "-append", q->append);
	opt(q, "-initrd", q->initrd);
	opt(q, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04");
	q->argv[q->argc] = NULL;
	return true;
}

void bootqemu_print(FILE *f, char *const *argv)
{
	for (int i = 0; argv[i]; i++) {
		bool quote = strchr(argv[i], ' ') != NULL;

		fprintf(f, i ? (quote ? " \"%s\"" : " %s") : "%s", argv[i]);
	}
	fputc('\n', f);
}
