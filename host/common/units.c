/*
 * Parsing sizes and pfn ranges for the `p2m` command (see units.h).
 * strtoull alone accepts "-1", leading blanks and empty strings; these
 * parsers do not.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "p2m/error.h"

static int shift_of(char c)
{
	switch (c) {
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	case 'p': case 'P': return 50;
	default: return -1;
	}
}

/* One number at *s, stopping at end or a character in `stops`; *suffixed
 * tells whether it carried a unit. */
static int number(const char **s, const char *stops, uint64_t *v, int *suffixed,
		  const char *what, char *err, size_t errlen)
{
	const char *p = *s;
	char *end;
	unsigned long long x;
	int sh = 0;

	if (!isdigit((unsigned char)*p)) {
		snprintf(err, errlen, "%s: expected a number at \"%s\"", what, p);
		return -P2M_EPARSE;
	}
	/* Hex with 0x, else decimal: a leading 0 is not octal ("010" is 10). */
	errno = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2]))
		x = strtoull(p + 2, &end, 16);
	else
		x = strtoull(p, &end, 10);
	if (errno == ERANGE) {
		snprintf(err, errlen, "%s: \"%s\" is too large", what, p);
		return -P2M_ERANGE;
	}
	*suffixed = 0;
	if (*end && !strchr(stops, *end)) {
		sh = shift_of(*end);
		if (sh < 0) {
			snprintf(err, errlen, "%s: unknown unit '%c' in \"%s\" (use K, M, G, T or P)",
				 what, *end, *s);
			return -P2M_EPARSE;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		*suffixed = 1;
	}
	if (*end && !strchr(stops, *end)) {
		snprintf(err, errlen, "%s: unexpected \"%s\" after a number", what, end);
		return -P2M_EPARSE;
	}
	if (sh && x > (UINT64_MAX >> sh)) {
		snprintf(err, errlen, "%s: \"%s\" is too large", what, *s);
		return -P2M_ERANGE;
	}
	*v = (uint64_t)x << sh;
	*s = end;
	return 0;
}

int parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	const char *p = s;
	int suffixed;

	if (!s || !*s) {
		snprintf(err, errlen, "size: empty");
		return -P2M_EPARSE;
	}
	return number(&p, "", bytes, &suffixed, "size", err, errlen);
}

int parse_pages(const char *s, uint64_t *pages, char *err, size_t errlen)
{
	const char *p = s;
	int suffixed, rc;

	if (!s || !*s) {
		snprintf(err, errlen, "size: empty");
		return -P2M_EPARSE;
	}
	rc = number(&p, "", pages, &suffixed, "size", err, errlen);
	if (!rc && suffixed)
		*pages >>= 12;
	return rc;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pfn_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int parse_pfn_ranges(const char *s, struct pfn_range *out, size_t max,
			 size_t *n, char *err, size_t errlen)
{
	const char *p = s;
	size_t k = 0, m = 0;

	if (!s || !*s) {
		snprintf(err, errlen, "ranges: empty list");
		return -P2M_EPARSE;
	}
	while (*p) {
		uint64_t a, b;
		int sa, sb, rc;
		const char *item = p;

		rc = number(&p, "-", &a, &sa, "range start", err, errlen);
		if (rc)
			return rc;
		if (*p != '-') {
			snprintf(err, errlen, "range \"%s\": expected START-END", item);
			return -P2M_EPARSE;
		}
		p++;
		rc = number(&p, ",", &b, &sb, "range end", err, errlen);
		if (rc)
			return rc;
		/* Byte addresses round outward to whole pages. */
		if (sa)
			a >>= 12;
		if (sb)
			b = (b >> 12) + ((b & 0xfff) != 0);
		if (a >= b) {
			snprintf(err, errlen, "range \"%.*s\": start is not below end (end is exclusive)",
				 (int)(p - item), item);
			return -P2M_EINVAL;
		}
		if (k == max) {
			snprintf(err, errlen, "ranges: more than %zu", max);
			return -P2M_ENOSPC;
		}
		out[k++] = (struct pfn_range){ a, b };
		if (*p == ',') {
			p++;
			if (!*p) {
				snprintf(err, errlen, "ranges: trailing comma");
				return -P2M_EPARSE;
			}
		}
	}
	qsort(out, k, sizeof(*out), cmp_range);
	for (size_t i = 0; i < k; i++) {
		if (m && out[i].start <= out[m - 1].end) {
			if (out[i].end > out[m - 1].end)
				out[m - 1].end = out[i].end;
			continue;
		}
		out[m++] = out[i];
	}
	*n = m;
	return 0;
}

const char *format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned u = 0;
	uint64_t whole = bytes;

	while (whole >= 1024 && u < 5) {
		whole >>= 10;
		u++;
	}
	if (u == 0 || bytes % ((uint64_t)1 << (10 * u)) == 0)
		snprintf(buf, len, "%llu %s", (unsigned long long)whole, unit[u]);
	else
		snprintf(buf, len, "%.2f %s", (double)bytes / (double)((uint64_t)1 << (10 * u)), unit[u]);
	return buf;
}
