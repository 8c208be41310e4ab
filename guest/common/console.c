/*
 * Console output. dom0 writes through CONSOLEIO_write (Xen prints it on
 * the serial line). A domU may not (release Xen refuses it): it writes
 * into its console ring (start_info console.domU, a page of the initial
 * mapping) and kicks the event channel; xenconsoled drains the ring.
 * Before con_init() the ring is not set up and a domU prints nothing.
 *
 * Formatting is libp2m's p2m_vsnprintf (include/p2m/fmt.h), so the guest
 * and the library agree on one small printf.
 */
#include <stdarg.h>

#include "arch/x86_64/hypercall.h"
#include <xen/io/console.h>
#include "common/guest.h"
#include "p2m/fmt.h"

static volatile struct xencons_interface *ring;
static evtchn_port_t ring_port;
static bool use_ring;

void con_init(void)
{
	const volatile uint64_t *m2p = (const uint64_t *)MACH2PHYS_VIRT_START;
	uint64_t pfn;

	if (start_info->flags & SIF_INITDOMAIN)
		return;
	use_ring = true;
	if (!start_info->console.domU.mfn)
		return;
	/* The ring is a frame of ours inside the initial mapping. */
	pfn = m2p[start_info->console.domU.mfn];
	ring = (volatile struct xencons_interface *)(uintptr_t)(VIRT_BASE + (pfn << PAGE_SHIFT));
	ring_port = start_info->console.domU.evtchn;
}

static void ring_write(const char *s, size_t n)
{
	struct evtchn_send send = { .port = ring_port };
	unsigned spins = 0;

	if (!ring)
		return;
	while (n) {
		XENCONS_RING_IDX cons = ring->out_cons, prod = ring->out_prod;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (prod - cons >= sizeof(ring->out)) {
			/* Full: let xenconsoled run; give up after a while
			 * rather than hang when nobody drains the ring. */
			hyp_event_channel_op(EVTCHNOP_send, &send);
			hyp_sched_op(SCHEDOP_yield, NULL);
			if (++spins > 1000000)
				return;
			continue;
		}
		ring->out[MASK_XENCONS_IDX(prod, ring->out)] = *s++;
		n--;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		ring->out_prod = prod + 1;
	}
	hyp_event_channel_op(EVTCHNOP_send, &send);
}

/* A domU about to shut down: wait (yielding, bounded) until xenconsoled
 * has read the ring, or the last lines (a PANIC) die with the domain. */
void con_flush(void)
{
	struct evtchn_send send = { .port = ring_port };
	unsigned spins = 0;

	if (!use_ring || !ring)
		return;
	while (ring->out_cons != ring->out_prod && ++spins < 100000) {
		hyp_event_channel_op(EVTCHNOP_send, &send);
		hyp_sched_op(SCHEDOP_yield, NULL);
	}
}

void con_write(const char *s, size_t n)
{
	if (use_ring) {
		ring_write(s, n);
		return;
	}
	while (n) {
		long rc = hyp_console_write(s, n);

		if (rc <= 0)
			return; /* nothing else we could print to */
		s += rc;
		n -= (size_t)rc;
	}
}

static void vprintk(const char *fmt, va_list ap)
{
	char buf[512];
	int n = p2m_vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	con_write(buf, (size_t)n);
}

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	con_write("PANIC: ", 7);
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	con_write("\n", 1);
	guest_exit(EXIT_FAIL);
}
