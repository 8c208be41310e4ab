/*
 * Command-line numbers: sizes with K/M/G/T suffixes (binary: 1K = 1024)
 * or hex, and lists of pfn ranges. Every parser returns 0 or a negative
 * P2M_E* code and writes a message naming the bad text into err.
 */
#ifndef P2M_HOST_UNITS_H
#define P2M_HOST_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one size parser of every `p2m` subcommand. "64G", "512m", "4GiB",
 * "1T", "0x1000", "4096": bytes. A number is decimal, or hex after 0x (a
 * leading 0 is not octal); a unit K/M/G/T/P (binary, either case) may
 * follow, then an optional "i" and "B". Overflow is an error.
 */
int parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/* The same text as a page count: with a unit it is bytes (rounded down to
 * 4 KiB pages), a bare number is already pages ("5G" and "1310720" agree). */
int parse_pages(const char *s, uint64_t *pages, char *err, size_t errlen);

struct pfn_range {
	uint64_t start, end;   /* pfns, end exclusive */
};

/*
 * "0xa0-0x100,3G-4G": comma-separated ranges, end exclusive. A bound with
 * a K/M/G/T suffix is a byte address (rounded outward to whole pages); a
 * bare number is a pfn. Returns the count in *n; the ranges are sorted and
 * overlapping or touching ones merged.
 */
int parse_pfn_ranges(const char *s, struct pfn_range *out, size_t max,
			 size_t *n, char *err, size_t errlen);

/* Human form of a byte count: "64 GiB", "1.5 MiB", "512 B". */
const char *format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
