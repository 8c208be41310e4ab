/*
 * The domU's runtime requests (see runtime.h). A request node is acted on
 * when its value differs from the last one seen, so the guest never has to
 * write it back (dom0 owns a node it creates).
 */
#include "common/balloon.h"
#include "common/churn.h"
#include "common/clock.h"
#include "common/exchange.h"
#include "common/grant.h"
#include "common/guest.h"
#include "common/pattern.h"
#include "common/runtime.h"
#include "common/xenstore.h"
#include "p2m/fmt.h"

/* A sign of life with the guest's clock (a test asks while a live
 * migration copies the guest's memory). */
static bool ping_run(char *line, size_t cap)
{
	p2m_snprintf(line, cap, "answered at %lu ms of the domain's clock",
		     (unsigned long)(clock_ns() / 1000000u));
	return true;
}

struct request {
	const char *path;
	const char *check;
	bool (*run)(char *line, size_t cap);
	char last[32];
};

static struct request requests[] = {
	{ "control/p2m-compact", "compaction", balloon_compact, "" },
	{ "control/p2m-exchange", "exchange", exchange_run, "" },
	{ "control/p2m-grant", "grant", grant_run, "" },
	{ "control/p2m-churn", "churn", churn_run, "" },
	{ "control/p2m-corrupt", "pattern-corrupt", pattern_corrupt_run, "" },
	{ "control/p2m-ping", "ping", ping_run, "" },
};

/* The last request's result, for the next run of the checks. */
static const char *pending_name;
static char pending_line[320];
static bool pending_ok;

#define NR_REQUESTS (sizeof(requests) / sizeof(requests[0]))

static bool same(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

void runtime_watch(void)
{
	unsigned i;

	if (balloon_active())
		balloon_watch();
	for (i = 0; i < NR_REQUESTS; i++)
		if (xs_watch(requests[i].path, requests[i].path) < 0)
			printk("runtime: cannot watch %s\n", requests[i].path);
}

void runtime_init(void)
{
	unsigned i;

	balloon_init();
	/* Whatever the nodes hold before we watched is no request. */
	for (i = 0; i < NR_REQUESTS; i++)
		if (xs_read(requests[i].path, requests[i].last, sizeof(requests[i].last)) < 0)
			requests[i].last[0] = '\0';
	runtime_watch();
}

bool runtime_poll(void)
{
	bool changed = balloon_poll();
	unsigned i;

	for (i = 0; i < NR_REQUESTS; i++) {
		char v[32];

		if (xs_read(requests[i].path, v, sizeof(v)) <= 0 || !v[0] ||
		    same(v, requests[i].last))
			continue;
		__builtin_memcpy(requests[i].last, v, sizeof(v));
		printk("runtime: %s = '%s'\n", requests[i].path, v);
		pending_ok = requests[i].run(pending_line, sizeof(pending_line));
		pending_name = requests[i].check;
		changed = true;
	}
	return changed;
}

int runtime_report(const char **name, char *line, size_t cap)
{
	size_t i;

	if (!pending_name)
		return -1;
	*name = pending_name;
	for (i = 0; i + 1 < cap && pending_line[i]; i++)
		line[i] = pending_line[i];
	if (cap)
		line[i] = '\0';
	pending_name = NULL;
	return pending_ok;
}
