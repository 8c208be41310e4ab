/*
 * Repeated structure changes (see churn.h). The slot is the highest one
 * below the balloon's ceiling that shares the missing page and lies above
 * the populated top: space the guest never populated, where the balloon
 * would add a leaf (rule 3 of docs/runtime.md) and compaction take it
 * back (rule 4).
 */
#include "arch/x86_64/hypercall.h"
#include "common/balloon.h"
#include "common/boot.h"
#include "common/churn.h"
#include "common/clock.h"
#include "common/xenstore.h"
#include "p2m/fmt.h"

/* Sleep about ms milliseconds: poll no port, with a timeout (any event
 * may end it early: loop to the deadline). */
static void nap(uint64_t ms)
{
	uint64_t until = clock_ns() + ms * 1000000u;

	while (clock_ns() < until) {
		struct sched_poll poll = { .nr_ports = 0, .timeout = until };

		set_xen_guest_handle(poll.ports, NULL);
		hyp_sched_op(SCHEDOP_poll, &poll);
	}
}

static uint64_t parse_ms(const char *s)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

bool churn_run(char *line, size_t cap)
{
	struct p2m *p = &boot.p2m;
	uint64_t top = balloon_top(), ceiling = balloon_ceiling(), s, base = 0;
	uint64_t ms = 15000, t0, gen0, rounds = 0;
	char v[32];
	int rc = 0;

	if (xs_read("data/p2m-churn-ms", v, sizeof(v)) > 0 && parse_ms(v))
		ms = parse_ms(v);
	for (s = ceiling >> P2M_SLOT_SHIFT; s-- > (top + P2M_PER_PAGE - 1) >> P2M_SLOT_SHIFT;)
		if (p->kinds[s] == P2M_SLOT_MISSING) {
			base = s << P2M_SLOT_SHIFT;
			break;
		}
	if (!base) {
		p2m_snprintf(line, cap, "no never-populated slot between top %#lx and ceiling %#lx",
			     (unsigned long)top, (unsigned long)ceiling);
		return false;
	}
	gen0 = p2m_generation(p);
	t0 = clock_ns();
	printk("churn: a leaf at pfn %#lx comes and goes for %lu ms, generation %lu\n",
	       (unsigned long)base, (unsigned long)ms, (unsigned long)gen0);
	while (!rc && clock_ms_since(t0) < ms) {
		rc = p2m_prepare(p, base);
		if (!rc && p->kinds[base >> P2M_SLOT_SHIFT] != P2M_SLOT_PRIVATE)
			rc = -1;
		nap(100);
		if (!rc)
			rc = p2m_set_range_missing(p, base, P2M_PER_PAGE);
		if (!rc && p->kinds[base >> P2M_SLOT_SHIFT] != P2M_SLOT_MISSING)
			rc = -1;
		rounds += !rc;
		nap(100);
	}
	p2m_snprintf(line, cap,
		     "%lu times a leaf for never-populated pfn %#lx and back in %lu ms: generation "
		     "%lu -> %lu%s%s",
		     (unsigned long)rounds, (unsigned long)base, (unsigned long)clock_ms_since(t0),
		     (unsigned long)gen0, (unsigned long)p2m_generation(p), rc ? ": " : "",
		     rc ? p2m_last_error(p) : "");
	printk("churn: %s\n", line);
	return !rc && rounds && p2m_generation(p) == gen0 + 4 * rounds;
}
