/*
 * srstream: the save-stream reader (see srstream.h for the layers).
 */
#define _GNU_SOURCE /* ssize_t, vsnprintf in C11 */
#include "srstream.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#define CHUNK 65536u
#define PAGE_DATA_PFN_MASK 0x000fffffffffffffull

struct ctx {
	const struct srs_input *in;
	const struct srs_options *opt;
	FILE *log;
	struct srs_summary *s;
	unsigned char buf[CHUNK];
};

const char *srs_rec_name(uint32_t type)
{
	static const char *const names[] = {
		"END", "PAGE_DATA", "X86_PV_INFO", "X86_PV_P2M_FRAMES",
		"X86_PV_VCPU_BASIC", "X86_PV_VCPU_EXTENDED", "X86_PV_VCPU_XSAVE",
		"SHARED_INFO", "X86_TSC_INFO", "HVM_CONTEXT", "HVM_PARAMS",
		"TOOLSTACK", "X86_PV_VCPU_MSRS", "VERIFY", "CHECKPOINT",
		"CHECKPOINT_DIRTY_PFN_LIST", "STATIC_DATA_END", "X86_CPUID_POLICY",
		"X86_MSR_POLICY",
	};
	uint32_t t = type & ~0x80000000u; /* REC_TYPE_OPTIONAL */

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "UNKNOWN";
}

