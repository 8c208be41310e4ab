/*
 * Leaving the machine. A dom0's SHUTDOWN_poweroff only makes Xen halt
 * (QEMU keeps running), so the guest raises its I/O privilege with
 * PHYSDEVOP_set_iopl and writes its verdict to QEMU's isa-debug-exit
 * device (port 0xf4); QEMU exits with status (v << 1) | 1. If the port
 * is absent (a run without the device) we fall back to ACPI S5 (port
 * 0x604, what Linux dom0's poweroff does) and then to SHUTDOWN_poweroff.
 * A domU owns no I/O ports (an OUT would fault and crash it): it just
 * shuts down, and its verdict is the last line of its console (so it
 * first waits for xenconsoled to drain the ring).
 */
#include "arch/x86_64/hypercall.h"
#include "common/guest.h"

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

void guest_exit(unsigned v)
{
	struct physdev_set_iopl iopl = { .iopl = 1 };
	struct sched_shutdown sd = { .reason = SHUTDOWN_poweroff };

	if ((start_info->flags & SIF_INITDOMAIN) &&
	    hyp_physdev_op(PHYSDEVOP_set_iopl, &iopl) == 0) {
		outb(0xf4, (uint8_t)v);
		outw(0x604, 0x2000);
	}
	/* A domU's last lines are in its ring until xenconsoled reads them. */
	con_flush();
	hyp_sched_op(SCHEDOP_shutdown, &sd);
	for (;;)
		__asm__ volatile("pause");
}
