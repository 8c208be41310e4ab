/*
 * Logs: dmesg, Xen boot logs, sysfs dumps, and any mix of them.
 *
 * Each line is stripped of its prefixes and then recognised by its shape:
 *   LABEL: [mem 0xA-0xB] TYPE        Linux                 inclusive
 *   LABEL: A - B (TYPE)              Linux before 3.x      exclusive
 *   [A, B] (TYPE)                    Xen 4.x               inclusive
 *   A - B (TYPE)   (A: >= 8 digits)  older Xen             exclusive
 *   0xA 0xB TYPE, 0xA-0xB TYPE       /sys/firmware/memmap  inclusive
 * Once the shape is recognised the line must parse in full; otherwise it
 * is an error naming the line. Other lines are skipped.
 *
 * Grouping: map lines of one origin and label form one map until a
 * non-map line from the same side of the console ("(XEN)"-prefixed or
 * not) intervenes, so Xen's and Linux's interleaved output do not break
 * each other's maps. The last non-map line before a map's first line
 * names it when it ends in ':' ("Xen-e820 RAM map:").
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "e820/parse_internal.h"

/* Labels of Linux's map printouts. Not "e820": Linux's "e820: [mem
 * ...] available for PCI devices" is no map line. */
static const char *const linux_labels[] = {
	"BIOS-e820", "Xen", "user", "modified",
};

struct line_entry {
	enum memmap_origin origin;
	char label[32];
	uint64_t addr, size;
	uint32_t type;
};

/* The rest of the line must be a type name. */
static bool take_type(struct span *s, uint32_t *type, const char **msg)
{
	sp_ws(s);
	if (sp_empty(s)) {
		*msg = "the type is missing";
		return false;
	}
	if (!memmap_parse_type(s->p, (size_t)(s->e - s->p), type)) {
		*msg = "unknown memory type";
		return false;
	}
	return true;
}

static int finish(struct line_entry *le, uint64_t a, uint64_t b, bool incl,
		  struct span *s, const char **msg)
{
	if (!make_entry(a, b, incl, &le->size, msg))
		return -1;
	le->addr = a;
	return take_type(s, &le->type, msg) ? 1 : -1;
}

static size_t hex_digits(const struct span *s)
{
	const char *p = s->p;

	while (p < s->e && isxdigit((unsigned char)*p))
		p++;
	return (size_t)(p - s->p);
}

/* Each shape below: 1: a map line of that shape, parsed; 0: not one;
 * -1: malformed (*msg). */

/* Linux: a known label and a colon, then "[mem 0xA-0xB] type" or, before
 * 3.x, "A - B (type)". *labelled: the line had one of the labels. */
static int linux_line(struct span s, struct line_entry *le, const char **msg, bool *labelled)
{
	uint64_t a, b;

	*labelled = false;
	for (size_t i = 0; i < sizeof(linux_labels) / sizeof(linux_labels[0]); i++) {
		struct span t = s;

		if (!sp_lit(&t, linux_labels[i]) || !sp_lit(&t, ":"))
			continue;
		*labelled = true;
		sp_ws(&t);
		le->origin = MEMMAP_ORIGIN_LINUX;
		snprintf(le->label, sizeof(le->label), "%s", linux_labels[i]);
		if (sp_lit(&t, "[mem ")) {
			sp_ws(&t);
			if (!sp_hex(&t, &a, true) || !sp_lit(&t, "-") || !sp_hex(&t, &b, true) ||
			    !sp_lit(&t, "]")) {
				*msg = "expected [mem 0xSTART-0xEND]";
				return -1;
			}
			return finish(le, a, b, true, &t, msg);
		}
		if (hex_digits(&t) >= 8) {
			if (!sp_hex(&t, &a, false)) {
				*msg = "bad start address";
				return -1;
			}
			sp_ws(&t);
			if (!sp_lit(&t, "-")) {
				*msg = "expected START - END";
				return -1;
			}
			sp_ws(&t);
			if (!sp_hex(&t, &b, false)) {
				*msg = "bad end address";
				return -1;
			}
			return finish(le, a, b, false, &t, msg);
		}
		return 0;   /* e.g. "e820: update [mem ...]" */
	}
	return 0;
}

/* Xen 4.x: "[A, B] (type)". */
static int xen_line(struct span t, struct line_entry *le, const char **msg)
{
	uint64_t a, b;
	struct span u;

	if (!sp_lit(&t, "["))
		return 0;
	sp_ws(&t);
	if (!hex_digits(&t))
		return 0;
	u = t;
	sp_hex(&u, &a, false);
	sp_ws(&u);
	if (u.p >= u.e || *u.p != ',')
		return 0;
	le->origin = MEMMAP_ORIGIN_XEN;
	if (!sp_hex(&t, &a, false)) {
		*msg = "bad start address";
		return -1;
	}
	sp_ws(&t);
	sp_lit(&t, ",");
	sp_ws(&t);
	if (!sp_hex(&t, &b, false)) {
		*msg = "bad end address";
		return -1;
	}
	sp_ws(&t);
	if (!sp_lit(&t, "]")) {
		*msg = "expected ']' after the end address";
		return -1;
	}
	return finish(le, a, b, true, &t, msg);
}

