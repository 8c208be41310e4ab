/*
 * Shared helpers of the libp2m unit tests (linked into every test).
 *
 * A fixture is one hosted platform with one P2M on it. Its checks are the
 * invariants every test leans on:
 *   - accounting: the platform's live frames equal the frames libp2m says
 *     it holds (p2m_get_stats().bytes / 4096), so no frame is leaked or
 *     double-counted while the P2M lives;
 *   - after p2m_destroy() the platform holds no frame of libp2m;
 *   - a snapshot of every lookup in [0, capacity) (plus max_pfn) compares
 *     exactly with the state after a failed call.
 * The failure-injection drivers rebuild the same starting state for every
 * n = 1, 2, 3, ... and arm the hosted platform's nth-call failure, until
 * the operation completes without reaching it.
 */
#ifndef P2M_TEST_HELPER_P2M_H
#define P2M_TEST_HELPER_P2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/dump.h"
#include "p2m/p2m.h"
#include "p2m/publish.h"
#include "platform/hosted.h"

#define W ((uint64_t)P2M_PER_WINDOW)   /* pfns per window */
#define S ((uint64_t)P2M_PER_PAGE)     /* pfns per slot */

struct fx {
	struct hosted *h;
	struct p2m_platform plat;
	struct p2m p;
	bool created;
	/* An initial list the test holds outside libp2m (fx_list_new): its
	 * frames count as live but are not libp2m's until adopted. */
	uint64_t *list_va;
	xen_pfn_t *list_frames;   /* hosted mfns */
	uint64_t list_pages;
	bool list_held;           /* not adopted yet */
};

/* Platform only (for tests of p2m_create itself). */
void fx_platform(struct fx *f);
/* Platform and a P2M of `capacity` pfns; asserts success. */
void fx_init(struct fx *f, uint64_t capacity, bool tree);
/* The same on a platform made with cfg (e.g. alias mode). */
void fx_init_cfg(struct fx *f, const struct hosted_config *cfg, uint64_t capacity,
		 bool tree);
/* Destroy the P2M (asserting the platform is then empty of libp2m's
 * frames) and the platform. */
void fx_fini(struct fx *f);

uint64_t fx_live(struct fx *f);

/* An initial list of n entries v in frames of the platform
 * (hosted_list_new), held by the test until fx_list_adopted(). fx_fini
 * frees a list still held. */
void fx_list_new(struct fx *f, const uint64_t *v, uint64_t n);
/* p2m_build_adopt took (or freed) every frame of the list. */
void fx_list_adopted(struct fx *f);
/* Assert live frames == libp2m's own count of its frames. */
void fx_check_accounting(struct fx *f);

struct snap {
	uint64_t n;
	uint64_t *raw;
	uint64_t max_pfn;
	struct p2m_stats st;
};
void snap_take(struct fx *f, struct snap *s);
/* Every lookup and max_pfn as in s (stats may differ: a split that
 * changes no value is allowed to stay). */
void snap_expect_same(struct fx *f, const struct snap *s);
void snap_free(struct snap *s);

/* Failure injection. setup builds the starting state on a fresh P2M, op
 * runs the call under test, check (may be NULL) verifies the result of
 * the run that completed. Returns the number of injected failures. */
typedef void (*fx_setup_fn)(struct fx *f, void *arg);
typedef int (*fx_op_fn)(struct fx *f, void *arg);
typedef void (*fx_check_fn)(struct fx *f, void *arg);
enum fx_inject { FX_INJECT_ALLOC, FX_INJECT_MAP };
unsigned fx_inject_each(enum fx_inject what, uint64_t capacity, bool tree,
			fx_setup_fn setup, fx_op_fn op, fx_check_fn check, void *arg);
/* The same, for calls documented to stop part-way on a mapping failure:
 * after a failure, failed(f, snapshot, arg) judges the state instead of
 * an exact comparison (accounting is still checked). */
typedef void (*fx_failed_fn)(struct fx *f, const struct snap *before, void *arg);
unsigned fx_inject_each_partial(enum fx_inject what, uint64_t capacity, bool tree,
				fx_setup_fn setup, fx_op_fn op, fx_check_fn check,
				fx_failed_fn failed, void *arg);

/* The runs of [start, end) as text in the dump's format. */
char *fx_dump(struct fx *f, uint64_t end);

/* An mfn value for pfn that tests use for RAM (never an identity value,
 * never ~0, below P2M_MFN_LIMIT). */
static inline uint64_t ram_of(uint64_t pfn)
{
	return 0x5000000000ull + pfn * 7 % 0x1000000000ull;
}

#endif
