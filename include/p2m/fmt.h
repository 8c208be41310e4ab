/*
 * A small freestanding snprintf for libp2m's messages and dumps.
 * Supports %s %c %d %u %x %lu %lx %llu %llx %zu %p, the '#' flag, zero
 * padding and a width. Always NUL-terminates (when n > 0); returns the
 * length the full output would have had.
 */
#ifndef P2M_FMT_H
#define P2M_FMT_H

#include <stdarg.h>
#include <stddef.h>

int p2m_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int p2m_snprintf(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
