/*
 * helper_cli: run the built `p2m` command (see helper_cli.h).
 */
#define _GNU_SOURCE
#include "helper_cli.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static char p2m_bin[4200];
static char data_dir[4096];

int cli_setup(void **state)
{
	char self[4000];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	const char *f = __FILE__, *slash = strrchr(f, '/');

	(void)state;
	if (n <= 0)
		return -1;
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(p2m_bin, sizeof(p2m_bin), "%s/../../p2m", self);
	snprintf(data_dir, sizeof(data_dir), "%.*s/../data/e820", (int)(slash - f), f);
	if (access(p2m_bin, X_OK)) {
		fprintf(stderr, "%s not built\n", p2m_bin);
		return -1;
	}
	return 0;
}

const char *cli_data_dir(void)
{
	return data_dir;
}

static int run_args(char **out, const char *args)
{
	char cmd[16384];
	size_t len = 0, cap = 1 << 16;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "cd %s && %s %s 2>&1", data_dir, p2m_bin, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	*out = malloc(cap + 1);
	assert_non_null(*out);
	for (;;) {
		size_t r;

		if (len == cap) {
			cap *= 2;
			*out = realloc(*out, cap + 1);
			assert_non_null(*out);
		}
		r = fread(*out + len, 1, cap - len, p);
		if (!r)
			break;
		len += r;
	}
	(*out)[len] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int cli_run(char **out, const char *fmt, ...)
{
	char args[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return run_args(out, args);
}

void cli_expect(int code, const char *text, const char *fmt, ...)
{
	char args[2048], *out;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	rc = run_args(&out, args);
	if (rc != code || !strstr(out, text))
		fail_msg("p2m %s: exit %d, want %d and \"%s\"; it said:\n%s", args, rc, code,
			 text, out);
	free(out);
}
