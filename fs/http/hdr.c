/* hdr.c - reply header capture and log-safe URLs for http.c.
 *
 * Only the headers the layers above act on are kept (Content-Range, Range,
 * Location, x-goog-generation, Retry-After); values are length-checked into
 * fixed fields so a hostile server cannot overflow or bloat them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"

void bf_http_hdr_reset(struct bf_http_resp *r)
{
	r->content_range[0] = '\0';
	r->range[0] = '\0';
	r->generation[0] = '\0';
	r->retry_after_ms = -1;
	free(r->location);
	r->location = NULL;
}

/* Copies a header value, or leaves dst empty when it does not fit: a
 * truncated Content-Range would be worse than none. */
static void set_field(char *dst, size_t dn, const char *v, size_t vn)
{
	if (vn >= dn) {
		dst[0] = '\0';
		return;
	}
	memcpy(dst, v, vn);
	dst[vn] = '\0';
}

void bf_http_hdr_parse(struct bf_http_resp *r, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	const char *v, *end = line + len;
	size_t nlen;

	if (!colon)
		return;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
#define IS(name) (nlen == sizeof(name) - 1 && !strncasecmp(line, name, nlen))
	if (IS("Content-Range")) {
		set_field(r->content_range, sizeof(r->content_range), v,
			  (size_t)(end - v));
	} else if (IS("Range")) {
		set_field(r->range, sizeof(r->range), v, (size_t)(end - v));
	} else if (IS("x-goog-generation")) {
		for (const char *p = v; p < end; p++)
			if (!isdigit((unsigned char)*p))
				return;
		set_field(r->generation, sizeof(r->generation), v,
			  (size_t)(end - v));
	} else if (IS("Location")) {
		if (end - v < 8192) {
			free(r->location);
			r->location = strndup(v, (size_t)(end - v));
		}
	} else if (IS("Retry-After")) {
		char tmp[64];

		if ((size_t)(end - v) < sizeof(tmp)) {
			memcpy(tmp, v, (size_t)(end - v));
			tmp[end - v] = '\0';
			r->retry_after_ms =
				bf_parse_retry_after(tmp, (long)time(NULL));
		}
	}
#undef IS
}

/* Query parameters whose values are capabilities or credentials. */
static const char *const secret_params[] = {
	"access_token",	    "key",
	"upload_id",	    "token",
	"X-Goog-Signature", "X-Goog-Credential",
	"Signature",	    "sig",
	"client_secret",
};

static int secret_param(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(secret_params) / sizeof(*secret_params);
	     i++)
		if (strlen(secret_params[i]) == n &&
		    !strncasecmp(secret_params[i], name, n))
			return 1;
	return 0;
}

void bf_http_url_for_log(const char *url, char *out, size_t n)
{
	const char *q;
	size_t o = 0;

	if (!n)
		return;
	out[0] = '\0';
	if (!url)
		return;
	q = strchr(url, '?');
	if (!q) {
		snprintf(out, n, "%s", url);
		return;
	}
	o = (size_t)snprintf(out, n, "%.*s", (int)(q - url), url);
	while (*q && o + 1 < n) {
		const char *name = q + 1, *eq, *amp;
		size_t nn;

		amp = strchr(name, '&');
		if (!amp)
			amp = name + strlen(name);
		eq = memchr(name, '=', (size_t)(amp - name));
		nn = eq ? (size_t)(eq - name) : (size_t)(amp - name);
		if (eq && secret_param(name, nn))
			o += (size_t)snprintf(out + o, n - o, "%c%.*s=***", *q,
					      (int)nn, name);
		else
			o += (size_t)snprintf(out + o, n - o, "%c%.*s", *q,
					      (int)(amp - name), name);
		q = amp;
	}
	if (o >= n)
		out[n - 1] = '\0';
}
