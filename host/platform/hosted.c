/*
 * The hosted platform's life cycle, its operations table, its messages
 * and its statistics. The design is described in hosted.h; the work is
 * done in frames.c, pagetable.c, windows.c and mapcount.c.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "platform/hosted_impl.h"

int hp_fail(struct hosted *h, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return code;
}

const char *hosted_last_error(struct hosted *h)
{
	static _Thread_local char copy[sizeof(h->err)];

	pthread_mutex_lock(&h->mu);
	memcpy(copy, h->err, sizeof(copy));
	pthread_mutex_unlock(&h->mu);
	return copy;
}

static void plat_lock(void *ctx)
{
	pthread_mutex_lock(&((struct hosted *)ctx)->plock);
}

static void plat_unlock(void *ctx)
{
	pthread_mutex_unlock(&((struct hosted *)ctx)->plock);
}

static xen_pfn_t root_table(void *ctx)
{
	struct hosted *h = ctx;

	return hp_ext(h, h->root);
}

void hosted_platform(struct hosted *h, struct p2m_platform *plat)
{
	memset(plat, 0, sizeof(*plat));
	plat->ctx = h;
	hp_frame_ops(plat);
	plat->reserve = hp_reserve;
	plat->release = hp_release;
	plat->make_table = hp_make_table;
	plat->drop_table = hp_drop_table;
	plat->set_window = hp_set_window;
	plat->map_frames = hp_map_frames;
	plat->root_table = root_table;
	plat->lock = plat_lock;
	plat->unlock = plat_unlock;
}

struct hosted *hosted_create(const struct hosted_config *cfg,
				     char *err, size_t errlen)
{
	struct hosted_config c = cfg ? *cfg : (struct hosted_config){ 0 };
	struct hosted *h;
	char dummy[1];

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (!c.max_frames)
		c.max_frames = HOSTED_MAX_FRAMES;
	if (!c.mfn_base)
		c.mfn_base = HOSTED_MFN_BASE;
	if (!c.m2p_entries)
		c.m2p_entries = HOSTED_M2P_ENTRIES;
	if (c.max_frames > ((uint64_t)1 << 30) || c.m2p_entries > ((uint64_t)1 << 36) ||
	    c.mfn_base + c.max_frames > ((uint64_t)1 << 40)) {
		snprintf(err, errlen, "hosted platform: configuration out of range (max_frames %#llx, "
			 "mfn_base %#llx, m2p_entries %#llx; frames must stay below mfn 2^40)",
			 (unsigned long long)c.max_frames, (unsigned long long)c.mfn_base,
			 (unsigned long long)c.m2p_entries);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "hosted platform: out of memory");
		return NULL;
	}
	h->fd = -1;
	h->max_frames = c.max_frames;
	h->base = c.mfn_base;
	h->m2p_entries = c.m2p_entries;
	h->alias = c.alias;
	h->backing_dir = c.backing_dir;
	if (c.namer)
		h->namer = *c.namer;
	pthread_mutex_init(&h->plock, NULL);
	pthread_mutex_init(&h->mu, NULL);
	if (hp_frames_init(h, err, errlen)) {
		hp_frames_fini(h);
		free(h);
		return NULL;
	}
	/* The root L4 is the first frame. */
	if (hp_alloc_locked(h, 1, &h->root, 0, HF_PLATFORM)) {
		snprintf(err, errlen, "%s", h->err);
		hp_frames_fini(h);
		free(h);
		return NULL;
	}
	h->table_frames = 1;
	h->limit_sys = hp_read_map_limit();
	h->other_vmas = hp_count_process_maps();
	if (h->other_vmas < 0)
		h->other_vmas = 0;
	return h;
}

void hosted_destroy(struct hosted *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	hp_windows_fini(h);
	pthread_mutex_unlock(&h->mu);
	hp_frames_fini(h);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->plock);
	free(h);
}

void hosted_get_stats(struct hosted *h, struct hosted_stats *st)
{
	struct stat sb;

	pthread_mutex_lock(&h->mu);
	st->live_frames = h->live;
	st->table_frames = h->table_frames;
	st->run_frames = h->run_frames;
	st->runs = h->run_frames / HP_SLOTS;
	st->mappings = h->vmas;
	st->map_limit = h->limit_override ? h->limit_override : h->limit_sys;
	st->alloc_calls = h->alloc_calls;
	st->map_calls = h->map_calls;
	st->memfd_bytes = fstat(h->fd, &sb) == 0 ? (uint64_t)sb.st_blocks * 512 : 0;
	pthread_mutex_unlock(&h->mu);
}

void hosted_fail_nth_alloc(struct hosted *h, uint64_t n)
{
	pthread_mutex_lock(&h->mu);
	h->fail_alloc_in = n;
	pthread_mutex_unlock(&h->mu);
}

bool hosted_alloc_failure_pending(struct hosted *h)
{
	bool pending;

	pthread_mutex_lock(&h->mu);
	pending = h->fail_alloc_in != 0;
	pthread_mutex_unlock(&h->mu);
	return pending;
}

void hosted_fail_nth_map(struct hosted *h, uint64_t n)
{
	pthread_mutex_lock(&h->mu);
	h->fail_map_in = n;
	pthread_mutex_unlock(&h->mu);
}

bool hosted_map_failure_pending(struct hosted *h)
{
	bool pending;

	pthread_mutex_lock(&h->mu);
	pending = h->fail_map_in != 0;
	pthread_mutex_unlock(&h->mu);
	return pending;
}

void hosted_set_map_limit(struct hosted *h, uint64_t limit)
{
	pthread_mutex_lock(&h->mu);
	h->limit_override = limit;
	pthread_mutex_unlock(&h->mu);
}
