/*
 * libFuzzer target: the E820 planner on arbitrary maps and parameters.
 *
 * Input: a 28-byte header, then 9 bytes per entry.
 *   header  flags (bit 0 dom0, bit 1 no limit, bit 2 small limit, bit 3
 *           explicit end, bit 4 tile (see below), bit 5 iBFT window, bits 6 and 7
 *           unscaled nr_pages and max_pages), shift (address scale,
 *           0..40), nr_pages (u32),
 *           max_pages (u32), limit (u16 << 4), end (u16 << 12), five
 *           object pfns (14 bits << top 2 bits), four count bytes
 *   entry   (at most 64) addr (u32) << shift, size (u32) << shift (low bits kept so
 *           sizes need not be page multiples), type (u8: 1..12 and a few
 *           large values)
 * Tile: with flag bit 4 and a byte TILE_MARK right after the entries, the
 * entries are repeated, each copy shifted by the span of the first, up to
 * TILED entries, so that maps of many thousand entries (and their
 * overlaps at the seams) are planned too. The mark keeps such inputs
 * rare, so that the fuzzer's time goes mostly to small maps.
 * Every plan is checked by plan_check() (tests/fuzz/e820_check.c).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "e820_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TILED 8192
#define TILE_MARK 0x7e

/* Repeat map[0, n) with a stride of its span, up to TILED entries. */
static size_t tile(struct p2m_e820_entry *map, size_t n)
{
	uint64_t span = 4096, reps;

	for (size_t i = 0; i < n; i++)
		if (map[i].addr + map[i].size > span)
			span = map[i].addr + map[i].size;
	if (span > ((uint64_t)1 << 62))
		return n;              /* no room for a second copy */
	span = (span + 4095) & ~(uint64_t)4095;
	reps = n ? TILED / n : 0;
	if (reps > ((uint64_t)1 << 62) / span)
		reps = ((uint64_t)1 << 62) / span;
	for (uint64_t r = 1; r < reps; r++)
		for (size_t i = 0; i < n; i++) {
			map[r * n + i] = map[i];
			map[r * n + i].addr += r * span;
		}
	return reps ? reps * n : n;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t type_of(uint8_t t)
{
	static const uint32_t big[] = { 0, 13, 0xefffffffu, 0xffffffffu };

	t %= 20;
	return t < 16 ? (uint32_t)(t % 13) : big[t - 16];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct plan_check_store store;
	static struct p2m_e820_entry map[TILED + 64];
	static bool ready;
	struct p2m_e820_input in;
	struct p2m_e820_plan plan;
	size_t n = 0;
	unsigned shift;
	uint8_t flags;

	if (size < 28)
		return 0;
	if (!ready) {
		plan_check_store_init(&store, TILED + 64);
		ready = true;
	}
	flags = data[0];
	shift = data[1] % 41;
	p2m_e820_input_init(&in, flags & 1);
	in.nr_pages = rd32(data + 2) >> (flags & 0x40 ? 0 : 12);
	in.max_pages = rd32(data + 6) >> (flags & 0x80 ? 0 : 10);
	if (flags & 2)
		in.limit = 0;
	else if (flags & 4)
		in.limit = (uint64_t)(data[10] | data[11] << 8) << 4;
	if (flags & 8)
		in.end = (uint64_t)(data[12] | data[13] << 8) << 12;
	for (int o = 0; o < P2M_E820_NOBJ; o++) {
		const uint8_t *q = data + 14 + 2 * o;

		in.objects[o].pfn = (uint64_t)(q[0] | (q[1] & 0x3f) << 8) << (q[1] >> 6);
		in.objects[o].count = data[24 + o % 4] >> (o & 1 ? 1 : 3);
		if (in.objects[o].pfn + in.objects[o].count > in.nr_pages)
			in.objects[o].count = 0;
	}
	data += 28;
	size -= 28;
	for (; size >= 9 && n < 64; data += 9, size -= 9, n++) {
		uint64_t a = rd32(data), s = rd32(data + 4);

		map[n].addr = a << shift | (a & 0xfff);
		map[n].size = s << shift | (s & 0xfff);
		if (map[n].addr + map[n].size < map[n].addr)
			map[n].size = ~map[n].addr;
		map[n].type = type_of(data[8]);
	}
	if ((flags & 0x10) && size >= 1 && data[0] == TILE_MARK)
		n = tile(map, n);
	in.ibft = (flags & 0x20) != 0;
	in.map = map;
	in.nr_map = n;
	plan_check_run(&in, &store, &plan);
	return 0;
}
