/*
 * JSON maps, by a small recursive-descent reader (no library):
 *   {"e820": [ {"addr": A, "size": S, "type": T}, ... ], ...}  or  [ ... ]
 * A and S are integers or strings holding decimal or 0x-hex; T an integer
 * or a type name. Unknown keys, at any depth, are skipped. Errors name the
 * line. Nesting is limited so hostile input cannot exhaust the stack.
 */
#include <stdio.h>
#include <string.h>

#include "e820/parse_internal.h"

#define MAX_DEPTH 32

struct js {
	const char *p, *e, *text;
	unsigned line;
	struct memmap_error *err;
};

static int jerr(struct js *j, const char *what)
{
	const char *ls = j->p, *le = j->p;
	struct span sp;

	while (ls > j->text && ls[-1] != '\n')
		ls--;
	while (le < j->e && *le != '\n')
		le++;
	sp.p = ls;
	sp.e = le;
	return parse_error(j->err, j->line, &sp, "JSON: %s", what);
}

static void jws(struct js *j)
{
	while (j->p < j->e && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' ||
			       *j->p == '\n')) {
		if (*j->p == '\n')
			j->line++;
		j->p++;
	}
}

/* A string; its raw content (escapes kept) in [*s, *e). */
static int jstring(struct js *j, const char **s, const char **e)
{
	if (j->p >= j->e || *j->p != '"')
		return jerr(j, "expected a string");
	j->p++;
	*s = j->p;
	while (j->p < j->e && *j->p != '"') {
		if (*j->p == '\n')
			return jerr(j, "newline inside a string");
		if (*j->p == '\\' && j->p + 1 < j->e)
			j->p++;
		j->p++;
	}
	if (j->p >= j->e)
		return jerr(j, "unterminated string");
	*e = j->p++;
	return 0;
}

static int jskip(struct js *j, int depth);

