/*
 * Running the built `p2m` command from a unit test, as a user would: the
 * binary at the top of the build directory (found from the test's own
 * path, build/tests/unit/test_X -> build/p2m), started by the shell in
 * tests/data/e820 so that the sample maps are named as the docs name
 * them, with stderr joined to stdout so that a test can look for the
 * message a user would see.
 */
#ifndef P2M_TEST_HELPER_CLI_H
#define P2M_TEST_HELPER_CLI_H

/* Locate the binary and the data directory: 0, or -1 (said on stderr)
 * when the command is not built. A cmocka group setup. */
int cli_setup(void **state);

/* Run `p2m ARGS` (ARGS printf-formatted; the shell splits them), wait for
 * it, and return its exit status (-1 if a signal ended it). *out holds
 * everything it printed, NUL-terminated; the caller frees it. */
int cli_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_run(ARGS) must exit with `code` and print `text`; a failure shows
 * the command, both exit codes and all it printed. */
void cli_expect(int code, const char *text, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The directory cli_run() runs in (tests/data/e820). */
const char *cli_data_dir(void);

#endif
