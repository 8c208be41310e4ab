/*
 * xlprogress.so: LD_PRELOADed into the sender's `xl migrate` in the
 * toolstack tier's dom0 (scripts/toolstack-migrate.sh). xl hides libxc's
 * progress messages while it migrates (xl_migrate.c calls
 * xtl_stdiostream_adjust_flags(logger, XTL_STDIOSTREAM_HIDE_PROGRESS, 0)
 * around libxl_domain_suspend), and those are the saver's only report of
 * its rounds: "Frames iteration N: done/total" per live round, "Domain now
 * suspended", then "Frames: done/total" for the last one. This library
 * makes that call do nothing, so `xl -vvv migrate` prints them.
 */
void xtl_stdiostream_adjust_flags(void *logger, unsigned set_flags, unsigned clear_flags);

void xtl_stdiostream_adjust_flags(void *logger, unsigned set_flags, unsigned clear_flags)
{
	(void)logger;
	(void)set_flags;
	(void)clear_flags;
}