static int jskip_container(struct js *j, int depth, char close, bool object)
{
	const char *s, *e;
	int rc;

	j->p++;
	jws(j);
	if (j->p < j->e && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		jws(j);
		if (object) {
			if ((rc = jstring(j, &s, &e)))
				return rc;
			jws(j);
			if (j->p >= j->e || *j->p != ':')
				return jerr(j, "expected ':'");
			j->p++;
		}
		if ((rc = jskip(j, depth + 1)))
			return rc;
		jws(j);
		if (j->p < j->e && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->e && *j->p == close) {
			j->p++;
			return 0;
		}
		return jerr(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* Skip any value. */
static int jskip(struct js *j, int depth)
{
	const char *s, *e;

	if (depth > MAX_DEPTH)
		return jerr(j, "nested too deeply");
	jws(j);
	if (j->p >= j->e)
		return jerr(j, "unexpected end of input");
	switch (*j->p) {
	case '{':
		return jskip_container(j, depth, '}', true);
	case '[':
		return jskip_container(j, depth, ']', false);
	case '"':
		return jstring(j, &s, &e);
	default:
		if (*j->p && strchr("-0123456789tfn", *j->p)) {
			while (j->p < j->e && *j->p && strchr("+-.0123456789eEtruefalsn", *j->p))
				j->p++;
			return 0;
		}
		return jerr(j, "unexpected character");
	}
}

/* A number: integer or string. */
static int jnum(struct js *j, uint64_t *v, const char *what)
{
	struct span s;
	char m[64];

	jws(j);
	if (j->p < j->e && *j->p == '"') {
		const char *a, *b;
		int rc = jstring(j, &a, &b);

		if (rc)
			return rc;
		s.p = a;
		s.e = b;
		if (!sp_num(&s, v) || s.p != s.e) {
			snprintf(m, sizeof(m), "\"%s\" is not a number", what);
			return jerr(j, m);
		}
		return 0;
	}
	s.p = j->p;
	s.e = j->e;
	if (!sp_num(&s, v)) {
		snprintf(m, sizeof(m), "\"%s\" is not a non-negative integer", what);
		return jerr(j, m);
	}
	if (s.p < s.e && (*s.p == '.' || *s.p == 'e' || *s.p == 'E')) {
		snprintf(m, sizeof(m), "\"%s\" must be an integer", what);
		return jerr(j, m);
	}
	j->p = s.p;
	return 0;
}

static int jentry(struct js *j, struct memmap *m)
{
	uint64_t addr = 0, size = 0, t = 0;
	uint32_t type = 0;
	bool ha = false, hs = false, ht = false;
	int rc;

	jws(j);
	if (j->p >= j->e || *j->p != '{')
		return jerr(j, "an entry must be an object {\"addr\", \"size\", \"type\"}");
	j->p++;
	jws(j);
	if (j->p < j->e && *j->p == '}')
		return jerr(j, "empty entry");
	for (;;) {
		const char *ks, *ke;

		jws(j);
		if ((rc = jstring(j, &ks, &ke)))
			return rc;
		jws(j);
		if (j->p >= j->e || *j->p != ':')
			return jerr(j, "expected ':'");
		j->p++;
		jws(j);
		if (ke - ks == 4 && !memcmp(ks, "addr", 4)) {
			if ((rc = jnum(j, &addr, "addr")))
				return rc;
			ha = true;
		} else if (ke - ks == 4 && !memcmp(ks, "size", 4)) {
			if ((rc = jnum(j, &size, "size")))
				return rc;
			hs = true;
		} else if (ke - ks == 4 && !memcmp(ks, "type", 4)) {
			if (j->p < j->e && *j->p == '"') {
				const char *a, *b;

				if ((rc = jstring(j, &a, &b)))
					return rc;
				if (!memmap_parse_type(a, (size_t)(b - a), &type))
					return jerr(j, "unknown memory type");
			} else {
				if ((rc = jnum(j, &t, "type")))
					return rc;
				if (t > UINT32_MAX)
					return jerr(j, "type out of range");
				type = (uint32_t)t;
			}
			ht = true;
		} else if ((rc = jskip(j, 2))) {
			return rc;
		}
		jws(j);
		if (j->p < j->e && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->e && *j->p == '}') {
			j->p++;
			break;
		}
		return jerr(j, "expected ',' or '}'");
	}
	if (!ha || !hs || !ht)
		return jerr(j, "an entry needs \"addr\", \"size\" and \"type\"");
	if (addr + size < addr || (size && addr + size == 0))
		return jerr(j, "the range runs past the top of the address space");
	return map_add(m, addr, size, type);
}

static int jarray(struct js *j, struct memmaps *out)
{
	struct memmap *m;
	int rc;

	if ((rc = maps_new(out, MEMMAP_ORIGIN_JSON, "JSON", j->line)))
		return rc;
	m = &out->v[out->n - 1];
	j->p++;
	jws(j);
	if (j->p < j->e && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		if ((rc = jentry(j, m)))
			return rc;
		jws(j);
		m->last_line = j->line;
		if (j->p < j->e && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->e && *j->p == ']') {
			j->p++;
			return 0;
		}
		return jerr(j, "expected ',' or ']'");
	}
}

int parse_json(const char *text, size_t len, struct memmaps *out,
	       struct memmap_error *err)
{
	struct js j = { text, text + len, text, 1, err };
	bool found = false;
	int rc;

	jws(&j);
	if (j.p < j.e && *j.p == '[') {
		if ((rc = jarray(&j, out)))
			return rc;
		found = true;
	} else if (j.p < j.e && *j.p == '{') {
		j.p++;
		jws(&j);
		if (j.p < j.e && *j.p == '}')
			j.p++;
		else
			for (;;) {
				const char *ks, *ke;

				jws(&j);
				if ((rc = jstring(&j, &ks, &ke)))
					return rc;
				jws(&j);
				if (j.p >= j.e || *j.p != ':')
					return jerr(&j, "expected ':'");
				j.p++;
				jws(&j);
				if (ke - ks == 4 && !memcmp(ks, "e820", 4) && !found) {
					if (j.p >= j.e || *j.p != '[')
						return jerr(&j, "\"e820\" must be an array");
					if ((rc = jarray(&j, out)))
						return rc;
					found = true;
				} else if ((rc = jskip(&j, 1))) {
					return rc;
				}
				jws(&j);
				if (j.p < j.e && *j.p == ',') {
					j.p++;
					continue;
				}
				if (j.p < j.e && *j.p == '}') {
					j.p++;
					break;
				}
				return jerr(&j, "expected ',' or '}'");
			}
	} else {
		return jerr(&j, "expected '{' or '['");
	}
	jws(&j);
	if (j.p < j.e)
		return jerr(&j, "trailing characters after the JSON value");
	if (!found)
		return parse_error(err, 0, NULL, "JSON: no \"e820\" array");
	return 0;
}
