/*
 * E820 planning: from a memory map to the shape of a PV guest's P2M.
 *
 * A PV guest is started by Xen with `nr_pages` frames behind pfns
 * [0, nr_pages). Its memory map (dom0: the host's, XENMEM_machine_memory_map;
 * domU: XENMEM_memory_map) says which pfns are RAM. The plan decides, for
 * every pfn below `end`, one category:
 *
 *   category     pfn                     frame before -> after  P2M entry
 *   RAM          < nr_pages, map RAM     kept                   its mfn
 *   REMAP_SRC    < nr_pages, not RAM     moved to a REMAP_DST   identity
 *   RELEASED     < nr_pages, not RAM     given back to Xen      identity
 *   TRIMMED      < nr_pages, RAM >= limit  given back to Xen    missing
 *   REMAP_DST    >= nr_pages, map RAM    receives a moved frame its new mfn
 *   EXTRA        >= nr_pages, map RAM    none (balloon space)   missing
 *   UNUSED       >= nr_pages, map RAM    none, beyond the reservation
 *                                        or the limit           missing
 *   IDENTITY     >= nr_pages, not RAM    none                   identity
 *   NVS_MOVED    >= nr_pages, map RAM    a moved ACPI NVS range  its old
 *                (dom0, see below)       (firmware's frames)    pfn as mfn
 *
 * "Not RAM" is a non-RAM entry, a gap between entries, or anything above
 * the last entry. Like Linux: frames under non-RAM are moved, in pfn
 * order, to the first RAM pfns at/above nr_pages (and below the limit);
 * when that RAM runs out the rest are released. The balloon gets the RAM
 * after the remap targets, as much as the maximum reservation allows
 * (max_pages - nr_pages, plus the remapped count, clamped to
 * P2M_E820_EXTRA_RATIO * nr_pages as Linux does). Unlike Linux, RAM of the
 * map that the domain can never populate (UNUSED) is missing, not
 * identity: there is no frame of ours behind it.
 *
 * Invariants of a successful plan (the fuzzer checks each on every input):
 *   - layout[] covers [0, end) exactly, sorted, adjacent ranges differ in
 *     category; pfns[c] is the number of pfns of category c and they sum
 *     to end.
 *   - pfns[REMAP_SRC] == pfns[REMAP_DST] == the sum of remap[].count;
 *     RAM + REMAP_SRC + RELEASED + TRIMMED == nr_pages (no frame is lost).
 *   - Every remap target is map RAM, at/above nr_pages, below the limit;
 *     sources and targets are ascending, and no two ranges of any output
 *     list overlap.
 *   - NVS_MOVED is exactly the new pfns of moved[] (dom0 only), and
 *     the old pfns of moved[] are planned as map RAM.
 *   - identity[] is exactly IDENTITY + REMAP_SRC + RELEASED, merged;
 *     extra[] is exactly EXTRA; release[] is RELEASED + TRIMMED.
 *   - map[] is sorted, page-granular, non-overlapping, merged, non-empty.
 *
 * Sanitising (map[]): entries of zero size are dropped; overlaps are
 * resolved per byte (non-RAM beats RAM; between two non-RAM types the
 * larger type number wins, as in Linux); adjacent RAM is merged; then RAM
 * is rounded inward and non-RAM outward to whole pages (a page shared by
 * RAM and a reserved DMI table is not RAM). dom0: UNUSABLE counts as RAM
 * (Xen refuses 1:1 mappings of it) and 640 KiB-1 MiB is forced reserved
 * (VGA and option ROMs on every PC), from 512 KiB when `ibft` is set (the
 * window newer Linux reserves for dom0 with CONFIG_ISCSI_IBFT_FIND, so
 * that the iBFT can be found through the identity map). The order of the
 * input is free. O(n log n) in the number of entries.
 *
 * Storage. Nothing is allocated: every output list is an array the caller
 * hands in with its capacity. A NULL list is not stored but still counted
 * (nr_* tells the size needed); a non-NULL list that is too small fails
 * with -P2M_ENOSPC and a message naming it and the size needed. map is
 * required (the plan is computed from it) and must hold
 * P2M_E820_MAP_CAP(nr_map) ranges.
 *
 * Conflicts. The objects Xen placed in the initial allocation must lie in
 * RAM that stays RAM. The initial P2M list or the initrd under anything
 * else is reported with action RELOCATE and a suggested target (first fit
 * in RAM above 1 MiB, clear of every object and earlier suggestion); the
 * kernel, its page tables or start_info there is FATAL, as is a relocation
 * with no room, with one exception taken from Linux 6.12: for dom0, an
 * ACPI NVS range under the kernel, its page tables or start_info is
 * moved instead (moved[]): its pfns become RAM (so the frames Xen put
 * there stay), and the same number of pfns at the top of the first map
 * RAM range that ends at least that far above nr_pages (and below the
 * limit and end) take the NVS range, mapped to its machine frames (for
 * dom0 a frame number is the machine address >> 12, which is the old
 * pfn). The firmware's map[] is left as it was; the layout shows the
 * move. At most P2M_E820_MAX_MOVED ranges move (Linux's limit); one more,
 * or no RAM to take one, leaves its conflict FATAL. A domU is never moved:
 * NVS in its pseudo-physical map has no frames behind it to keep.
 * A fatal conflict makes p2m_e820_plan() return
 * -P2M_ECONFLICT with the message in plan->error; the rest of the plan is
 * still filled in for display but must not be applied.
 */
