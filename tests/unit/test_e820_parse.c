/*
 * The memory-map parsers (host/e820): every format and prefix of
 * docs/design.md's table, maps chosen among several, garbage reported
 * with its line, and the sample logs of tests/data/e820 (three of them
 * real QEMU boots, whose maps must plan to Linux's remap counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e820/e820_parse.h"
#include "p2m/e820.h"

static char *data_path(const char *name)
{
	static char buf[4096];
	const char *f = __FILE__, *slash = strrchr(f, '/');

	snprintf(buf, sizeof(buf), "%.*s/../data/e820/%s", slash ? (int)(slash - f) : 1,
		 slash ? f : ".", name);
	return buf;
}

static int parse_file(const char *name, enum memmap_format fmt, struct memmaps *m,
		      struct memmap_error *err)
{
	char *text;
	size_t len;
	int rc;

	memset(m, 0, sizeof(*m));
	assert_int_equal(memmap_read_file(data_path(name), &text, &len), 0);
	rc = memmap_parse(text, len, fmt, m, err);
	free(text);
	return rc;
}

static int parse_str(const char *s, enum memmap_format fmt, struct memmaps *m,
		     struct memmap_error *err)
{
	memset(m, 0, sizeof(*m));
	return memmap_parse(s, strlen(s), fmt, m, err);
}

static void expect_entry(const struct p2m_e820_entry *e, uint64_t addr, uint64_t size,
			 uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static uint64_t remapped(const struct memmap *m, uint64_t nr)
{
	struct p2m_e820_range map[64];
	struct p2m_e820_input in;
	struct p2m_e820_plan p;

	p2m_e820_input_init(&in, true);
	in.map = m->entries;
	in.nr_map = m->n;
	in.nr_pages = nr;
	in.max_pages = nr;
	p2m_e820_plan_init(&p, map, 64);
	assert_int_equal(p2m_e820_plan(&in, &p), 0);
	return p.pfns[P2M_E820_C_REMAP_DST];
}

/* The three QEMU boots: Xen's map and the dom0 kernel's both plan to
 * Linux's counts. */
static void qemu_logs(void **state)
{
	static const struct {
		const char *file;
		uint64_t nr, count;
	} cases[] = {
		{ "qemu-2g-dom0-1g.log", 1ull << 18, 97 },
		{ "qemu-6g-dom0-5g.log", 5ull << 18, 262273 },
		{ "qemu-64g-dom0-62g.log", 62ull << 18, 262273 },
	};
	struct memmap_error err;
	struct memmaps m;
	char why[256];
	size_t idx;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(parse_file(cases[i].file, MEMMAP_FMT_AUTO, &m, &err), 0);
		/* Xen's, the top sysfs lines, Linux's, the sysfs dump. */
		assert_int_equal(m.n, 4);
		assert_int_equal(m.v[0].origin, MEMMAP_ORIGIN_XEN);
		assert_string_equal(m.v[0].label, "Xen-e820 RAM map");
		assert_int_equal(m.v[2].origin, MEMMAP_ORIGIN_LINUX);
		assert_string_equal(m.v[2].label, "Xen");
		assert_int_equal(m.v[3].origin, MEMMAP_ORIGIN_SYSFS);
		expect_entry(&m.v[0].entries[0], 0, 0x9fc00, P2M_E820_RAM);
		expect_entry(&m.v[0].entries[1], 0x9fc00, 0x400, P2M_E820_RESERVED);

		assert_int_equal(memmaps_select(&m, NULL, &idx, why, sizeof(why)), 0);
		assert_int_equal(idx, 0);
		assert_non_null(strstr(why, "Xen-e820 RAM map"));
		assert_non_null(strstr(why, "--map"));
		assert_int_equal(remapped(&m.v[idx], cases[i].nr), cases[i].count);
		assert_int_equal(memmaps_select(&m, "linux", &idx, why, sizeof(why)), 0);
		assert_int_equal(idx, 2);
		assert_int_equal(remapped(&m.v[idx], cases[i].nr), cases[i].count);
		assert_int_equal(memmaps_select(&m, "4", &idx, why, sizeof(why)), 0);
		assert_int_equal(idx, 3);
		assert_int_equal(memmaps_select(&m, "5", &idx, why, sizeof(why)), -P2M_EINVAL);
		assert_non_null(strstr(why, "1 to 4"));
		assert_int_equal(memmaps_select(&m, "json", &idx, why, sizeof(why)), -P2M_EINVAL);
		assert_int_equal(memmaps_select(&m, "bogus", &idx, why, sizeof(why)), -P2M_EINVAL);
		memmaps_free(&m);
	}
}

