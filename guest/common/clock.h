/*
 * Time since the domain started, in ns, from vCPU 0's vcpu_time_info in
 * shared_info (Xen's system time plus the TSC ticks since Xen stamped
 * it, scaled by Xen's factors). Call it on vCPU 0 with shared_info
 * mapped; 0 when it is not.
 */
#ifndef GUEST_CLOCK_H
#define GUEST_CLOCK_H

#include <stdint.h>

uint64_t clock_ns(void);

static inline uint64_t clock_ms_since(uint64_t t0)
{
	return (clock_ns() - t0) / 1000000u;
}

#endif
