/*
 * bootverdict: the verdict of `p2m boot` (see bootverdict.h).
 */
#include "common/bootverdict.h"

#include <string.h>

void boot_expect_line(struct boot_expect *e, const char *line)
{
	for (int i = 0; i < e->n; i++)
		if (!e->found[i] && strstr(line, e->text[i]))
			e->found[i] = true;
}

int boot_debug_exit_code(const struct vmrun_result *r)
{
	return r->exited && (r->exit_status & 1) ? r->exit_status >> 1 : -1;
}

/* What the guest got to, for a message about a run that stopped short. */
static const char *progress(const struct bootlog *b, const char *otherwise)
{
	if (!b->dom0_started)
		return "Xen never started dom0";
	if (!b->guest_lines)
		return "the guest printed nothing";
	return otherwise;
}

bool bootverdict(const struct bootlog *b, const struct vmrun_result *r, double timeout,
		 const struct boot_expect *e, char *why, size_t n)
{
	int code = boot_debug_exit_code(r);

	why[0] = '\0';
	if (r->interrupted_by)
		snprintf(why, n, "interrupted (signal %d); QEMU ended", r->interrupted_by);
	else if (b->xen_panic)
		snprintf(why, n, "Xen panic: %s", b->panic_reason[0] ? b->panic_reason : "(no reason printed)");
	else if (b->guest_panic[0])
		snprintf(why, n, "the guest panicked: %s", b->guest_panic);
	else if (b->dom0_crashed)
		snprintf(why, n, "dom0 crashed (Xen: \"%s\")", b->dom0_end);
	else if (r->timed_out)
		snprintf(why, n, "timeout after %g s: QEMU killed (%s)", timeout,
			 progress(b, b->have_verdict ? "after the guest's verdict"
						     : "the guest gave no verdict"));
	else if (!b->have_verdict)
		snprintf(why, n, "no \"N passed, N failed\" line from the guest (%s)",
			 progress(b, b->dom0_ended ? b->dom0_end : "it stopped early"));
	else if (b->failed > 0 || b->passed <= 0)
		snprintf(why, n, "the guest reported %ld passed, %ld failed", b->passed, b->failed);
	else if (code < 0)
		snprintf(why, n, "the guest passed but did not leave through isa-debug-exit (%s)",
			 b->dom0_ended ? b->dom0_end : "QEMU ended otherwise");
	else if (code != BOOT_DEBUG_EXIT_PASS)
		snprintf(why, n, "the guest passed its checks but wrote 0x%x to isa-debug-exit (pass is 0x%x)",
			 code, BOOT_DEBUG_EXIT_PASS);
	if (!why[0] && e->clean_log && b->guest_warnings)
		snprintf(why, n, "Xen logged %lu warning(s) about the guest, the first: %s",
			 b->guest_warnings, b->guest_warning);
	for (int i = 0; i < e->n && !why[0]; i++)
		if (!e->found[i])
			snprintf(why, n, "no console line contains the expected \"%s\"", e->text[i]);
	return why[0] == '\0';
}

void bootverdict_print(FILE *f, const struct bootlog *b, const struct vmrun_result *r,
		       bool pass, const char *why)
{
	int code = boot_debug_exit_code(r);

	fprintf(f, "p2m boot: guest: ");
	if (b->have_verdict)
		fprintf(f, "%ld passed, %ld failed", b->passed, b->failed);
	else
		fprintf(f, "no verdict");
	fprintf(f, "; QEMU: ");
	if (r->exited)
		fprintf(f, "exit status %d%s", r->exit_status, code >= 0 ? "" : " (not via isa-debug-exit)");
	else
		fprintf(f, "killed by signal %d", r->term_signal);
	if (code >= 0)
		fprintf(f, " (isa-debug-exit 0x%x)", code);
	fprintf(f, "\np2m boot: wall %.2f s, QEMU peak RSS %.1f MiB\n", r->wall_seconds,
		(double)r->peak_rss_kib / 1024.0);
	if (pass)
		fprintf(f, "p2m boot: PASS\n");
	else
		fprintf(f, "p2m boot: FAIL: %s\n", why);
}
