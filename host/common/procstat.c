/* Reading one "Name:   N kB" line of /proc/self/status (procstat.h). */
#include <stdio.h>
#include <string.h>

#include "common/procstat.h"

int64_t proc_status_kib(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

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
