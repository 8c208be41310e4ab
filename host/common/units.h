/*
 * Command-line numbers: sizes with K/M/G/T suffixes (binary: 1K = 1024)
 * or hex, and lists of pfn ranges. Every parser returns 0 or a negative
 * P2M_E* code and writes a message naming the bad text into err.
 */
#ifndef P2M_HOST_UNITS_H
#define P2M_HOST_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "64G", "512m", "0x1000", "4096", "1T": bytes. Overflow is an error. */
int p2m_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

struct p2m_pfn_range {
	uint64_t start, end;   /* pfns, end exclusive */
};

/*
 * "0xa0-0x100,3G-4G": comma-separated ranges, end exclusive. A bound with
 * a K/M/G/T suffix is a byte address (rounded outward to whole pages); a
 * bare number is a pfn. Returns the count in *n; the ranges are sorted and
 * overlapping or touching ones merged.
 */
int p2m_parse_pfn_ranges(const char *s, struct p2m_pfn_range *out, size_t max,
			 size_t *n, char *err, size_t errlen);

/* Human form of a byte count: "64 GiB", "1.5 MiB", "512 B". */
const char *p2m_format_bytes(uint64_t bytes, char *buf, size_t len);

#endif
