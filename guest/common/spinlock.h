/*
 * A ticket spinlock for the guest's vCPUs.
 *
 * Tickets make the lock fair: a writer on one vCPU cannot starve the
 * others. Waiting spins with PAUSE and, every SPIN_YIELD_AFTER turns,
 * gives the pCPU away with SCHEDOP_yield: under TCG Xen may have one pCPU
 * for all our vCPUs, and a holder that was preempted only runs again when
 * the spinners let it.
 *
 * The lock records its owner (the vCPU number, smp.h), so that a nested
 * lock or an unlock by another vCPU is detected: spin_lock() and
 * spin_unlock() report those as false and leave the lock as it was.
 */
#ifndef GUEST_SPINLOCK_H
#define GUEST_SPINLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/hypercall.h"

#define SPIN_YIELD_AFTER 256u
#define SPIN_NO_OWNER 0xffffffffu

struct spinlock {
	uint32_t next;  /* ticket of the next comer */
	uint32_t owner; /* ticket being served */
	uint32_t cpu;   /* holder's vCPU, SPIN_NO_OWNER when free */
};

#define SPINLOCK_INIT { 0, 0, SPIN_NO_OWNER }

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Take the lock as vCPU `cpu`. False (and nothing taken) if this vCPU
 * holds it already. */
static inline bool spin_lock(struct spinlock *l, uint32_t cpu)
{
	uint32_t t, spins = 0;

	if (__atomic_load_n(&l->cpu, __ATOMIC_RELAXED) == cpu)
		return false;
	t = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != t) {
		cpu_relax();
		if (++spins % SPIN_YIELD_AFTER == 0)
			hyp_sched_op(SCHEDOP_yield, NULL);
	}
	__atomic_store_n(&l->cpu, cpu, __ATOMIC_RELAXED);
	return true;
}

/* Release it. False (and nothing released) unless vCPU `cpu` holds it. */
static inline bool spin_unlock(struct spinlock *l, uint32_t cpu)
{
	if (__atomic_load_n(&l->cpu, __ATOMIC_RELAXED) != cpu)
		return false;
	__atomic_store_n(&l->cpu, SPIN_NO_OWNER, __ATOMIC_RELAXED);
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
	return true;
}

#endif
