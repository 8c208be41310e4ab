/*
 * gntpeer: the dom0 side of the grant test of the toolstack tier
 * (scripts/toolstack.sh --runtime, docs/runtime.md). It grants COUNT
 * pages to domain DOMID through Linux's /dev/xen/gntalloc (read-only
 * grants), fills page i with the pattern the guest checks
 * (gntpeer_word(i, j) at word j), prints the grant references on one line
 * and keeps the grants alive until it gets a signal: closing the device
 * revokes them.
 *
 *   gntpeer DOMID COUNT
 *
 * Exit status: 0 after the signal, 1 on any failure (with a message).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/gntalloc.h>

#define PAGE 4096u
#define MAX_COUNT 64u

/* Word j of granted page i (the guest's grant.c computes the same). */
static uint64_t gntpeer_word(unsigned i, unsigned j)
{
	return 0x67726e7400000000ull | ((uint64_t)i << 16) | j;
}

static void on_signal(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct ioctl_gntalloc_alloc_gref *a;
	unsigned long domid, count;
	uint64_t *pages;
	char *end;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: gntpeer DOMID COUNT\n");
		return 1;
	}
	domid = strtoul(argv[1], &end, 10);
	if (*end || domid >= 0x7ff0) {
		fprintf(stderr, "gntpeer: bad domid '%s'\n", argv[1]);
		return 1;
	}
	count = strtoul(argv[2], &end, 10);
	if (*end || count == 0 || count > MAX_COUNT) {
		fprintf(stderr, "gntpeer: COUNT '%s' must be 1..%u\n", argv[2], MAX_COUNT);
		return 1;
	}
	fd = open("/dev/xen/gntalloc", O_RDWR);
	if (fd < 0) {
		fprintf(stderr, "gntpeer: /dev/xen/gntalloc: %s\n", strerror(errno));
		return 1;
	}
	a = calloc(1, sizeof(*a) + count * sizeof(a->gref_ids[0]));
	if (!a)
		return 1;
	a->domid = (uint16_t)domid;
	a->flags = 0; /* read-only for the grantee */
	a->count = (uint32_t)count;
	if (ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, a)) {
		fprintf(stderr, "gntpeer: IOCTL_GNTALLOC_ALLOC_GREF: %s\n", strerror(errno));
		return 1;
	}
	pages = mmap(NULL, count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)a->index);
	if (pages == MAP_FAILED) {
		fprintf(stderr, "gntpeer: mmap: %s\n", strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < count; i++)
		for (unsigned j = 0; j < PAGE / 8; j++)
			pages[i * (PAGE / 8) + j] = gntpeer_word(i, j);
	for (unsigned i = 0; i < count; i++)
		printf("%s%u", i ? " " : "", a->gref_ids[i]);
	printf("\n");
	fflush(stdout);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	pause();
	return 0;
}
