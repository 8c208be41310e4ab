/*
 * A minimal xenstore client over the domU's store ring (start_info
 * store_mfn/store_evtchn): one request in flight, replies read in order,
 * watch events remembered as a flag. Waiting is SCHEDOP_poll on the store
 * event channel, with its pending bit cleared in shared_info.
 */
#ifndef GUEST_XENSTORE_H
#define GUEST_XENSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "p2m/xen.h"

/* (Re)attach to the ring named in start_info; needs shared_info mapped. */
void xs_init(struct shared_info *si);
/* Value of path into buf (NUL-terminated); length or negative. */
int xs_read(const char *path, char *buf, size_t cap);
int xs_write(const char *path, const char *value);
int xs_watch(const char *path, const char *token);
/* Block until a watch fired (returns at once if one is pending). */
void xs_wait_watch(void);

#endif
