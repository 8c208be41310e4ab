/*
 * Save/restore as a domU (cmdline word "loop"): the guest stays up after
 * its checks and serves control/shutdown through xenstore.
 *
 *   "suspend"   ack, then: unpublish; p2m_suspend (libp2m's frames to
 *               pfns); the platform's and pt.c's frames to pfns; put the
 *               bss page back under shared_info's VA; store and console
 *               mfns to pfns; SHUTDOWN_suspend with the start_info mfn in
 *               rdx. On return (0: a new domain, 1: cancelled) everything
 *               is translated back through the P2M (the restorer rewrote
 *               its entries), libp2m resumes, shared_info is mapped and
 *               published again, and the checks run again.
 *   "poweroff", "halt", "reboot"
 *               ack and leave with the last verdict.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/balloon.h"
#include "common/boot.h"
#include "common/clock.h"
#include "common/pattern.h"
#include "common/platform.h"
#include "common/runtime.h"
#include "common/smp.h"
#include "common/xenstore.h"
#include "p2m/migrate.h"
#include "p2m/publish.h"

static bool streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

static uint64_t to_pfn(uint64_t mfn)
{
	uint64_t pfn;

	if (!m2p_read(mfn, &pfn))
		panic("suspend: mfn %#lx has no pfn", (unsigned long)mfn);
	return pfn;
}

static long do_suspend(void)
{
	struct sched_shutdown sd = { .reason = SHUTDOWN_suspend };
	uint64_t si_pfn = ((uint64_t)(uintptr_t)start_info - VIRT_BASE) >> PAGE_SHIFT;
	bool new_domain;
	uint64_t t0;
	long rc;
	int err;

	p2m_unpublish(&boot.p2m);
	err = p2m_suspend(&boot.p2m);
	if (err) {
		printk("suspend: p2m_suspend: %s\n", p2m_last_error(&boot.p2m));
		/* A failed suspend changed nothing: publishing cannot fail. */
		(void)p2m_publish(&boot.p2m, &boot.shared_info->arch, boot.tools_read_list);
		return err;
	}
	platform_suspend();
	pt_suspend();
	/* Xen's system time: on the same host (a save and restore, or a
	 * live migration to localhost) it runs on across the new domain. */
	t0 = clock_ns();
	unmap_shared_info();
	start_info->store_mfn = to_pfn(start_info->store_mfn);
	start_info->console.domU.mfn = to_pfn(start_info->console.domU.mfn);

	rc = HYPERCALL(sched_op, SCHEDOP_shutdown, &sd, boot_pfn_to_mfn(si_pfn), 0, 0);
	new_domain = rc == 0;
	if (!new_domain) {
		start_info->store_mfn = boot_pfn_to_mfn(start_info->store_mfn);
		start_info->console.domU.mfn = boot_pfn_to_mfn(start_info->console.domU.mfn);
	}
	if (m2p_init())
		panic("resume: M2P queries failed");
	pt_resume(boot_pfn_to_mfn);
	platform_resume();
	err = p2m_resume(&boot.p2m, new_domain);
	if (err)
		panic("resume: p2m_resume: %s", p2m_last_error(&boot.p2m));
	con_init();
	map_shared_info();
	if (p2m_publish(&boot.p2m, &boot.shared_info->arch, boot.tools_read_list))
		panic("resume: p2m_publish: %s", p2m_last_error(&boot.p2m));
	xs_init(boot.shared_info);
	if (new_domain && xs_watch("control/shutdown", "p2m") < 0)
		panic("resume: cannot watch control/shutdown again");
	if (new_domain)
		runtime_watch();
	smp_check_due = true; /* the other vCPUs come up again after it */
	pattern_due = pattern_armed();
	printk("resumed (%s) after %lu ms suspended (guest clock): start_info flags %#x, "
	       "nr_pages %#lx, shared_info %#lx, p2m_cr3 %#lx\n",
	       new_domain ? "new domain" : "cancelled", (unsigned long)clock_ms_since(t0),
	       start_info->flags, start_info->nr_pages, start_info->shared_info,
	       (unsigned long)boot.shared_info->arch.p2m_cr3);
	if (new_domain)
		balloon_resume();
	return rc;
}

unsigned suspend_loop(unsigned failed)
{
	char v[32];

	xs_init(boot.shared_info);
	if (xs_watch("control/shutdown", "p2m") < 0) {
		printk("loop: cannot watch control/shutdown\n");
		return failed + 1;
	}
	runtime_init();
	/* Nothing lost (pattern.h): from here on the pool's pages carry the
	 * pattern of their pfn, checked after every resume. */
	pattern_arm(balloon_ceiling());
	printk("loop: waiting on control/shutdown\n");
	for (;;) {
		xs_wait_watch();
		if (runtime_poll())
			failed = checks_run();
		if (xs_read("control/shutdown", v, sizeof(v)) <= 0 || !v[0])
			continue;
		printk("loop: control/shutdown = '%s'\n", v);
		xs_write("control/shutdown", "");
		if (streq(v, "suspend")) {
			long rc = do_suspend();

			printk("loop: suspend returned %ld\n", rc);
			failed = checks_run();
			continue;
		}
		if (streq(v, "poweroff") || streq(v, "halt") || streq(v, "reboot"))
			return failed;
	}
}