static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(c->s->error, sizeof(c->s->error), "at byte %llu: ",
		     (unsigned long long)c->s->bytes);
	va_start(ap, fmt);
	vsnprintf(c->s->error + n, sizeof(c->s->error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void say(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->log)
		return;
	va_start(ap, fmt);
	vfprintf(c->log, fmt, ap);
	va_end(ap);
	fputc('\n', c->log);
	fflush(c->log);
}

/* Exactly n bytes, or an error naming what was being read. */
static int get(struct ctx *c, void *buf, size_t n, const char *what)
{
	unsigned char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = c->in->read(c->in->ctx, p + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return fail(c, "%s: %s after %zu of %zu bytes", what,
				    r == 0 ? "end of stream" : strerror(errno), done, n);
		done += (size_t)r;
		c->s->bytes += (uint64_t)r;
	}
	return 0;
}

static int skip(struct ctx *c, uint64_t n, const char *what)
{
	while (n) {
		size_t k = n < CHUNK ? (size_t)n : CHUNK;

		if (get(c, c->buf, k, what))
			return -1;
		n -= k;
	}
	return 0;
}

static uint64_t pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* XEN_DOMCTL_PFINFO_* types whose pages travel (xg_sr_common.h). */
static bool type_has_data(unsigned type)
{
	switch (type) {
	case 0x0: case 0x1: case 0x2: case 0x3: case 0x4:  /* NOTAB, L1-L4TAB */
	case 0x9: case 0xa: case 0xb: case 0xc:             /* L1-L4TAB pinned */
		return true;
	default:
		return false;
	}
}

static int rec_p2m_frames(struct ctx *c, uint32_t len)
{
	struct srs_summary *s = c->s;
	unsigned char h[8];
	uint64_t n, want, left;

	if (len < 8 || (len - 8) % 8)
		return fail(c, "X86_PV_P2M_FRAMES: length %u is not 8 + 8 * frames", len);
	if (get(c, h, 8, "X86_PV_P2M_FRAMES header"))
		return -1;
	s->p2m_seen = true;
	s->p2m_start_pfn = le32(h);
	s->p2m_end_pfn = le32(h + 4);
	n = (len - 8) / 8;
	s->p2m_frames = n;
	s->p2m_pfn_min = UINT64_MAX;
	s->p2m_pfn_max = 0;
	for (left = n; left;) {
		size_t k = left < CHUNK / 8 ? (size_t)left : CHUNK / 8;

		if (get(c, c->buf, k * 8, "X86_PV_P2M_FRAMES pfns"))
			return -1;
		for (size_t i = 0; i < k; i++) {
			uint64_t pfn = le64(c->buf + i * 8);

			if (left == n && i == 0)
				s->p2m_pfn_first = pfn;
			s->p2m_pfn_last = pfn;
			if (pfn < s->p2m_pfn_min)
				s->p2m_pfn_min = pfn;
			if (pfn > s->p2m_pfn_max)
				s->p2m_pfn_max = pfn;
		}
		left -= k;
	}
	say(c, "  X86_PV_P2M_FRAMES: pfns %#x-%#x, %llu frames (the P2M's own pages at pfns "
	       "%#llx..%#llx, first %#llx, last %#llx)",
	    s->p2m_start_pfn, s->p2m_end_pfn, (unsigned long long)n,
	    (unsigned long long)(n ? s->p2m_pfn_min : 0), (unsigned long long)s->p2m_pfn_max,
	    (unsigned long long)s->p2m_pfn_first, (unsigned long long)s->p2m_pfn_last);
	if (s->p2m_end_pfn < s->p2m_start_pfn)
		return fail(c, "X86_PV_P2M_FRAMES: end pfn %#x below start pfn %#x",
			    s->p2m_end_pfn, s->p2m_start_pfn);
	want = (uint64_t)s->p2m_end_pfn / 512 - s->p2m_start_pfn / 512 + 1;
	if (n != want)
		return fail(c, "X86_PV_P2M_FRAMES: %llu frames for pfns %#x-%#x (%llu expected)",
			    (unsigned long long)n, s->p2m_start_pfn, s->p2m_end_pfn,
			    (unsigned long long)want);
	return 0;
}

static int rec_page_data(struct ctx *c, uint32_t len)
{
	struct srs_summary *s = c->s;
	unsigned char h[8];
	uint64_t count, with_data = 0, lo = UINT64_MAX, hi = 0, left, page;

	page = (uint64_t)1 << s->page_shift;
	if (len < 8 || get(c, h, 8, "PAGE_DATA header"))
		return len < 8 ? fail(c, "PAGE_DATA: length %u below its header", len) : -1;
	count = le32(h);
	if (count == 0 || 8 + count * 8 > len)
		return fail(c, "PAGE_DATA: count %llu does not fit length %u",
			    (unsigned long long)count, len);
	for (left = count; left;) {
		size_t k = left < CHUNK / 8 ? (size_t)left : CHUNK / 8;

		if (get(c, c->buf, k * 8, "PAGE_DATA pfns"))
			return -1;
		for (size_t i = 0; i < k; i++) {
			uint64_t v = le64(c->buf + i * 8), pfn = v & PAGE_DATA_PFN_MASK;

			with_data += type_has_data((unsigned)(v >> 60));
			lo = pfn < lo ? pfn : lo;
			hi = pfn > hi ? pfn : hi;
		}
		left -= k;
	}
	if (8 + count * 8 + with_data * page != len)
		return fail(c, "PAGE_DATA: length %u, expected %llu (%llu pfns, %llu with data)",
			    len, (unsigned long long)(8 + count * 8 + with_data * page),
			    (unsigned long long)count, (unsigned long long)with_data);
	if (skip(c, with_data * page, "PAGE_DATA pages"))
		return -1;
	if (s->page_records == 0 || lo < s->pfn_min)
		s->pfn_min = lo;
	if (s->page_records == 0 || hi > s->pfn_max)
		s->pfn_max = hi;
	s->page_records++;
	s->pages += count;
	s->pages_with_data += with_data;
	if (s->page_records <= c->opt->verbose_pages)
		say(c, "  PAGE_DATA #%llu: %llu pfns %#llx-%#llx, %llu with data",
		    (unsigned long long)s->page_records, (unsigned long long)count,
		    (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)with_data);
	return 0;
}

static int rec_body(struct ctx *c, uint32_t type, uint32_t len)
{
	unsigned char b[8];

	switch (type) {
	case SRS_REC_PAGE_DATA:
		return rec_page_data(c, len);
	case SRS_REC_X86_PV_P2M_FRAMES:
		return rec_p2m_frames(c, len);
	case SRS_REC_X86_PV_INFO:
		if (len != 8)
			return fail(c, "X86_PV_INFO: length %u, expected 8", len);
		if (get(c, b, 8, "X86_PV_INFO"))
			return -1;
		c->s->guest_width = b[0];
		c->s->pt_levels = b[1];
		say(c, "  X86_PV_INFO: guest width %u, %u page-table levels", b[0], b[1]);
		return 0;
	default:
		return skip(c, len, srs_rec_name(type));
	}
}

static int libxc_headers(struct ctx *c, const unsigned char *first8)
{
	struct srs_summary *s = c->s;
	unsigned char h[16], d[16];

	if (be64(first8) != UINT64_MAX)
		return fail(c, "image header: marker %#llx, expected ~0",
			    (unsigned long long)be64(first8));
	if (get(c, h, 16, "image header") || get(c, d, 16, "domain header"))
		return -1;
	if (be32(h) != SRS_IHDR_ID)
		return fail(c, "image header: id %#x, expected %#x (XENF)",
			    be32(h), SRS_IHDR_ID);
	s->version = be32(h + 4);
	if (s->version != 2 && s->version != 3)
		return fail(c, "image header: version %u (2 or 3 known)", s->version);
	if (be32(h + 8) >> 16 & 1)
		return fail(c, "image header: a big-endian stream");
	s->domain_type = le32(d);
	s->page_shift = (uint32_t)d[4] | (uint32_t)d[5] << 8;
	s->xen_major = le32(d + 8);
	s->xen_minor = le32(d + 12);
	say(c, "libxc image header: version %u, little-endian; domain header: %s, page shift %u, "
	       "Xen %u.%u",
	    s->version, s->domain_type == 1 ? "x86 PV" : s->domain_type == 2 ? "x86 HVM" : "?",
	    s->page_shift, s->xen_major, s->xen_minor);
	if (s->page_shift != 12)
		return fail(c, "domain header: page shift %u, expected 12", s->page_shift);
	return 0;
}

/* The libxc stream after its first 8 bytes: headers, records to END.
 * 0 at END, 1 stopped, -1 error. */
static int libxc_stream(struct ctx *c, const unsigned char *first8)
{
	struct srs_summary *s = c->s;
	unsigned char rh[8];

	if (libxc_headers(c, first8))
		return -1;
	for (;;) {
		uint32_t type, len;

		if (get(c, rh, 8, "record header"))
			return -1;
		type = le32(rh);
		len = le32(rh + 4);
		if (len > SRS_REC_LENGTH_MAX)
			return fail(c, "record %s: length %u above %u", srs_rec_name(type), len,
				    SRS_REC_LENGTH_MAX);
		s->records++;
		if (type != SRS_REC_PAGE_DATA || s->page_records < c->opt->verbose_pages)
			say(c, "record %llu: %s (%#x), %u bytes", (unsigned long long)s->records,
			    srs_rec_name(type), type, len);
		if (rec_body(c, type, len) || skip(c, pad8(len) - len, "record padding"))
			return -1;
		if (type == SRS_REC_END) {
			s->end = true;
			return 0;
		}
		if (type == SRS_REC_PAGE_DATA && c->opt->max_page_records &&
		    s->page_records >= c->opt->max_page_records) {
			s->stopped = true;
			return 1;
		}
	}
}

static int libxl_stream(struct ctx *c, const unsigned char *first8)
{
	unsigned char h[8], rh[8];
	int rc;

	if (get(c, h, 8, "libxl header"))
		return -1;
	c->s->libxl_version = be32(h);
	say(c, "libxl header: LibxlFmt version %u, options %#x", c->s->libxl_version,
	    be32(h + 4));
	(void)first8;
	if (c->s->libxl_version != 2)
		return fail(c, "libxl header: version %u, expected 2", c->s->libxl_version);
	for (;;) {
		uint32_t type, len;

		if (get(c, rh, 8, "libxl record header"))
			return -1;
		type = le32(rh);
		len = le32(rh + 4);
		say(c, "libxl record: type %#x, %u bytes", type, len);
		if (type == SRS_LIBXL_END)
			return skip(c, pad8(len), "libxl END");
		if (type != SRS_LIBXL_LIBXC_CONTEXT) {
			if (skip(c, pad8(len), "libxl record"))
				return -1;
			continue;
		}
		if (len != 0)
			return fail(c, "libxl LIBXC_CONTEXT record of %u bytes (0 expected)", len);
		if (get(c, h, 8, "libxc image header"))
			return -1;
		rc = libxc_stream(c, h);
		if (rc)
			return rc;
	}
}

static int xl_header(struct ctx *c)
{
	unsigned char h[16], l[4];
	uint32_t optlen;

	/* The 32-byte magic was read by the caller. */
	if (get(c, h, 16, "xl header"))
		return -1;
	if (le32(h) != SRS_XL_BYTEORDER)
		return fail(c, "xl header: byte order %#x, expected %#x", le32(h), SRS_XL_BYTEORDER);
	optlen = le32(h + 12);
	if (optlen >= 4) {
		if (get(c, l, 4, "xl config length"))
			return -1;
		c->s->xl_config_len = le32(l);
		if (c->s->xl_config_len > optlen - 4)
			return fail(c, "xl header: config of %u bytes in %u of optional data",
				    c->s->xl_config_len, optlen);
		optlen -= 4;
	}
	say(c, "xl header: mandatory flags %#x, optional flags %#x, %u bytes of config",
	    le32(h + 4), le32(h + 8), c->s->xl_config_len);
	return skip(c, optlen, "xl optional data");
}

int srs_parse(const struct srs_input *in, const struct srs_options *opt, FILE *log,
	      struct srs_summary *s)
{
	static const struct srs_options none;
	static struct ctx c; /* 64 KiB of buffer: not on the stack */
	unsigned char first[32];

	memset(s, 0, sizeof(*s));
	c = (struct ctx){ .in = in, .opt = opt ? opt : &none, .log = log, .s = s };
	if (get(&c, first, 8, "the stream's first bytes"))
		return -1;
	if (be64(first) == SRS_LIBXL_IDENT) {
		s->start = SRS_START_LIBXL;
		return libxl_stream(&c, first);
	}
	if (be64(first) == UINT64_MAX) {
		s->start = SRS_START_LIBXC;
		return libxc_stream(&c, first);
	}
	if (get(&c, first + 8, 24, "xl header magic"))
		return -1;
	if (memcmp(first, SRS_XL_MAGIC, 32))
		return fail(&c, "not a save stream (no xl, libxl or libxc header)");
	s->start = SRS_START_XL;
	if (xl_header(&c) || get(&c, first, 8, "libxl header"))
		return -1;
	if (be64(first) != SRS_LIBXL_IDENT)
		return fail(&c, "after the xl header: %#llx, expected LibxlFmt",
			    (unsigned long long)be64(first));
	return libxl_stream(&c, first);
}

void srs_print_summary(const struct srs_summary *s, FILE *out)
{
	fprintf(out,
		"summary: %llu bytes, %llu libxc records; P2M frames record:%s pfns %#x-%#x, "
		"%llu frames; %llu PAGE_DATA records: %llu pfns (%#llx-%#llx), %llu pages of data; %s\n",
		(unsigned long long)s->bytes, (unsigned long long)s->records,
		s->p2m_seen ? "" : " none,", s->p2m_start_pfn, s->p2m_end_pfn,
		(unsigned long long)s->p2m_frames, (unsigned long long)s->page_records,
		(unsigned long long)s->pages, (unsigned long long)s->pfn_min,
		(unsigned long long)s->pfn_max, (unsigned long long)s->pages_with_data,
		s->stopped ? "stopped here (the reader's limit)" : s->end ? "END read" : "incomplete");
}