static void linux_formats(void **state)
{
	struct memmap_error err;
	struct memmaps m;

	(void)state;
	assert_int_equal(parse_file("dmesg-modern.txt", MEMMAP_FMT_LOG, &m, &err), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.v[0].label, "BIOS-e820");
	assert_int_equal(m.v[0].n, 21);
	assert_int_equal(m.v[0].first_line, 4);
	expect_entry(&m.v[0].entries[4], 0x6c5cf000, 0x18, P2M_E820_RESERVED);
	expect_entry(&m.v[0].entries[5], 0x6c5cf018, 0x6cf0f000 - 0x6c5cf018, P2M_E820_RAM);
	expect_entry(&m.v[0].entries[8], 0x6da6f000, 0x510000, P2M_E820_NVS);
	expect_entry(&m.v[0].entries[7], 0x6d9e3000, 0x8c000, P2M_E820_ACPI);
	assert_int_equal(m.v[0].entries[18].type, P2M_E820_PRAM);
	assert_int_equal(m.v[0].entries[19].type, P2M_E820_SOFT_RESERVED);
	assert_int_equal(m.v[0].entries[20].type, 9);
	memmaps_free(&m);

	/* Before 3.x: exclusive ends. */
	assert_int_equal(parse_file("dmesg-old.txt", MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.v[0].n, 7);
	expect_entry(&m.v[0].entries[1], 0x9fc00, 0x400, P2M_E820_RESERVED);
	expect_entry(&m.v[0].entries[4], 0xbffe0000, 0x20000, P2M_E820_ACPI);
	memmaps_free(&m);
}

static void xen_formats(void **state)
{
	struct memmap_error err;
	struct memmaps m;
	char why[256];
	size_t idx;

	(void)state;
	assert_int_equal(parse_file("xen-old.log", MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.v[0].origin, MEMMAP_ORIGIN_XEN);
	assert_string_equal(m.v[0].label, "Xen-e820 RAM map");
	assert_int_equal(m.v[0].n, 9);
	expect_entry(&m.v[0].entries[5], 0xfec00000, 0x1000, P2M_E820_RESERVED);
	expect_entry(&m.v[0].entries[8], 0x100000000, 0x120000000, P2M_E820_RAM);
	memmaps_free(&m);

	/* Timestamps after (XEN); two maps: the raw one and Xen's own. */
	assert_int_equal(parse_file("xen-timestamps.log", MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].label, "Multiboot-e820 RAM map");
	assert_string_equal(m.v[1].label, "Xen-e820 RAM map");
	assert_int_equal(m.v[1].entries[6].type, 9);   /* "type 9", no parentheses */
	assert_int_equal(memmaps_select(&m, "xen", &idx, why, sizeof(why)), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(memmaps_select(&m, NULL, &idx, why, sizeof(why)), 0);
	assert_int_equal(idx, 1);
	memmaps_free(&m);
}

static void prefixes(void **state)
{
	struct memmap_error err;
	struct memmaps m;
	static const char crlf[] =
		"<6>[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable\r\n"
		"<6>[    0.000000] BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved\r\n";
	static const char mixed[] =
		"[Mon Jan  1 10:00:00 2024] BIOS-e820: [mem 0x0-0xfff] usable\n"
		"Jan 01 10:00:00 box kernel: BIOS-e820: [mem 0x1000-0x1fff] ACPI NVS\n"
		"2024-01-01T10:00:00.1+00:00 box kernel: [    0.000000] BIOS-e820: [mem 0x2000-0x2fff] unusable\n"
		">> > BIOS-e820: [mem 0x3000-0x3fff] persistent (type 7)\n"
		"(d0) [    0.000000] BIOS-e820: [mem 0x4000-0x4fff] 5\n"
		"(XEN) [    0.1] BIOS-e820: [mem 0x5000-0x5fff] usable\n";

	(void)state;
	assert_int_equal(parse_file("syslog.txt", MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.v[0].n, 7);
	expect_entry(&m.v[0].entries[6], 0x100000000, 0x140000000, P2M_E820_RAM);
	memmaps_free(&m);

	assert_int_equal(parse_file("mail-quote.txt", MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.v[0].label, "Xen");
	assert_int_equal(m.v[0].n, 8);
	memmaps_free(&m);

	assert_int_equal(parse_str(crlf, MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.v[0].n, 2);
	expect_entry(&m.v[0].entries[1], 0x9fc00, 0x400, P2M_E820_RESERVED);
	memmaps_free(&m);

	assert_int_equal(parse_str(mixed, MEMMAP_FMT_AUTO, &m, &err), 0);
	/* A guest console prefix keeps the map going; a line from Xen's side
	 * of the console starts another. */
	assert_int_equal(m.n, 2);
	assert_int_equal(m.v[0].n, 5);
	assert_int_equal(m.v[1].n, 1);
	assert_int_equal(m.v[0].entries[1].type, P2M_E820_NVS);
	assert_int_equal(m.v[0].entries[2].type, P2M_E820_UNUSABLE);
	assert_int_equal(m.v[0].entries[3].type, P2M_E820_PMEM);
	assert_int_equal(m.v[0].entries[4].type, 5);
	memmaps_free(&m);
}

static void sysfs_forms(void **state)
{
	struct memmap_error err;
	struct memmaps a, d;

	(void)state;
	assert_int_equal(parse_file("sysfs-lines.txt", MEMMAP_FMT_SYSFS, &a, &err), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.v[0].n, 12);
	expect_entry(&a.v[0].entries[5], 0xfed1c000, 0x4000, P2M_E820_ACPI);
	assert_int_equal(a.v[0].entries[6].type, P2M_E820_NVS);
	assert_int_equal(a.v[0].entries[7].type, P2M_E820_UNUSABLE);
	assert_int_equal(a.v[0].entries[10].type, P2M_E820_PRAM);
	assert_int_equal(a.v[0].entries[11].type, P2M_E820_SOFT_RESERVED);

	memset(&d, 0, sizeof(d));
	assert_int_equal(memmap_parse_sysfs_dir(data_path("sysfs"), &d, &err), 0);
	assert_int_equal(d.v[0].n, 12);
	/* Numeric order (10 after 9), same entries as the lines. */
	assert_memory_equal(d.v[0].entries, a.v[0].entries, 12 * sizeof(struct p2m_e820_entry));
	memmaps_free(&a);
	memmaps_free(&d);

	assert_int_equal(memmap_parse_sysfs_dir(data_path("no-such-dir"), &d, &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "no-such-dir"));
	memmaps_free(&d);

	/* Every line must parse in the sysfs-only format. */
	assert_int_equal(parse_str("0x0 0xfff System RAM\nhello\n", MEMMAP_FMT_SYSFS, &d, &err),
			 -P2M_EPARSE);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.text, "hello");
	memmaps_free(&d);
}

static void json(void **state)
{
	struct memmap_error err;
	struct memmaps m;

	(void)state;
	assert_int_equal(parse_file("map.json", MEMMAP_FMT_AUTO, &m, &err), 0);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.v[0].origin, MEMMAP_ORIGIN_JSON);
	assert_int_equal(m.v[0].n, 10);
	expect_entry(&m.v[0].entries[1], 0x9fc00, 1024, P2M_E820_RESERVED);
	assert_int_equal(remapped(&m.v[0], 5ull << 18), 262273);
	memmaps_free(&m);

	assert_int_equal(parse_str(" [ {\"type\": \"ACPI NVS\", \"size\": 4096, \"addr\": \"8192\"} ]",
				   MEMMAP_FMT_AUTO, &m, &err), 0);
	expect_entry(&m.v[0].entries[0], 8192, 4096, P2M_E820_NVS);
	memmaps_free(&m);

	assert_int_equal(parse_file("garbage.json", MEMMAP_FMT_AUTO, &m, &err), -P2M_EPARSE);
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.msg, "size"));
	memmaps_free(&m);

	assert_int_equal(parse_str("{\"e820\": [{\"addr\": 1, \"size\": 2}]}", MEMMAP_FMT_JSON,
				   &m, &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "needs"));
	memmaps_free(&m);
	assert_int_equal(parse_str("{\"other\": 1}", MEMMAP_FMT_JSON, &m, &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "no \"e820\""));
	memmaps_free(&m);
	assert_int_equal(parse_str("{\"e820\": []} x", MEMMAP_FMT_JSON, &m, &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "trailing"));
	memmaps_free(&m);
	assert_int_equal(parse_str("[{\"addr\": 1.5, \"size\": 2, \"type\": 1}]", MEMMAP_FMT_JSON,
				   &m, &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "integer"));
	memmaps_free(&m);
}

static void garbage(void **state)
{
	struct memmap_error err;
	struct memmaps m;

	(void)state;
	assert_int_equal(parse_file("garbage-dmesg.txt", MEMMAP_FMT_AUTO, &m, &err), -P2M_EPARSE);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.text, "zzzz"));
	assert_non_null(strstr(err.msg, "[mem"));
	memmaps_free(&m);

	assert_int_equal(parse_file("garbage-xen.log", MEMMAP_FMT_AUTO, &m, &err), -P2M_EPARSE);
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.msg, "unknown memory type"));
	assert_non_null(strstr(err.text, "bogus type"));
	memmaps_free(&m);

	assert_int_equal(parse_file("nomap.txt", MEMMAP_FMT_AUTO, &m, &err), -P2M_EPARSE);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "no memory map found in 2 lines"));
	memmaps_free(&m);

	assert_int_equal(parse_str("BIOS-e820: [mem 0x2000-0x1000] usable\n", MEMMAP_FMT_AUTO, &m,
				   &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "below the start"));
	memmaps_free(&m);
	assert_int_equal(parse_str("(XEN)  [0000000000000000, ffffffffffffffff] (usable)\n",
				   MEMMAP_FMT_AUTO, &m, &err), -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "whole address space"));
	memmaps_free(&m);
	assert_int_equal(parse_str("Xen: [mem 0x0-0x1fff]\n", MEMMAP_FMT_AUTO, &m, &err),
			 -P2M_EPARSE);
	assert_non_null(strstr(err.msg, "type is missing"));
	memmaps_free(&m);
	assert_int_equal(parse_str("BIOS-e820: [mem 0x10000000000000000-0x1] usable\n",
				   MEMMAP_FMT_AUTO, &m, &err), -P2M_EPARSE);
	memmaps_free(&m);
}

static void type_names(void **state)
{
	uint32_t t;

	(void)state;
	assert_true(memmap_parse_type("(ACPI data)", 11, &t));
	assert_int_equal(t, P2M_E820_ACPI);
	assert_true(memmap_parse_type(" System RAM ", 12, &t));
	assert_int_equal(t, P2M_E820_RAM);
	assert_true(memmap_parse_type("0x7", 3, &t));
	assert_int_equal(t, 7);
	assert_true(memmap_parse_type("type 20", 7, &t));
	assert_int_equal(t, 20);
	assert_false(memmap_parse_type("usable ram", 10, &t));
	assert_false(memmap_parse_type("type 99999999999", 16, &t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_logs),
		cmocka_unit_test(linux_formats),
		cmocka_unit_test(xen_formats),
		cmocka_unit_test(prefixes),
		cmocka_unit_test(sysfs_forms),
		cmocka_unit_test(json),
		cmocka_unit_test(garbage),
		cmocka_unit_test(type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
