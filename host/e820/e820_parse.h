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
 * and e820_maps_select() picks one.
 */
#ifndef HOST_E820_PARSE_H
#define HOST_E820_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "p2m/e820.h"

enum e820_format {
	E820_FMT_AUTO = 0,   /* JSON if it looks like JSON, else a log */
	E820_FMT_LOG,        /* dmesg, Xen boot log, sysfs lines, mixed */
	E820_FMT_SYSFS,      /* only "start end type" lines, every line */
	E820_FMT_JSON,
};

enum e820_origin {
	E820_ORIGIN_LINUX = 0,  /* printed by Linux (BIOS-e820, Xen:, ...) */
	E820_ORIGIN_XEN,        /* printed by Xen */
	E820_ORIGIN_SYSFS,      /* /sys/firmware/memmap */
	E820_ORIGIN_JSON,
};

struct e820_map {
	struct p2m_e820_entry *entries;
	size_t n, cap;
	enum e820_origin origin;
	char label[64];          /* "BIOS-e820", "Xen-e820 RAM map", ... */
	unsigned first_line, last_line;
};

struct e820_maps {
	struct e820_map *v;
	size_t n, cap;
};

/* line 0: not tied to a line (e.g. "no map found"). */
struct e820_parse_error {
	unsigned line;
	char text[96];           /* the offending line, cut */
	char msg[160];
};

/* Parse text of len bytes (need not be NUL-terminated). 0 or -P2M_EPARSE
 * (err filled in) or -P2M_ENOMEM. On success out holds >= 1 map; the
 * caller frees it with e820_maps_free() either way. */
int e820_parse(const char *text, size_t len, enum e820_format fmt,
	       struct e820_maps *out, struct e820_parse_error *err);

/* /sys/firmware/memmap or a copy of it: N/{start,end,type}. */
int e820_parse_sysfs_dir(const char *dir, struct e820_maps *out,
			 struct e820_parse_error *err);

void e820_maps_free(struct e820_maps *m);

/* which: "xen" (the last map Xen printed: its sanitised one), "linux"
 * (the first one Linux printed), "sysfs", "json", "N" (1-based), or NULL
 * (xen, else linux, else the first). Writes a sentence saying which map
 * was chosen and why into why. 0 or -P2M_EINVAL. */
int e820_maps_select(const struct e820_maps *m, const char *which,
		     size_t *idx, char *why, size_t n);

const char *e820_origin_name(enum e820_origin o);

/* One type name or number as found in a log; false if unknown. */
bool e820_parse_type(const char *s, size_t n, uint32_t *type);

/* Read a whole file ("-": stdin) into a malloc'd buffer. 0 or -errno. */
int e820_read_file(const char *path, char **buf, size_t *len);

#endif
