/* gcs.c - Cloud Storage JSON API client: endpoint, object JSON, gs:// URIs,
 * the small header parsers, list/stat/delete.
 *
 * Ranged reads live in read.c, uploads in upload.c, read-ahead in
 * reader.c.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/http.h"
#include "batchfs/jsonscan.h"
#include "batchfs/log.h"
#include "batchfs/timefmt.h"
#include "gcs/gcs_int.h"

#define DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define LIST_FIELDS                                                            \
	"items(name,size,generation,metageneration,updated,contentType,"       \
	"md5Hash,crc32c),prefixes,nextPageToken"
#define MAX_LIST_PAGES 1000000
/* objects.list returns at most 1000 entries a page; far more is broken. */
#define LIST_PAGE_MAX 10000
#define LIST_PAGE_ASK 1000 /* the most objects.list gives a page */
/* Uploads: the size from which one goes resumable, the chunk size, and the
 * unit chunks are rounded up to (GCS wants multiples of 256 KiB). */
#define RESUMABLE_THRESHOLD (8u << 20)
#define CHUNK_SIZE (8u << 20)
#define CHUNK_UNIT (256u << 10)

/* ---- endpoint --------------------------------------------------------- */

char *bf_gcs__printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

int bf_gcs_endpoint_plain(const char *endpoint)
{
	if (!endpoint || !endpoint[0])
		return 0;
	return strncmp(endpoint, "http://", 7) == 0 || !strstr(endpoint, "://");
}

struct bf_gcs *bf_gcs_new(const struct bf_gcs_opts *o, struct bf_http *http)
{
	struct bf_gcs *g;
	const char *ep = o && o->endpoint && o->endpoint[0] ? o->endpoint
							    : DEFAULT_ENDPOINT;
	size_t n;

	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->http = http;
	if (strstr(ep, "://"))
		g->base = strdup(ep);
	else
		g->base = bf_gcs__printf("http://%s", ep);
	if (!g->base)
		goto fail;
	n = strlen(g->base);
	while (n > 0 && g->base[n - 1] == '/')
		g->base[--n] = '\0';
	g->api = bf_gcs__printf("%s/storage/v1", g->base);
	g->upload = bf_gcs__printf("%s/upload/storage/v1", g->base);
	if (!g->api || !g->upload)
		goto fail;
	g->resumable_threshold = o && o->resumable_threshold
					 ? o->resumable_threshold
					 : RESUMABLE_THRESHOLD;
	n = o && o->chunk_size ? o->chunk_size : CHUNK_SIZE;
	n = (n + CHUNK_UNIT - 1) / CHUNK_UNIT * CHUNK_UNIT;
	g->chunk_size = n;
	g->page_size =
		o && o->list_page_size ? o->list_page_size : LIST_PAGE_ASK;
	if (g->page_size > LIST_PAGE_ASK)
		g->page_size = LIST_PAGE_ASK;
	return g;
fail:
	bf_gcs_free(g);
	return NULL;
}

void bf_gcs_free(struct bf_gcs *g)
{
	if (!g)
		return;
	free(g->base);
	free(g->api);
	free(g->upload);
	free(g);
}

char *bf_gcs__object_url(const char *root, const char *bucket, const char *name)
{
	char *eb = bf_url_encode(bucket), *en = NULL, *url = NULL;

	if (!eb)
		return NULL;
	if (name) {
		en = bf_url_encode(name);
		if (en)
			url = bf_gcs__printf("%s/b/%s/o/%s", root, eb, en);
	} else {
		url = bf_gcs__printf("%s/b/%s/o", root, eb);
	}
	free(eb);
	free(en);
	return url;
}

/* ---- pure parsers ----------------------------------------------------- */

