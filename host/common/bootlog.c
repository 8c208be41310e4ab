/*
 * bootlog: classify console lines of a Xen boot (see bootlog.h).
 *
 * Matching is by fixed substrings of Xen 4.17's messages; each is named
 * where it is matched so a change in Xen's wording is easy to follow.
 * "Freed ... init memory" is the last thing Xen prints before it starts
 * dom0, so a line without the "(XEN)" prefix after it is the guest's.
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
