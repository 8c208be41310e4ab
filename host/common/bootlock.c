/*
 * bootlock: the host-wide lock of large boots (see bootlock.h).
 */
#define _GNU_SOURCE
#include "common/bootlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* MemAvailable from /proc/meminfo in KiB, or -1. */
static long long mem_available_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

int bootlock_take(uint64_t mem)
{
	const char *path = getenv("P2M_BIGMEM_LOCK") ? getenv("P2M_BIGMEM_LOCK") : BOOTLOCK_PATH;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	long long avail;
	unsigned long long need_mb;

	if (fd < 0) {
		fprintf(stderr, "p2m boot: warning: cannot open the large-boot lock %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		printf("p2m boot: another large boot holds %s; waiting for it to finish\n", path);
		fflush(stdout);
		while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
			;
	}
	/* Xen's frame table, M2P and the guest's P2M cost ~13-17 MB per GiB. */
	avail = mem_available_kib();
	need_mb = (unsigned long long)(mem >> 30) * 17;
	if (avail >= 0 && (unsigned long long)avail / 1024 < need_mb)
		printf("p2m boot: warning: this boot may need ~%llu MB of host RAM; %lld MB available\n",
		       need_mb, avail / 1024);
	return fd;
}
