/*
 * The phases of `p2m sim` (sim.h, docs/p2msim.md):
 *
 *   plan      an E820 map from --ram/--holes/--extra, libp2m's planner
 *   build     as the guest boots: release, create, p2m_build from the
 *             generated initial list, free the list, remap, apply, cover,
 *             publish
 *   save      libp2mread through p2m_cr3 with the saver's leaf M2P check
 *             (and the tree where it is published); every entry against
 *             the guest's own view and the hypervisor's truth
 *   restore   unpublish, p2m_suspend, SHUTDOWN_suspend, new mfns for every
 *             frame; the restorer localises the page tables and rewrites
 *             every leaf of the list; p2m_resume, the identity ranges again
 *             (the restorer wrote ~0 over them), publish
 *   save2     as save; its entries equal the first save's modulo the
 *             renumbering (compared through frame numbers: a digest)
 *   migrate   live rounds: entry-only changes keep the generation; a
 *             structural change during a read makes libp2mread read again;
 *             the 4.17 saver model aborts on it; a writer changing the
 *             structure on every read exhausts the bounded retries
 *
 * With a failure armed (config.fault_kind), the step that fails is
 * repeated once (libp2m's contract: a failed call changes nothing), and
 * every check must still pass, with no frame lost at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/procstat.h"
#include "common/toolstack.h"
#include "p2m/e820.h"
#include "p2m/migrate.h"
#include "p2m/p2m.h"
#include "p2m/publish.h"
#include "p2mread/read.h"
#include "platform/hosted.h"
#include "sim/hv.h"
#include "sim/initial.h"
#include "sim/sim.h"

#define PAGE 4096u
#define KERNEL_PFN 0x1000u     /* 16 MiB */
#define KERNEL_PAGES 0x1000u   /* 16 MiB of kernel */
#define MAX_MAP (2 * SIM_MAX_HOLES + 4)
#define MAX_LIST 4096

struct sim {
	const struct sim_config *c;
	struct sim_report *r;
	char *err;
	size_t errlen;
	/* the plan */
	struct p2m_e820_entry map_in[MAX_MAP];
	struct p2m_e820_range map[P2M_E820_MAP_CAP(MAX_MAP)], layout[MAX_LIST], identity[MAX_LIST],
		release[MAX_LIST], extra[MAX_LIST];
	struct p2m_e820_remap remap[MAX_LIST];
	struct p2m_e820_conflict conflicts[16];
	struct p2m_e820_plan plan;
	struct p2m_e820_input in;
	uint64_t list_pfn, list_pages, cover;
	bool tools_read_list;
	/* the machine */
	struct sim_hv hv;
	struct hosted *h;
	struct p2m p;
	bool p_live;
	struct arch_shared_info arch;
	/* the save */
	uint64_t *leaf_pfn, nleaf;     /* the saver's leaf pfns (for the restorer) */
	uint64_t digest[2];
	/* the phase */
	struct sim_phase *ph;
	struct timespec t0;
};

static int fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, s->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void say(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->c->log)
		return;
	va_start(ap, fmt);
	vfprintf(s->c->log, fmt, ap);
	va_end(ap);
	fflush(s->c->log);
}

/* --- phases: time, frames, peak RSS --- */

static void phase_begin(struct sim *s, const char *name)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd >= 0) {   /* "5": reset the peak RSS (VmHWM) */
		ssize_t w = write(fd, "5", 1);

		(void)w;
		close(fd);
	}
	s->ph = &s->r->phase[s->r->nphases++];
	memset(s->ph, 0, sizeof(*s->ph));
	snprintf(s->ph->name, sizeof(s->ph->name), "%s", name);
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	say(s, "sim: %s ...\n", name);
}

static void phase_end(struct sim *s)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->ph->secs = (double)(t1.tv_sec - s->t0.tv_sec) + (double)(t1.tv_nsec - s->t0.tv_nsec) / 1e9;
	s->ph->peak_rss_kib = proc_status_kib("VmHWM");
	say(s, "sim: %s done: %.2fs, %llu frames read, %llu written, peak RSS %lld MiB\n", s->ph->name,
	    s->ph->secs, (unsigned long long)s->ph->frames_read, (unsigned long long)s->ph->frames_written,
	    (long long)(s->ph->peak_rss_kib / 1024));
}

static const char *why(struct sim *s);

/* --- failure injection: one armed failure, its step repeated once --- */

static bool pending(struct sim *s)
{
	switch (s->c->fault_kind) {
	case 1: return s->h ? hosted_alloc_failure_pending(s->h) : true;
	case 2: return s->h ? hosted_map_failure_pending(s->h) : true;
	case 3: return sim_hv_failure_pending(&s->hv);
	default: return false;
	}
}

