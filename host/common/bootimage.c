/*
 * bootimage: finding the guest, Xen and QEMU for `p2m boot` (see
 * bootimage.h).
 */
#define _GNU_SOURCE
#include "common/bootimage.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *bootimage_guest_name(bool init_p2m, bool high)
{
	if (high)
		return init_p2m ? "guest-high-initp2m.elf" : "guest-high.elf";
	return init_p2m ? "guest-initp2m.elf" : "guest.elf";
}

/* out = a + "/" + b; false when it does not fit. (The test of out also
 * keeps gcc 12 at -O3 from seeing a NULL destination in find_up.) */
static bool join(char *out, size_t n, const char *a, const char *b)
{
	int len;

	if (!out || !n)
		return false;
	len = snprintf(out, n, "%s/%s", a, b);
	return len >= 0 && (size_t)len < n;
}

bool bootimage_is_file(const char *p)
{
	struct stat st;

	return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

bool bootimage_on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		return false;
	for (const char *p = path; *p;) {
		const char *c = strchr(p, ':');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (n && snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return true;
		p += n + (c ? 1 : 0);
	}
	return false;
}

/* The directory that holds this binary (the build tree), or "." */
static void self_dir(char *dir, size_t n)
{
	ssize_t len = readlink("/proc/self/exe", dir, n - 1);
	char *slash;

	if (len <= 0) {
		snprintf(dir, n, ".");
		return;
	}
	dir[len] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
}

bool bootimage_find_guest(const char *name, char *out, size_t n)
{
	char dir[PATH_MAX], sub[64];
	const char *env = getenv("P2M_GUEST_DIR");

	if (env)
		return join(out, n, env, name) && bootimage_is_file(out);
	self_dir(dir, sizeof(dir));
	if (join(sub, sizeof(sub), "guest", name) && join(out, n, dir, sub) && bootimage_is_file(out))
		return true;
	return join(out, n, dir, name) && bootimage_is_file(out);
}

/* cache/xen/xen in dir or up to three of its parents. */
static bool find_up(char *dir, char *out, size_t n)
{
	for (int up = 0; up < 4; up++) {
		char *slash;

		if (join(out, n, dir, "cache/xen/xen") && bootimage_is_file(out))
			return true;
		slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			break;
		*slash = '\0';
	}
	return false;
}

bool bootimage_find_xen(char *out, size_t n)
{
	const char *env = getenv("P2M_CACHE");
	char start[PATH_MAX];

	if (env)
		return join(out, n, env, "xen/xen") && bootimage_is_file(out);
	self_dir(start, sizeof(start));
	if (find_up(start, out, n))
		return true;
	if (!getcwd(start, sizeof(start)))
		snprintf(start, sizeof(start), ".");
	if (find_up(start, out, n))
		return true;
	snprintf(out, n, "cache/xen/xen");
	return false;
}
