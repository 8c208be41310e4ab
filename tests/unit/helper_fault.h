/*
 * A platform wrapper for fault injection and save/restore, around the
 * hosted platform (linked into every unit test; see test_faults.c and
 * test_migrate.c).
 *
 * Faults. Every fallible platform call (alloc_frames, frame_map, reserve,
 * make_table, set_window, map_frames, m2p) is numbered while the wrapper
 * counts; the calls whose numbers are armed fail (-P2M_ENOMEM for
 * alloc_frames, NULL for frame_map, -P2M_EMAP or -P2M_ERANGE otherwise),
 * changing nothing, as the platform contract allows. The hosted platform's
 * own injection fails one call of two kinds; this one fails any two calls
 * of any kind, including frame_map.
 *
 * Renaming. The wrapper shows libp2m "guest" mfns: the hosted mfn XOR a
 * key. A restore changes the key, so every frame gets a new mfn while its
 * contents (and the hosted page tables, which the platform translates
 * itself) stay: what Xen's restore does to a PV guest.
 *
 * Guest frames. Once adopted (ff_adopt), every frame libp2m holds or
 * allocates is a RAM pfn of the P2M itself, from a pool of pfns made
 * private beforehand, with the M2P set: as in a guest, whose P2M frames
 * are its own pages. Needed by p2m_suspend().
 */
#ifndef P2M_TEST_HELPER_FAULT_H
#define P2M_TEST_HELPER_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "helper_p2m.h"

enum ff_op { FF_ALLOC, FF_FRAME_MAP, FF_RESERVE, FF_MAKE_TABLE, FF_SET_WINDOW,
	     FF_MAP_FRAMES, FF_M2P, FF_NOPS };

struct ff {
	struct fx f;               /* f.plat is the hosted platform */
	struct p2m_platform plat;  /* the wrapper, given to libp2m */
	uint64_t key;              /* guest mfn = hosted mfn ^ key */
	bool counting;
	uint64_t calls;            /* fallible calls numbered so far */
	uint64_t fail[2];          /* call numbers to fail (0: none) */
	int fired[2];              /* enum ff_op of each fired failure, or -1 */
	uint64_t last_of[FF_NOPS]; /* number of the last call of each op */
	/* Guest frames: pfn of each hosted frame (by memfd page), the pool. */
	uint64_t *pfn_of;
	uint64_t npfn_of;
	uint64_t pool_base, pool_n, *pool, npool;
	bool adopted, dying;
	struct arch_shared_info arch;  /* where a case may publish */
	/* Test hooks: before lock() and before each map_frames(). */
	void (*on_lock)(struct ff *x);
	void (*on_map)(struct ff *x, void *va, size_t n, const xen_pfn_t *mfns, unsigned flags);
};

/* Hosted platform and the wrapper; no P2M yet. */
void ff_platform(struct ff *x);
/* The same and a P2M of capacity pfns created through the wrapper. */
void ff_init(struct ff *x, uint64_t capacity, bool tree);
/* Destroy (asserting nothing of libp2m's stays live) and free. */
void ff_fini(struct ff *x);

/* Arm: count from now, fail calls a and b (0: none). Disarm: stop. */
void ff_arm(struct ff *x, uint64_t a, uint64_t b);
void ff_disarm(struct ff *x);
/* The error code a fired failure of op should surface as. */
int ff_expected_error(int op);
const char *ff_op_name(int op);

/* Make every frame libp2m holds a RAM pfn of the P2M from a pool of
 * pool_n pfns at pool_base (made private here), and keep doing so. */
void ff_adopt(struct ff *x, uint64_t pool_base, uint64_t pool_n);
/* A restore: new key, and every pool pfn's entry rewritten with its
 * frame's new mfn (as the restore tools rewrite the list). */
void ff_restore(struct ff *x, uint64_t new_key);
/* The guest mfn of a hosted frame and back. */
uint64_t ff_guest(const struct ff *x, uint64_t hosted);
uint64_t ff_hosted(const struct ff *x, uint64_t guest);

/* Assert that every frame number libp2m records names a live frame whose
 * contents are what libp2m sees through its mappings (the tree's top
 * page, every frame list, every private leaf), and that the tree the
 * tools read is right for shared windows too: the top names the shared
 * frame list for each, which names the shared missing leaf 512 times. */
void ff_check_names(struct ff *x);

/* Records of libp2m (frame numbers, not values), for a call that must
 * change nothing at all. */
struct ff_records {
	uint64_t *v;
	uint64_t n;
};
void ff_records_take(struct ff *x, struct ff_records *r);
void ff_records_expect_same(struct ff *x, const struct ff_records *r);
void ff_records_free(struct ff_records *r);

/*
 * The double-fault driver. A case builds its starting state (setup, never
 * faulted) and runs one call (op). The driver runs it clean, counting its
 * K fallible platform calls; then with call i failing, for every i <= K,
 * counting the T_i calls that run makes (its rollback included); then
 * with calls i and j failing, for every j in (i, T_i]: every pair that can
 * fire. After each faulted run: the error of the first failure, a
 * message, every value (and max_pfn, the published fields) as before,
 * libp2m's records as before (records), live frames equal to libp2m's
 * accounting, the call succeeding when run again (retry), and nothing
 * live after p2m_destroy. Each run starts from a P2M of its own, or, for
 * a case with a reset, from the one the previous run left, brought back
 * to the starting state and checked to be in it.
 */
struct ff_case {
	const char *name;
	uint64_t capacity;
	bool tree;
	bool create;           /* op creates the P2M: none before it */
	void (*setup)(struct ff *x);
	int (*op)(struct ff *x);
	void (*check)(struct ff *x);   /* after a clean run; may be NULL */
	/* After a failure, judge the values instead of an exact comparison
	 * (calls documented to stop part-way); NULL: exact. */
	void (*partial)(struct ff *x, const struct snap *before);
	bool records;
	bool retry;
	/* With retry: brings the P2M back to the starting state after the
	 * (re)tried call succeeded, so that the next run reuses it instead of
	 * creating a P2M again (checked against the starting state: values,
	 * records, published fields, accounting). NULL: a fresh P2M per run. */
	void (*reset)(struct ff *x);
	/* For calls of thousands of platform calls (suspend asks the M2P for
	 * every record, a 4 TiB create hangs 4096 windows): first faults at
	 * the first and last `edge` calls and every `stride`-th in between
	 * (0: every call; more than the calls: none in between). */
	uint64_t edge, stride;
};
struct ff_counts {
	uint64_t clean_calls, singles, pairs, strided;
};
void ff_run_case(const struct ff_case *c, struct ff_counts *n);

#endif
