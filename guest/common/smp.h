/*
 * The guest's other vCPUs (smp.c).
 *
 * vCPU 0 runs the boot and everything after it. The others are brought up
 * only to run one function at a time next to vCPU 0 (smp_run) and go down
 * again (VCPUOP_down) when it returns, so that a save, a restore or a
 * migration never finds them with machine frame numbers in their
 * registers: the saver skips an offline vCPU, and the next smp_run()
 * initialises it afresh (a new domain) or just brings it up (the same
 * domain, whose vCPU kept its context).
 *
 * Every vCPU runs on its own stack; smp_cpu() tells them apart by it.
 */
#ifndef GUEST_SMP_H
#define GUEST_SMP_H

#include <stdbool.h>
#include <stdint.h>

#define SMP_MAX_CPUS 8u

/* The vCPUs the domain has (VCPUOP_is_up answers for them), at most
 * SMP_MAX_CPUS; 1 until smp_init() ran. */
unsigned smp_cpus(void);
void smp_init(void);

/* The vCPU the caller runs on. */
unsigned smp_cpu(void);

/* Run fn(cpu, arg) on every vCPU (vCPU 0 included) and wait until all
 * returned and the others are down again. 0, or the first error of
 * VCPUOP_initialise/VCPUOP_up (then fn ran on the vCPUs before it). */
long smp_run(void (*fn)(unsigned cpu, void *arg), void *arg);

/* smp_check.c: the `smp` check (lock-free readers on every vCPU while
 * the others write); its detail line into out. True when it passed.
 * It splits and joins slots on purpose, so it moves p2m_generation: it
 * runs when asked (smp_check_due), at boot and after each resume, never
 * during ballooning (a migration then would abort, docs/runtime.md). */
bool smp_check(char *out, unsigned long cap);
extern bool smp_check_due;

#endif