static void arm(struct sim *s)
{
	if (s->c->fault_kind == 1)
		hosted_fail_nth_alloc(s->h, s->c->fault_nth);
	else if (s->c->fault_kind == 2)
		hosted_fail_nth_map(s->h, s->c->fault_nth);
	else if (s->c->fault_kind == 3)
		sim_hv_fail_nth(&s->hv, s->c->fault_nth);
}

/* rc of a step: 0, or "repeat it" (the armed failure fired in it just
 * now), or a real failure. */
static bool repeat(struct sim *s, int rc)
{
	if (rc == 0 || !s->c->fault_kind || s->r->fault_fired || pending(s))
		return false;
	s->r->fault_fired = true;
	s->r->retries++;
	say(s, "sim: injected failure (%s); the step again\n", why(s));
	return true;
}

#define STEP(s, call) ({ int rc_ = (call); if (repeat(s, rc_)) rc_ = (call); rc_; })

static const char *why(struct sim *s)
{
	if (s->hv.err[0])
		return s->hv.err;
	if (s->p_live && p2m_last_error(&s->p)[0])
		return p2m_last_error(&s->p);
	return s->h ? hosted_last_error(s->h) : "";
}

/* --- plan --- */

static uint64_t pages(uint64_t bytes)
{
	return bytes / PAGE;
}

/* The map: RAM from 0 to the top, reserved holes; the top leaves room for
 * RAM, the holes below it and the extra space. */
static int make_map(struct sim *s, size_t *n)
{
	uint64_t need = pages(s->c->ram) + pages(s->c->extra), pfn = 0, got = 0;
	size_t k = 0;

	for (size_t i = 0; i < s->c->nholes; i++) {
		const struct pfn_range *hl = &s->c->holes[i];

		if (hl->start < pfn || hl->end <= hl->start)
			return fail(s, "--holes: ranges must be ascending and disjoint");
		if (hl->start > pfn) {
			uint64_t take = hl->start - pfn;

			if (got + take > need)
				take = need - got;
			if (take)
				s->map_in[k++] = (struct p2m_e820_entry){ pfn * PAGE, take * PAGE, P2M_E820_RAM };
			got += take;
		}
		if (got == need)
			break;
		s->map_in[k++] = (struct p2m_e820_entry){ hl->start * PAGE, (hl->end - hl->start) * PAGE,
							  P2M_E820_RESERVED };
		pfn = hl->end;
	}
	if (got < need)
		s->map_in[k++] = (struct p2m_e820_entry){ pfn * PAGE, (need - got) * PAGE, P2M_E820_RAM };
	*n = k;
	return 0;
}

