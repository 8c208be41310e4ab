/*
 * srstream: a reader of the save stream `xl save` writes, for the
 * toolstack tier's big save (scripts/toolstack.sh --big, tests/xen/srdump.c)
 * and its unit test (tests/unit/test_srstream.c).
 *
 * The layers, outermost first (each may be where the stream starts):
 *   xl      "Xen saved domain, xl format\n \0 \r" (32 bytes), byteorder
 *           0x01020304, mandatory and optional flags, optional data
 *           (a u32 length and the domain's JSON config); native order.
 *   libxl   "LibxlFmt" (big-endian u64), version 2, options; records of
 *           {u32 type, u32 length} and a body padded to 8 bytes; record
 *           LIBXC_CONTEXT (1, empty) is followed by the libxc stream,
 *           then more libxl records up to libxl's END.
 *   libxc   (Xen's docs/specs/libxc-migration-stream.pandoc, v2 or v3)
 *           image header: marker ~0, "XENF", version, options (all
 *           big-endian); domain header {type, page_shift, xen_major,
 *           xen_minor}; records {type, length, body padded to 8}:
 *           X86_PV_INFO, X86_PV_P2M_FRAMES {start_pfn, end_pfn,
 *           p2m_pfns[]}, PAGE_DATA {count, pfn|type<<60 [count], pages
 *           of the types that carry data}, ..., END.
 *
 * srs_parse() reads the stream through in->read, prints one line per
 * header and record to log (may be NULL), checks what it can (magic
 * values, versions, record lengths, the P2M frames record's frame count
 * against its pfn range, each PAGE_DATA record's length against its
 * types) and fills a summary. With opt->max_page_records it stops after
 * that many PAGE_DATA records: a saver of a guest too large to store can
 * be cut there (the writer then gets EPIPE once the reader closes).
 */
#ifndef P2M_TESTS_SRSTREAM_H
#define P2M_TESTS_SRSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define SRS_XL_MAGIC        "Xen saved domain, xl format\n \0 \r"
#define SRS_XL_BYTEORDER    0x01020304u
#define SRS_LIBXL_IDENT     0x4c6962786c466d74ull /* "LibxlFmt" */
#define SRS_IHDR_ID         0x58454e46u           /* "XENF" */
#define SRS_REC_LENGTH_MAX  (128u << 20)          /* libxc's REC_LENGTH_MAX */

/* libxc record types (xg_sr_stream_format.h). */
enum {
	SRS_REC_END = 0x00,
	SRS_REC_PAGE_DATA = 0x01,
	SRS_REC_X86_PV_INFO = 0x02,
	SRS_REC_X86_PV_P2M_FRAMES = 0x03,
	SRS_REC_X86_PV_VCPU_BASIC = 0x04,
	SRS_REC_SHARED_INFO = 0x07,
	SRS_REC_X86_TSC_INFO = 0x08,
	SRS_REC_STATIC_DATA_END = 0x10,
	SRS_REC_X86_CPUID_POLICY = 0x11,
	SRS_REC_X86_MSR_POLICY = 0x12,
};
/* libxl record types (libxl_sr_stream_format.h). */
enum {
	SRS_LIBXL_END = 0x00,
	SRS_LIBXL_LIBXC_CONTEXT = 0x01,
};

/* ssize_t read(ctx, buf, n): as read(2) (0 at the end, -1 on error). */
struct srs_input {
	void *ctx;
	ssize_t (*read)(void *ctx, void *buf, size_t n);
};

struct srs_options {
	uint64_t max_page_records;   /* stop after this many; 0: read to the end */
	unsigned verbose_pages;      /* PAGE_DATA records printed one a line (others counted) */
};

enum srs_start { SRS_START_XL, SRS_START_LIBXL, SRS_START_LIBXC };

struct srs_summary {
	enum srs_start start;
	uint32_t xl_config_len;
	uint32_t libxl_version;
	uint32_t version;             /* libxc stream version */
	uint32_t domain_type;         /* 1: x86 PV, 2: x86 HVM */
	uint32_t page_shift;
	uint32_t xen_major, xen_minor;
	unsigned guest_width, pt_levels;
	/* X86_PV_P2M_FRAMES */
	bool p2m_seen;
	uint32_t p2m_start_pfn, p2m_end_pfn;
	uint64_t p2m_frames;
	uint64_t p2m_pfn_first, p2m_pfn_last, p2m_pfn_min, p2m_pfn_max;
	/* PAGE_DATA */
	uint64_t page_records, pages, pages_with_data;
	uint64_t pfn_min, pfn_max;
	uint64_t records;             /* libxc records read */
	uint64_t bytes;               /* bytes read in all */
	bool stopped;                 /* stopped at max_page_records */
	bool end;                     /* libxc's END record read */
	char error[192];
};

const char *srs_rec_name(uint32_t type);

/* 0: the stream ended where it should (libxc's END, and libxl's END when
 * libxl framed it); 1: stopped at opt->max_page_records; -1: an error
 * (s->error says what, at which byte). */
int srs_parse(const struct srs_input *in, const struct srs_options *opt, FILE *log,
	      struct srs_summary *s);

/* One line: what was read (for the run record). */
void srs_print_summary(const struct srs_summary *s, FILE *out);

#endif