/* Digits only, no sign, no overflow. */
int bf_gcs__parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Reads digits at *p into *v (no overflow), advancing *p. */
static int take_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*p = s;
	*v = x;
	return 0;
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int bf_gcs_parse_content_range(const char *s, uint64_t *start, uint64_t *end,
			   uint64_t *total)
{
	uint64_t a, b, t = UINT64_MAX;
	int star = 0;

	if (!s)
		return -EINVAL;
	s = skip_ws(s);
	if (strncasecmp(s, "bytes", 5) != 0)
		return -EINVAL;
	s += 5;
	if (*s != ' ' && *s != '\t' && *s != '=')
		return -EINVAL;
	s = skip_ws(s + 1);
	if (*s == '*') {
		star = 1;
		s++;
	} else {
		if (take_u64(&s, &a) || *s++ != '-' || take_u64(&s, &b))
			return -EINVAL;
		if (b < a)
			return -EINVAL;
	}
	if (*s++ != '/')
		return -EINVAL;
	if (*s == '*') {
		if (star)
			return -EINVAL;
		s++;
	} else if (take_u64(&s, &t)) {
		return -EINVAL;
	}
	s = skip_ws(s);
	if (*s)
		return -EINVAL;
	if (star) {
		*start = *end = UINT64_MAX;
		*total = t;
		return 1;
	}
	if (t != UINT64_MAX && b >= t)
		return -EINVAL;
	*start = a;
	*end = b;
	*total = t;
	return 0;
}

int bf_gcs_parse_upload_range(const char *s, uint64_t *persisted)
{
	uint64_t a, b;

	if (!s || !*(s = skip_ws(s))) {
		*persisted = 0;
		return 0;
	}
	if (strncasecmp(s, "bytes=", 6) != 0)
		return -EINVAL;
	s += 6;
	if (take_u64(&s, &a) || *s++ != '-' || take_u64(&s, &b))
		return -EINVAL;
	s = skip_ws(s);
	if (*s || a != 0 || b == UINT64_MAX)
		return -EINVAL;
	*persisted = b + 1;
	return 0;
}

int bf_gcs_parse_uri(const char *uri, char **bucket, char **object)
{
	const char *b, *slash;
	char *bk, *ob;

	*bucket = *object = NULL;
	if (!uri || strncmp(uri, "gs://", 5) != 0)
		return -EINVAL;
	b = uri + 5;
	slash = strchr(b, '/');
	if (slash == b || !*b)
		return -EINVAL;
	for (const char *p = b; *p && p != slash; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -EINVAL;
	bk = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
	ob = strdup(slash ? slash + 1 : "");
	if (!bk || !ob) {
		free(bk);
		free(ob);
		return -ENOMEM;
	}
	*bucket = bk;
	*object = ob;
	return 0;
}

/* ---- object JSON ------------------------------------------------------- */

void bf_gcs_object_free(struct bf_gcs_object *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->content_type);
	free(o->md5);
	free(o->crc32c);
	memset(o, 0, sizeof(*o));
}

/* int64 fields come as strings; accept exact integral numbers too. Absent
 * or null is 0; anything present but unusable is an error, because a
 * wrong size or generation is worse than a failed call. */
static int json_u64(const cJSON *j, const char *key, uint64_t max,
		    uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	uint64_t x;

	*out = 0;
	if (!v || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsString(v)) {
		if (bf_gcs__parse_u64(v->valuestring, &x))
			return -EINVAL;
	} else if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (!(d >= 0 && d <= 9007199254740992.0) ||
		    d != (double)(uint64_t)d)
			return -EINVAL;
		x = (uint64_t)d;
	} else {
		return -EINVAL;
	}
	if (x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

static int json_strdup(const cJSON *j, const char *key, char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	*out = NULL;
	if (!cJSON_IsString(v) || !v->valuestring)
		return 0; /* absent or wrong type: optional fields only */
	*out = strdup(v->valuestring);
	return *out ? 0 : -ENOMEM;
}

int bf_gcs__object_from_json(const cJSON *j, struct bf_gcs_object *out,
			     struct bf_err *e)
{
	const cJSON *name, *upd;
	uint64_t gen, mgen;
	const char *bad = NULL;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(j))
		return bf_err_set(e, EIO,
				  "object resource is not a JSON object");
	name = cJSON_GetObjectItemCaseSensitive(j, "name");
	if (!cJSON_IsString(name) || !name->valuestring ||
	    !name->valuestring[0])
		return bf_err_set(e, EIO, "object resource without a name");
	if (json_u64(j, "size", UINT64_MAX, &out->size))
		bad = "size";
	else if (json_u64(j, "generation", INT64_MAX, &gen))
		bad = "generation";
	else if (json_u64(j, "metageneration", INT64_MAX, &mgen))
		bad = "metageneration";
	if (bad)
		return bf_err_set(e, EIO, "object %.200s: malformed %s",
				  name->valuestring, bad);
	out->generation = (int64_t)gen;
	out->metageneration = (int64_t)mgen;
	upd = cJSON_GetObjectItemCaseSensitive(j, "updated");
	if (cJSON_IsString(upd) &&
	    (out->updated_us = bf_parse_rfc3339_us(upd->valuestring)) < 0)
		out->updated_us = 0; /* cosmetic: a bad date is not fatal */
	out->name = strdup(name->valuestring);
	if (!out->name || json_strdup(j, "contentType", &out->content_type) ||
	    json_strdup(j, "md5Hash", &out->md5) ||
	    json_strdup(j, "crc32c", &out->crc32c)) {
		bf_gcs_object_free(out);
		return bf_err_set(e, ENOMEM, "out of memory parsing object");
	}
	return 0;
}