static int plan(struct sim *s)
{
	size_t n = 0;
	uint64_t pt;

	if (make_map(s, &n))
		return -1;
	p2m_e820_input_init(&s->in, false);
	s->in.map = s->map_in;
	s->in.nr_map = n;
	s->in.nr_pages = pages(s->c->ram);
	s->in.max_pages = pages(s->c->ram) + pages(s->c->extra);
	s->list_pages = (s->in.nr_pages * 8 + PAGE - 1) / PAGE;
	/* Tools that read the list (SIF_VIRT_P2M_4TOOLS): no 512 GiB limit. */
	s->tools_read_list = s->in.max_pages + 2 * pages(1ull << 30) > P2M_E820_LIMIT_512G;
	if (s->tools_read_list)
		s->in.limit = 0;
	pt = (KERNEL_PAGES + s->list_pages) / 512 + 8;
	/* The builder's order: kernel, list, page tables, start_info; with
	 * INIT_P2M the list comes last, in its own L4 slot. */
	s->list_pfn = s->c->init_p2m ? KERNEL_PFN + KERNEL_PAGES + pt + 1 : KERNEL_PFN + KERNEL_PAGES;
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t after = s->c->init_p2m ? KERNEL_PFN + KERNEL_PAGES : s->list_pfn + s->list_pages;

		s->in.objects[P2M_E820_OBJ_KERNEL] = (struct p2m_e820_object){ KERNEL_PFN, KERNEL_PAGES };
		s->in.objects[P2M_E820_OBJ_P2M_LIST] = (struct p2m_e820_object){ s->list_pfn, s->list_pages };
		s->in.objects[P2M_E820_OBJ_PAGE_TABLES] = (struct p2m_e820_object){ after, pt };
		s->in.objects[P2M_E820_OBJ_START_INFO] = (struct p2m_e820_object){ after + pt, 1 };
		p2m_e820_plan_init(&s->plan, s->map, sizeof(s->map) / sizeof(s->map[0]));
		s->plan.layout = s->layout, s->plan.layout_cap = MAX_LIST;
		s->plan.identity = s->identity, s->plan.identity_cap = MAX_LIST;
		s->plan.remap = s->remap, s->plan.remap_cap = MAX_LIST;
		s->plan.release = s->release, s->plan.release_cap = MAX_LIST;
		s->plan.extra = s->extra, s->plan.extra_cap = MAX_LIST;
		s->plan.conflicts = s->conflicts, s->plan.conflicts_cap = 16;
		if (p2m_e820_plan(&s->in, &s->plan) != 0)
			return fail(s, "e820 plan: %s", s->plan.error);
		/* The list under a hole: the builder places it where the
		 * planner suggests (as a guest relocates it). */
		if (attempt == 0 && s->plan.nr_conflicts &&
		    s->conflicts[0].object == P2M_E820_OBJ_P2M_LIST &&
		    s->conflicts[0].action == P2M_E820_RELOCATE) {
			s->list_pfn = s->conflicts[0].target;
			continue;
		}
		break;
	}
	if (s->plan.nr_conflicts)
		return fail(s, "e820 plan: an object Xen placed lies under a hole (%zu conflicts)",
			    s->plan.nr_conflicts);
	s->cover = s->in.nr_pages;
	for (size_t i = 0; i < s->plan.nr_remap; i++)
		if (s->remap[i].dst + s->remap[i].count > s->cover)
			s->cover = s->remap[i].dst + s->remap[i].count;
	for (size_t i = 0; i < s->plan.nr_extra; i++)
		if (s->extra[i].end > s->cover)
			s->cover = s->extra[i].end;
	s->r->nr_pages = s->in.nr_pages;
	s->r->end = s->plan.end;
	s->r->remapped = s->plan.pfns[P2M_E820_C_REMAP_SRC];
	s->r->released = s->plan.pfns[P2M_E820_C_RELEASED] + s->plan.pfns[P2M_E820_C_TRIMMED];
	s->r->extra_pfns = s->plan.pfns[P2M_E820_C_EXTRA];
	return 0;
}

/* The pool: RAM of the boot allocation clear of the objects and of the
 * first MiB (the list joins when it is freed). */
static int make_pool(struct sim *s)
{
	struct sim_range obj[P2M_E820_NOBJ + 1];
	size_t no = 0;

	obj[no++] = (struct sim_range){ 0, 0x100 };
	for (int o = 0; o < P2M_E820_NOBJ; o++)
		if (s->in.objects[o].count)
			obj[no++] = (struct sim_range){ s->in.objects[o].pfn,
							s->in.objects[o].pfn + s->in.objects[o].count };
	for (size_t i = 1; i < no; i++)   /* sort by start */
		for (size_t j = i; j > 0 && obj[j].start < obj[j - 1].start; j--) {
			struct sim_range t = obj[j];

			obj[j] = obj[j - 1];
			obj[j - 1] = t;
		}
	for (size_t i = 0; i < s->plan.nr_layout; i++) {
		uint64_t a = s->layout[i].start, b = s->layout[i].end;

		if (s->layout[i].kind != P2M_E820_C_RAM)
			continue;
		if (b > s->in.nr_pages)
			b = s->in.nr_pages;
		for (size_t j = 0; j < no && a < b; j++) {
			if (obj[j].end <= a || obj[j].start >= b)
				continue;
			if (sim_pool_add(&s->hv, a, obj[j].start < b ? obj[j].start : b))
				return fail(s, "sim: the pool has more than %d ranges", SIM_MAX_POOL);
			a = obj[j].end > a ? obj[j].end : a;
		}
		if (a < b && sim_pool_add(&s->hv, a, b))
			return fail(s, "sim: the pool has more than %d ranges", SIM_MAX_POOL);
	}
	return 0;
}

/* --- build --- */

