/*
 * A minimal xenstore client (see xenstore.h). Messages are an xsd_sockmsg
 * header and a payload; the ring indices are free-running counters.
 */
#include "arch/x86_64/hypercall.h"
#include "common/guest.h"
#include "common/xenstore.h"
#include <xen/io/xs_wire.h>

static volatile struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static struct shared_info *shinfo;
static bool watch_fired;
static uint32_t next_id = 1;

void xs_init(struct shared_info *si)
{
	const volatile uint64_t *m2p = (const uint64_t *)MACH2PHYS_VIRT_START;

	shinfo = si;
	ring = (volatile struct xenstore_domain_interface *)(uintptr_t)(
		VIRT_BASE + (m2p[start_info->store_mfn] << PAGE_SHIFT));
	port = start_info->store_evtchn;
}

static void notify(void)
{
	struct evtchn_send send = { .port = port };

	hyp_event_channel_op(EVTCHNOP_send, &send);
}

/* Wait for an event on the store port, then clear its pending bit. */
static void wait_event(void)
{
	struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
	evtchn_port_t p = port;
	xen_ulong_t bit = (xen_ulong_t)1 << (port % (8 * sizeof(xen_ulong_t)));

	set_xen_guest_handle(poll.ports, &p);
	hyp_sched_op(SCHEDOP_poll, &poll);
	__atomic_fetch_and(&shinfo->evtchn_pending[port / (8 * sizeof(xen_ulong_t))], ~bit,
			   __ATOMIC_SEQ_CST);
}

static void put(const void *data, size_t n)
{
	const char *d = data;

	while (n) {
		XENSTORE_RING_IDX cons = ring->req_cons, prod = ring->req_prod;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (prod - cons >= XENSTORE_RING_SIZE) {
			notify();
			wait_event();
			continue;
		}
		ring->req[MASK_XENSTORE_IDX(prod)] = *d++;
		n--;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		ring->req_prod = prod + 1;
	}
}

static void get(void *data, size_t n)
{
	char *d = data;

	while (n) {
		XENSTORE_RING_IDX cons = ring->rsp_cons, prod = ring->rsp_prod;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (prod == cons) {
			wait_event();
			continue;
		}
		*d++ = ring->rsp[MASK_XENSTORE_IDX(cons)];
		n--;
		__atomic_thread_fence(__ATOMIC_RELEASE);
		ring->rsp_cons = cons + 1;
		notify();
	}
}

static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* Send a request of up to two strings (each with its NUL unless it is
 * the last one of XS_WRITE) and read its reply into buf. */
static int request(uint32_t type, const char *a, bool a_nul, const char *b, bool b_nul,
		   char *buf, size_t cap)
{
	struct xsd_sockmsg m = { .type = type, .req_id = next_id++, .tx_id = 0 };
	size_t la = a ? slen(a) + a_nul : 0, lb = b ? slen(b) + b_nul : 0;

	m.len = (uint32_t)(la + lb);
	put(&m, sizeof(m));
	if (la)
		put(a, la);
	if (lb)
		put(b, lb);
	notify();
	for (;;) {
		struct xsd_sockmsg r;
		char tmp[64];
		size_t i;

		get(&r, sizeof(r));
		if (r.type == XS_WATCH_EVENT) {
			for (i = 0; i < r.len; i += sizeof(tmp))
				get(tmp, r.len - i < sizeof(tmp) ? r.len - i : sizeof(tmp));
			watch_fired = true;
			continue;
		}
		for (i = 0; i < r.len; i++) {
			char c;

			get(&c, 1);
			if (buf && i + 1 < cap)
				buf[i] = c;
		}
		if (buf && cap)
			buf[r.len < cap ? r.len : cap - 1] = '\0';
		return r.type == XS_ERROR ? -1 : (int)r.len;
	}
}

int xs_read(const char *path, char *buf, size_t cap)
{
	return request(XS_READ, path, true, NULL, false, buf, cap);
}

int xs_write(const char *path, const char *value)
{
	return request(XS_WRITE, path, true, value, false, NULL, 0);
}

int xs_watch(const char *path, const char *token)
{
	return request(XS_WATCH, path, true, token, true, NULL, 0);
}

void xs_wait_watch(void)
{
	while (!watch_fired) {
		XENSTORE_RING_IDX cons = ring->rsp_cons, prod = ring->rsp_prod;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (prod != cons) {
			struct xsd_sockmsg r;
			char tmp[64];
			size_t i;

			get(&r, sizeof(r));
			for (i = 0; i < r.len; i += sizeof(tmp))
				get(tmp, r.len - i < sizeof(tmp) ? r.len - i : sizeof(tmp));
			if (r.type == XS_WATCH_EVENT)
				watch_fired = true;
			continue;
		}
		wait_event();
	}
	watch_fired = false;
}
