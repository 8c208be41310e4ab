/*
 * "ours": libp2m over a hosted platform of its own, and fresh hosted
 * platforms for the baselines that map a list (linux). Each
 * implementation gets its own memfd, so the memory figures of one never
 * include another's frames.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "platform/hosted.h"

void *bench_hosted_new(struct p2m_platform *plat)
{
	char err[256] = "";
	struct p2m_hosted *h = p2m_hosted_create(NULL, err, sizeof(err));

	if (!h) {
		fprintf(stderr, "p2m bench: hosted platform: %s\n", err);
		return NULL;
	}
	p2m_hosted_platform(h, plat);
	return h;
}

void bench_hosted_free(void *host)
{
	if (host)
		p2m_hosted_destroy(host);
}

int bench_ours_create(struct bench_ours *o, uint64_t capacity)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->host = bench_hosted_new(&o->plat);
	if (!o->host)
		return -P2M_ENOMEM;
	rc = p2m_create(&o->p, &o->plat, capacity, false);
	if (rc) {
		fprintf(stderr, "p2m bench: p2m_create: %s\n", p2m_last_error(&o->p));
		bench_hosted_free(o->host);
		o->host = NULL;
	}
	return rc;
}

void bench_ours_destroy(struct bench_ours *o)
{
	if (!o->host)
		return;
	p2m_destroy(&o->p);
	bench_hosted_free(o->host);
	memset(o, 0, sizeof(*o));
}