static int build(struct sim *s)
{
	struct hosted_namer namer;
	struct hosted_config hc = { 0 };
	struct p2m_platform plat;
	struct hosted_stats st;
	const uint64_t *initial;
	char herr[256];
	int rc;

	phase_begin(s, "build");
	if (sim_hv_init(&s->hv, &s->plan, s->in.nr_pages, s->c->seed ? s->c->seed : 1))
		return fail(s, "sim: no memory for the hypervisor's tables");
	if (make_pool(s))
		return -1;
	if (s->c->fault_kind == 3)
		arm(s);
	sim_hv_namer(&s->hv, &namer);
	hc.namer = getenv("P2M_SIM_PLAIN") ? NULL : &namer;
	hc.backing_dir = s->c->dir;
	hc.max_frames = s->plan.end / 512 + (s->plan.end >> 18) * 4 + 65536;
	hc.mfn_base = getenv("P2M_SIM_PLAIN") ? 0 : 1;     /* internal numbers only: mfns come from the namer */
	s->h = hosted_create(&hc, herr, sizeof(herr));
	if (!s->h)
		return fail(s, "%s", herr);
	if (s->c->fault_kind == 1 || s->c->fault_kind == 2)
		arm(s);
	hosted_platform(s->h, &plat);
	/* Step 3 of the boot: give back the frames the plan releases. */
	if ((rc = STEP(s, sim_hc_release(&s->hv))))
		return fail(s, "release: %s", why(s));
	if ((rc = STEP(s, p2m_create(&s->p, &plat, s->plan.end, true))))
		return fail(s, "p2m_create: %s", why(s));
	s->p_live = true;
	initial = sim_initial_open(&s->hv, s->in.nr_pages, herr, sizeof(herr));
	if (!initial)
		return fail(s, "%s", herr);
	rc = STEP(s, p2m_build(&s->p, initial, s->in.nr_pages));
	s->r->initial_fills = sim_initial_fills();
	sim_initial_close();
	if (rc)
		return fail(s, "p2m_build: %s", why(s));
	/* Step 5: the initial list's frames go to the pool. */
	if (sim_pool_add(&s->hv, s->list_pfn, s->list_pfn + s->list_pages))
		return fail(s, "sim: the pool has more than %d ranges", SIM_MAX_POOL);
	/* Step 4: the remaps (M2P first, then the P2M), the rest of the plan. */
	for (size_t i = 0; i < s->plan.nr_remap; i++) {
		const struct p2m_e820_remap *m = &s->remap[i];

		if ((rc = STEP(s, sim_hc_remap(&s->hv, i))))
			return fail(s, "remap: %s", why(s));
		for (uint64_t j = 0; j < m->count; j++)
			if ((rc = STEP(s, p2m_set(&s->p, m->dst + j, sim_mfn_of_pfn(&s->hv, m->dst + j)))))
				return fail(s, "remap: p2m_set: %s", why(s));
	}
	if ((rc = STEP(s, p2m_e820_apply(&s->p, &s->plan))))
		return fail(s, "p2m_e820_apply: %s", why(s));
	p2m_cover(&s->p, s->cover);
	memset(&s->arch, 0, sizeof(s->arch));
	if ((rc = p2m_publish(&s->p, &s->arch, s->tools_read_list)))
		return fail(s, "p2m_publish: %s", why(s));
	s->r->max_pfn = p2m_max_pfn(&s->p);
	hosted_get_stats(s->h, &st);
	s->r->p2m_frames = st.live_frames;
	snprintf(s->ph->note, sizeof(s->ph->note),
		 "%llu P2M frames (%llu MiB), %llu chunks of the initial list generated",
		 (unsigned long long)st.live_frames, (unsigned long long)(st.live_frames >> 8),
		 (unsigned long long)s->r->initial_fills);
	phase_end(s);
	return 0;
}

/* --- reading it as the saver does --- */

struct check {
	struct sim *s;
	uint64_t entries, bad, digest, next;
	unsigned attempt;
	bool record;                    /* keep the leaf pfns for the restorer */
	/* a writer in the middle of the read (the migration model) */
	int (*writer)(struct check *k, const struct p2mr_leaf *l);
	uint64_t writes;
	char first_bad[200];
};

/* What the tools must read at pfn: the guest's view, where a shared slot
 * (of either kind) reads ~0. */
