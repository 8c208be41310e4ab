/*
 * The memory figures of the calling process (/proc/self/status) or of
 * another one (/proc/PID/status), in KiB:
 * VmRSS (resident pages, counted once per mapping that maps them), and
 * its parts RssAnon, RssFile and RssShmem (memfd pages count here).
 */
#ifndef P2M_HOST_PROCSTAT_H
#define P2M_HOST_PROCSTAT_H

#include <stdint.h>

/* The value of `field` ("VmRSS", "RssShmem"...) in KiB, or -1. */
int64_t proc_status_kib(const char *field);

/* The same from another process's /proc/PID/status (VmHWM: its peak so
 * far, e.g. of a child QEMU), or -1. */
int64_t proc_pid_status_kib(long pid, const char *field);

#endif
