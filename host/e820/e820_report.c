/*
 * The presentation of a plan: cost, JSON, SVG. See e820_report.h.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "e820/e820_report.h"
#include "p2m/entry.h"

#define SLOT P2M_PER_PAGE     /* pfns of a slot (2 MiB) */
#define WIN  P2M_PER_WINDOW   /* pfns of a window (1 GiB) */

enum p2m_kind plan_category_kind(enum p2m_e820_category c)
{
	switch (c) {
	case P2M_E820_C_RAM:
	case P2M_E820_C_REMAP_DST:
	case P2M_E820_C_NVS_MOVED:
		return P2M_KIND_RAM;
	case P2M_E820_C_IDENTITY:
	case P2M_E820_C_REMAP_SRC:
	case P2M_E820_C_RELEASED:
		return P2M_KIND_IDENTITY;
	default:
		return P2M_KIND_MISSING;
	}
}

/* Union counting of slot (or window) ranges that arrive in ascending
 * order: each unit is counted once. */
struct ucount {
	uint64_t next, n;
};

static void ucount_add(struct ucount *u, uint64_t a, uint64_t b)
{
	if (a < u->next)
		a = u->next;
	if (a < b) {
		u->n += b - a;
		u->next = b;
	}
}

/* Private leaves and split windows for one way of mapping categories to
 * kinds: a slot is private if it holds a RAM pfn or a change of kind, a
 * window if it holds a private slot or a change of kind. Linear in the
 * layout, whatever the size of the pfn space. */
static void count_private(const struct p2m_e820_plan *p, bool extra_private,
			  uint64_t *leaves, uint64_t *windows)
{
	struct ucount ls = { 0, 0 }, ws = { 0, 0 };
	uint64_t cap = (p->end + WIN - 1) / WIN * WIN;
	int prev = -1;

	for (size_t i = 0; i <= p->nr_layout; i++) {
		uint64_t s = i < p->nr_layout ? p->layout[i].start : p->end;
		uint64_t e = i < p->nr_layout ? p->layout[i].end : cap;
		int k;

		if (i < p->nr_layout) {
			enum p2m_e820_category c = (enum p2m_e820_category)p->layout[i].kind;

			k = (int)plan_category_kind(c);
			if (extra_private && c == P2M_E820_C_EXTRA)
				k = P2M_KIND_RAM;
		} else {
			k = P2M_KIND_MISSING;   /* the list's tail up to its capacity */
		}
		if (s >= e)
			continue;
		if (prev >= 0 && k != prev) {
			/* A change of kind at s: its slot and window are mixed
			 * unless s is aligned to them. */
			if (s % SLOT)
				ucount_add(&ls, s / SLOT, s / SLOT + 1);
			if (s % WIN)
				ucount_add(&ws, s / WIN, s / WIN + 1);
		}
		if (k == P2M_KIND_RAM) {
			ucount_add(&ls, s / SLOT, (e + SLOT - 1) / SLOT);
			ucount_add(&ws, s / WIN, (e + WIN - 1) / WIN);
		}
		prev = k;
	}
	*leaves = ls.n;
	*windows = ws.n;
}

void plan_cost(const struct p2m_e820_plan *p, bool tree, struct plan_cost *c)
{
	memset(c, 0, sizeof(*c));
	c->slots = (p->end + SLOT - 1) / SLOT;
	c->windows = (p->end + WIN - 1) / WIN;
	count_private(p, false, &c->private_leaves, &c->private_windows);
	count_private(p, true, &c->linux_leaves, &c->linux_windows);
	c->meta_bytes = c->slots + c->windows * 16;
	c->meta_bytes = (c->meta_bytes + 4095) & ~(uint64_t)4095;
	c->bytes = 4096 * (c->private_leaves + c->private_windows * (tree ? 2 : 1)) +
		   c->meta_bytes;
	c->linux_bytes = 4096 * (c->linux_leaves + c->linux_windows * (tree ? 2 : 1));
}

/* --- JSON --- */