static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static int check_leaf(void *arg, const struct p2mr_leaf *l)
{
	struct check *k = arg;
	struct sim *s = k->s;
	uint64_t frame[512];
	struct p2m_view view;
	bool shared;
	int rc;

	if (l->attempt != k->attempt) {   /* a re-read: from pfn 0 again */
		k->attempt = l->attempt;
		k->entries = k->bad = k->digest = 0;
		k->first_bad[0] = 0;
	}
	if (k->record && l->attempt == 1) {
		uint64_t pfn;

		if (sim_m2p(&s->hv, l->mfn, &pfn))
			pfn = SIM_NONE;
		k->s->leaf_pfn[l->index] = pfn;
		if (l->index + 1 > s->nleaf)
			s->nleaf = l->index + 1;
	}
	/* The guest's own view of the slot: its entries where it is
	 * private, ~0 where it is shared (the saver reads the shared leaf). */
	view = p2m_view(&s->p);
#ifdef MADV_POPULATE_READ
	/* The window's list pages in one call rather than a fault each (a
	 * hint: a kernel without it faults them in as before). */
	if (l->first % P2M_PER_WINDOW == 0)
		(void)madvise((uint8_t *)s->p.list + l->first * 8, P2M_PER_WINDOW * 8,
			      MADV_POPULATE_READ);
#endif
	shared = l->first < s->p.capacity && view.kinds[l->first >> 9] != P2M_SLOT_PRIVATE;
	sim_frames_of_block(&s->hv, l->first, l->n, frame);
	for (unsigned i = 0; i < l->n; i++) {
		uint64_t pfn = l->first + i, e = __atomic_load_n(&l->entries[i], __ATOMIC_RELAXED);
		uint64_t want = shared ? P2M_INVALID : p2m_view_raw(&view, pfn);
		uint64_t truth = sim_mfn_of_frame(&s->hv, frame[i]), f;

		/* The guest's view against the hypervisor: RAM where it has
		 * a frame, nothing else where it has none. */
		if ((truth != SIM_NONE && want != truth) ||
		    (truth == SIM_NONE && p2m_entry_kind(want) == P2M_KIND_RAM)) {
			if (!k->bad++)
				snprintf(k->first_bad, sizeof(k->first_bad),
					 "pfn %#llx: the guest's P2M holds %#llx, the hypervisor %#llx",
					 (unsigned long long)pfn, (unsigned long long)want,
					 (unsigned long long)truth);
		} else if (e != want) {
			if (!k->bad++)
				snprintf(k->first_bad, sizeof(k->first_bad),
					 "pfn %#llx: the saver reads %#llx, the guest's P2M holds %#llx",
					 (unsigned long long)pfn, (unsigned long long)e,
					 (unsigned long long)want);
		}
		f = p2m_entry_kind(e) == P2M_KIND_RAM ? sim_frame_of_mfn(&s->hv, e, false) : SIM_NONE;
		k->digest = mix(k->digest, f != SIM_NONE ? f : e ^ 0x5555555555555555ull);
		k->entries++;
	}
	/* Keep the list's pages out of RSS as the read moves on. */
	if ((l->first + l->n) % P2M_PER_WINDOW == 0)
		madvise((uint8_t *)s->p.list + (l->first + l->n - P2M_PER_WINDOW) * 8,
			P2M_PER_WINDOW * 8, MADV_DONTNEED);
	if (k->writer && (rc = k->writer(k, l)))
		return rc;
	return 0;
}

static int read_p2m(struct sim *s, struct check *k, const struct p2mr_options *o,
		    struct p2mr_result *res)
{
	bool plain = getenv("P2M_SIM_PLAIN");
	struct ts_copies *copies = malloc(sizeof(*copies));
	struct p2mr_options opt = o ? *o : (struct p2mr_options){ 0 };
	struct p2mr_frames fr;
	struct ts_frames tf;
	int rc;

	if (!copies) {
		*res = (struct p2mr_result){ 0 };
		snprintf(res->error, sizeof(res->error), "no memory for the reader's frame buffers");
		return -P2MR_EINVAL;
	}
	ts_frames_hosted(&tf, s->h, plain ? (uint64_t)1 << 39 : s->hv.max_mfn);
	tf.m2p = plain ? NULL : ts_hosted_m2p;   /* the namer's: the simulated M2P */
	ts_copies_frames(copies, &tf, &fr);
	/* Above 16 TiB a migration stream's 32-bit pfns end (the reader's
	 * default limit); the simulation reads what the guest published. */
	opt.max_pfn = P2M_CAPACITY_MAX;
	k->s = s;
	k->attempt = 1;
	rc = p2mr_read(&s->arch, &fr, &opt, check_leaf, k, res);
	free(copies);
	return rc;
}

