/*
 * Scanning helpers of the host/e820 parsers: the line cursor, numbers,
 * type names, prefixes, the map container and error reporting.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "e820/parse_internal.h"

void sp_ws(struct span *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\t'))
		s->p++;
}

bool sp_empty(const struct span *s)
{
	for (const char *p = s->p; p < s->e; p++)
		if (!isspace((unsigned char)*p))
			return false;
	return true;
}

bool sp_lit(struct span *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->e - s->p) < n || memcmp(s->p, lit, n))
		return false;
	s->p += n;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool sp_hex(struct span *s, uint64_t *v, bool need_0x)
{
	struct span t = *s;
	uint64_t x = 0;
	int nd = 0;

	if (!sp_lit(&t, "0x") && !sp_lit(&t, "0X") && need_0x)
		return false;
	while (t.p < t.e && hexval(*t.p) >= 0) {
		if (x >> 60)
			return false;   /* more than 64 bits */
		x = x << 4 | (uint64_t)hexval(*t.p++);
		nd++;
	}
	if (!nd)
		return false;
	*v = x;
	*s = t;
	return true;
}

bool sp_num(struct span *s, uint64_t *v)
{
	struct span t = *s;
	uint64_t x = 0;
	int nd = 0;

	if (t.e - t.p >= 2 && t.p[0] == '0' && (t.p[1] == 'x' || t.p[1] == 'X'))
		return sp_hex(s, v, true);
	while (t.p < t.e && *t.p >= '0' && *t.p <= '9') {
		unsigned d = (unsigned)(*t.p++ - '0');

		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		nd++;
	}
	if (!nd)
		return false;
	*v = x;
	*s = t;
	return true;
}

static const struct {
	const char *name;
	uint32_t type;
} type_names[] = {
	{ "usable", P2M_E820_RAM },
	{ "System RAM", P2M_E820_RAM },
	{ "RAM", P2M_E820_RAM },
	{ "reserved", P2M_E820_RESERVED },
	{ "Unknown E820 type", P2M_E820_RESERVED },
	{ "ACPI data", P2M_E820_ACPI },
	{ "ACPI Tables", P2M_E820_ACPI },
	{ "ACPI NVS", P2M_E820_NVS },
	{ "ACPI Non-volatile Storage", P2M_E820_NVS },
	{ "unusable", P2M_E820_UNUSABLE },
	{ "Unusable memory", P2M_E820_UNUSABLE },
	{ "disabled", P2M_E820_DISABLED },
	{ "persistent (type 7)", P2M_E820_PMEM },
	{ "Persistent Memory", P2M_E820_PMEM },
	{ "persistent (type 12)", P2M_E820_PRAM },
	{ "Persistent Memory (legacy)", P2M_E820_PRAM },
	{ "soft reserved", P2M_E820_SOFT_RESERVED },
	{ "Soft Reserved", P2M_E820_SOFT_RESERVED },
};

bool memmap_parse_type(const char *s, size_t n, uint32_t *type)
{
	struct span t;
	uint64_t v;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	/* Xen and old Linux put the name in parentheses. */
	if (n >= 2 && s[0] == '(' && s[n - 1] == ')' &&
	    !(n > 10 && !strncasecmp(s, "(type", 5))) {
		s++;
		n -= 2;
	}
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strlen(type_names[i].name) == n &&
		    !strncasecmp(type_names[i].name, s, n)) {
			*type = type_names[i].type;
			return true;
		}
	t.p = s;
	t.e = s + n;
	if (n > 5 && !strncasecmp(s, "type ", 5))
		t.p += 5;
	if (sp_num(&t, &v) && t.p == t.e && v <= UINT32_MAX) {
		*type = (uint32_t)v;
		return true;
	}
	return false;
}

/* "[ 0.000000]", "[2024-01-01 10:00:00.123]", "[Mon Jan  1 10:00:00 2024]":
 * no comma, not "[mem", at least one digit, short. */
static bool strip_stamp(struct span *s)
{
	const char *p = s->p + 1;
	bool digit = false;

	if (s->p >= s->e || *s->p != '[' || (s->e - s->p > 4 && !memcmp(p, "mem", 3)))
		return false;
	for (; p < s->e && p - s->p < 48; p++) {
		if (*p == ']') {
			if (!digit)
				return false;
			s->p = p + 1;
			return true;
		}
		if (*p == ',' || *p == '[')
			return false;
		if (isdigit((unsigned char)*p))
			digit = true;
		else if (!strchr(" .:-+TZ/", *p) && !isalpha((unsigned char)*p))
			return false;
	}
	return false;
}

/* syslog "Jan  1 10:00:00 host tag: " or "2024-01-01T10:00:00.1+00:00 host
 * tag: ": a date, a time, a host, a tag ending in ':'. */
