/*
 * The four functions a freestanding C compiler may call on its own
 * (struct copies, zeroing loops, p2m_build's copy of the initial list).
 * Only the freestanding builds of libp2m carry them (the PV guest links
 * them too); a hosted program gets them from libc.
 *
 * Word at a time when the pointers are 8-byte aligned: in a PV guest under
 * QEMU's TCG every load and store is an emulated access, so a byte loop
 * over a 1 GiB initial list costs eight times what it needs to.
 */
#include <stddef.h>
#include <stdint.h>

/* GCC would turn these loops back into calls to themselves. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memmove(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

static int aligned8(const void *a, const void *b)
{
	return (((uintptr_t)a | (uintptr_t)b) & 7u) == 0;
}

void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (aligned8(dp, sp)) {
		uint64_t *dw = (uint64_t *)dp;
		const uint64_t *sw = (const uint64_t *)sp;

		for (; n >= 8; n -= 8)
			*dw++ = *sw++;
		dp = (unsigned char *)dw;
		sp = (const unsigned char *)sw;
	}
	while (n--)
		*dp++ = *sp++;
	return d;
}

/* Forward copying is right whenever the destination is not inside the
 * source's tail. */
void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *dp = d;

	if (((uintptr_t)dp & 7u) == 0) {
		uint64_t w = (uint64_t)(unsigned char)c * 0x0101010101010101ull;
		uint64_t *dw = (uint64_t *)dp;

		for (; n >= 8; n -= 8)
			*dw++ = w;
		dp = (unsigned char *)dw;
	}
	while (n--)
		*dp++ = (unsigned char)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *ap = a, *bp = b;

	for (; n; n--, ap++, bp++)
		if (*ap != *bp)
			return *ap < *bp ? -1 : 1;
	return 0;
}
