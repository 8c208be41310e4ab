/*
 * Structure changes on request, for a live migration to run into
 * (churn.c, docs/runtime.md "Live migration"): control/p2m-churn makes
 * the guest grow a leaf into never-populated balloon space and give it
 * back, again and again, for data/p2m-churn-ms milliseconds (default
 * 15000). Each leaf moves p2m_generation by 2 and each give-back by 2, so
 * Xen 4.17's saver, which compares the generation after every live round,
 * aborts a migration running meanwhile ("p2m generation count changed.
 * Migration aborted."). Between steps the guest sleeps 100 ms
 * (SCHEDOP_poll with a timeout), so dom0 and the saver run.
 */
#ifndef GUEST_CHURN_H
#define GUEST_CHURN_H

#include <stdbool.h>
#include <stddef.h>

bool churn_run(char *line, size_t cap);

#endif
