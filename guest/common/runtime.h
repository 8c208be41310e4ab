/*
 * What a domU serves after its boot besides control/shutdown
 * (runtime.c; docs/runtime.md): the balloon (memory/target) and requests
 * a test in dom0 writes, each acted on when its value changes:
 *   control/p2m-compact    the explicit P2M compaction (balloon_compact)
 *   control/p2m-exchange   XENMEM_exchange of a 2 MiB run and back
 *   control/p2m-grant      map the grants listed in data/p2m-grants
 *                          (grant.c), read them, unmap
 *   control/p2m-churn      make and drop a leaf for data/p2m-churn-ms
 *                          (churn.c: a live migration then aborts)
 *   control/p2m-corrupt    flip bits in 3 patterned pages, check that the
 *                          checker finds them (pattern.c), rewrite them
 *   control/p2m-ping       answer with the guest's clock (alive during a
 *                          migration's live rounds)
 * A request's result is a check line of the next run of the checks.
 */
#ifndef GUEST_RUNTIME_H
#define GUEST_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

/* Start the balloon (a domU) and register the watches. */
void runtime_init(void);
/* Register the watches again (after a restore into a new domain). */
void runtime_watch(void);
/* After a watch fired: true if something changed (run the checks). */
bool runtime_poll(void);

/* The result of the last request not reported yet: its check name and
 * line; -1 when none, else 1 passed / 0 failed. */
int runtime_report(const char **name, char *line, size_t cap);

#endif