static bool strip_syslog(struct span *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct span t = *s;
	const char *w;
	uint64_t v;
	bool ok = false;

	if (t.e - t.p > 4 && isalpha((unsigned char)t.p[0])) {
		for (int m = 0; m < 12; m++)
			if (!memcmp(t.p, months + 3 * m, 3) && t.p[3] == ' ')
				ok = true;
		if (!ok)
			return false;
		t.p += 4;
		sp_ws(&t);
		if (!sp_num(&t, &v) || !sp_lit(&t, " "))
			return false;
		if (!sp_num(&t, &v) || !sp_lit(&t, ":") || !sp_num(&t, &v) ||
		    !sp_lit(&t, ":") || !sp_num(&t, &v))
			return false;
	} else if (t.e - t.p > 10 && isdigit((unsigned char)t.p[0]) && t.p[4] == '-' &&
		   t.p[10] == 'T') {
		while (t.p < t.e && *t.p != ' ')
			t.p++;
	} else {
		return false;
	}
	while (t.p < t.e && *t.p != ' ')     /* fractions of a second */
		t.p++;
	sp_ws(&t);
	while (t.p < t.e && *t.p != ' ')     /* host */
		t.p++;
	sp_ws(&t);
	w = t.p;
	while (t.p < t.e && *t.p != ' ')     /* tag: */
		t.p++;
	if (t.p == w || t.p[-1] != ':')
		return false;
	*s = t;
	return true;
}

void strip_prefixes(struct span *s, bool *xen)
{
	for (;;) {
		const char *before = s->p;

		sp_ws(s);
		if (s->p < s->e && *s->p == '>') {
			s->p++;
		} else if (sp_lit(s, "(XEN)")) {
			*xen = true;
		} else if (s->e - s->p > 3 && s->p[0] == '(' && s->p[1] == 'd' &&
			   isdigit((unsigned char)s->p[2])) {
			const char *p = s->p + 2;

			while (p < s->e && isdigit((unsigned char)*p))
				p++;
			if (p < s->e && *p == ')')
				s->p = p + 1;
		} else if (s->p < s->e && *s->p == '<') {
			const char *p = s->p + 1;

			while (p < s->e && isdigit((unsigned char)*p))
				p++;
			if (p > s->p + 1 && p < s->e && *p == '>')
				s->p = p + 1;
		} else if (!strip_stamp(s)) {
			strip_syslog(s);
		}
		if (s->p == before)
			return;
	}
}

int parse_error(struct memmap_error *err, unsigned line,
		const struct span *text, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	err->text[0] = 0;
	if (text) {
		size_t n = (size_t)(text->e - text->p);

		if (n >= sizeof(err->text))
			n = sizeof(err->text) - 1;
		memcpy(err->text, text->p, n);
		err->text[n] = 0;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)err->text[i] < 0x20)
				err->text[i] = ' ';
	}
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -P2M_EPARSE;
}

int maps_new(struct memmaps *m, enum memmap_origin o, const char *label,
	     unsigned line)
{
	struct memmap *nm;

	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 4;
		struct memmap *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return -P2M_ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	nm = &m->v[m->n++];
	memset(nm, 0, sizeof(*nm));
	nm->origin = o;
	snprintf(nm->label, sizeof(nm->label), "%s", label);
	nm->first_line = nm->last_line = line;
	return 0;
}

int map_add(struct memmap *m, uint64_t addr, uint64_t size, uint32_t type)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		struct p2m_e820_entry *v = realloc(m->entries, cap * sizeof(*v));

		if (!v)
			return -P2M_ENOMEM;
		m->entries = v;
		m->cap = cap;
	}
	m->entries[m->n].addr = addr;
	m->entries[m->n].size = size;
	m->entries[m->n].type = type;
	m->n++;
	return 0;
}

bool make_entry(uint64_t start, uint64_t end, bool inclusive, uint64_t *size,
		const char **msg)
{
	if (inclusive) {
		if (end < start) {
			*msg = "the end lies below the start";
			return false;
		}
		if (start == 0 && end == UINT64_MAX) {
			*msg = "the range covers the whole address space";
			return false;
		}
		*size = end - start + 1;
	} else {
		if (end < start) {
			*msg = "the end lies below the start";
			return false;
		}
		*size = end - start;
	}
	if (start + *size < start || (*size && start + *size == 0)) {
		*msg = "the range runs past the top of the address space";
		return false;
	}
	return true;
}

void memmaps_free(struct memmaps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].entries);
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

const char *memmap_origin_name(enum memmap_origin o)
{
	switch (o) {
	case MEMMAP_ORIGIN_LINUX: return "linux";
	case MEMMAP_ORIGIN_XEN: return "xen";
	case MEMMAP_ORIGIN_SYSFS: return "sysfs";
	case MEMMAP_ORIGIN_JSON: return "json";
	}
	return "?";
}

int memmap_read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t cap = 1 << 16, n = 0;
	char *b;

	if (!f)
		return -errno;
	b = malloc(cap + 1);
	if (!b) {
		if (f != stdin)
			fclose(f);
		return -ENOMEM;
	}
	for (;;) {
		size_t r;

		if (n == cap) {
			/* /dev/zero or a runaway pipe: stop before the host's memory. */
			char *nb = cap >= MEMMAP_MAX_INPUT ? NULL : realloc(b, 2 * cap + 1);

			if (!nb) {
				free(b);
				if (f != stdin)
					fclose(f);
				return cap >= MEMMAP_MAX_INPUT ? -EFBIG : -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno ? errno : EIO;

		free(b);
		if (f != stdin)
			fclose(f);
		return -e;
	}
	if (f != stdin)
		fclose(f);
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}
