/*
 * Grant mappings as foreign P2M entries, in batches with per-slot status
 * (grant.c).
 */
#ifndef GUEST_GRANT_H
#define GUEST_GRANT_H

#include <stdbool.h>
#include <stddef.h>

/* Map the grants data/p2m-grants lists (plus two bad refs), check their
 * content, unmap (plus one bogus handle); the report into line, true
 * when every slot behaved. */
bool grant_run(char *line, size_t cap);

#endif
