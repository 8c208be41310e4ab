/*
 * The plot: ns per lookup of every implementation for every lookup
 * workload, as horizontal bars grouped by workload, on a logarithmic axis
 * (the software walk and the tree are an order of magnitude away from the
 * rest). Plain SVG written by hand: no library, no script.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"

static const char *const impls[] = { "ours", "flat", "tree", "linux", "load" };
static const char *const colour[] = { "#1b7837", "#777777", "#2166ac", "#b2182b", "#d9d9d9" };
#define NIMPL 5

#define LEFT 230
#define PLOT_W 560
#define BAR_H 9
#define GAP 10
#define TOP 60

static double xpos(double v, double lo, double hi)
{
	if (v < lo)
		v = lo;
	return LEFT + PLOT_W * (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
}

int bench_write_svg(const struct bench_report *r, const char *path)
{
	const char *wl[64];
	size_t nwl = 0;
	double lo = 1e9, hi = 0;
	FILE *f;
	int height;

	for (size_t i = 0; i < r->nrows; i++) {
		const struct bench_row *row = &r->rows[i];
		size_t j;

		if (strcmp(row->section, "lookup") || row->value <= 0)
			continue;
		lo = row->value < lo ? row->value : lo;
		hi = row->value > hi ? row->value : hi;
		for (j = 0; j < nwl && strcmp(wl[j], row->workload); j++)
			;
		if (j == nwl && nwl < 64)
			wl[nwl++] = row->workload;
	}
	if (!nwl) {
		lo = 1;
		hi = 10;
	}
	lo = pow(10, floor(log10(lo)));
	hi = pow(10, ceil(log10(hi)));
	if (hi <= lo)
		hi = lo * 10;
	height = TOP + (int)nwl * (NIMPL * BAR_H + GAP) + 50;
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"font-family=\"sans-serif\" font-size=\"11\">\n", LEFT + PLOT_W + 260, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">p2m bench: "
		"ns per lookup (median, log scale; shorter is faster)</text>\n", LEFT);
	/* decades */
	for (double d = lo; d <= hi * 1.001; d *= 10) {
		double x = xpos(d, lo, hi);

		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ccc\"/>\n",
			x, TOP - 5, x, height - 40);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g ns</text>\n", x,
			height - 25, d);
	}
	for (int k = 0; k < NIMPL; k++) {
		fprintf(f, "<rect x=\"%d\" y=\"32\" width=\"12\" height=\"10\" fill=\"%s\"/>\n",
			LEFT + k * 110, colour[k]);
		fprintf(f, "<text x=\"%d\" y=\"41\">%s</text>\n", LEFT + k * 110 + 16,
			k == 4 ? "load (ablation: unchecked load of ours's list)" : impls[k]);
	}
	for (size_t j = 0; j < nwl; j++) {
		int y0 = TOP + (int)j * (NIMPL * BAR_H + GAP);

		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", LEFT - 6,
			y0 + NIMPL * BAR_H / 2 + 4, wl[j]);
		for (int k = 0; k < NIMPL; k++) {
			const struct bench_row *row = NULL;

			for (size_t i = 0; i < r->nrows; i++)
				if (!strcmp(r->rows[i].section, "lookup") &&
				    !strcmp(r->rows[i].workload, wl[j]) &&
				    !strcmp(r->rows[i].impl, impls[k]))
					row = &r->rows[i];
			if (!row)
				continue;
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
				"fill=\"%s\"><title>%s %s: %.3g ns</title></rect>\n", LEFT,
				y0 + k * BAR_H, xpos(row->value, lo, hi) - LEFT, BAR_H - 1,
				colour[k], wl[j], impls[k], row->value);
			fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"8\">%.3g</text>\n",
				xpos(row->value, lo, hi) + 3, y0 + k * BAR_H + 8, row->value);
		}
	}
	fprintf(f, "</svg>\n");
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}