/* cJSON stops at the end of the first value; trailing bytes other than
 * whitespace mean a mangled reply, not a valid one. */
static cJSON *parse_strict(const char *s, size_t len)
{
	const char *end = NULL;
	cJSON *j;

	if (!s || !len)
		return NULL;
	j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (!j)
		return NULL;
	for (; end && end < s + len && *end; end++) {
		if (*end != ' ' && *end != '\n' && *end != '\r' &&
		    *end != '\t') {
			cJSON_Delete(j);
			return NULL;
		}
	}
	return j;
}

int bf_gcs_object_parse(const char *json, size_t len, struct bf_gcs_object *out,
			struct bf_err *e)
{
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json || !len)
		return bf_err_set(e, EIO, "empty object resource");
	root = parse_strict(json, len);
	if (!root)
		return bf_err_set(e, EIO, "object resource is not valid JSON");
	rc = bf_gcs__object_from_json(root, out, e);
	cJSON_Delete(root);
	return rc;
}

/* ---- list, stat, delete ------------------------------------------------ */

/* A page of objects.list: scanned an element at a time (see jsonscan.h),
 * so a page costs its size plus one object, whatever it holds. */
struct lpage {
	bf_gcs_item_cb item_cb;
	bf_gcs_prefix_cb prefix_cb;
	void *ud;
	char *next;
	struct bf_err *e;
};

static int lpage_elem(void *ud, const char *key, const cJSON *it)
{
	struct lpage *lp = ud;
	struct bf_gcs_object o;
	int rc;

	if (strcmp(key, "prefixes") == 0) {
		if (!cJSON_IsString(it) || !it->valuestring)
			return bf_err_set(lp->e, EIO,
					  "list reply: prefix not a string");
		return lp->prefix_cb ? lp->prefix_cb(lp->ud, it->valuestring)
				     : 0;
	}
	rc = bf_gcs__object_from_json(it, &o, lp->e);
	if (rc)
		return rc;
	rc = lp->item_cb ? lp->item_cb(lp->ud, &o) : 0;
	bf_gcs_object_free(&o);
	return rc;
}

static int lpage_member(void *ud, const char *key, const cJSON *v)
{
	struct lpage *lp = ud;

	if ((strcmp(key, "items") == 0 || strcmp(key, "prefixes") == 0) &&
	    !cJSON_IsNull(v))
		return bf_err_set(lp->e, EIO,
				  "list reply: items/prefixes not arrays");
	if (strcmp(key, "nextPageToken") != 0 || !cJSON_IsString(v) ||
	    !v->valuestring || !v->valuestring[0])
		return 0;
	lp->next = strdup(v->valuestring);
	return lp->next ? 0 : bf_err_set(lp->e, ENOMEM, "out of memory");
}

int bf_gcs__list_page(const char *body, size_t len, bf_gcs_item_cb item_cb,
		      bf_gcs_prefix_cb prefix_cb, void *ud, char **next,
		      struct bf_err *e)
{
	static const char *const arrays[] = {"items", "prefixes", NULL};
	struct lpage lp = {.item_cb = item_cb, .prefix_cb = prefix_cb,
			   .ud = ud, .e = e};
	const struct bf_json_scan sc = {.arrays = arrays,
					.max_elems = LIST_PAGE_MAX,
					.elem = lpage_elem,
					.member = lpage_member,
					.ud = &lp};
	int rc;

