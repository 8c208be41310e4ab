/*
 * xlprogress.so: LD_PRELOADed into the sender's `xl migrate` in the
 * toolstack tier's dom0 (scripts/toolstack-migrate.sh). Two jobs:
 *
 * 1. Show the saver's rounds. xl hides libxc's progress messages while it
 *    migrates (xl_migrate.c calls xtl_stdiostream_adjust_flags(logger,
 *    XTL_STDIOSTREAM_HIDE_PROGRESS, 0) around libxl_domain_suspend), and
 *    those are the saver's only report of its rounds: "Frames iteration N:
 *    done/total" per live round, "Domain now suspended", then "Frames:
 *    done/total" for the last one. Our xtl_stdiostream_adjust_flags does
 *    nothing, so `xl -vvv migrate` prints them.
 *
 * 2. Hold the saver in its first live round while the test acts on the
 *    guest. How long a live round lasts depends on the machine (5 s on an
 *    idle one, 20 s on a loaded one): a test that balloons "during the
 *    rounds" on a timer proves nothing on a fast machine. While the file
 *    HOLD_FILE exists, the first progress report of a live round
 *    ("Frames iteration ...") waits, after creating HELD_FILE so that the
 *    script knows the saver is inside the round with log-dirty on. The
 *    wait ends when the script removes HOLD_FILE, or after HOLD_MAX_S.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOLD_FILE "/tmp/xlprogress-hold"
#define HELD_FILE "/tmp/xlprogress-held"
#define HOLD_MAX_S 300

struct xentoollog_logger;

void xtl_stdiostream_adjust_flags(void *logger, unsigned set_flags, unsigned clear_flags);
void xtl_progress(struct xentoollog_logger *logger, const char *context,
		  const char *doing_what, unsigned long done, unsigned long total);

void xtl_stdiostream_adjust_flags(void *logger, unsigned set_flags, unsigned clear_flags)
{
	(void)logger;
	(void)set_flags;
	(void)clear_flags;
}

static void hold_if_asked(void)
{
	static int held;	/* once per process: the first live round only */
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	int fd;
	long i;

	if (held || access(HOLD_FILE, F_OK) != 0)
		return;
	held = 1;
	fd = open(HELD_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "xlprogress: holding the saver in its live round while %s exists\n",
		HOLD_FILE);
	for (i = 0; i < HOLD_MAX_S * 20L && access(HOLD_FILE, F_OK) == 0; i++)
		nanosleep(&tick, NULL);
	fprintf(stderr, "xlprogress: %s after %.1f s\n",
		access(HOLD_FILE, F_OK) == 0 ? "gave up holding" : "released", i / 20.0);
	unlink(HELD_FILE);
}

void xtl_progress(struct xentoollog_logger *logger, const char *context,
		  const char *doing_what, unsigned long done, unsigned long total)
{
	void (*next)(struct xentoollog_logger *, const char *, const char *,
		     unsigned long, unsigned long);

	*(void **)&next = dlsym(RTLD_NEXT, "xtl_progress");
	if (next)
		next(logger, context, doing_what, done, total);
	if (doing_what && strncmp(doing_what, "Frames iteration", 16) == 0)
		hold_if_asked();
}
