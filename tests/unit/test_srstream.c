/*
 * tests/xen/srstream.c, the reader of `xl save`'s stream that the
 * toolstack tier's --big run cuts after a few pages, on synthetic
 * streams built here the way xl, libxl and libxc write them: the xl
 * header with its JSON config, libxl's LibxlFmt header and its
 * LIBXC_CONTEXT record, libxc's image and domain headers, X86_PV_INFO,
 * STATIC_DATA_END, X86_PV_P2M_FRAMES (also at the 600 GiB domU's size:
 * pfns 0-0x95fffff, 307200 frames), PAGE_DATA records (with a type that
 * carries no data), END and libxl's END. The input is handed out in
 * pieces of varying size, as a FIFO does. Checked: every figure of the
 * summary, the cut after N PAGE_DATA records, a stream that starts at
 * libxc's header, and the refusals (truncation, a frame count that does
 * not match the pfn range, a PAGE_DATA length that does not match its
 * types, a bad magic).
 */
#define _GNU_SOURCE /* fmemopen */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../xen/srstream.h"

struct buf {
	unsigned char *p;
	size_t n, cap, pos;
	unsigned step;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (n == 0)
		return;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void put32(struct buf *b, uint32_t v) { put(b, &v, 4); } /* little-endian host */
static void put64(struct buf *b, uint64_t v) { put(b, &v, 8); }
static void put_be32(struct buf *b, uint32_t v)
{
	unsigned char c[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };
	put(b, c, 4);
}
static void put_be64(struct buf *b, uint64_t v)
{
	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b, (uint32_t)v);
}

static void xl_and_libxl_headers(struct buf *b)
{
	static const char cfg[] = "{\"c_info\":{\"name\":\"p2m-big\"}}";

	put(b, SRS_XL_MAGIC, 32);
	put32(b, SRS_XL_BYTEORDER);
	put32(b, 3);                      /* JSON | STREAMv2 */
	put32(b, 0);
	put32(b, 4 + sizeof(cfg));
	put32(b, sizeof(cfg));
	put(b, cfg, sizeof(cfg));
	put_be64(b, SRS_LIBXL_IDENT);
	put_be32(b, 2);
	put_be32(b, 0);
	put32(b, SRS_LIBXL_LIBXC_CONTEXT);
	put32(b, 0);
}

static void libxc_headers(struct buf *b)
{
	put64(b, ~0ull);
	put_be32(b, SRS_IHDR_ID);
	put_be32(b, 3);
	put_be32(b, 0);                   /* options (little-endian), reserved */
	put32(b, 0);
	put32(b, 1);                      /* x86 PV */
	put32(b, 12);                     /* page shift, reserved */
	put32(b, 4);
	put32(b, 17);
}

static void record(struct buf *b, uint32_t type, const void *body, uint32_t len)
{
	static const unsigned char zero[8];

	put32(b, type);
	put32(b, len);
	put(b, body, len);
	put(b, zero, ((len + 7) & ~7u) - len);
}

static void p2m_frames(struct buf *b, uint32_t end_pfn, uint64_t frames)
{
	put32(b, SRS_REC_X86_PV_P2M_FRAMES);
	put32(b, (uint32_t)(8 + frames * 8));
	put32(b, 0);
	put32(b, end_pfn);
	for (uint64_t i = 0; i < frames; i++)
		put64(b, 0x1000 + i);
}

/* count pfns from first; the pfn at index xtab (if < count) is XTAB. */
static void page_data(struct buf *b, uint64_t first, uint32_t count, uint32_t xtab)
{
	uint32_t with = count - (xtab < count);
	unsigned char page[4096];

	put32(b, SRS_REC_PAGE_DATA);
	put32(b, 8 + count * 8 + with * 4096);
	put32(b, count);
	put32(b, 0);
	for (uint32_t i = 0; i < count; i++)
		put64(b, (first + i) | (i == xtab ? 0xfull << 60 : 0));
	for (uint32_t i = 0; i < with; i++) {
		memset(page, (int)i, sizeof(page));
		put(b, page, sizeof(page));
	}
}

static void body(struct buf *b, uint32_t end_pfn, uint64_t frames)
{
	const unsigned char info[8] = { 8, 4 };
	const unsigned char policy[48] = { 1 };

	record(b, SRS_REC_X86_PV_INFO, info, 8);
	record(b, SRS_REC_X86_CPUID_POLICY, policy, 44);
	record(b, SRS_REC_STATIC_DATA_END, NULL, 0);
	p2m_frames(b, end_pfn, frames);
	page_data(b, 0, 4, 9);
	page_data(b, 4, 3, 1);
	page_data(b, 0x95ffffd, 3, 9);
	record(b, SRS_REC_END, NULL, 0);
}

static ssize_t mem_read(void *ctx, void *dst, size_t n)
{
	struct buf *b = ctx;
	size_t k = n;

	/* Pieces of 1 to 4099 bytes, as a FIFO hands them out. */
	b->step = b->step * 1103515245u + 12345u;
	if (k > 1 + (b->step >> 8) % 4099)
		k = 1 + (b->step >> 8) % 4099;
	if (k > b->n - b->pos)
		k = b->n - b->pos;
	memcpy(dst, b->p + b->pos, k);
	b->pos += k;
	return (ssize_t)k;
}

