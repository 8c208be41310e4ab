/*
 * Memory workload: what each design costs in P2M pages for three guests.
 *
 *   dom0     RAM with the holes of a server, plus extra (balloon) space
 *            above it, missing until the balloon fills it
 *   holes    RAM cut by hundreds of unaligned identity holes and a few
 *            missing gaps
 *   capacity a huge capacity (memory hotplug, a balloon's maximum) with a
 *            small RAM at its start
 *
 * ours is built and measured (p2m_build_adopt from the list in frames of
 * the platform, as a guest builds): the P2M's own frames
 * (p2m_get_stats), the process RSS it added over the list already in
 * place (memfd pages mapped in the window and the meta area) and the
 * platform's overhead (copies backing shared windows, page-table
 * mirror), reported apart. linux and tree are modelled from
 * the same flat list (bench_linux_model_cost, bench_tree_model_bytes):
 * building them at 16 TiB would need the very memory the model predicts.
 * flat is 8 bytes per pfn of capacity.
 *
 * Extra memory: ours is built with and without the extra space; the
 * difference divided by its size is the cost per GiB of extra memory.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "platform/hosted.h"

struct ours_cost {
	uint64_t p2m_bytes, rss_bytes, platform_bytes;
};

static int ours_cost(const struct bench_layout *L, uint64_t build_n,
		     uint64_t capacity, struct ours_cost *c)
{
	struct bench_ours o;
	struct p2m_stats st;
	struct hosted_stats hs;
	uint64_t rss0 = bench_rss_bytes();
	int rc;

	struct bench_list bl;

	if ((rc = bench_ours_create(&o, capacity)))
		return rc;
	/* The list in frames of the platform, adopted as a guest's is. */
	if ((rc = bench_list_new(o.host, L->flat, build_n, &bl))) {
		bench_ours_destroy(&o);
		return rc;
	}
	rc = p2m_build_adopt(&o.p, bl.va, bl.frames, build_n);
	bench_list_free(o.host, &bl, rc != 0);
	if (rc) {
		fprintf(stderr, "p2m bench: memory: p2m_build_adopt: %s\n", p2m_last_error(&o.p));
		bench_ours_destroy(&o);
		return rc;
	}
	p2m_get_stats(&o.p, &st);
	hosted_get_stats(o.host, &hs);
	c->p2m_bytes = st.bytes;
	c->rss_bytes = bench_rss_bytes() - rss0;
	c->platform_bytes = (hs.run_frames + hs.table_frames) * 4096;
	bench_ours_destroy(&o);
	return 0;
}

static void rows(struct bench_report *r, const char *wl, uint64_t capacity,
		 const struct ours_cost *oc, uint64_t linux_bytes, uint64_t tree_bytes)
{
	const double mib = 1 << 20;
	struct bench_row *row;

	bench_row_add(r, "memory", wl, "ours", "P2M MiB", (double)oc->p2m_bytes / mib);
	row = bench_row_add(r, "memory", wl, "ours-rss", "RSS MiB", (double)oc->rss_bytes / mib);
	row->ratio = -1;
	bench_row_add(r, "memory", wl, "hosted", "overhead MiB", (double)oc->platform_bytes / mib);
	bench_row_add(r, "memory", wl, "linux", "P2M MiB", (double)linux_bytes / mib);
	bench_row_add(r, "memory", wl, "tree", "P2M MiB", (double)tree_bytes / mib);
	bench_row_add(r, "memory", wl, "flat", "P2M MiB", (double)(capacity * 8) / mib);
}

static void ratio_vs_ours(struct bench_report *r, const char *wl)
{
	struct bench_row *ours = bench_row_find(r, "memory", wl, "ours");

	for (size_t i = 0; i < r->nrows; i++) {
		struct bench_row *row = &r->rows[i];

		if (strcmp(row->section, "memory") || strcmp(row->workload, wl) ||
		    strcmp(row->unit, "P2M MiB") || !ours || ours->value <= 0)
			continue;
		row->ratio = row->value / ours->value;
		strcpy(row->ref, "ours");
	}
}