/* sysfs: "0xA 0xB type" or "0xA-0xB type". */
static int sysfs_line(struct span u, struct line_entry *le, const char **msg)
{
	uint64_t a, b;

	if (u.e - u.p <= 2 || u.p[0] != '0' || (u.p[1] != 'x' && u.p[1] != 'X'))
		return 0;
	if (!sp_hex(&u, &a, true))
		return 0;
	if (!sp_lit(&u, "-")) {
		if (u.p >= u.e || (*u.p != ' ' && *u.p != '\t'))
			return 0;
		sp_ws(&u);
	}
	if (u.e - u.p < 2 || u.p[0] != '0' || (u.p[1] != 'x' && u.p[1] != 'X'))
		return 0;
	le->origin = MEMMAP_ORIGIN_SYSFS;
	if (!sp_hex(&u, &b, true)) {
		*msg = "bad end address";
		return -1;
	}
	if (u.p < u.e && *u.p != ' ' && *u.p != '\t') {
		*msg = "expected a blank after the end address";
		return -1;
	}
	return finish(le, a, b, true, &u, msg);
}

/* Older Xen: "A - B (type)", A of at least 8 digits. */
static int old_xen_line(struct span t, struct line_entry *le, const char **msg)
{
	uint64_t a, b;
	struct span u = t;

	if (hex_digits(&t) < 8)
		return 0;
	sp_hex(&u, &a, false);
	sp_ws(&u);
	if (!sp_lit(&u, "-") || u.p >= u.e || *u.p != ' ')
		return 0;
	le->origin = MEMMAP_ORIGIN_XEN;
	if (hex_digits(&t) > 16) {
		*msg = "bad start address";
		return -1;
	}
	sp_ws(&u);
	if (!sp_hex(&u, &b, false)) {
		*msg = "bad end address";
		return -1;
	}
	return finish(le, a, b, false, &u, msg);
}

/* 1: a map line, parsed; 0: not a map line; -1: malformed (*msg). */
static int parse_line(struct span s, struct line_entry *le, const char **msg)
{
	bool labelled;
	int rc = linux_line(s, le, msg, &labelled);

	if (labelled)
		return rc;
	le->label[0] = 0;
	/* A line starting with '[' is Xen's or nothing. */
	if (s.p < s.e && *s.p == '[')
		return xen_line(s, le, msg);
	rc = sysfs_line(s, le, msg);
	if (rc || (s.e - s.p > 2 && s.p[0] == '0' && (s.p[1] == 'x' || s.p[1] == 'X')))
		return rc;
	return old_xen_line(s, le, msg);
}

struct group {
	long idx;        /* open map, or -1 */
	bool xen_side;
};

int parse_log(const char *text, size_t len, bool sysfs_only,
	      struct memmaps *out, struct memmap_error *err)
{
	struct group open[4] = { { -1, false }, { -1, false }, { -1, false }, { -1, false } };
	char header[2][64] = { "", "" };
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct span raw = { p, nl ? nl : end }, s;
		struct line_entry le;
		const char *msg = "";
		bool xen = false;
		int r;

		p = nl ? nl + 1 : end;
		line++;
		if (raw.e > raw.p && raw.e[-1] == '\r')
			raw.e--;
		s = raw;
		strip_prefixes(&s, &xen);
		if (sp_empty(&s))
			continue;
		r = parse_line(s, &le, &msg);
		if (sysfs_only) {
			if (*s.p == '#')
				continue;
			if (r == 0 || (r == 1 && le.origin != MEMMAP_ORIGIN_SYSFS))
				return parse_error(err, line, &raw,
						   "expected \"0xSTART 0xEND TYPE\"");
		}
		if (r < 0)
			return parse_error(err, line, &raw, "%s", msg);
		if (r == 0) {
			/* Close the maps of this side; remember a header. */
			for (int o = 0; o < 4; o++)
				if (open[o].idx >= 0 && open[o].xen_side == xen)
					open[o].idx = -1;
			{
				size_t n = (size_t)(s.e - s.p);

				while (n && isspace((unsigned char)s.p[n - 1]))
					n--;
				if (n && s.p[n - 1] == ':' && n < sizeof(header[0]))
					snprintf(header[xen], sizeof(header[0]), "%.*s",
						 (int)(n - 1), s.p);
				else
					header[xen][0] = 0;
			}
			continue;
		}
		{
			struct group *g = &open[le.origin];
			const char *label = le.label;

			if (g->idx >= 0 && g->xen_side == xen &&
			    !strcmp(out->v[g->idx].label, le.label[0] ? le.label :
				    out->v[g->idx].label)) {
				/* same map */
			} else {
				if (!label[0])
					label = header[xen][0] ? header[xen] :
						le.origin == MEMMAP_ORIGIN_XEN ? "Xen" : "sysfs memmap";
				rc = maps_new(out, le.origin, label, line);
				if (rc)
					return rc;
				g->idx = (long)out->n - 1;
				g->xen_side = xen;
			}
			rc = map_add(&out->v[g->idx], le.addr, le.size, le.type);
			if (rc)
				return rc;
			out->v[g->idx].last_line = line;
		}
	}
	if (!out->n)
		return parse_error(err, 0, NULL, "no memory map found in %u lines", line);
	return 0;
}
