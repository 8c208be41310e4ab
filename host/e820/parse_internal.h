/*
 * Internals of the host/e820 parsers: a cursor over one line, numbers,
 * the map container, errors.
 */
#ifndef HOST_E820_PARSE_INTERNAL_H
#define HOST_E820_PARSE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "e820/e820_parse.h"

/* [p, e) of one line, without its newline. */
struct span {
	const char *p, *e;
};

void sp_ws(struct span *s);                       /* skip blanks */
bool sp_lit(struct span *s, const char *lit);     /* consume lit */
bool sp_hex(struct span *s, uint64_t *v, bool need_0x);
bool sp_num(struct span *s, uint64_t *v);         /* 0x-hex or decimal */
bool sp_empty(const struct span *s);              /* only blanks left */

/* Strip every known line prefix; *xen tells whether "(XEN)" was seen. */
void strip_prefixes(struct span *s, bool *xen);

int parse_error(struct memmap_error *err, unsigned line,
		const struct span *text, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Append a map / an entry; -P2M_ENOMEM on allocation failure. */
int maps_new(struct memmaps *m, enum memmap_origin o, const char *label,
	     unsigned line);
int map_add(struct memmap *m, uint64_t addr, uint64_t size, uint32_t type);

/* Make an entry from an inclusive or exclusive end; error text in msg. */
bool make_entry(uint64_t start, uint64_t end, bool inclusive, uint64_t *size,
		const char **msg);

int parse_json(const char *text, size_t len, struct memmaps *out,
	       struct memmap_error *err);
int parse_log(const char *text, size_t len, bool sysfs_only,
	      struct memmaps *out, struct memmap_error *err);

#endif