static int dom0(const struct bench_opts *o, struct bench_report *r)
{
	struct bench_layout L;
	struct ours_cost with, without;
	struct bench_linux_cost lw, lwo;
	uint64_t top, cap, extra_n = o->dom0_extra_gib * BENCH_GIB_PFNS;
	double ours_kib, linux_kib;
	char wl[48];
	int rc;

	if ((rc = bench_layout_dom0(&L, o->dom0_ram_gib, o->dom0_extra_gib)))
		return rc;
	top = L.n;
	cap = top + extra_n;
	snprintf(wl, sizeof(wl), "dom0 %" PRIu64 "G RAM + %" PRIu64 "G extra", o->dom0_ram_gib,
		 o->dom0_extra_gib);
	bench_log(o, "%s", wl);
	if ((rc = ours_cost(&L, top, cap, &with)) || (rc = ours_cost(&L, top, top, &without)))
		goto out;
	bench_note_rss(r);
	bench_linux_model_cost(L.flat, top, cap, top, bench_linux_extra_pfns(L.flat, top, extra_n),
			       &lw);
	bench_linux_model_cost(L.flat, top, top, top, 0, &lwo);
	rows(r, wl, cap, &with, lw.bytes, bench_tree_model_bytes(L.flat, top, cap));
	ratio_vs_ours(r, wl);
	ours_kib = ((double)with.p2m_bytes - (double)without.p2m_bytes) / 1024 /
		   (double)o->dom0_extra_gib;
	linux_kib = ((double)lw.bytes - (double)lwo.bytes) / 1024 / (double)o->dom0_extra_gib;
	snprintf(wl, sizeof(wl), "extra memory, per GiB");
	bench_row_add(r, "memory", wl, "ours", "P2M KiB/GiB", ours_kib);
	bench_row_add(r, "memory", wl, "linux", "P2M KiB/GiB", linux_kib);
	ratio_vs_ours(r, wl);
	bench_target_add(r, "extra memory <= 8 KiB/GiB", "KiB of P2M per GiB of extra",
			 ours_kib, 8.0, true);
	bench_target_unit(r, " KiB/GiB");
out:
	bench_layout_free(&L);
	return rc;
}

static int holes(const struct bench_opts *o, struct bench_report *r)
{
	struct bench_layout L;
	struct ours_cost oc;
	struct bench_linux_cost lc;
	char wl[48];
	int rc;

	if ((rc = bench_layout_holes(&L, o->holes_gib, o->holes)))
		return rc;
	snprintf(wl, sizeof(wl), "%" PRIu64 "G with %u holes", o->holes_gib, o->holes);
	bench_log(o, "%s", wl);
	if (!(rc = ours_cost(&L, L.n, L.n, &oc))) {
		bench_note_rss(r);
		bench_linux_model_cost(L.flat, L.n, L.n, 0, 0, &lc);
		rows(r, wl, L.n, &oc, lc.bytes, bench_tree_model_bytes(L.flat, L.n, L.n));
		ratio_vs_ours(r, wl);
	}
	bench_layout_free(&L);
	return rc;
}

static int capacity(const struct bench_opts *o, struct bench_report *r)
{
	struct bench_layout L;
	struct ours_cost oc;
	struct bench_linux_cost lc;
	uint64_t cap = o->cap_tib * 1024 * BENCH_GIB_PFNS;
	char wl[48];
	int rc;

	if ((rc = bench_layout_dom0(&L, o->cap_ram_gib, 0)))
		return rc;
	snprintf(wl, sizeof(wl), "%" PRIu64 "T capacity, %" PRIu64 "G RAM", o->cap_tib,
		 o->cap_ram_gib);
	bench_log(o, "%s", wl);
	if (!(rc = ours_cost(&L, L.n, cap, &oc))) {
		bench_note_rss(r);
		/* The space above RAM is a balloon's: Linux's extra memory up
		 * to 10 times the RAM, shared missing above. */
		bench_linux_model_cost(L.flat, L.n, cap, L.n,
				       bench_linux_extra_pfns(L.flat, L.n, cap - L.n), &lc);
		rows(r, wl, cap, &oc, lc.bytes, bench_tree_model_bytes(L.flat, L.n, cap));
		ratio_vs_ours(r, wl);
	}
	bench_layout_free(&L);
	return rc;
}

int bench_memory(const struct bench_opts *o, struct bench_report *r)
{
	int rc;

	if ((rc = dom0(o, r)) || (rc = holes(o, r)) || (rc = capacity(o, r)))
		return rc;
	return 0;
}
