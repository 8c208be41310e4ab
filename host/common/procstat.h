/*
 * The calling process's memory figures from /proc/self/status (in KiB):
 * VmRSS (resident pages, counted once per mapping that maps them), and
 * its parts RssAnon, RssFile and RssShmem (memfd pages count here).
 */
#ifndef P2M_HOST_PROCSTAT_H
#define P2M_HOST_PROCSTAT_H

#include <stdint.h>

/* The value of `field` ("VmRSS", "RssShmem"...) in KiB, or -1. */
int64_t proc_status_kib(const char *field);

#endif
