/*
 * XENMEM_exchange of a run of frames for a machine-contiguous 2 MiB
 * extent and back (exchange.c).
 */
#ifndef GUEST_EXCHANGE_H
#define GUEST_EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>

/* Trade and trade back; the report into line, true when all was right. */
bool exchange_run(char *line, size_t cap);

#endif