#ifndef P2M_E820_H
#define P2M_E820_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/error.h"

/* E820 types as the BIOS (ACPI spec) numbers them. Xen's public headers
 * carry none, so they are defined here once. */
#define P2M_E820_RAM            1u
#define P2M_E820_RESERVED       2u
#define P2M_E820_ACPI           3u
#define P2M_E820_NVS            4u
#define P2M_E820_UNUSABLE       5u
#define P2M_E820_DISABLED       6u
#define P2M_E820_PMEM           7u
#define P2M_E820_PRAM           12u
#define P2M_E820_SOFT_RESERVED  0xefffffffu

/* One entry as INT 15h/E820 and XENMEM_memory_map return it (20 bytes,
 * byte addresses, size in bytes). */
struct p2m_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Linux's 512 GiB domU limit, in pfns (the 3-level tool tree's reach). */
#define P2M_E820_LIMIT_512G     ((uint64_t)1 << 27)
/* Linux: the balloon may grow at most this many times the allocation. */
#define P2M_E820_EXTRA_RATIO    10u
/* Linux 6.12's limit on ACPI NVS ranges moved (NR_NONRAM_REMAP). */
#define P2M_E820_MAX_MOVED      4u
/* Linux's MAXMEM on x86-64 with 4-level paging (64 TiB), in pfns. */
#define P2M_E820_MAXMEM_PFNS    ((uint64_t)1 << 34)
/* Largest input map accepted. Planning is O(n log n); the bound only
 * keeps indices in 32 bits and P2M_E820_MAP_CAP() from overflowing, far
 * above any firmware (Linux keeps at most 3 * MAX_NUMNODES + 128). */
#define P2M_E820_MAX_ENTRIES    (1u << 20)
/* Ranges plan->map must hold for a map of n entries: the sanitised map
 * (at most 2n + 1 ranges) plus the sanitiser's scratch (two 32-bit
 * indices per entry), which it keeps at the array's tail. */
#define P2M_E820_MAP_CAP(n)     (3 * (size_t)(n) + 4)

/* The frames Xen placed for the guest, as pfn ranges (count 0: absent). */
enum p2m_e820_object_id {
	P2M_E820_OBJ_KERNEL = 0,
	P2M_E820_OBJ_P2M_LIST,     /* the initial list (mfn_list) */
	P2M_E820_OBJ_PAGE_TABLES,  /* Xen's page tables (incl. INIT_P2M's) */
	P2M_E820_OBJ_START_INFO,
	P2M_E820_OBJ_INITRD,
	P2M_E820_NOBJ
};

struct p2m_e820_object {
	uint64_t pfn;
	uint64_t count;
};

struct p2m_e820_input {
	const struct p2m_e820_entry *map;
	size_t nr_map;                 /* <= P2M_E820_MAX_ENTRIES */
	uint64_t nr_pages;             /* initial allocation: pfns [0, nr_pages) */
	uint64_t max_pages;            /* maximum reservation; < nr_pages: none */
	bool dom0;
	uint64_t limit;                /* pfns; 0: no limit */
	/* Plan [0, end); 0: the map's top or nr_pages, whichever is higher,
	 * rounded up to 2^18 pfns (one P2M window). Must be >= nr_pages. RAM
	 * at/above end is not planned (the P2M reads it as identity). */
	uint64_t end;
	/* dom0 only: reserve 512 KiB-1 MiB, not just 640 KiB-1 MiB (newer
	 * Linux's iBFT window; off by default: Debian's Linux 6.1, which
	 * the boots compare with, does not). */
	bool ibft;
	struct p2m_e820_object objects[P2M_E820_NOBJ];
};

/* Defaults: no objects, limit 512 GiB for a domU and none for dom0. */
void p2m_e820_input_init(struct p2m_e820_input *in, bool dom0);

enum p2m_e820_category {
	P2M_E820_C_RAM = 0,
	P2M_E820_C_IDENTITY,
	P2M_E820_C_REMAP_SRC,
	P2M_E820_C_RELEASED,
	P2M_E820_C_TRIMMED,
	P2M_E820_C_REMAP_DST,
	P2M_E820_C_EXTRA,
	P2M_E820_C_UNUSED,
	P2M_E820_C_NVS_MOVED,
	P2M_E820_NCAT
};

/* A pfn range [start, end); kind is an E820 type in map[] and a
 * category elsewhere. */
struct p2m_e820_range {
	uint64_t start;
	uint64_t end;
	uint32_t kind;
};

/* count frames move from pfns [src, src + count) to [dst, dst + count). */
struct p2m_e820_remap {
	uint64_t src;
	uint64_t dst;
	uint64_t count;
};

