/*
 * Error codes of libp2m. Every fallible call returns 0 or one of these,
 * negated, and leaves the P2M as it was. The context also keeps a message
 * naming what was wrong (p2m_last_error()), e.g.
 *   "pfn 0x1000000000 is beyond the capacity 0x10000000".
 */
#ifndef P2M_ERROR_H
#define P2M_ERROR_H

enum p2m_error {
	P2M_OK = 0,
	P2M_EINVAL,     /* an argument or value is malformed */
	P2M_ERANGE,     /* a pfn or range lies beyond the capacity */
	P2M_ENOMEM,     /* the platform could not allocate a frame */
	P2M_EMAP,       /* the platform could not change a mapping */
	P2M_EBUSY,      /* the entry is in a state that forbids the change */
	P2M_ENOSPC,     /* a caller-supplied array is too small */
	P2M_ECONFLICT,  /* two inputs contradict each other (E820 planning) */
	P2M_EPARSE,     /* malformed input text (host-side parsers) */
	P2M_ENOSYS,     /* the platform lacks an operation */
	P2M_ECHECK,     /* a consistency check found a mismatch */
	P2M_NERRORS
};

const char *p2m_strerror(int err);

#endif
