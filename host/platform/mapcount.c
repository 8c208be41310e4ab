/*
 * The mapping budget. Linux refuses an mmap once a process holds
 * vm.max_map_count mappings; the list windows are the platform's big
 * consumer. Before each mapping change the platform adds the mappings the
 * change creates (an upper bound, see windows.c) to what it holds and to
 * what the rest of the process held when last measured. Only when that
 * estimate comes near the limit is /proc/self/maps counted again, so the
 * common case costs no system call, and a refusal is always based on a
 * fresh count. The platform leaves HOSTED_MAP_MARGIN mappings to the
 * rest of the process.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "platform/hosted_impl.h"

uint64_t hp_read_map_limit(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	if (!f)
		return 65530;   /* the kernel's default */
	if (fscanf(f, "%llu", &v) != 1)
		v = 65530;
	fclose(f);
	return v;
}

int64_t hp_count_process_maps(void)
{
	char buf[65536];
	int64_t lines = 0;
	ssize_t n;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

static uint64_t limit_of(struct hosted *h)
{
	return h->limit_override ? h->limit_override : h->limit_sys;
}

int hp_map_budget(struct hosted *h, int64_t delta)
{
	int64_t total, room, now;

	if (delta <= 0)
		return 0;
	room = (int64_t)limit_of(h) - HOSTED_MAP_MARGIN;
	total = h->other_vmas + (int64_t)h->vmas + delta;
	if (total <= room)
		return 0;
	/* Near the limit: measure instead of estimating. */
	if (!h->limit_override)
		h->limit_sys = hp_read_map_limit();
	room = (int64_t)limit_of(h) - HOSTED_MAP_MARGIN;
	now = hp_count_process_maps();
	if (now >= 0)
		h->other_vmas = now - (int64_t)h->vmas;
	else
		now = h->other_vmas + (int64_t)h->vmas;
	if (now + delta <= room)
		return 0;
	return hp_fail(h, -P2M_EMAP,
		       "hosted platform: mapping the list needs %lld more mappings (process holds %lld, "
		       "%lld needed) but vm.max_map_count is %llu and %d are kept for the rest of the "
		       "process; raise it: sysctl -w vm.max_map_count=%lld",
		       (long long)delta, (long long)now, (long long)(now + delta),
		       (unsigned long long)limit_of(h), HOSTED_MAP_MARGIN,
		       (long long)((now + delta + HOSTED_MAP_MARGIN) * 2));
}