static int save(struct sim *s, const char *name, int which)
{
	struct check k = { 0 };
	struct p2mr_result res;
	int rc;

	phase_begin(s, name);
	if (which == 0) {
		free(s->leaf_pfn);
		s->leaf_pfn = malloc((p2m_max_pfn(&s->p) / 512 + 1) * sizeof(uint64_t));
		s->nleaf = 0;
		if (!s->leaf_pfn)
			return fail(s, "%s: no memory for the leaf list", name);
		k.record = true;
	}
	rc = read_p2m(s, &k, NULL, &res);
	s->ph->frames_read = res.maps;
	if (rc)
		return fail(s, "%s: libp2mread: %s (%s)", name, res.error, p2mr_strerror(rc));
	if (k.bad)
		return fail(s, "%s: %llu entries wrong; first: %s", name, (unsigned long long)k.bad,
			    k.first_bad);
	if (res.count != p2m_max_pfn(&s->p) || k.entries != res.count)
		return fail(s, "%s: read %llu entries of %llu (max_pfn %#llx)", name,
			    (unsigned long long)k.entries, (unsigned long long)res.count,
			    (unsigned long long)p2m_max_pfn(&s->p));
	s->digest[which] = k.digest;
	snprintf(s->ph->note, sizeof(s->ph->note), "%s: %llu pfns, %llu leaves, every leaf's M2P checked",
		 res.mode == P2MR_MODE_LIST ? "list" : "tree", (unsigned long long)res.count,
		 (unsigned long long)res.leaves);
	/* The tree too, where it is published (capacity within 512 GiB). */
	if (!s->tools_read_list) {
		struct p2mr_options tree = { .tree_only = true };
		struct check kt = { 0 };

		rc = read_p2m(s, &kt, &tree, &res);
		s->ph->frames_read += res.maps;
		if (rc || kt.bad)
			return fail(s, "%s: the tree: %s%s", name, rc ? res.error : "", kt.bad ? kt.first_bad : "");
		snprintf(s->ph->note + strlen(s->ph->note), sizeof(s->ph->note) - strlen(s->ph->note),
			 "; the tree too (%llu pfns)", (unsigned long long)res.count);
	}
	if (which == 1 && s->digest[1] != s->digest[0])
		return fail(s, "%s: the second save differs from the first beyond the renumbering", name);
	if (which == 1)
		snprintf(s->ph->note + strlen(s->ph->note), sizeof(s->ph->note) - strlen(s->ph->note),
			 "; equal to the first save modulo the new mfns");
	phase_end(s);
	return 0;
}

/* --- restore --- */

static xen_pfn_t renumber(void *ctx, xen_pfn_t old)
{
	struct sim *s = ctx;

	return sim_mfn_of_frame(&s->hv, sim_frame_of_mfn(&s->hv, old, true));
}

/* The restorer localises a page table: each present entry's old mfn
 * becomes the new mfn of the same frame. */
static int localise(void *ctx, xen_pfn_t mfn)
{
	struct sim *s = ctx;
	uint64_t t[512];

	if (hosted_read_frame(s->h, mfn, t))
		return fail(s, "restore: page table %#llx: %s", (unsigned long long)mfn, hosted_last_error(s->h));
	for (unsigned i = 0; i < 512; i++)
		if (t[i] & X86_PTE_PRESENT) {
			uint64_t m = renumber(s, (t[i] & X86_PTE_MFN_MASK) >> 12);

			if (m == SIM_NONE)
				return fail(s, "restore: page table %#llx entry %u names %#llx, no frame of the domain",
					    (unsigned long long)mfn, i,
					    (unsigned long long)((t[i] & X86_PTE_MFN_MASK) >> 12));
			t[i] = (t[i] & ~X86_PTE_MFN_MASK) | (m << 12);
		}
	if (hosted_write_frame(s->h, mfn, t))
		return fail(s, "restore: page table %#llx: %s", (unsigned long long)mfn, hosted_last_error(s->h));
	s->ph->frames_written++;
	return 0;
}

static int restore(struct sim *s)
{
	uint64_t buf[512];
	int rc;

	phase_begin(s, "restore");
	for (;;) {
		p2m_unpublish(&s->p);
		if ((rc = STEP(s, p2m_suspend(&s->p))))
			return fail(s, "p2m_suspend: %s", why(s));
		if (sim_hc_suspend(&s->hv) == 0)
			break;
		/* A failed suspend is a cancelled one: the same domain goes on. */
		if (!repeat(s, -1))
			return fail(s, "suspend: %s", why(s));
		if ((rc = STEP(s, p2m_resume(&s->p, false))))
			return fail(s, "p2m_resume after a cancelled suspend: %s", why(s));
		if ((rc = p2m_publish(&s->p, &s->arch, s->tools_read_list)))
			return fail(s, "p2m_publish: %s", why(s));
	}
	/* The new domain: every frame a new mfn; its pages keep their pfns. */
	sim_hv_renumber(&s->hv);
	hosted_renumber(s->h, renumber, s);
	if (hosted_for_each_table(s->h, localise, s))
		return -1;
	/* The restorer writes the new P2M into the leaves the saver named
	 * (by pfn): a new mfn where the domain has a frame, ~0 elsewhere
	 * (identity included: the stream knows no identity). */
	for (uint64_t i = 0; i < s->nleaf; i++) {
		uint64_t pfn = s->leaf_pfn[i], mfn;

		if (pfn == SIM_NONE)
			return fail(s, "restore: leaf %llu had no pfn", (unsigned long long)i);
		sim_frames_of_block(&s->hv, i * 512, 512, buf);
		for (unsigned j = 0; j < 512; j++)
			buf[j] = buf[j] == SIM_NONE ? P2M_INVALID : sim_mfn_of_frame(&s->hv, buf[j]);
		mfn = sim_mfn_of_pfn(&s->hv, pfn);
		if (hosted_write_frame(s->h, mfn, buf))
			return fail(s, "restore: leaf %llu (pfn %#llx): %s", (unsigned long long)i,
				    (unsigned long long)pfn, hosted_last_error(s->h));
		s->ph->frames_written++;
	}
	if ((rc = STEP(s, p2m_resume(&s->p, true))))
		return fail(s, "p2m_resume: %s", why(s));
	/* The guest's identity ranges again (the restorer wrote ~0). */
	if ((rc = STEP(s, p2m_e820_apply(&s->p, &s->plan))))
		return fail(s, "p2m_e820_apply after the restore: %s", why(s));
	memset(&s->arch, 0, sizeof(s->arch));
	if ((rc = p2m_publish(&s->p, &s->arch, s->tools_read_list)))
		return fail(s, "p2m_publish after the restore: %s", why(s));
	snprintf(s->ph->note, sizeof(s->ph->note), "every frame renumbered (epoch %llu), %llu frames rewritten",
		 (unsigned long long)s->hv.epoch, (unsigned long long)s->ph->frames_written);
	phase_end(s);
	return 0;
}

