/*
 * The entry points of the host/e820 parsers: format detection, the sysfs
 * directory, and choosing one map among several.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e820/parse_internal.h"

/* JSON starts with '{', or '[' then '{' or ']' (a log's "[    0.0]" does
 * not). */
static bool looks_like_json(const char *t, size_t len)
{
	size_t i = 0;

	while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'))
		i++;
	if (i < len && t[i] == '{')
		return true;
	if (i >= len || t[i] != '[')
		return false;
	for (i++; i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'); i++)
		;
	return i < len && (t[i] == '{' || t[i] == ']');
}

int memmap_parse(const char *text, size_t len, enum memmap_format fmt,
	       struct memmaps *out, struct memmap_error *err)
{
	memset(err, 0, sizeof(*err));
	if (fmt == MEMMAP_FMT_AUTO)
		fmt = looks_like_json(text, len) ? MEMMAP_FMT_JSON : MEMMAP_FMT_LOG;
	switch (fmt) {
	case MEMMAP_FMT_JSON:
		return parse_json(text, len, out, err);
	case MEMMAP_FMT_SYSFS:
		return parse_log(text, len, true, out, err);
	default:
		return parse_log(text, len, false, out, err);
	}
}

static int read_small(const char *dir, const char *n, const char *f, char *buf,
		      size_t size, struct memmap_error *err)
{
	char path[4096];
	FILE *fp;
	size_t r;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, n, f);
	fp = fopen(path, "r");
	if (!fp)
		return parse_error(err, 0, NULL, "%s: %s", path, strerror(errno));
	r = fread(buf, 1, size - 1, fp);
	fclose(fp);
	buf[r] = 0;
	while (r && (buf[r - 1] == '\n' || buf[r - 1] == ' '))
		buf[--r] = 0;
	return 0;
}

struct idx_ent {
	unsigned long n;
	char name[32];
};

static int cmp_idx(const void *a, const void *b)
{
	const struct idx_ent *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

int memmap_parse_sysfs_dir(const char *dir, struct memmaps *out,
			 struct memmap_error *err)
{
	struct idx_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	memset(err, 0, sizeof(*err));
	d = opendir(dir);
	if (!d)
		return parse_error(err, 0, NULL, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char *end;
		unsigned long k = strtoul(de->d_name, &end, 10);

		if (!de->d_name[0] || *end || strlen(de->d_name) >= sizeof(v->name))
			continue;
		if (n == cap) {
			struct idx_ent *nv = realloc(v, (cap ? 2 * cap : 32) * sizeof(*v));

			if (!nv) {
				rc = -P2M_ENOMEM;
				goto out;
			}
			v = nv;
			cap = cap ? 2 * cap : 32;
		}
		v[n].n = k;
		snprintf(v[n].name, sizeof(v[n].name), "%.*s", (int)sizeof(v[n].name) - 1, de->d_name);
		n++;
	}
	if (!n) {
		rc = parse_error(err, 0, NULL, "%s: no N/{start,end,type} entries", dir);
		goto out;
	}
	qsort(v, n, sizeof(*v), cmp_idx);
	if ((rc = maps_new(out, MEMMAP_ORIGIN_SYSFS, dir, 0)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		char sb[64], eb[64], tb[64];
		struct span s, e;
		uint64_t a, b, size;
		uint32_t type;
		const char *msg;

		if ((rc = read_small(dir, v[i].name, "start", sb, sizeof(sb), err)) ||
		    (rc = read_small(dir, v[i].name, "end", eb, sizeof(eb), err)) ||
		    (rc = read_small(dir, v[i].name, "type", tb, sizeof(tb), err)))
			goto out;
		s.p = sb;
		s.e = sb + strlen(sb);
		e.p = eb;
		e.e = eb + strlen(eb);
		if (!sp_hex(&s, &a, false) || s.p != s.e || !sp_hex(&e, &b, false) || e.p != e.e) {
			rc = parse_error(err, 0, NULL, "%s/%s: bad start or end (\"%s\", \"%s\")",
					 dir, v[i].name, sb, eb);
			goto out;
		}
		if (!make_entry(a, b, true, &size, &msg)) {
			rc = parse_error(err, 0, NULL, "%s/%s: %s", dir, v[i].name, msg);
			goto out;
		}
		if (!memmap_parse_type(tb, strlen(tb), &type)) {
			rc = parse_error(err, 0, NULL, "%s/%s/type: unknown memory type \"%s\"",
					 dir, v[i].name, tb);
			goto out;
		}
		if ((rc = map_add(&out->v[out->n - 1], a, size, type)))
			goto out;
	}
out:
	closedir(d);
	free(v);
	return rc;
}

int memmaps_select(const struct memmaps *m, const char *which,
		     size_t *idx, char *why, size_t n)
{
	static const enum memmap_origin pref[] = {
		MEMMAP_ORIGIN_XEN, MEMMAP_ORIGIN_LINUX, MEMMAP_ORIGIN_SYSFS, MEMMAP_ORIGIN_JSON,
	};
	const struct memmap *c;
	size_t k = m->n;

	if (!m->n) {
		snprintf(why, n, "no map");
		return -P2M_EINVAL;
	}
	if (which && *which >= '0' && *which <= '9') {
		char *end;
		unsigned long v = strtoul(which, &end, 10);

		if (*end || v < 1 || v > m->n) {
			snprintf(why, n, "--map %s: the input holds maps 1 to %zu", which, m->n);
			return -P2M_EINVAL;
		}
		k = v - 1;
	} else if (which) {
		bool any = false;

		for (size_t o = 0; o < 4; o++) {
			if (strcmp(which, memmap_origin_name(pref[o])))
				continue;
			any = true;
			/* Xen prints its raw map before its sanitised one: take
			 * the last; Linux's first map is the one it was given. */
			for (size_t i = 0; i < m->n; i++)
				if (m->v[i].origin == pref[o] &&
				    (k == m->n || pref[o] == MEMMAP_ORIGIN_XEN))
					k = i;
		}
		if (!any) {
			snprintf(why, n, "--map %s: expected xen, linux, sysfs, json or a number",
				 which);
			return -P2M_EINVAL;
		}
		if (k == m->n) {
			snprintf(why, n, "--map %s: the input holds no such map", which);
			return -P2M_EINVAL;
		}
	} else {
		for (size_t o = 0; o < 4 && k == m->n; o++)
			for (size_t i = 0; i < m->n; i++)
				if (m->v[i].origin == pref[o] &&
				    (k == m->n || pref[o] == MEMMAP_ORIGIN_XEN))
					k = i;
	}
	c = &m->v[k];
	if (c->first_line)
		snprintf(why, n, "using map %zu of %zu: %s map \"%s\", lines %u-%u, %zu entries%s",
			 k + 1, m->n, memmap_origin_name(c->origin), c->label,
			 c->first_line, c->last_line, c->n,
			 m->n > 1 && !which ? " (choose another with --map xen|linux|sysfs|N)" : "");
	else
		snprintf(why, n, "using map %zu of %zu: %s \"%s\", %zu entries", k + 1, m->n,
			 memmap_origin_name(c->origin), c->label, c->n);
	*idx = k;
	return 0;
}
