/* names.c - turning remote names into safe, unique, stable file names:
 * job displayNames into directory names (duplicates: the oldest keeps NAME,
 * the others NAME~ID) and object-name segments into file names. */
#include "model/names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hmap.h"

static int bad_byte(unsigned char ch)
{
	return ch == '/' || ch < 0x20 || ch == 0x7f;
}

/* Largest cut <= max that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t cut;

	if (len <= max)
		return len;
	cut = max;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

static char *sanitize_n(const char *s, size_t len, size_t max)
{
	char *out;
	size_t cut;

	/* After the cut: "." plus 300 continuation bytes cuts to ".". */
	cut = utf8_cut(s, len, max);
	if (cut == 0 || (cut == 1 && s[0] == '.'))
		return strdup("_");
	if (cut == 2 && s[0] == '.' && s[1] == '.')
		return strdup("__");
	out = malloc(cut + 1);
	if (!out)
		return NULL;
	for (size_t i = 0; i < cut; i++)
		out[i] = bad_byte((unsigned char)s[i]) ? '_' : s[i];
	out[cut] = '\0';
	return out;
}

char *bf_names_sanitize(const char *display, size_t max)
{
	if (!display)
		display = "";
	return sanitize_n(display, strlen(display), max);
}

int bf_names_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > BF_NAME_MAX)
		return 0;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (bad_byte((unsigned char)name[i]))
			return 0;
	return 1;
}

/* NAME~SUFFIX with NAME shortened so the whole fits in 255 bytes. */
static char *with_suffix(const char *base, const char *suffix)
{
	size_t sl = strlen(suffix) + 1;
	size_t bl = utf8_cut(base, strlen(base), BF_NAME_MAX - sl);
	char *out = malloc(bl + sl + 1);

	if (!out)
		return NULL;
	memcpy(out, base, bl);
	out[bl] = '~';
	memcpy(out + bl + 1, suffix, sl);
	return out;
}

struct sortent {
	struct bf_name_in *in;
	char *base;
};

static int idcmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

static int sortcmp(const void *pa, const void *pb)
{
	const struct sortent *a = pa, *b = pb;
	int r = strcmp(a->base, b->base);

	if (r)
		return r;
	if (a->in->create_us != b->in->create_us)
		return a->in->create_us < b->in->create_us ? -1 : 1;
	return idcmp(a->in->id ? a->in->id : "", b->in->id ? b->in->id : "");
}

int bf_names_assign(struct bf_name_in *v, size_t n)
{
	struct bf_hmap *taken = bf_hmap_new();
	struct sortent *s = calloc(n ? n : 1, sizeof(*s));
	size_t ns = 0;
	int rc = -ENOMEM;

	if (!taken || !s)
		goto out;
	for (size_t i = 0; i < n; i++) {
		v[i].out = NULL;
		if (v[i].fixed) {
			v[i].out = strdup(v[i].fixed);
			if (!v[i].out || bf_hmap_put(taken, v[i].out, &v[i]))
				goto out;
			continue;
		}
		s[ns].in = &v[i];
		s[ns].base = bf_names_sanitize(v[i].display, BF_NAME_MAX);
		if (!s[ns].base)
			goto out;
		ns++;
	}
	qsort(s, ns, sizeof(*s), sortcmp);
	for (size_t i = 0; i < ns; i++) {
		struct bf_name_in *in = s[i].in;
		const char *id = in->id && *in->id ? in->id : "0";
		char *name;

		if (!bf_hmap_get(taken, s[i].base)) {
			name = s[i].base;
			s[i].base = NULL;
		} else {
			name = with_suffix(s[i].base, id);
			/* "x~5" may be a real displayName too: count on. */
			for (int k = 2; name && bf_hmap_get(taken, name); k++) {
				char suf[48];

				free(name);
				snprintf(suf, sizeof(suf), "%s~%d", id, k);
				name = with_suffix(s[i].base, suf);
			}
			if (!name)
				goto out;
		}
		in->out = name;
		if (bf_hmap_put(taken, name, in))
			goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < ns; i++)
		free(s[i].base);
	free(s);
	bf_hmap_free(taken);
	if (rc) {
		for (size_t i = 0; i < n; i++) {
			free(v[i].out);
			v[i].out = NULL;
		}
	}
	return rc;
}

/* Ends in "~" and 8 lowercase hex digits, the mark of a mapped name. */
static int looks_mapped(const char *seg, size_t len)
{
	if (len < 9 || seg[len - 9] != '~')
		return 0;
	for (size_t i = len - 8; i < len; i++)
		if (!((seg[i] >= '0' && seg[i] <= '9') ||
		      (seg[i] >= 'a' && seg[i] <= 'f')))
			return 0;
	return 1;
}

/* Shown as is. A name that looks mapped is mapped again, so that a shown
 * name is either the object's own (no mark) or a mapped one (a mark and
 * the hash of the whole raw name): the two never meet, whatever else the
 * listing holds. */
static int plain_segment(const char *seg, size_t len)
{
	size_t i;

	if (len == 0 || len > BF_NAME_MAX)
		return 0;
	if ((len == 1 && seg[0] == '.') ||
	    (len == 2 && seg[0] == '.' && seg[1] == '.'))
		return 0;
	for (i = 0; i < len; i++)
		if (bad_byte((unsigned char)seg[i]))
			return 0;
	return !looks_mapped(seg, len);
}

char *bf_names_objname(const char *seg, size_t len)
{
	uint32_t h = 2166136261u;
	char suf[16], *base, *out;

	if (plain_segment(seg, len))
		return strndup(seg, len);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)seg[i];
		h *= 16777619u;
	}
	snprintf(suf, sizeof(suf), "%08x", h);
	base = sanitize_n(seg, len, BF_NAME_MAX);
	if (!base)
		return NULL;
	out = with_suffix(base, suf);
	free(base);
	return out;
}

char *bf_names_strip(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (n <= k || strcmp(name + n - k, suffix) != 0)
		return NULL;
	return strndup(name, n - k);
}
