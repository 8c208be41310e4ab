/*
 * bootlog: classify console lines of a Xen boot (see bootlog.h).
 *
 * Matching is by fixed substrings of Xen 4.17's messages; each is named
 * where it is matched so a change in Xen's wording is easy to follow.
 * "Freed ... init memory" is the last thing Xen prints before it starts
 * dom0, so a line without the "(XEN)" prefix after it is the guest's.
 *
 * A guest warning is recognised by how Xen attributes it (its %pv and %pd
 * formats: "d1v0", "d1") rather than by a list of every message, so a
 * message first seen on a new code path is caught too; the list of MMU
 * refusals below is a second net for lines printed without attribution.
 */
#include "common/bootlog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char xen_prefix[] = "(XEN) ";

static bool is_xen_line(const char *line)
{
	return strncmp(line, xen_prefix, sizeof(xen_prefix) - 2) == 0;
}

static void keep(char *dst, const char *src)
{
	snprintf(dst, BOOTLOG_MSG, "%s", src);
}

static const char *skip_xen_prefix(const char *line)
{
	if (is_xen_line(line)) {
		line += sizeof(xen_prefix) - 2;
		while (*line == ' ')
			line++;
	}
	return line;
}

/* Xen's MMU refusals (arch/x86/mm.c, pv/), matched anywhere in a Xen line
 * after dom0 started, whatever the attribution. */
static const char *const mmu_refusals[] = {
	"Bad type", "Could not get page", "Bad L1 flags", "Bad L2 flags",
	"Bad L3 flags", "Bad L4 flags", "Attempt to ", "Error getting mfn",
	"Error while validating", "Page may not be", "Bad page",
};

/* Length of "d<digits>" at p, 0 if there is none. */
static size_t dom_tag(const char *p)
{
	size_t n = 1;
	if (p[0] != 'd' || !isdigit((unsigned char)p[1]))
		return 0;
	while (isdigit((unsigned char)p[n]))
		n++;
	return n;
}

/* Length of "d<digits>v<digits>" at p (Xen's %pv of a guest vCPU). */
static size_t vcpu_tag(const char *p)
{
	size_t n = dom_tag(p);
	if (!n || p[n] != 'v' || !isdigit((unsigned char)p[n + 1]))
		return 0;
	n++;
	while (isdigit((unsigned char)p[n]))
		n++;
	return n;
}

/* gdprintk's "file.c:123:d1v0 " at p: the word ends in ":<digits>:" and
 * a guest vCPU. Returns where the vCPU starts, or NULL. */
static const char *gdprintk_tag(const char *p)
{
	const char *end = p + strcspn(p, " ");
	for (const char *c = p; c < end; c++) {
		if (*c != ':' || !isdigit((unsigned char)c[1]))
			continue;
		const char *d = c + 1;
		while (isdigit((unsigned char)*d))
			d++;
		if (*d == ':' && d + 1 + vcpu_tag(d + 1) == end && vcpu_tag(d + 1))
			return d + 1;
	}
	return NULL;
}

/* Whether x contains one of the '|'-separated texts of allow. */
static bool allowed(const char *allow, const char *x)
{
	while (allow && *allow) {
		const char *bar = strchr(allow, '|');
		size_t n = bar ? (size_t)(bar - allow) : strlen(allow);

		for (const char *p = x; n && *p; p++)
			if (!strncmp(p, allow, n))
				return true;
		allow = bar ? bar + 1 : NULL;
	}
	return false;
}

bool bootlog_guest_warning(const char *line, long *domid)
{
	long unused;
	domid = domid ? domid : &unused;
	*domid = -1;
	if (!is_xen_line(line))
		return false; /* the guest's own output, "(d1) ..." included */
	const char *x = skip_xen_prefix(line);
	if (*x == '[') { /* console_timestamps: "[2026-12-02 18:00:00] " */
		const char *close = strchr(x, ']');
		x = close ? close + 1 : x;
		while (*x == ' ')
			x++;
	}
	size_t v = vcpu_tag(x), d = dom_tag(x);
	const char *who = gdprintk_tag(x);
	if (!who && ((v && (x[v] == ' ' || x[v] == ':')) || (d && x[d] == ':')))
		who = x;
	if (who) {
		*domid = strtol(who + 1, NULL, 10);
		return true;
	}
	for (size_t i = 0; i < sizeof(mmu_refusals) / sizeof(mmu_refusals[0]); i++)
		if (strstr(x, mmu_refusals[i]))
			return true;
	return false;
}

bool bootlog_parse_verdict(const char *s, long *passed, long *failed)
{
	static const char mid[] = " passed, ";
	const char *hit = NULL;

	for (const char *p = strstr(s, mid); p; p = strstr(p + 1, mid))
		hit = p; /* the last one on the line */
	if (!hit || hit == s || !isdigit((unsigned char)hit[-1]))
		return false;
	const char *start = hit;
	while (start > s && isdigit((unsigned char)start[-1]))
		start--;
	/* The number must stand on its own: "x12 passed" is not a verdict. */
	if (start > s && !(start[-1] == ' ' || start[-1] == ':' || start[-1] == '\t'))
		return false;
	const char *q = hit + sizeof(mid) - 1;
	if (!isdigit((unsigned char)*q))
		return false;
	char *end;
	long f = strtol(q, &end, 10);
	if (strncmp(end, " failed", 7) != 0)
		return false;
	*passed = strtol(start, NULL, 10);
	*failed = f;
	return true;
}

enum bootlog_event bootlog_line(struct bootlog *b, const char *line)
{
	b->lines++;
	if (b->expect_reason) {
		const char *r = skip_xen_prefix(line);
		if (*r) { /* the reason follows the header, possibly after a blank */
			keep(b->panic_reason, r);
			b->expect_reason = false;
		}
		return BOOTLOG_NOTHING;
	}
	if (!is_xen_line(line)) {
		long p, f;
		if (!b->dom0_started)
			return BOOTLOG_NOTHING; /* firmware or Xen's early lines */
		b->guest_lines++;
		const char *pan = strstr(line, "PANIC: ");
		if (pan && !b->guest_panic[0])
			keep(b->guest_panic, pan + 7);
		if (bootlog_parse_verdict(line, &p, &f)) {
			b->have_verdict = true;
			b->passed = p;
			b->failed = f;
			return BOOTLOG_VERDICT;
		}
		return BOOTLOG_NOTHING;
	}
	const char *x = skip_xen_prefix(line);
	if (strstr(x, "Freed ") && strstr(x, "init memory"))
		b->dom0_started = true; /* from here on, unprefixed lines are dom0's */
	else if (b->dom0_started) {
		long dom;
		if (bootlog_guest_warning(line, &dom) && (dom < 0 || dom >= b->warn_from_domid) &&
		    !allowed(b->warn_allow, x) && !b->guest_warnings++)
			keep(b->guest_warning, x);
	}
	if (strstr(x, "Panic on CPU")) {
		b->xen_panic = true;
		b->expect_reason = true;
		return BOOTLOG_NOTHING;
	}
	if (strstr(x, "Reboot in five seconds"))
		return BOOTLOG_FINAL;
	/* "Hardware Dom0 halted: halting machine", "... crashed: rebooting
	 * machine in 5 seconds.", "... shutdown: rebooting machine". */
	if (strstr(x, "Hardware Dom0 ") || strstr(x, "Domain 0 crashed")) {
		b->dom0_ended = true;
		b->dom0_crashed = strstr(x, "crashed") != NULL;
		keep(b->dom0_end, x);
		return BOOTLOG_FINAL;
	}
	return BOOTLOG_NOTHING;
}
