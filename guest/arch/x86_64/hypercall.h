/*
 * Hypercalls of a 64-bit PV guest.
 *
 * Xen fills hypercall_page with one 32-byte stub per hypercall; a call is
 * `call hypercall_page + nr*32` with arguments in rdi, rsi, rdx, r10, r8
 * and the result in rax. The stub executes SYSCALL, which clobbers rcx
 * and r11. Argument registers may come back changed, so they are in/out
 * operands. The stub offset is built from Xen's __HYPERVISOR_* constant
 * (a plain literal, so it can be stringified into the asm).
 */
#ifndef GUEST_HYPERCALL_H
#define GUEST_HYPERCALL_H

#include "p2m/xen.h"
#include <xen/event_channel.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/sched.h>
#include <xen/version.h>

extern char hypercall_page[];

/*
 * Counters of what the guest asked of Xen (common/hcstats.c prints them):
 * every call by hypercall number, and the requests inside the batched
 * ones (mmu_update entries, mmuext_op ops). One increment per call costs
 * nothing next to the SYSCALL into Xen, and lets the boot report its
 * hypercalls per remapped page as measured figures.
 */
#define HC_MAX 64
struct hc_stats {
	unsigned long calls[HC_MAX];
	unsigned long mmu_entries, mmuext_ops;
};
extern struct hc_stats hc_stats;

#define HC_STR_(x) #x
#define HC_STR(x) HC_STR_(x)

/* Arguments are evaluated into plain temporaries first: an argument
 * that calls a function would otherwise clobber the register variables
 * already loaded. */
#define HYPERCALL(name, a1, a2, a3, a4, a5)                                \
	({                                                                 \
		long v1_ = (long)(a1), v2_ = (long)(a2), v3_ = (long)(a3); \
		long v4_ = (long)(a4), v5_ = (long)(a5);                   \
		hc_stats.calls[__HYPERVISOR_##name % HC_MAX]++;            \
		register long r_ax __asm__("rax");                         \
		register long r_di __asm__("rdi") = v1_;                   \
		register long r_si __asm__("rsi") = v2_;                   \
		register long r_dx __asm__("rdx") = v3_;                   \
		register long r_10 __asm__("r10") = v4_;                   \
		register long r_8 __asm__("r8") = v5_;                     \
		__asm__ volatile("call hypercall_page + " HC_STR(__HYPERVISOR_##name) " * 32" \
				 : "=r"(r_ax), "+r"(r_di), "+r"(r_si),     \
				   "+r"(r_dx), "+r"(r_10), "+r"(r_8)       \
				 :                                         \
				 : "rcx", "r11", "memory");                \
		r_ax;                                                      \
	})

static inline long hyp_console_write(const char *s, unsigned long n)
{
	return HYPERCALL(console_io, CONSOLEIO_write, n, s, 0, 0);
}

static inline long hyp_mmu_update(const mmu_update_t *req, unsigned count,
				  unsigned *done)
{
	hc_stats.mmu_entries += count;
	return HYPERCALL(mmu_update, req, count, done, DOMID_SELF, 0);
}

static inline long hyp_mmuext_op(const struct mmuext_op *op, unsigned count,
				 unsigned *done)
{
	hc_stats.mmuext_ops += count;
	return HYPERCALL(mmuext_op, op, count, done, DOMID_SELF, 0);
}

static inline long hyp_update_va_mapping(unsigned long va, uint64_t pte,
					 unsigned long flags)
{
	return HYPERCALL(update_va_mapping, va, pte, flags, 0, 0);
}

static inline long hyp_memory_op(unsigned cmd, void *arg)
{
	return HYPERCALL(memory_op, cmd, arg, 0, 0, 0);
}

static inline long hyp_physdev_op(unsigned cmd, void *arg)
{
	return HYPERCALL(physdev_op, cmd, arg, 0, 0, 0);
}

static inline long hyp_sched_op(unsigned cmd, void *arg)
{
	return HYPERCALL(sched_op, cmd, arg, 0, 0, 0);
}

static inline long hyp_event_channel_op(unsigned cmd, void *arg)
{
	return HYPERCALL(event_channel_op, cmd, arg, 0, 0, 0);
}

static inline long hyp_xen_version(unsigned cmd, void *arg)
{
	return HYPERCALL(xen_version, cmd, arg, 0, 0, 0);
}

#endif
