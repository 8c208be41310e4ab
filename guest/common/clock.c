/*
 * The guest's clock (clock.h). Xen bumps `version` to an odd value while
 * it rewrites the record and to an even one after: read until a whole
 * record was seen under one even version.
 */
#include "common/boot.h"
#include "common/clock.h"

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

uint64_t clock_ns(void)
{
	const volatile struct vcpu_time_info *t;
	uint64_t ns, delta;
	uint32_t v;

	if (!boot.shared_info)
		return 0;
	t = &boot.shared_info->vcpu_info[0].time;
	do {
		v = t->version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		delta = rdtsc() - t->tsc_timestamp;
		if (t->tsc_shift < 0)
			delta >>= -t->tsc_shift;
		else
			delta <<= t->tsc_shift;
		ns = t->system_time +
		     (uint64_t)(((unsigned __int128)delta * t->tsc_to_system_mul) >> 32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != t->version);
	return ns;
}
