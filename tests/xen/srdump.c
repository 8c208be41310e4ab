/*
 * srdump: read a save stream (`xl save DOMAIN FILE` with FILE a FIFO, or
 * a saved file), print its headers and records (tests/xen/srstream.h)
 * and close it, at the end or after a bounded number of PAGE_DATA
 * records. The toolstack tier's --big run saves a 600 GiB domU into a
 * FIFO this reads: the whole stream would not fit the machine, so the
 * save is cut once the P2M frames record and a few batches of pages have
 * gone through (the saver then gets EPIPE and xl resumes the domain).
 *
 *   srdump [--pages N] [--verbose-pages N] PATH|-
 *
 *   --pages N          stop after N PAGE_DATA records (default 0: to the end)
 *   --verbose-pages N  print the first N PAGE_DATA records (default 4)
 *
 * Exit status: 0 when the stream ended (END) or was stopped at N, 1 on a
 * malformed or truncated stream (the message names the byte), 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "srstream.h"

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	return read(*(int *)ctx, buf, n);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int number(const char *s, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || !*s || *end;
}

int main(int argc, char **argv)
{
	struct srs_options opt = { .verbose_pages = 4 };
	struct srs_summary s;
	struct srs_input in;
	unsigned long long v;
	const char *path = NULL;
	double t0;
	int fd, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pages") && i + 1 < argc && !number(argv[i + 1], &v)) {
			opt.max_page_records = v;
			i++;
		} else if (!strcmp(argv[i], "--verbose-pages") && i + 1 < argc &&
			   !number(argv[i + 1], &v)) {
			opt.verbose_pages = (unsigned)v;
			i++;
		} else if (!path && (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
			path = argv[i];
		} else {
			fprintf(stderr, "usage: srdump [--pages N] [--verbose-pages N] PATH|-\n");
			return 2;
		}
	}
	if (!path) {
		fprintf(stderr, "usage: srdump [--pages N] [--verbose-pages N] PATH|-\n");
		return 2;
	}
	fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0;
	if (fd < 0) {
		fprintf(stderr, "srdump: %s: %s\n", path, strerror(errno));
		return 1;
	}
	t0 = now();
	in = (struct srs_input){ .ctx = &fd, .read = fd_read };
	rc = srs_parse(&in, &opt, stdout, &s);
	srs_print_summary(&s, stdout);
	printf("srdump: %.1f s from open to %s\n", now() - t0,
	       rc == 1 ? "the cut" : "the end");
	fflush(stdout);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "srdump: %s\n", s.error);
		printf("srdump: error: %s\n", s.error);
		return 1;
	}
	return 0;
}
