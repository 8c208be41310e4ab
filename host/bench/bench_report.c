/*
 * The results of one run: rows and targets, printed as a table on the
 * terminal and written as CSV and JSON with the same fields. A target's
 * verdict is PASS or SHORT; nothing here decides the exit status.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "bench/bench.h"

static void copy(char *d, size_t n, const char *s)
{
	snprintf(d, n, "%s", s ? s : "");
}

void bench_report_init(struct bench_report *r)
{
	struct utsname u;

	memset(r, 0, sizeof(*r));
	if (uname(&u) == 0)
		snprintf(r->host, sizeof(r->host), "%.40s %.40s %.20s", u.nodename, u.release, u.machine);
}

void bench_report_free(struct bench_report *r)
{
	free(r->rows);
	free(r->targets);
	memset(r, 0, sizeof(*r));
}

struct bench_row *bench_row_add(struct bench_report *r, const char *section,
				const char *workload, const char *impl,
				const char *unit, double value)
{
	struct bench_row *row;

	if (r->nrows == r->cap_rows) {
		size_t cap = r->cap_rows ? r->cap_rows * 2 : 64;
		struct bench_row *nr = realloc(r->rows, cap * sizeof(*nr));

		if (!nr) {
			fprintf(stderr, "p2m bench: out of memory for results\n");
			exit(1);
		}
		r->rows = nr;
		r->cap_rows = cap;
	}
	row = &r->rows[r->nrows++];
	memset(row, 0, sizeof(*row));
	copy(row->section, sizeof(row->section), section);
	copy(row->workload, sizeof(row->workload), workload);
	copy(row->impl, sizeof(row->impl), impl);
	copy(row->unit, sizeof(row->unit), unit);
	row->value = value;
	row->min = -1;
	row->ratio = -1;
	return row;
}

struct bench_row *bench_row_find(struct bench_report *r, const char *section,
				 const char *workload, const char *impl)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].section, section) &&
		    !strcmp(r->rows[i].workload, workload) &&
		    !strcmp(r->rows[i].impl, impl))
			return &r->rows[i];
	return NULL;
}

void bench_rows_ratio(struct bench_report *r, const char *section,
		      const char *ref)
{
	for (size_t i = 0; i < r->nrows; i++) {
		struct bench_row *row = &r->rows[i], *base;

		if (strcmp(row->section, section))
			continue;
		base = bench_row_find(r, section, row->workload, ref);
		if (!base || base->value <= 0)
			continue;
		row->ratio = row->value / base->value;
		copy(row->ref, sizeof(row->ref), ref);
	}
}

void bench_target_add(struct bench_report *r, const char *name,
		      const char *detail, double ratio, double limit,
		      bool at_most)
{
	struct bench_target *t;

	if (r->ntargets == r->cap_targets) {
		size_t cap = r->cap_targets ? r->cap_targets * 2 : 32;
		struct bench_target *nt = realloc(r->targets, cap * sizeof(*nt));

		if (!nt) {
			fprintf(stderr, "p2m bench: out of memory for results\n");
			exit(1);
		}
		r->targets = nt;
		r->cap_targets = cap;
	}
	t = &r->targets[r->ntargets++];
	memset(t, 0, sizeof(*t));
	copy(t->name, sizeof(t->name), name);
	copy(t->detail, sizeof(t->detail), detail);
	t->ratio = ratio;
	t->min_ratio = -1;
	t->limit = limit;
	t->at_most = at_most;
	t->pass = isfinite(ratio) && (at_most ? ratio <= limit : ratio >= limit);
	copy(t->unit, sizeof(t->unit), "x");
}

void bench_target_unit(struct bench_report *r, const char *unit)
{
	if (r->ntargets)
		copy(r->targets[r->ntargets - 1].unit, sizeof(r->targets[0].unit), unit);
}

void bench_target_min(struct bench_report *r, double min_ratio)
{
	if (r->ntargets)
		r->targets[r->ntargets - 1].min_ratio = min_ratio;
}

void bench_note_rss(struct bench_report *r)
{
	uint64_t rss = bench_hwm_bytes();

	if (rss > r->peak_rss)
		r->peak_rss = rss;
}

static void fmt_value(char *b, size_t n, double v)
{
	if (v == 0)
		snprintf(b, n, "0");
	else if (fabs(v) >= 1e6)
		snprintf(b, n, "%.4g", v);
	else if (fabs(v) >= 100)
		snprintf(b, n, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(b, n, "%.1f", v);
	else
		snprintf(b, n, "%.2f", v);
}

void bench_print_table(const struct bench_report *r, FILE *f)
{
	const char *section = "";
	char v[32], mn[32], rate[32], ratio[32];
	unsigned pass = 0;

	for (size_t i = 0; i < r->nrows; i++) {
		const struct bench_row *row = &r->rows[i];

		if (strcmp(section, row->section)) {
			section = row->section;
			fprintf(f, "\n== %s ==\n%-34s %-7s %10s %8s %-12s %9s %-11s %s\n", section,
				"workload", "impl", "median", "min", "unit", "rate", "rate unit",
				"ratio (medians)");
		}
		fmt_value(v, sizeof(v), row->value);
		if (row->min >= 0)
			fmt_value(mn, sizeof(mn), row->min);
		else
			snprintf(mn, sizeof(mn), "-");
		if (row->rate_unit[0])
			fmt_value(rate, sizeof(rate), row->rate);
		else
			snprintf(rate, sizeof(rate), "-");
		if (row->ratio >= 0)
			snprintf(ratio, sizeof(ratio), "%.3fx %s", row->ratio, row->ref);
		else
			snprintf(ratio, sizeof(ratio), "-");
		fprintf(f, "%-34s %-7s %10s %8s %-12s %9s %-11s %s\n", row->workload, row->impl,
			v, mn, row->unit, rate, row->rate_unit[0] ? row->rate_unit : "-", ratio);
	}
	fprintf(f, "\n== targets ==\n%-30s %-34s %13s %8s %-16s %s\n", "target", "workload",
		"measured", "of mins", "limit", "verdict");
	for (size_t i = 0; i < r->ntargets; i++) {
		const struct bench_target *t = &r->targets[i];
		char lim[32], val[32], mn[32];

		snprintf(lim, sizeof(lim), "%s %.2f%s", t->at_most ? "<=" : ">=", t->limit,
			 strcmp(t->unit, "x") ? "" : "x");
		snprintf(val, sizeof(val), "%.3f%s", t->ratio, t->unit);
		if (t->min_ratio >= 0)
			snprintf(mn, sizeof(mn), "%.3f%s", t->min_ratio, t->unit);
		else
			snprintf(mn, sizeof(mn), "-");
		fprintf(f, "%-30s %-34s %13s %8s %-16s %s\n", t->name, t->detail, val, mn, lim,
			t->pass ? "PASS" : "SHORT");
		pass += t->pass;
	}
	fprintf(f, "\n%u of %zu targets PASS, %zu SHORT; peak RSS %.2f GiB; sink %#" PRIx64 "\n",
		pass, r->ntargets, r->ntargets - pass, (double)r->peak_rss / (1 << 30), r->sink);
}

/* One CSV field, quoted (RFC 4180) when it holds a comma or a quote. */
static void csv_field(FILE *f, const char *s, const char *after)
{
	if (strpbrk(s, ",\"\n")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputs(after, f);
}

int bench_write_csv(const struct bench_report *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "kind,section,workload,impl,value,unit,rate,rate_unit,ratio,ref,limit,verdict,min\n");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct bench_row *row = &r->rows[i];

		fprintf(f, "row,%s,", row->section);
		csv_field(f, row->workload, ",");
		fprintf(f, "%s,%.6g,", row->impl, row->value);
		csv_field(f, row->unit, ",");
		fprintf(f, "%.6g,%s,", row->rate, row->rate_unit);
		if (row->ratio >= 0)
			fprintf(f, "%.6g,%s,,,", row->ratio, row->ref);
		else
			fprintf(f, ",,,,");
		if (row->min >= 0)
			fprintf(f, "%.6g\n", row->min);
		else
			fprintf(f, "\n");
	}
	for (size_t i = 0; i < r->ntargets; i++) {
		const struct bench_target *t = &r->targets[i];

		fprintf(f, "target,target,");
		csv_field(f, t->detail, ",");
		csv_field(f, t->name, ",");
		fprintf(f, "%.6g,", t->ratio);
		csv_field(f, t->unit, "");
		fprintf(f, ",,,%.6g,,%s%.6g,%s,", t->ratio, t->at_most ? "<=" : ">=", t->limit,
			t->pass ? "PASS" : "SHORT");
		if (t->min_ratio >= 0)
			fprintf(f, "%.6g\n", t->min_ratio);
		else
			fprintf(f, "\n");
	}
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "null");
}