static void jrange_list(FILE *f, const char *name, const struct p2m_e820_range *r,
			size_t n, bool cat, bool last)
{
	fprintf(f, "  \"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s\n    {\"start\": \"%#" PRIx64 "\", \"end\": \"%#" PRIx64 "\"",
			i ? "," : "", r[i].start, r[i].end);
		if (cat)
			fprintf(f, ", \"kind\": \"%s\"",
				p2m_e820_category_name((enum p2m_e820_category)r[i].kind));
		fprintf(f, "}");
	}
	fprintf(f, "%s]%s\n", n ? "\n  " : "", last ? "" : ",");
}

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void plan_write_json(FILE *f, const struct p2m_e820_input *in,
		     const struct p2m_e820_plan *p, const struct plan_cost *cost,
		     const char *source, int rc)
{
	char tb[24], msg[200];

	fprintf(f, "{\n  \"source\": ");
	jstr(f, source ? source : "");
	fprintf(f, ",\n  \"status\": \"%s\",\n  \"error\": ", rc ? p2m_strerror(rc) : "ok");
	jstr(f, p->error);
	fprintf(f, ",\n  \"dom0\": %s,\n  \"nr_pages\": \"%#" PRIx64 "\",\n"
		"  \"max_pages\": \"%#" PRIx64 "\",\n  \"limit\": \"%#" PRIx64 "\",\n"
		"  \"end\": \"%#" PRIx64 "\",\n  \"extra_budget\": \"%#" PRIx64 "\",\n",
		in->dom0 ? "true" : "false", p->nr_pages, p->max_pages, p->limit, p->end,
		p->extra_budget);
	/* The input, in the schema `p2m e820 --json-in` reads. */
	fprintf(f, "  \"e820\": [");
	for (size_t i = 0; i < in->nr_map; i++)
		fprintf(f, "%s\n    {\"addr\": \"%#" PRIx64 "\", \"size\": \"%#" PRIx64
			"\", \"type\": \"%s\"}", i ? "," : "", in->map[i].addr, in->map[i].size,
			p2m_e820_type_name(in->map[i].type, tb, sizeof(tb)));
	fprintf(f, "%s],\n", in->nr_map ? "\n  " : "");
	fprintf(f, "  \"sanitized\": [");
	for (size_t i = 0; i < p->nr_map; i++)
		fprintf(f, "%s\n    {\"start\": \"%#" PRIx64 "\", \"end\": \"%#" PRIx64
			"\", \"type\": \"%s\"}", i ? "," : "", p->map[i].start, p->map[i].end,
			p2m_e820_type_name(p->map[i].kind, tb, sizeof(tb)));
	fprintf(f, "%s],\n", p->nr_map ? "\n  " : "");
	fprintf(f, "  \"pfns\": {");
	for (int c = 0; c < P2M_E820_NCAT; c++)
		fprintf(f, "%s\"%s\": %" PRIu64, c ? ", " : "",
			p2m_e820_category_name((enum p2m_e820_category)c), p->pfns[c]);
	fprintf(f, "},\n");
	if (p->layout)
		jrange_list(f, "layout", p->layout, p->nr_layout, true, false);
	if (p->identity)
		jrange_list(f, "identity", p->identity, p->nr_identity, false, false);
	fprintf(f, "  \"remap\": [");
	for (size_t i = 0; p->remap && i < p->nr_remap; i++)
		fprintf(f, "%s\n    {\"src\": \"%#" PRIx64 "\", \"dst\": \"%#" PRIx64
			"\", \"count\": %" PRIu64 "}", i ? "," : "", p->remap[i].src,
			p->remap[i].dst, p->remap[i].count);
	fprintf(f, "%s],\n", p->nr_remap ? "\n  " : "");
	fprintf(f, "  \"moved\": [");
	for (size_t i = 0; i < p->nr_moved; i++)
		fprintf(f, "%s\n    {\"src\": \"%#" PRIx64 "\", \"dst\": \"%#" PRIx64
			"\", \"count\": %" PRIu64 "}", i ? "," : "", p->moved[i].src,
			p->moved[i].dst, p->moved[i].count);
	fprintf(f, "%s],\n", p->nr_moved ? "\n  " : "");
	if (p->release)
		jrange_list(f, "release", p->release, p->nr_release, true, false);
	if (p->extra)
		jrange_list(f, "extra", p->extra, p->nr_extra, false, false);
	fprintf(f, "  \"conflicts\": [");
	for (size_t i = 0; p->conflicts && i < p->nr_conflicts; i++) {
		const struct p2m_e820_conflict *c = &p->conflicts[i];

		p2m_e820_describe_conflict(c, msg, sizeof(msg));
		fprintf(f, "%s\n    {\"object\": \"%s\", \"action\": \"%s\", \"pfn\": \"%#"
			PRIx64 "\", \"count\": %" PRIu64 ", \"target\": ", i ? "," : "",
			p2m_e820_object_name((enum p2m_e820_object_id)c->object),
			c->action == P2M_E820_RELOCATE ? "relocate" : "fatal", c->pfn, c->count);
		if (c->action == P2M_E820_RELOCATE)
			fprintf(f, "\"%#" PRIx64 "\"", c->target);
		else
			fprintf(f, "null");
		fprintf(f, ", \"message\": ");
		jstr(f, msg);
		fprintf(f, "}");
	}
	fprintf(f, "%s],\n", p->nr_conflicts ? "\n  " : "");
	fprintf(f, "  \"cost\": {\"slots\": %" PRIu64 ", \"windows\": %" PRIu64
		", \"private_leaves\": %" PRIu64 ", \"private_windows\": %" PRIu64
		", \"bytes\": %" PRIu64 ", \"linux_leaves\": %" PRIu64
		", \"linux_bytes\": %" PRIu64 "}\n}\n",
		cost->slots, cost->windows, cost->private_leaves, cost->private_windows,
		cost->bytes, cost->linux_leaves, cost->linux_bytes);
}