/* --- the live-migration model --- */

/* Pfns the balloon works on: RAM near the top of the boot allocation
 * (data frames, never the P2M's), and balloon space. */
static uint64_t ram_pfn(struct sim *s, unsigned j)
{
	uint64_t pfn = s->in.nr_pages - 1 - 7 * (uint64_t)j;

	while (sim_frame_of_pfn(&s->hv, pfn) == SIM_NONE || s->hv.page_of_pfn[pfn])
		pfn--;
	return pfn;
}

static int balloon_out(struct sim *s, uint64_t pfn)
{
	int rc;

	if ((rc = STEP(s, sim_hc_decrease(&s->hv, pfn))))
		return rc;
	return STEP(s, p2m_set(&s->p, pfn, P2M_INVALID));
}

/* Populate one page of balloon space: a shared slot becomes private, so
 * the generation moves. */
static int balloon_in(struct sim *s, uint64_t pfn)
{
	uint64_t mfn;
	int rc;

	if ((rc = STEP(s, sim_hc_populate(&s->hv, pfn, &mfn))))
		return rc;
	return STEP(s, p2m_set(&s->p, pfn, mfn));
}

/* A pfn of balloon space in a shared (missing) slot: populating it
 * splits the slot. */
static uint64_t extra_pfn(struct sim *s)
{
	for (size_t i = 0; i < s->plan.nr_extra; i++)
		for (uint64_t pfn = (s->extra[i].start + 511) & ~(uint64_t)511;
		     pfn + 512 <= s->extra[i].end; pfn += 512)
			if (s->p.kinds[pfn >> 9] == P2M_SLOT_MISSING)
				return pfn;
	return SIM_NONE;
}

/* The writers, in the reader's leaf callback from its middle leaf on:
 * up to `limit` splits of a slot of balloon space. */
static int split_during_read(struct check *k, const struct p2mr_leaf *l, uint64_t limit)
{
	struct sim *s = k->s;
	uint64_t pfn;

	if (k->writes >= limit || l->index < s->nleaf / 2)
		return 0;
	pfn = extra_pfn(s);
	if (pfn == SIM_NONE)
		return 0;
	k->writes++;
	return balloon_in(s, pfn) ? 1 : 0;
}

/* One split in all (the reader's second attempt sees none). */
static int writer_once(struct check *k, const struct p2mr_leaf *l)
{
	return split_during_read(k, l, 1);
}

/* One split during every attempt. */
static int writer_always(struct check *k, const struct p2mr_leaf *l)
{
	return split_during_read(k, l, l->attempt);
}