enum p2m_e820_action { P2M_E820_RELOCATE = 0, P2M_E820_FATAL };

/* Why an object pfn is not RAM. */
enum p2m_e820_reason {
	P2M_E820_UNDER_ENTRY = 0,      /* a non-RAM entry [range_start, range_end) */
	P2M_E820_UNDER_GAP,            /* a gap between entries (or above the last) */
	P2M_E820_ABOVE_LIMIT,          /* RAM at/above the limit */
};

struct p2m_e820_conflict {
	uint32_t object;               /* enum p2m_e820_object_id */
	uint32_t action;               /* enum p2m_e820_action */
	uint32_t reason;               /* enum p2m_e820_reason */
	uint32_t range_type;           /* E820 type of the range (0: gap, limit) */
	uint64_t pfn, count;           /* the object */
	uint64_t range_start, range_end; /* pfns of the range it lies under */
	uint64_t target;               /* RELOCATE: suggested first pfn;
					* otherwise ~0 */
};

#define P2M_E820_LIST(type, name) \
	type *name; size_t name##_cap; size_t nr_##name

struct p2m_e820_plan {
	/* Caller-supplied lists (see "Storage" above). */
	P2M_E820_LIST(struct p2m_e820_range, map);        /* required */
	P2M_E820_LIST(struct p2m_e820_range, layout);
	P2M_E820_LIST(struct p2m_e820_range, identity);
	P2M_E820_LIST(struct p2m_e820_remap, remap);
	P2M_E820_LIST(struct p2m_e820_range, release);
	P2M_E820_LIST(struct p2m_e820_range, extra);
	P2M_E820_LIST(struct p2m_e820_conflict, conflicts);

	/* Results. */
	uint64_t end;                  /* the planned range is [0, end) */
	uint64_t nr_pages, max_pages, limit;  /* as used (limit 0: none) */
	uint64_t map_top;              /* first pfn above the last entry */
	uint64_t extra_budget;         /* Linux's extra_pages after clamping */
	uint64_t pfns[P2M_E820_NCAT];  /* pfns of each category */
	size_t dropped;                /* input entries empty after sanitising */
	size_t fatal;                  /* FATAL conflicts */
	/* ACPI NVS ranges moved (dom0): src = old pfn = machine frame, dst
	 * = new pfn (NVS_MOVED), ascending by src. */
	struct p2m_e820_remap moved[P2M_E820_MAX_MOVED];
	size_t nr_moved;
	char error[200];               /* message of the failure, or "" */
};

/* Point the plan's lists at caller storage; all counts zeroed. Any list
 * may be NULL with capacity 0 except map. */
void p2m_e820_plan_init(struct p2m_e820_plan *plan,
			struct p2m_e820_range *map, size_t map_cap);

/* Plan. 0, or -P2M_EINVAL (bad input: message names the entry or value),
 * -P2M_ENOSPC (a list too small: message names it and the size needed),
 * -P2M_ECONFLICT (a FATAL conflict; see above). */
int p2m_e820_plan(const struct p2m_e820_input *in,
		  struct p2m_e820_plan *plan);

/* Sanitise only (in->map, nr_map, dom0, ibft): map[], map_top and
 * dropped of plan, as described above. */
int p2m_e820_sanitize(const struct p2m_e820_input *in,
		      struct p2m_e820_plan *plan);

/* Category of one pfn from a finished plan's layout (binary search);
 * P2M_E820_NCAT if pfn >= end or the layout was not stored. */
enum p2m_e820_category p2m_e820_category_of(const struct p2m_e820_plan *plan,
					    uint64_t pfn);

/* Names: "usable", "reserved", "ACPI data", "ACPI NVS", "unusable",
 * "persistent (type 7)", ... as Linux prints them; "type N" otherwise
 * (written into buf, which then is returned). */
const char *p2m_e820_type_name(uint32_t type, char *buf, size_t n);
const char *p2m_e820_category_name(enum p2m_e820_category c);
const char *p2m_e820_object_name(enum p2m_e820_object_id o);

/* One line describing a conflict, naming the object and the range. */
int p2m_e820_describe_conflict(const struct p2m_e820_conflict *c,
			       char *buf, size_t n);

struct p2m;
/*
 * Apply the part of a plan that needs no frames to a P2M: identity[]
 * (clipped to the capacity: beyond it every pfn reads identity anyway)
 * becomes identity; extra[] and the TRIMMED ranges of release[] become
 * missing; NVS_MOVED pfns get their machine frames (moved[]: dst + i
 * holds the mfn src + i). RAM and REMAP_DST pfns are left to the caller,
 * who knows the mfns; UNUSED pfns are left as they are (missing in a
 * fresh P2M). The three lists must have been stored in full; extra or
 * moved pfns beyond the capacity are -P2M_ERANGE. Idempotent: on -P2M_ENOMEM the ranges before
 * the failing one are applied, and calling again after freeing memory
 * completes the job. The message goes to p2m_last_error(p).
 */
int p2m_e820_apply(struct p2m *p, const struct p2m_e820_plan *plan);

#endif
