/*
 * Console output through CONSOLEIO_write. Xen prints a dom0's writes on
 * its own console (the serial line) prefixed with "(d0)"; it buffers up
 * to a newline, so we write whole lines when we can.
 *
 * Formatting is libp2m's p2m_vsnprintf (include/p2m/fmt.h), so the guest
 * and the library agree on one small printf.
 */
#include <stdarg.h>

#include "arch/x86_64/hypercall.h"
#include "common/guest.h"
#include "p2m/fmt.h"

void con_write(const char *s, size_t n)
{
	while (n) {
		long rc = hyp_console_write(s, n);

		if (rc <= 0)
			return; /* nothing else we could print to */
		s += rc;
		n -= (size_t)rc;
	}
}

static void vprintk(const char *fmt, va_list ap)
{
	char buf[512];
	int n = p2m_vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	con_write(buf, (size_t)n);
}

void printk(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void panic(const char *fmt, ...)
{
	va_list ap;

	con_write("PANIC: ", 7);
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
	con_write("\n", 1);
	guest_exit(EXIT_FAIL);
}