/* --- SVG --- */

static const struct {
	const char *fill, *label;
} svg_cat[P2M_E820_NCAT] = {
	[P2M_E820_C_RAM] = { "#43a047", "RAM (kept)" },
	[P2M_E820_C_IDENTITY] = { "#9e9e9e", "identity (holes, MMIO)" },
	[P2M_E820_C_REMAP_SRC] = { "#fb8c00", "identity, frames remapped away" },
	[P2M_E820_C_RELEASED] = { "#e53935", "identity, frames released" },
	[P2M_E820_C_TRIMMED] = { "#8e24aa", "released above the limit" },
	[P2M_E820_C_REMAP_DST] = { "#1e88e5", "remapped RAM (moved frames)" },
	[P2M_E820_C_EXTRA] = { "#90caf9", "extra (balloon, missing)" },
	[P2M_E820_C_UNUSED] = { "#f5f5f5", "unused RAM (missing)" },
	[P2M_E820_C_NVS_MOVED] = { "#6d4c41", "ACPI NVS moved here (its frames)" },
};

#define SVG_W 1200.0
#define BAR_X 20.0
#define BAR_W (SVG_W - 40.0)
#define MIN_W 3.0

static double nice_step(double span_gib)
{
	static const double steps[] = { 1.0 / 1024, 1.0 / 256, 1.0 / 64, 1.0 / 16, 0.25,
					0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024,
					2048, 4096, 8192, 16384, 32768, 65536, 131072 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (span_gib / steps[i] <= 12)
			return steps[i];
	return 262144;
}

static void svg_label_gib(FILE *f, double x, double y, double gib)
{
	if (gib >= 1 || gib == 0)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.5g</text>\n",
			x, y, gib);
	else if (gib * 1024 >= 1)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.4gM</text>\n",
			x, y, gib * 1024);
	else
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%.4gK</text>\n",
			x, y, gib * 1024 * 1024);
}

/* The header, white background and the title, escaped for XML. */
static void svg_head(FILE *f, const char *title)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%d\" "
		"font-family=\"sans-serif\">\n", SVG_W, 300 + 18 * (P2M_E820_NCAT / 2 + 1));
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">", BAR_X);
	for (const char *s = title ? title : ""; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else
			fputc(*s, f);
	}
	fprintf(f, "</text>\n");
}

