/*
 * Concurrency workload (ours): reader threads doing random lookups over
 * the whole lookup map of the first pfn space (RAM, identity and missing
 * pfns) while one writer keeps changing the structure: it writes the
 * first entry of every slot of a missing window (allocating a table and
 * 512 leaves, mapping each), then gives the window back as one range, and
 * moves to the next window. Each reader counts lookups and checks the
 * answers it can predict (RAM and identity pfns never change). The same
 * readers alone give the reference: lookups per CPU second per reader
 * (thread CPU time, so that sharing two cores with the writer and with
 * other processes does not count) with the writer, against without.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

#define READER_BATCH 4096u

struct shared {
	struct bench_ours ours;
	struct bench_layout L;
	volatile int stop;
	volatile int go;
	uint64_t wrong;
};

struct reader {
	pthread_t th;
	struct shared *sh;
	uint64_t seed;
	uint64_t lookups, sink;
	double seconds;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct shared *sh = rd->sh;
	uint64_t idx[READER_BATCH], n = sh->L.n, s = 0, done = 0, wrong = 0, t0;

	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		;
	t0 = bench_cpu_ns();
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		for (unsigned i = 0; i < READER_BATCH; i++)
			idx[i] = bench_rand(&rd->seed) % n;
		for (unsigned i = 0; i < READER_BATCH; i++) {
			uint64_t p = idx[i], e = p2m_raw(&sh->ours.p, p);

			s += e;
			BENCH_KEEP(s);
			if (i & 63)
				continue;
			/* One in 64 is checked (the check reads the flat list).
			 * RAM and identity never change; missing pfns may hold
			 * the writer's value or ~0. */
			if (p < sh->L.missing.first && e != sh->L.flat[p])
				wrong++;
			else if (p >= sh->L.missing.first && e != P2M_INVALID && e != bench_ram_mfn(p))
				wrong++;
		}
		done += READER_BATCH;
	}
	rd->seconds = (double)(bench_cpu_ns() - t0) / 1e9;
	rd->lookups = done;
	rd->sink = s;
	__atomic_fetch_add(&sh->wrong, wrong, __ATOMIC_RELAXED);
	return NULL;
}

/* One phase: readers for `seconds`, with or without the writer. Returns
 * lookups/s per reader (mean over readers); *installs = leaves/s. */
static int phase(const struct bench_opts *o, struct shared *sh, bool writer,
		 double *per_reader, double *installs, uint64_t *sink)
{
	struct reader rd[16];
	unsigned nr = o->readers > 16 ? 16 : (o->readers ? o->readers : 1);
	uint64_t leaves = 0, t0, w = 0;
	/* whole windows inside the missing region */
	uint64_t w_first = (sh->L.missing.first + P2M_PER_WINDOW - 1) / P2M_PER_WINDOW;
	uint64_t w_count = (sh->L.missing.first + sh->L.missing.n) / P2M_PER_WINDOW - w_first;
	double total = 0;
	int rc = 0;

	if (writer && !w_count) {
		fprintf(stderr, "p2m bench: concurrency: no whole missing window to write\n");
		return -P2M_ERANGE;
	}
	sh->stop = 0;
	sh->go = 0;
	for (unsigned i = 0; i < nr; i++) {
		rd[i] = (struct reader){ .sh = sh, .seed = 0x1234567ull * (i + 1) };
		if (pthread_create(&rd[i].th, NULL, reader_main, &rd[i])) {
			nr = i;
			rc = -P2M_ENOMEM;
			break;
		}
	}
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	t0 = bench_now_ns();
	while (!rc && bench_now_ns() - t0 < (uint64_t)(o->conc_seconds * 1e9)) {
		uint64_t first;

		if (!writer) {
			struct timespec ts = { 0, 10000000 };

			nanosleep(&ts, NULL);
			continue;
		}
		first = (w_first + w % w_count) * P2M_PER_WINDOW;
		for (uint64_t s = 0; s < P2M_PER_PAGE && !rc; s++) {
			uint64_t pfn = first + s * P2M_PER_PAGE;

			rc = p2m_set(&sh->ours.p, pfn, bench_ram_mfn(pfn));
			leaves++;
		}
		if (!rc)
			rc = p2m_set_range_missing(&sh->ours.p, first, P2M_PER_WINDOW);
		w++;
	}
	if (rc)
		fprintf(stderr, "p2m bench: concurrency writer: %s\n", p2m_last_error(&sh->ours.p));
	*installs = (double)leaves / ((double)(bench_now_ns() - t0) / 1e9);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < nr; i++) {
		pthread_join(rd[i].th, NULL);
		total += (double)rd[i].lookups / rd[i].seconds;
		*sink += rd[i].sink;
	}
	*per_reader = nr ? total / nr : 0;
	return rc;
}

int bench_concurrency(const struct bench_opts *o, struct bench_report *r)
{
	struct shared sh;
	double alone[BENCH_MAX_ROUNDS], with[BENCH_MAX_ROUNDS], inst[BENCH_MAX_ROUNDS], dummy;
	unsigned rounds = o->conc_rounds && o->conc_rounds < o->rounds ? o->conc_rounds : o->rounds;
	char wl[48];
	int rc;

	memset(&sh, 0, sizeof(sh));
	if ((rc = bench_layout_lookup(&sh.L, o->update_gib)))
		return rc;
	if ((rc = bench_ours_create(&sh.ours, sh.L.n)) ||
	    (rc = p2m_build(&sh.ours.p, sh.L.flat, sh.L.n)))
		goto out;
	for (unsigned round = 0; round < rounds && !rc; round++) {
		if (round & 1) {
			rc = phase(o, &sh, true, &with[round], &inst[round], &r->sink);
			if (!rc)
				rc = phase(o, &sh, false, &alone[round], &dummy, &r->sink);
		} else {
			rc = phase(o, &sh, false, &alone[round], &dummy, &r->sink);
			if (!rc)
				rc = phase(o, &sh, true, &with[round], &inst[round], &r->sink);
		}
	}
	if (rc)
		goto out;
	if (sh.wrong) {
		fprintf(stderr, "p2m bench: concurrency: readers saw %" PRIu64 " wrong answers\n",
			sh.wrong);
		rc = -P2M_ECHECK;
		goto out;
	}
	snprintf(wl, sizeof(wl), "%u reader(s), random %" PRIu64 "GiB", o->readers,
		 o->update_gib);
	{
		double a = bench_median(alone, rounds), b = bench_median(with, rounds);
		struct bench_row *row;

		row = bench_row_add(r, "concurrency", wl, "alone", "Mlookups/s", a / 1e6);
		row = bench_row_add(r, "concurrency", wl, "w/writer", "Mlookups/s", b / 1e6);
		row->ratio = a > 0 ? b / a : -1;
		strcpy(row->ref, "alone");
		bench_row_add(r, "concurrency", wl, "writer", "Kleaves/s",
			      bench_median(inst, rounds) / 1e3);
	}
out:
	bench_ours_destroy(&sh.ours);
	bench_layout_free(&sh.L);
	return rc;
}
