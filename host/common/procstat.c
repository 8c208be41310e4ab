/* Reading one "Name:   N kB" line of /proc/self/status or
 * /proc/PID/status (procstat.h). */
#include <stdio.h>
#include <string.h>

#include "common/procstat.h"

static int64_t status_kib(const char *path, const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			if (sscanf(line + len + 1, "%lld", &v) != 1)
				v = -1;
			break;
		}
	fclose(f);
	return v;
}

int64_t proc_status_kib(const char *field)
{
	return status_kib("/proc/self/status", field);
}

int64_t proc_pid_status_kib(long pid, const char *field)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	return status_kib(path, field);
}