/* Bar 1: to scale, ticks every `step` GiB. */
static void svg_bar_to_scale(FILE *f, const struct p2m_e820_plan *p, double y)
{
	double end_gib = (double)p->end / (double)WIN;
	double step = nice_step(end_gib);

	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">pfn space to scale, 0 to %g GiB</text>\n",
		BAR_X, y - 8, end_gib);
	for (size_t i = 0; i < p->nr_layout; i++) {
		double x0 = BAR_X + BAR_W * (double)p->layout[i].start / (double)p->end;
		double x1 = BAR_X + BAR_W * (double)p->layout[i].end / (double)p->end;

		fprintf(f, "<rect x=\"%.3f\" y=\"%.0f\" width=\"%.3f\" height=\"36\" fill=\"%s\">"
			"<title>%s [%#" PRIx64 "-%#" PRIx64 ")</title></rect>\n",
			x0, y, x1 - x0, svg_cat[p->layout[i].kind].fill,
			p2m_e820_category_name((enum p2m_e820_category)p->layout[i].kind),
			p->layout[i].start, p->layout[i].end);
	}
	fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"36\" fill=\"none\" stroke=\"black\"/>\n",
		BAR_X, y, BAR_W);
	for (double g = 0; g <= end_gib + 1e-9; g += step) {
		double x = BAR_X + BAR_W * g / end_gib;

		fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"black\"/>\n",
			x, y + 36, x, y + 41);
		svg_label_gib(f, x, y + 53, g);
	}
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"end\">GiB</text>\n",
		BAR_X + BAR_W, y + 66);
}

/* Bar 2: widths grow with the logarithm of the size (at least MIN_W), so
 * that a 640 KiB hole and a 4 TiB range are both readable; ticks in GiB at
 * the range starts that have room for a label, and the category written
 * inside ranges wide enough for it. */
static void svg_bar_every_range(FILE *f, const struct p2m_e820_plan *p, double y)
{
	size_t n = p->nr_layout;
	double spare = BAR_W - MIN_W * (double)n;
	double last_label = -1e9, x = 0, total = 0;

	if (spare < 0)
		spare = 0;
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">every range visible: width grows "
		"with the logarithm of its size (not to scale); range starts in GiB</text>\n",
		BAR_X, y - 8);
	for (size_t i = 0; i < n; i++)
		total += log2(1.0 + (double)(p->layout[i].end - p->layout[i].start));
	for (size_t i = 0; i < n; i++) {
		double w = MIN_W + spare * log2(1.0 + (double)(p->layout[i].end -
							  p->layout[i].start)) / total;
		double xs = BAR_X + x;
		const char *name = p2m_e820_category_name(
			(enum p2m_e820_category)p->layout[i].kind);

		fprintf(f, "<rect x=\"%.3f\" y=\"%.0f\" width=\"%.3f\" height=\"36\" fill=\"%s\" "
			"stroke=\"white\" stroke-width=\"0.5\">"
			"<title>%s [%#" PRIx64 "-%#" PRIx64 ")</title></rect>\n",
			xs, y, w, svg_cat[p->layout[i].kind].fill, name,
			p->layout[i].start, p->layout[i].end);
		if (w >= 7.0 * (double)strlen(name) + 6)
			fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">"
				"%s</text>\n", xs + w / 2, y + 22, name);
		if (xs - last_label >= 44) {
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"black\"/>\n",
				xs, y + 36, xs, y + 41);
			svg_label_gib(f, xs, y + 53, (double)p->layout[i].start / (double)WIN);
			last_label = xs;
		}
		x += w;
	}
	if (BAR_X + x - last_label >= 30)
		svg_label_gib(f, BAR_X + x, y + 53, (double)p->end / (double)WIN);
	fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"36\" fill=\"none\" stroke=\"black\"/>\n",
		BAR_X, y, BAR_W);
}

void plan_write_svg(FILE *f, const struct p2m_e820_plan *p, const char *title)
{
	double y = 250;

	svg_head(f, title);
	svg_bar_to_scale(f, p, 60);
	svg_bar_every_range(f, p, 160);
	/* Legend: two columns, with pfn counts. */
	for (int c = 0; c < P2M_E820_NCAT; c++) {
		double lx = BAR_X + (c % 2) * 560, ly = y + 20 * (c / 2);
		double gib = (double)p->pfns[c] / (double)WIN;

		fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"14\" height=\"14\" fill=\"%s\" stroke=\"black\"/>\n",
			lx, ly - 11, svg_cat[c].fill);
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">%s: %" PRIu64 " pfns (%.3f GiB)</text>\n",
			lx + 20, ly, svg_cat[c].label, p->pfns[c], gib);
	}
	fprintf(f, "</svg>\n");
}
