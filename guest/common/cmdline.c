/*
 * The guest's command line (start_info.cmd_line, from the multiboot
 * module string after the image name): space-separated words, each "key"
 * or "key=value".
 */
#include "common/guest.h"

static const char *word_match(const char *w, const char *key)
{
	while (*key && *w == *key) {
		w++;
		key++;
	}
	if (*key)
		return NULL;
	if (*w == '\0' || *w == ' ' || *w == '=')
		return w;
	return NULL;
}

const char *cmdline_value(const char *key, size_t *len)
{
	const char *s = (const char *)start_info->cmd_line;
	const char *end = s + sizeof(start_info->cmd_line);

	while (s < end && *s) {
		const char *m;

		while (s < end && *s == ' ')
			s++;
		if (s >= end || !*s)
			break;
		m = word_match(s, key);
		if (m) {
			const char *v = (*m == '=') ? m + 1 : m;
			const char *e = v;

			while (e < end && *e && *e != ' ')
				e++;
			if (len)
				*len = (size_t)(e - v);
			return v;
		}
		while (s < end && *s && *s != ' ')
			s++;
	}
	return NULL;
}

bool cmdline_has(const char *key)
{
	return cmdline_value(key, NULL) != NULL;
}
