/*
 * A small snprintf: libp2m must name what was wrong in its errors and
 * print its dump without libc. Integer conversions with an optional
 * length (l, ll, z), '#', '0' and a width; %s, %c, %p.
 */
#include <stdbool.h>
#include <stdint.h>

#include "p2m/fmt.h"

struct out {
	char *buf;
	size_t n, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->n)
		o->buf[o->len] = c;
	o->len++;
}

/* neg: print a '-' first; like the prefix, it counts in the width. */
static void put_uint(struct out *o, uint64_t v, unsigned base, bool alt,
		     bool zero, unsigned width, bool neg)
{
	char tmp[24];
	unsigned i = 0, len;

	do {
		unsigned d = (unsigned)(v % base);
		tmp[i++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	len = i + (alt && base == 16 ? 2 : 0) + (neg ? 1 : 0);
	if (!zero)
		for (; width > len; width--)
			put(o, ' ');
	if (neg)
		put(o, '-');
	if (alt && base == 16) {
		put(o, '0');
		put(o, 'x');
	}
	if (zero)
		for (; width > len; width--)
			put(o, '0');
	while (i)
		put(o, tmp[--i]);
}

int p2m_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct out o = { buf, n, 0 };

	for (; *fmt; fmt++) {
		bool alt = false, zero = false;
		unsigned width = 0, lng = 0;
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '#')
				alt = true;
			else if (*fmt == '0')
				zero = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng += *fmt == 'z' ? 2 : 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
			s = lng ? va_arg(ap, long long) : va_arg(ap, int);
			u = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
			put_uint(&o, u, 10, false, zero, width, s < 0);
			break;
		case 'u':
		case 'x':
			u = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
			put_uint(&o, u, *fmt == 'u' ? 10 : 16, alt, zero, width, false);
			break;
		case 'p':
			put_uint(&o, (uintptr_t)va_arg(ap, void *), 16, true, false, 0, false);
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			unsigned len = 0;

			if (!str)
				str = "(null)";
			while (str[len])
				len++;
			for (; width > len; width--)
				put(&o, ' ');
			while (*str)
				put(&o, *str++);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case '%':
			put(&o, '%');
			break;
		default: /* unknown conversion: print it as it stands */
			put(&o, '%');
			if (!*fmt)
				goto done;
			put(&o, *fmt);
		}
	}
done:
	if (n)
		buf[o.len < n ? o.len : n - 1] = '\0';
	return (int)o.len;
}

int p2m_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = p2m_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}