int bench_write_json(const struct bench_report *r, const struct bench_opts *o,
		     const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "{\n  \"mode\": \"%s\", \"rounds\": %u, \"lookups\": %" PRIu64
		", \"host\": \"%s\", \"peak_rss\": %" PRIu64 ",\n  \"rows\": [\n",
		o->long_mode ? "long" : "short", o->rounds, o->lookups, r->host, r->peak_rss);
	for (size_t i = 0; i < r->nrows; i++) {
		const struct bench_row *row = &r->rows[i];

		fprintf(f, "    {\"section\": \"%s\", \"workload\": \"%s\", \"impl\": \"%s\", "
			"\"value\": ", row->section, row->workload, row->impl);
		json_num(f, row->value);
		fprintf(f, ", \"min\": ");
		if (row->min >= 0)
			json_num(f, row->min);
		else
			fprintf(f, "null");
		fprintf(f, ", \"unit\": \"%s\", \"rate\": ", row->unit);
		json_num(f, row->rate);
		fprintf(f, ", \"rate_unit\": \"%s\", \"ratio\": ", row->rate_unit);
		if (row->ratio >= 0)
			json_num(f, row->ratio);
		else
			fprintf(f, "null");
		fprintf(f, ", \"ref\": \"%s\"}%s\n", row->ref, i + 1 < r->nrows ? "," : "");
	}
	fprintf(f, "  ],\n  \"targets\": [\n");
	for (size_t i = 0; i < r->ntargets; i++) {
		const struct bench_target *t = &r->targets[i];

		fprintf(f, "    {\"target\": \"%s\", \"workload\": \"%s\", \"ratio\": ", t->name,
			t->detail);
		json_num(f, t->ratio);
		fprintf(f, ", \"min_ratio\": ");
		if (t->min_ratio >= 0)
			json_num(f, t->min_ratio);
		else
			fprintf(f, "null");
		fprintf(f, ", \"unit\": \"%s\", \"limit\": %.6g, \"at_most\": %s, \"verdict\": \"%s\"}%s\n",
			t->unit, t->limit, t->at_most ? "true" : "false", t->pass ? "PASS" : "SHORT",
			i + 1 < r->ntargets ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}
