/*
 * The guest's command line (start_info.cmd_line, from the multiboot
 * module string after the image name): space-separated words, each "key"
 * or "key=value". Sizes ("limit=768M") are parsed here too, so that a
 * bad value is rejected with its text in one place. memmap= may appear
 * more than once (one reserved range each), as on Linux.
 */
#include "common/guest.h"

static const char *word_match(const char *w, const char *key)
{
	while (*key && *w == *key) {
		w++;
		key++;
	}
	if (*key)
		return NULL;
	if (*w == '\0' || *w == ' ' || *w == '=')
		return w;
	return NULL;
}

const char *cmdline_value(const char *key, size_t *len)
{
	const char *s = (const char *)start_info->cmd_line;
	const char *end = s + sizeof(start_info->cmd_line);

	while (s < end && *s) {
		const char *m;

		while (s < end && *s == ' ')
			s++;
		if (s >= end || !*s)
			break;
		m = word_match(s, key);
		if (m) {
			const char *v = (*m == '=') ? m + 1 : m;
			const char *e = v;

			while (e < end && *e && *e != ' ')
				e++;
			if (len)
				*len = (size_t)(e - v);
			return v;
		}
		while (s < end && *s && *s != ' ')
			s++;
	}
	return NULL;
}

bool cmdline_has(const char *key)
{
	return cmdline_value(key, NULL) != NULL;
}

/* "N" with a unit: K, M, G, T (bytes, a whole number of pages) or p
 * (pfns); a bare 0 or "off" is 0 (the caller's "none"). Returns 1 and
 * *pfns when key is present and valid, 0 when absent; a present but
 * malformed value is a panic naming it (a typo must not silently run the
 * default). */
int cmdline_pfns(const char *key, uint64_t *pfns)
{
	size_t len, i;
	const char *v = cmdline_value(key, &len);
	uint64_t n = 0, shift;
	char t[40]; /* the value, NUL-terminated for the messages */

	if (!v)
		return 0;
	for (i = 0; i < len && i + 1 < sizeof(t); i++)
		t[i] = v[i];
	t[i] = '\0';
	if (len == 3 && v[0] == 'o' && v[1] == 'f' && v[2] == 'f') {
		*pfns = 0;
		return 1;
	}
	for (i = 0; i < len && v[i] >= '0' && v[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			panic("cmdline: %s=%s: number too large", key, t);
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == 0)
		panic("cmdline: %s=%s: expected a number", key, t);
	if (i == len) {
		if (n)
			panic("cmdline: %s=%s: needs a unit (K, M, G, T or p for pfns)",
			      key, t);
		*pfns = 0;
		return 1;
	}
	if (i + 1 != len)
		panic("cmdline: %s=%s: trailing characters after the unit", key, t);
	switch (v[i]) {
	case 'p': *pfns = n; return 1;
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	case 'T': case 't': shift = 40; break;
	default:
		panic("cmdline: %s=%s: unknown unit '%c' (K, M, G, T or p)", key, t, v[i]);
	}
	if (n > (UINT64_MAX >> shift))
		panic("cmdline: %s=%s: too large", key, t);
	n <<= shift;
	if (n & 4095)
		panic("cmdline: %s=%s: not a whole number of 4 KiB pages", key, t);
	*pfns = n >> 12;
	return 1;
}

/* A byte count as Linux's memparse reads it: decimal or 0x hex, then an
 * optional K, M, G or T. Returns the characters used, 0 if none. */
static size_t parse_bytes(const char *v, size_t len, uint64_t *out)
{
	uint64_t n = 0, base = 10, shift = 0;
	size_t i = 0, digits = 0;

	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (; i < len; i++, digits++) {
		char c = v[i];
		uint64_t d;

		if (c >= '0' && c <= '9')
			d = (uint64_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (uint64_t)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (uint64_t)(c - 'A' + 10);
		else
			break;
		if (n > (UINT64_MAX - d) / base)
			return 0;
		n = n * base + d;
	}
	if (!digits)
		return 0;
	if (i < len) {
		switch (v[i]) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		case 'T': case 't': shift = 40; break;
		default: break;
		}
		if (shift) {
			if (n > (UINT64_MAX >> shift))
				return 0;
			i++;
		}
	}
	*out = n << shift;
	return i;
}

unsigned cmdline_memmap(uint64_t *addr, uint64_t *size, unsigned cap)
{
	const char *s = (const char *)start_info->cmd_line;
	const char *end = s + sizeof(start_info->cmd_line);
	unsigned n = 0;

	while (s < end && *s) {
		const char *w, *v;
		size_t len, k, used;
		char t[64];

		while (s < end && *s == ' ')
			s++;
		w = s;
		while (s < end && *s && *s != ' ')
			s++;
		v = word_match(w, "memmap");
		if (!v || *v != '=')
			continue;
		v++;
		len = (size_t)(s - v);
		for (k = 0; k < len && k + 1 < sizeof(t); k++)
			t[k] = v[k];
		t[k] = '\0';
		if (n == cap)
			panic("cmdline: memmap=%s: more than %u memmap= ranges", t, cap);
		used = parse_bytes(v, len, &size[n]);
		if (!used || used == len || v[used] != '$')
			panic("cmdline: memmap=%s: want SIZE$START (a reserved range; "
			      "other forms are not supported)", t);
		k = parse_bytes(v + used + 1, len - used - 1, &addr[n]);
		if (!k || used + 1 + k != len)
			panic("cmdline: memmap=%s: START after '$' is not a number", t);
		if (!size[n] || addr[n] + size[n] < addr[n])
			panic("cmdline: memmap=%s: empty or wrapping range", t);
		n++;
	}
	return n;
}
