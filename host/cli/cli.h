/*
 * The `p2m` command: one file per subcommand (cli/cmd_NAME.c), each
 * defining `int cmd_NAME(int argc, char **argv)` with argv[0] = "NAME".
 * Every subcommand answers --help and returns 0 on success, 1 on a
 * failure it explains on stderr, 2 on bad usage.
 */
#ifndef P2M_CLI_H
#define P2M_CLI_H

int cmd_demo(int argc, char **argv);
int cmd_e820(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_boot(int argc, char **argv);
int cmd_sim(int argc, char **argv);

#endif
