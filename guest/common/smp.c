/*
 * The other vCPUs (see smp.h).
 *
 * A vCPU is started with VCPUOP_initialise and a context of its own: the
 * kernel's flat selectors, the root L4 the boot vCPU runs on (so it sees
 * every mapping the guest has), no GDT, LDT, trap table or callbacks of
 * its own (the boot vCPU registers none either: Xen's flat GDT serves,
 * and events stay masked in every vcpu_info, as the builder left them),
 * rip at ap_main with rsp on its own stack and the vCPU number in rdi,
 * as if ap_main had been called. VCPUOP_up lets it run.
 *
 * ap_main runs the work of the round, counts itself done and takes itself
 * down. The next round's VCPUOP_up returns it from that hypercall into the
 * loop. smp_run() waits until VCPUOP_is_up says a vCPU is down before the
 * round ends: an up aimed at a vCPU that has not gone down yet would be
 * lost, and the vCPU would sleep through the next round.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/guest.h"
#include "common/smp.h"
#include <xen/errno.h>
#include <xen/vcpu.h>

#define AP_STACK_SIZE 16384u

static uint8_t ap_stack[SMP_MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(64)));
static unsigned nr_cpus = 1;

static void (*work_fn)(unsigned cpu, void *arg);
static void *work_arg;
static unsigned work_done;

static long vcpu_op(unsigned cmd, unsigned cpu, void *arg)
{
	return HYPERCALL(vcpu_op, cmd, cpu, arg, 0, 0);
}

unsigned smp_cpus(void)
{
	return nr_cpus;
}

void smp_init(void)
{
	unsigned i;

	for (i = 1; i < SMP_MAX_CPUS; i++)
		if (vcpu_op(VCPUOP_is_up, i, NULL) < 0)
			break;
	nr_cpus = i;
}

unsigned smp_cpu(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	unsigned i;

	for (i = 1; i < nr_cpus; i++)
		if (sp - (uintptr_t)ap_stack[i] < AP_STACK_SIZE)
			return i;
	return 0;
}

static void __attribute__((noreturn, used)) ap_main(unsigned cpu)
{
	for (;;) {
		work_fn(cpu, work_arg);
		__atomic_fetch_add(&work_done, 1, __ATOMIC_RELEASE);
		vcpu_op(VCPUOP_down, cpu, NULL);
	}
}

static long ap_start(unsigned cpu)
{
	/* 5 KiB: static, only vCPU 0 starts others. */
	static struct vcpu_guest_context ctx;
	uint64_t top = (uint64_t)(uintptr_t)(ap_stack[cpu] + AP_STACK_SIZE);
	long rc;

	__builtin_memset(&ctx, 0, sizeof(ctx));
	ctx.flags = VGCF_in_kernel;
	ctx.user_regs.rip = (uint64_t)(uintptr_t)ap_main;
	ctx.user_regs.rsp = top - 8; /* where a call would have left it */
	ctx.user_regs.rdi = cpu;
	ctx.user_regs.rflags = 0x2; /* the always-one bit; events stay masked */
	ctx.user_regs.cs = FLAT_KERNEL_CS;
	ctx.user_regs.ss = FLAT_KERNEL_SS;
	ctx.user_regs.ds = FLAT_KERNEL_DS;
	ctx.user_regs.es = FLAT_KERNEL_DS;
	ctx.kernel_ss = FLAT_KERNEL_SS;
	ctx.kernel_sp = top;
	ctx.ctrlreg[3] = xen_pfn_to_cr3(pt_root_mfn());
	rc = vcpu_op(VCPUOP_initialise, cpu, &ctx);
	/* The same domain as last round: the vCPU kept its context (down
	 * inside ap_main), so bringing it up is all it takes. */
	if (rc == -XEN_EEXIST)
		rc = 0;
	if (!rc)
		rc = vcpu_op(VCPUOP_up, cpu, NULL);
	if (rc)
		printk("smp: vCPU %u: VCPUOP_initialise/up failed: %ld\n", cpu, rc);
	return rc;
}

long smp_run(void (*fn)(unsigned cpu, void *arg), void *arg)
{
	unsigned started, i;
	long rc = 0;

	work_fn = fn;
	work_arg = arg;
	__atomic_store_n(&work_done, 0, __ATOMIC_RELEASE);
	for (started = 1; started < nr_cpus; started++) {
		rc = ap_start(started);
		if (rc)
			break;
	}
	fn(0, arg);
	while (__atomic_load_n(&work_done, __ATOMIC_ACQUIRE) < started - 1)
		hyp_sched_op(SCHEDOP_yield, NULL);
	for (i = 1; i < started; i++)
		while (vcpu_op(VCPUOP_is_up, i, NULL) > 0)
			hyp_sched_op(SCHEDOP_yield, NULL);
	return rc;
}
