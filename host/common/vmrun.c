/*
 * vmrun: fork/exec an emulator, stream its console line by line with host
 * timestamps, enforce a timeout, reap it with wait4() for its peak RSS.
 *
 * The child runs in its own process group so that a timeout, a callback's
 * request or a SIGINT/SIGTERM to the runner ends QEMU and anything it
 * spawned; the runner catches those two signals only while a child runs,
 * and the child asks the kernel for SIGKILL when the runner dies, so
 * neither Ctrl-C nor a killed runner leaves an emulator eating host memory.
 * An exec failure is passed back over a close-on-exec pipe so the caller
 * can say "qemu-system-x86_64: not found" instead of a bare exit 127.
 */
#define _GNU_SOURCE
#include "common/vmrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_CHARS 4096
#define KILL_GRACE_SECONDS 2.0

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Line assembly, dropping CR and ANSI escape sequences (SeaBIOS and Xen's
 * console clear the screen; a log should not carry that). */
struct liner {
	char buf[LINE_MAX_CHARS + 1];
	size_t len;
	int esc; /* 0 none, 1 after ESC, 2 inside CSI */
	vmrun_line_fn fn;
	void *ctx;
	double t0;
	bool stop;
};

static void liner_flush(struct liner *l)
{
	l->buf[l->len] = '\0';
	if (!l->stop && !l->fn(l->ctx, now_seconds() - l->t0, l->buf))
		l->stop = true;
	l->len = 0;
}

static void liner_feed(struct liner *l, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (l->esc == 1) {
			l->esc = (c == '[') ? 2 : 0;
			continue;
		}
		if (l->esc == 2) {
			if (c >= 0x40 && c <= 0x7e)
				l->esc = 0;
			continue;
		}
		if (c == 0x1b) {
			l->esc = 1;
			continue;
		}
		if (c == '\r' || c == '\0')
			continue;
		if (c == '\n') {
			liner_flush(l);
			continue;
		}
		l->buf[l->len++] = (char)c;
		if (l->len == LINE_MAX_CHARS)
			liner_flush(l);
	}
}

static void signal_group(pid_t pid, int sig)
{
	/* The group first; the pid alone if the group is already gone. */
	if (kill(-pid, sig) != 0)
		kill(pid, sig);
}

/* In the child: its own process group, stdin /dev/null, stdout and stderr
 * into the pipe, then exec. An exec failure's errno goes to err_w. */
static _Noreturn void run_child(char *const argv[], int out_w, int err_w)
{
	int devnull, e;
	ssize_t w;

	setpgid(0, 0);
	/* If the runner itself is killed (SIGKILL from a test driver),
	 * the emulator must not live on holding gigabytes. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(127);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out_w, 1);
	dup2(out_w, 2);
	execvp(argv[0], argv);
	e = errno;
	w = write(err_w, &e, sizeof(e));
	(void)w;
	_exit(127);
}

/* Read the console until it closes, ending the child (SIGTERM, then
 * SIGKILL after the grace period) on a signal to us, when the callback
 * asks, or at the deadline (0: none). */
static void watch_console(int fd, pid_t pid, struct liner *l, double deadline,
			  struct vmrun_result *res)
{
	double kill_at = 0; /* when SIGKILL follows the SIGTERM we sent */
	bool termed = false;
	char chunk[8192];

	for (;;) {
		double now = now_seconds();
		if (!termed && (interrupted || l->stop || (deadline && now >= deadline))) {
			if (interrupted)
				res->interrupted_by = interrupted;
			else if (l->stop)
				res->stopped_early = true;
			else
				res->timed_out = true;
			signal_group(pid, SIGTERM);
			termed = true;
			kill_at = now + KILL_GRACE_SECONDS;
		}
		if (termed && now >= kill_at) {
			signal_group(pid, SIGKILL);
			kill_at = now + 3600;
		}
		int wait_ms = -1;
		double next = termed ? kill_at : deadline;
		if (next) {
			double d = next - now;
			wait_ms = d <= 0 ? 0 : (int)(d * 1000) + 1;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, wait_ms);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			break; /* cannot watch any more: end the child below */
		}
		if (pr == 0)
			continue;
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break; /* every writer closed: the child is gone or going */
		liner_feed(l, chunk, (size_t)n);
	}
	if (l->len)
		liner_flush(l);
}

/* The console closed; the child normally exits right away. Do not wait
 * for ever on one that closed its output but keeps running. */
static void reap(pid_t pid, double t0, struct vmrun_result *res)
{
	struct rusage ru;
	int status = 0;
	double give_up = now_seconds() + KILL_GRACE_SECONDS;

	memset(&ru, 0, sizeof(ru));
	for (;;) {
		pid_t w = wait4(pid, &status, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (now_seconds() >= give_up) {
			signal_group(pid, SIGKILL);
			while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
				;
			break;
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	res->wall_seconds = now_seconds() - t0;
	res->peak_rss_kib = ru.ru_maxrss;
	if (WIFEXITED(status)) {
		res->exited = true;
		res->exit_status = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->term_signal = WTERMSIG(status);
	}
}

int vmrun(char *const argv[], double timeout_seconds, vmrun_line_fn on_line, void *ctx,
	  struct vmrun_result *res)
{
	int out[2], errp[2];

	memset(res, 0, sizeof(*res));
	if (pipe2(out, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(errp, O_CLOEXEC) != 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}

	struct sigaction sa, old_int, old_term;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	double t0 = now_seconds();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(errp[0]);
		close(errp[1]);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		errno = e;
		return -1;
	}
	if (pid == 0)
		run_child(argv, out[1], errp[1]);
	setpgid(pid, pid); /* also from the parent: no race with an early kill */
	res->pid = pid;
	close(out[1]);
	close(errp[1]);

	int e = 0;
	if (read(errp[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		res->started = false;
		res->errno_exec = e;
	} else {
		res->started = true;
	}
	close(errp[0]);

	struct liner l = { .fn = on_line, .ctx = ctx, .t0 = t0 };
	watch_console(out[0], pid, &l, timeout_seconds > 0 ? t0 + timeout_seconds : 0, res);
	close(out[0]);
	reap(pid, t0, res);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return 0;
}