static int migrate(struct sim *s)
{
	struct p2mr_options once = { .attempts = 1 }, twice = { .attempts = 2 };
	struct p2mr_result res;
	struct check k = { 0 };
	uint64_t g0, saver_gen;
	int rc;

	phase_begin(s, "migrate");
	if (!s->plan.nr_extra)
		return fail(s, "migrate: the model needs balloon space (--extra)");
	/* Round 0: the 4.17 saver reads the P2M once and keeps its generation. */
	rc = read_p2m(s, &k, &once, &res);
	s->ph->frames_read += res.maps;
	if (rc || k.bad)
		return fail(s, "migrate: round 0: %s%s", rc ? res.error : "", k.first_bad);
	saver_gen = res.generation;
	/* Round 1: entries only (balloon out 64 pages of private slots). The
	 * generation stays, so the 4.17 saver goes on with the leaves it
	 * mapped in round 0 (it sees the stores through them) and reads
	 * nothing again; the next round's read checks the entries. */
	g0 = p2m_generation(&s->p);
	for (unsigned j = 0; j < 64; j++)
		if (balloon_out(s, ram_pfn(s, j)))
			return fail(s, "migrate: balloon out: %s", why(s));
	if (p2m_generation(&s->p) != g0 || g0 != saver_gen)
		return fail(s, "migrate: entry stores moved the generation");
	/* Round 2: a structural change in the middle of the read: libp2mread
	 * reads again and sees it (and round 1's entries); the 4.17 saver
	 * aborts the migration. */
	memset(&k, 0, sizeof(k));
	k.writer = writer_once;
	rc = read_p2m(s, &k, NULL, &res);
	s->ph->frames_read += res.maps;
	if (rc || k.bad || res.attempts != 2 || k.writes != 1)
		return fail(s, "migrate: round 2: %s%s (%u reads, %llu writes)", rc ? res.error : "",
			    k.first_bad, res.attempts, (unsigned long long)k.writes);
	if (p2m_generation(&s->p) == saver_gen)
		return fail(s, "migrate: a split did not move the generation");
	/* The 4.17 saver's check at the end of its round. */
	say(s, "sim: 4.17 saver model: p2m generation count changed. Migration aborted. (%#llx -> %#llx)\n",
	    (unsigned long long)saver_gen, (unsigned long long)p2m_generation(&s->p));
	/* Round 3: a writer that changes the structure during every read:
	 * the bounded retries give up, with the saver's message. */
	memset(&k, 0, sizeof(k));
	k.writer = writer_always;
	rc = read_p2m(s, &k, &twice, &res);
	s->ph->frames_read += res.maps;
	if (rc != -P2MR_EGENERATION || !strstr(res.error, "p2m generation count changed. Migration aborted."))
		return fail(s, "migrate: round 3: expected EGENERATION, got %s: %s", p2mr_strerror(rc), res.error);
	/* A quiet round after it reads everything right. */
	memset(&k, 0, sizeof(k));
	rc = read_p2m(s, &k, NULL, &res);
	s->ph->frames_read += res.maps;
	if (rc || k.bad)
		return fail(s, "migrate: final round: %s%s", rc ? res.error : "", k.first_bad);
	snprintf(s->ph->note, sizeof(s->ph->note),
		 "64 entry stores kept the generation; a split mid-read: re-read (2 reads), the 4.17 model aborts; a split every read: EGENERATION after 2 reads");
	phase_end(s);
	return 0;
}

/* --- the end: nothing lost --- */

static int teardown(struct sim *s, int rc)
{
	struct hosted_stats st;

	if (s->p_live) {
		p2m_destroy(&s->p);
		s->p_live = false;
	}
	if (s->h) {
		hosted_get_stats(s->h, &st);
		if (rc == 0 && st.live_frames != 0)
			rc = fail(s, "leak: %llu frames still allocated after p2m_destroy",
				  (unsigned long long)st.live_frames);
		/* What the pool lent is back, but for the platform's own
		 * tables (the root L4). */
		if (rc == 0 && s->hv.out != st.table_frames)
			rc = fail(s, "leak: %llu pool frames out, the platform holds %llu tables",
				  (unsigned long long)s->hv.out, (unsigned long long)st.table_frames);
		hosted_destroy(s->h);
		s->h = NULL;
	}
	if (s->hv.perm)
		sim_hv_fini(&s->hv);
	free(s->leaf_pfn);
	s->leaf_pfn = NULL;
	return rc;
}

int sim_run(const struct sim_config *c, struct sim_report *r, char *err, size_t errlen)
{
	struct sim *s = calloc(1, sizeof(*s));
	int rc;

	memset(r, 0, sizeof(*r));
	if (!s) {
		snprintf(err, errlen, "sim: out of memory");
		return -1;
	}
	err[0] = 0;
	s->c = c;
	s->r = r;
	s->err = err;
	s->errlen = errlen;
	rc = plan(s);
	if (rc == 0)
		rc = build(s);
	if (rc == 0 && c->save)
		rc = save(s, "save", 0);
	if (rc == 0 && c->save && c->restore)
		rc = restore(s);
	if (rc == 0 && c->save && c->restore)
		rc = save(s, "save2", 1);
	if (rc == 0 && c->migrate)
		rc = migrate(s);
	if (s->h) {
		struct hosted_stats st;

		hosted_get_stats(s->h, &st);
		r->backing_bytes = st.memfd_bytes;
	}
	rc = teardown(s, rc);
	free(s);
	return rc;
}