static int parse(struct buf *b, uint64_t max_pages, struct srs_summary *s)
{
	struct srs_input in = { .ctx = b, .read = mem_read };
	struct srs_options opt = { .max_page_records = max_pages, .verbose_pages = 8 };

	b->pos = 0;
	return srs_parse(&in, &opt, NULL, s);
}

static void whole_xl_stream(void **state)
{
	struct buf b = { 0 };
	struct srs_summary s;

	(void)state;
	xl_and_libxl_headers(&b);
	libxc_headers(&b);
	body(&b, 0x3ff, 2);
	put32(&b, SRS_LIBXL_END);
	put32(&b, 0);
	assert_int_equal(parse(&b, 0, &s), 0);
	assert_int_equal(s.start, SRS_START_XL);
	assert_int_equal(s.xl_config_len, 30);
	assert_int_equal(s.libxl_version, 2);
	assert_int_equal(s.version, 3);
	assert_int_equal(s.domain_type, 1);
	assert_int_equal(s.xen_major, 4);
	assert_int_equal(s.xen_minor, 17);
	assert_int_equal(s.guest_width, 8);
	assert_int_equal(s.pt_levels, 4);
	assert_true(s.p2m_seen);
	assert_int_equal(s.p2m_end_pfn, 0x3ff);
	assert_int_equal(s.p2m_frames, 2);
	assert_int_equal(s.p2m_pfn_first, 0x1000);
	assert_int_equal(s.p2m_pfn_last, 0x1001);
	assert_int_equal(s.page_records, 3);
	assert_int_equal(s.pages, 10);
	assert_int_equal(s.pages_with_data, 9);
	assert_int_equal(s.pfn_min, 0);
	assert_int_equal(s.pfn_max, 0x95fffff);
	assert_int_equal(s.records, 8);
	assert_true(s.end);
	assert_false(s.stopped);
	assert_int_equal(s.bytes, b.n);
	free(b.p);
}

/* The 600 GiB domU's record: max_pfn 0x9600000, so pfns 0-0x95fffff in
 * 307200 frames; the reader stops after two PAGE_DATA records. */
static void big_p2m_record_and_cut(void **state)
{
	struct buf b = { 0 };
	struct srs_summary s;
	char line[512];
	FILE *f;

	(void)state;
	xl_and_libxl_headers(&b);
	libxc_headers(&b);
	body(&b, 0x95fffff, 307200);
	assert_int_equal(parse(&b, 2, &s), 1);
	assert_true(s.stopped);
	assert_false(s.end);
	assert_int_equal(s.p2m_frames, 307200);
	assert_int_equal(s.p2m_end_pfn, 0x95fffff);
	assert_int_equal(s.p2m_pfn_min, 0x1000);
	assert_int_equal(s.p2m_pfn_max, 0x1000 + 307199);
	assert_int_equal(s.page_records, 2);
	assert_int_equal(s.pages, 7);
	assert_int_equal(s.pages_with_data, 6);
	assert_true(s.bytes < b.n);
	f = fmemopen(line, sizeof(line), "w");
	assert_non_null(f);
	srs_print_summary(&s, f);
	fclose(f);
	assert_non_null(strstr(line, "pfns 0-0x95fffff, 307200 frames"));
	assert_non_null(strstr(line, "stopped here"));
	free(b.p);
}

static void libxc_only(void **state)
{
	struct buf b = { 0 };
	struct srs_summary s;

	(void)state;
	libxc_headers(&b);
	body(&b, 0x1ff, 1);
	assert_int_equal(parse(&b, 0, &s), 0);
	assert_int_equal(s.start, SRS_START_LIBXC);
	assert_int_equal(s.p2m_frames, 1);
	assert_true(s.end);
	free(b.p);
}

static void expect_error(struct buf *b, const char *want)
{
	struct srs_summary s;

	assert_int_equal(parse(b, 0, &s), -1);
	if (!strstr(s.error, want))
		fail_msg("error '%s', expected '%s'", s.error, want);
}

static void refusals(void **state)
{
	struct buf b = { 0 };

	(void)state;
	/* Truncated inside the P2M frames record. */
	libxc_headers(&b);
	body(&b, 0x3ff, 2);
	b.n = 24 + 16 + 16 + 56 + 8 + 8 + 12;
	expect_error(&b, "X86_PV_P2M_FRAMES pfns: end of stream");
	/* Three frames for pfns 0-0x3ff (two expected). */
	b.n = 0;
	libxc_headers(&b);
	p2m_frames(&b, 0x3ff, 3);
	expect_error(&b, "3 frames for pfns 0-0x3ff (2 expected)");
	/* A PAGE_DATA record whose length counts the XTAB page. */
	b.n = 0;
	libxc_headers(&b);
	put32(&b, SRS_REC_PAGE_DATA);
	put32(&b, 8 + 8 + 4096);
	put32(&b, 1);
	put32(&b, 0);
	put64(&b, 5 | 0xfull << 60);
	expect_error(&b, "PAGE_DATA: length 4112, expected 16");
	/* Neither xl's, libxl's nor libxc's first bytes. */
	b.n = 0;
	put(&b, "Xen saved domain, xl format\n \0 X", 32);
	expect_error(&b, "not a save stream");
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_xl_stream),
		cmocka_unit_test(big_p2m_record_and_cut),
		cmocka_unit_test(libxc_only),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