	*next = NULL;
	rc = bf_json_scan(body, len, &sc, e);
	if (rc)
		free(lp.next);
	else
		*next = lp.next;
	return rc;
}

int bf_gcs_list(struct bf_gcs *g, const char *bucket, const char *prefix,
		const char *delimiter, bf_gcs_item_cb item_cb,
		bf_gcs_prefix_cb prefix_cb, void *ud, struct bf_err *e)
{
	char *base = NULL, *fields = NULL, *ep = NULL, *ed = NULL;
	char *token = NULL, *next = NULL, *url = NULL;
	int rc = -ENOMEM;

	bf_err_clear(e);
	base = bf_gcs__object_url(g->api, bucket, NULL);
	fields = bf_url_encode(LIST_FIELDS);
	ep = bf_url_encode(prefix ? prefix : "");
	ed = bf_url_encode(delimiter ? delimiter : "");
	if (!base || !fields || !ep || !ed) {
		bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	for (long page = 0;; page++) {
		struct bf_http_resp resp = {0};
		char *et = NULL;

		if (page >= MAX_LIST_PAGES) {
			rc = bf_err_set(e, EIO, "list of %s: too many pages",
					bucket);
			goto out;
		}
		if (token && !(et = bf_url_encode(token))) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		free(url);
		url = bf_gcs__printf("%s?fields=%s&maxResults=%u%s%s%s%s%s%s",
				     base, fields, g->page_size,
				     *ep ? "&prefix=" : "", ep,
				     *ed ? "&delimiter=" : "", ed,
				     et ? "&pageToken=" : "", et ? et : "");
		free(et);
		if (!url) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		rc = bf_http_json(g->http, "GET", url, NULL,
				  BF_RETRY_IDEMPOTENT, &resp, e);
		if (rc == 0 && resp.status != 200)
			rc = bf_err_set(e, EIO, "list of %s: HTTP %ld", bucket,
					resp.status);
		if (rc == 0)
			rc = bf_gcs__list_page(resp.body, resp.body_len, item_cb,
				       prefix_cb, ud, &next, e);
		bf_http_resp_free(&resp);
		if (rc)
			goto out;
		if (!next)
			break;
		if (token && strcmp(token, next) == 0) {
			rc = bf_err_set(e, EIO,
					"list of %s: page token repeats",
					bucket);
			goto out;
		}
		free(token);
		token = next;
		next = NULL;
	}
	rc = 0;
out:
	free(base);
	free(fields);
	free(ep);
	free(ed);
	free(token);
	free(next);
	free(url);
	return rc;
}

int bf_gcs_stat(struct bf_gcs *g, const char *bucket, const char *name,
		struct bf_gcs_object *out, struct bf_err *e)
{
	struct bf_http_resp resp = {0};
	char *url;
	int rc;

	bf_err_clear(e);
	memset(out, 0, sizeof(*out));
	url = bf_gcs__object_url(g->api, bucket, name);
	if (!url)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = bf_http_json(g->http, "GET", url, NULL, BF_RETRY_IDEMPOTENT, &resp,
			  e);
	if (rc == 0 && resp.status != 200)
		rc = bf_err_set(e, EIO, "stat gs://%s/%s: HTTP %ld", bucket,
				name, resp.status);
	if (rc == 0)
		rc = bf_gcs_object_parse(resp.body, resp.body_len, out, e);
	bf_http_resp_free(&resp);
	free(url);
	return rc;
}

int bf_gcs_delete(struct bf_gcs *g, const char *bucket, const char *name,
		  struct bf_err *e)
{
	struct bf_http_resp resp = {0};
	char *url;
	int rc;

	bf_err_clear(e);
	url = bf_gcs__object_url(g->api, bucket, name);
	if (!url)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = bf_http_json(g->http, "DELETE", url, NULL, BF_RETRY_IDEMPOTENT,
			  &resp, e);
	/* A retried delete whose first attempt landed finds nothing. */
	if (rc == -ENOENT && resp.attempts > 1) {
		bf_err_clear(e);
		rc = 0;
	}
	bf_http_resp_free(&resp);
	free(url);
	return rc;
}
