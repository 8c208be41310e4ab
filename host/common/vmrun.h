/*
 * vmrun: run an emulator (QEMU) as a child process and watch its console.
 *
 * The child gets /dev/null as stdin and one pipe for both stdout and stderr,
 * so serial output and QEMU's own complaints arrive in order. The parent
 * reads the pipe, cuts it into lines (CR and the terminal escape sequences a
 * firmware may print are dropped) and hands each complete line to a
 * callback together with the host time since the child started. A final
 * partial line is delivered when the pipe closes.
 *
 * A timeout (seconds, 0 = none) ends the child: SIGTERM, then SIGKILL two
 * seconds later. The child runs in its own process group and the whole
 * group is signalled, so a helper it spawned cannot outlive it. The result
 * reports how the child ended and its resource use from wait4(), whose
 * ru_maxrss is the peak resident set of the emulator itself.
 *
 * Invariants a caller relies on: vmrun() returns only after the child has
 * been reaped; it never leaves a child behind, even on a read error.
 */
#ifndef P2M_HOST_VMRUN_H
#define P2M_HOST_VMRUN_H

#include <stdbool.h>

struct vmrun_result {
	bool started;          /* exec succeeded (false: errno_exec tells why) */
	int errno_exec;        /* errno of a failed exec, 0 otherwise */
	bool exited;           /* true: normal exit, status in exit_status */
	int exit_status;       /* exit status when exited */
	int term_signal;       /* signal that ended it when !exited */
	bool timed_out;        /* ended by vmrun because the timeout passed */
	double wall_seconds;   /* from fork to reap */
	long peak_rss_kib;     /* ru_maxrss of the child, in KiB */
	bool stopped_early;    /* ended because the callback asked for it */
	int interrupted_by;    /* SIGINT/SIGTERM the runner got (child ended), or 0 */
	long pid;              /* the child's, set before the first line arrives */
};

/* Called once per console line (without the newline). Returns true to go
 * on, false to end the child now (e.g. after a fatal line was seen). */
typedef bool (*vmrun_line_fn)(void *ctx, double t_seconds, const char *line);

/*
 * Run argv[0] (searched in PATH) with argv. Returns 0 when the child was
 * started and reaped (whatever its status: see *res), -1 when it could not
 * be started at all (fork or pipe failure; errno is set). An exec failure
 * is reported in res->started/errno_exec with a return of 0.
 */
int vmrun(char *const argv[], double timeout_seconds, vmrun_line_fn on_line, void *ctx,
	  struct vmrun_result *res);

#endif
