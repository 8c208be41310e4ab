/*
 * Reading memory maps as people paste them (host side).
 *
 * Formats (docs/design.md, "Memory maps as they appear in real logs"):
 *   Linux      "BIOS-e820: [mem 0x100000-0xbffdffff] usable"     inclusive
 *              "Xen: [mem ...]", "user: [mem ...]", "modified: ..."
 *   Linux < 3  " BIOS-e820: 0000000000100000 - 00000000bffe0000 (usable)"
 *                                                                exclusive
 *   Xen 4.x    "(XEN)  [0000000000100000, 00000000bffdffff] (usable)"
 *                                                                inclusive
 *   Xen, older "(XEN)  0000000000100000 - 00000000bffe0000 (usable)"
 *                                                                exclusive
 *   sysfs      "0x100000 0xbffdffff System RAM" (also "0x100000-0x...")
 *              or the directory /sys/firmware/memmap/N/{start,end,type}
 *                                                                inclusive
 *   JSON       {"e820": [{"addr": "0x100000", "size": 3220045824,
 *                         "type": "usable"}, ...]}  or the bare array.
 *              addr and size are JSON integers or strings holding a
 *              decimal or 0x-hex number; type an E820 number or any name
 *              below. Other keys are ignored.
 * Line prefixes are stripped, repeatedly and in any order: printk times
 * "[    0.000000] ", "(XEN) ", Xen's "[2024-01-01 10:00:00.123] ", guest
 * console "(d0) ", "<6>", a syslog date, host and tag, mail quotes "> ".
 * Type names: usable, reserved, ACPI data, ACPI NVS, unusable, persistent
 * (type 7), persistent (type 12), soft reserved, type N, and sysfs's System
 * RAM, ACPI Tables, ACPI Non-volatile Storage, Unusable memory, Persistent
 * Memory (legacy), Persistent Memory, Soft Reserved; or a bare number.
 *
 * A log is read as a whole: lines that are not map lines are skipped, but
 * a line that starts like a map line and does not parse is an error naming
 * its number and text. Consecutive map lines of one kind form one map; a
 * Xen log often holds several (Xen's own, the dom0 kernel's, a sysfs dump)
 * and memmaps_select() picks one.
 */
#ifndef HOST_E820_PARSE_H
#define HOST_E820_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "p2m/e820.h"

enum memmap_format {
	MEMMAP_FMT_AUTO = 0,   /* JSON if it looks like JSON, else a log */
	MEMMAP_FMT_LOG,        /* dmesg, Xen boot log, sysfs lines, mixed */
	MEMMAP_FMT_SYSFS,      /* only "start end type" lines, every line */
	MEMMAP_FMT_JSON,
};

enum memmap_origin {
	MEMMAP_ORIGIN_LINUX = 0,  /* printed by Linux (BIOS-e820, Xen:, ...) */
	MEMMAP_ORIGIN_XEN,        /* printed by Xen */
	MEMMAP_ORIGIN_SYSFS,      /* /sys/firmware/memmap */
	MEMMAP_ORIGIN_JSON,
};

struct memmap {
	struct p2m_e820_entry *entries;
	size_t n, cap;
	enum memmap_origin origin;
	char label[64];          /* "BIOS-e820", "Xen-e820 RAM map", ... */
	unsigned first_line, last_line;
};

struct memmaps {
	struct memmap *v;
	size_t n, cap;
};

/* line 0: not tied to a line (e.g. "no map found"). */
struct memmap_error {
	unsigned line;
	char text[96];           /* the offending line, cut */
	char msg[160];
};

/* Parse text of len bytes (need not be NUL-terminated). 0 or -P2M_EPARSE
 * (err filled in) or -P2M_ENOMEM. On success out holds >= 1 map; the
 * caller frees it with memmaps_free() either way. */
int memmap_parse(const char *text, size_t len, enum memmap_format fmt,
	       struct memmaps *out, struct memmap_error *err);

/* /sys/firmware/memmap or a copy of it: N/{start,end,type}. */
int memmap_parse_sysfs_dir(const char *dir, struct memmaps *out,
			 struct memmap_error *err);

void memmaps_free(struct memmaps *m);

/* which: "xen" (the last map Xen printed: its sanitised one), "linux"
 * (the first one Linux printed), "sysfs", "json", "N" (1-based), or NULL
 * (xen, else linux, else the first). Writes a sentence saying which map
 * was chosen and why into why. 0 or -P2M_EINVAL. */
int memmaps_select(const struct memmaps *m, const char *which,
		     size_t *idx, char *why, size_t n);

const char *memmap_origin_name(enum memmap_origin o);

/* One type name or number as found in a log; false if unknown. */
bool memmap_parse_type(const char *s, size_t n, uint32_t *type);

/* Read a whole file ("-": stdin) into a malloc'd buffer. 0 or -errno;
 * -EFBIG past MEMMAP_MAX_INPUT bytes, far above any real log (a map of
 * P2M_E820_MAX_ENTRIES lines is about 80 MiB). */
#define MEMMAP_MAX_INPUT ((size_t)256 << 20)
int memmap_read_file(const char *path, char **buf, size_t *len);

#endif
