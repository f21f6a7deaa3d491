/* vertex.c - the batchPredictionJobs client: URLs, the shared request
 * helpers, get, list paging, cancel, and delete with its long-running
 * Operation.
 *
 * Create and its reconciliation live in create.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/jsonscan.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "batchfs/vertex.h"
#include "vertex/job_int.h"
#include "vertex/vertex_int.h"

/* Delete: how long we wait for the Operation to finish. */
#define DELETE_BUDGET_MS 60000L
#define OP_POLL_INITIAL_MS 250L
#define OP_POLL_CAP_MS 5000L
/* A list that keeps returning pages past this is broken, not big. */
#define LIST_MAX_PAGES 100000
/* Nor is a page far beyond any page size we ask for (at most 1000): the
 * caller keeps every job it is given, a few KiB each. */
#define LIST_PAGE_MAX 10000
/* How often a back-off sleep looks at the cancel check. */
#define SLEEP_SLICE_MS 50

/* ---- small helpers ----------------------------------------------------- */

/* Sleeps in short slices so a FUSE interrupt ends the wait. */
int vx_sleep_ms(long ms)
{
	return bf_sleep_ms_cancellable(ms, SLEEP_SLICE_MS);
}

static int valid_host_label(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       s[0] != '-';
}

int vx_valid_token(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= 63 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* Job ids are decimal int64s; checking keeps "..", "/" and friends out of
 * URLs (curl would resolve dot segments to another resource). */
static int valid_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n <= 20 && strspn(id, "0123456789") == n;
}

static char *job_url(const struct bf_vertex *v, const char *id,
		     const char *suffix)
{
	char *enc, *url;

	if (!valid_id(id))
		return NULL;
	enc = bf_url_encode(id);
	if (!enc)
		return NULL;
	if (asprintf(&url, "%s/%s%s", v->coll, enc, suffix ? suffix : "") < 0)
		url = NULL;
	free(enc);
	return url;
}

/* One HTTP exchange with an explicit budget (0 = the HTTP default). */
int vx_call(struct bf_vertex *v, const char *method, const char *url,
	    const char *body, enum bf_retry retry, long budget_ms,
	    struct bf_http_resp *resp, struct bf_err *e)
{
	static const char *const accept_json[] = {"Accept: application/json",
						  NULL};
	struct bf_http_req req = {
		.method = method,
		.url = url,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.content_type = body ? "application/json" : NULL,
		.retry = retry,
		.budget_ms = budget_ms,
		.headers = accept_json,
	};
	int rc;

	*resp = (struct bf_http_resp){.retry_after_ms = -1};
	rc = bf_http_do(v->http, &req, resp, e);
	if (v->meter && resp->attempts > 0)
		v->meter(v->meter_ud, resp->attempts, resp->status);
	if (rc == 0 && (resp->status < 200 || resp->status > 299))
		return bf_err_set(e, EIO, "%s %s: unexpected HTTP %ld", method,
				  v->base, resp->status);
	return rc;
}

/* ---- construction ------------------------------------------------------ */

struct bf_vertex *bf_vertex_new(const struct bf_vertex_opts *o,
				struct bf_http *http)
{
	struct bf_vertex *v;
	char *proj = NULL, *loc = NULL;
	const char *ver =
		o && o->api_version && *o->api_version ? o->api_version : "v1";
	int rc;

	if (!o || !http || !o->project || !*o->project || !o->location ||
	    !*o->location || strchr(ver, '/'))
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->http = http;
	if (o->endpoint && *o->endpoint) {
		size_t n = strlen(o->endpoint);

		while (n > 0 && o->endpoint[n - 1] == '/')
			n--;
		v->base = strndup(o->endpoint, n);
	} else if (!valid_host_label(o->location)) {
		bf_log_err("vertex: location \"%s\" cannot form a host name",
			   o->location);
		goto fail;
	} else if (strcmp(o->location, "global") == 0) {
		v->base = strdup("https://aiplatform.googleapis.com");
	} else if (strcmp(o->location, "us") == 0 ||
		   strcmp(o->location, "eu") == 0) {
		rc = asprintf(&v->base,
			      "https://aiplatform.%s.rep.googleapis.com",
			      o->location);
		if (rc < 0)
			v->base = NULL;
	} else {
		rc = asprintf(&v->base, "https://%s-aiplatform.googleapis.com",
			      o->location);
		if (rc < 0)
			v->base = NULL;
	}
	if (!v->base)
		goto fail;
	proj = bf_url_encode(o->project);
	loc = bf_url_encode(o->location);
	if (!proj || !loc)
		goto fail;
	if (asprintf(&v->root, "%s/%s", v->base, ver) < 0) {
		v->root = NULL;
		goto fail;
	}
	if (asprintf(&v->coll,
		     "%s/projects/%s/locations/%s/batchPredictionJobs", v->root,
		     proj, loc) < 0) {
		v->coll = NULL;
		goto fail;
	}
	free(proj);
	free(loc);
	return v;
fail:
	free(proj);
	free(loc);
	bf_vertex_free(v);
	return NULL;
}

void bf_vertex_free(struct bf_vertex *v)
{
	if (!v)
		return;
	free(v->base);
	free(v->root);
	free(v->coll);
	free(v);
}

const char *bf_vertex_base(const struct bf_vertex *v)
{
	return v ? v->base : "";
}

/* A call on one job's own URL (suffix: NULL or ":cancel"). resp is
 * always safe to free after. */
static int job_call(struct bf_vertex *v, const char *method, const char *id,
		    const char *suffix, const char *body, enum bf_retry retry,
		    struct bf_http_resp *resp, struct bf_err *e)
{
	char *url;
	int rc;

	*resp = (struct bf_http_resp){0};
	if (!valid_id(id))
		return bf_err_set(e, EINVAL,
				  "job id must be 1-20 decimal digits");
	url = job_url(v, id, suffix);
	if (!url)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = vx_call(v, method, url, body, retry, 0, resp, e);
	free(url);
	return rc;
}

/* ---- get --------------------------------------------------------------- */

static enum bf_retry retry_of(int flags)
{
	return flags & BF_VX_SOFT_429 ? BF_RETRY_ONCE_429 : BF_RETRY_IDEMPOTENT;
}

void bf_vertex_set_meter(struct bf_vertex *v, bf_vertex_meter_fn fn, void *ud)
{
	v->meter = fn;
	v->meter_ud = ud;
}

int bf_vertex_get(struct bf_vertex *v, const char *id, struct bf_job *out,
		  struct bf_err *e)
{
	return bf_vertex_get_ex(v, id, 0, out, e);
}

int bf_vertex_get_ex(struct bf_vertex *v, const char *id, int flags,
		     struct bf_job *out, struct bf_err *e)
{
	struct bf_err local_err;
	struct bf_http_resp resp;
	int rc;

	if (!e)
		e = &local_err;
	*out = (struct bf_job){0};
	rc = job_call(v, "GET", id, NULL, NULL, retry_of(flags), &resp, e);
	if (rc == 0)
		rc = bf_job_parse(resp.body, resp.body_len, out, e);
	bf_http_resp_free(&resp);
	return rc;
}

/* ---- list -------------------------------------------------------------- */

static int add_param(struct bf_buf *b, char *sep, const char *key,
		     const char *val)
{
	char *enc = bf_url_encode(val);
	int rc;

	if (!enc)
		return -ENOMEM;
	rc = bf_buf_printf(b, "%c%s=%s", *sep, key, enc);
	*sep = '&';
	free(enc);
	return rc;
}

/* One page of a list reply: each job to cb, the next page token (NULL on
 * the last page) to *next. strict: a job that does not parse fails the
 * page (reconciliation must not miss a job); otherwise it is skipped.
 * Scanned a job at a time: a page costs its size plus one job. */
struct page {
	int strict;
	bf_job_cb cb;
	void *ud;
	const char *tok;
	char *next;
	struct bf_err *e;
};

static int page_job(void *ud, const char *key, const cJSON *it)
{
	struct page *pg = ud;
	struct bf_job job;
	struct bf_err je = {0};
	int rc;

	(void)key;
	rc = bf_job_from_cjson(it, NULL, 0, &job, &je);
	if (rc == -ENOMEM || (rc && pg->strict)) {
		if (pg->e)
			*pg->e = je;
		return rc;
	}
	if (rc) {
		bf_log_warn("vertex list: skipping a job: %s", je.msg);
		return 0;
	}
	rc = pg->cb(pg->ud, &job);
	bf_job_free(&job);
	return rc;
}

static int page_member(void *ud, const char *key, const cJSON *v)
{
	struct page *pg = ud;

	if (strcmp(key, "nextPageToken") != 0 || !cJSON_IsString(v) ||
	    !v->valuestring[0])
		return 0; /* a non-array batchPredictionJobs: an empty page */
	if (pg->tok && strcmp(pg->tok, v->valuestring) == 0)
		return bf_err_set(pg->e, EIO, "list: page token repeats");
	pg->next = strdup(v->valuestring);
	return pg->next ? 0 : bf_err_set(pg->e, ENOMEM, "out of memory");
}

int vx_list_page(const char *body, size_t len, int strict,
		 const char *prev_token, bf_job_cb cb, void *ud, char **next,
		 struct bf_err *e)
{
	static const char *const arrays[] = {"batchPredictionJobs", NULL};
	struct page pg = {.strict = strict, .cb = cb, .ud = ud,
			  .tok = prev_token, .e = e};
	const struct bf_json_scan sc = {.arrays = arrays,
					.max_elems = LIST_PAGE_MAX,
					.elem = page_job,
					.member = page_member,
					.ud = &pg};
	int rc = bf_json_scan(body, len, &sc, e);

	if (rc)
		free(pg.next);
	else
		*next = pg.next;
	return rc;
}

/* Every page. strict: see vx_list_page. */
int vx_list(struct bf_vertex *v, const char *filter, const char *read_mask,
	    int page_size, int strict, enum bf_retry retry, bf_job_cb cb,
	    void *ud, struct bf_err *e)
{
	struct bf_buf url;
	char *token = NULL;
	int rc = 0;

	bf_buf_init(&url, 0);
	for (int page = 0;; page++) {
		struct bf_http_resp resp;
		char *nt = NULL;
		char sep = '?';

		if (page >= LIST_MAX_PAGES) {
			rc = bf_err_set(e, EIO, "list: more than %d pages",
					LIST_MAX_PAGES);
			break;
		}
		bf_buf_reset(&url);
		rc = bf_buf_puts(&url, v->coll);
		if (!rc && page_size > 0) {
			char n[16];

			snprintf(n, sizeof(n), "%d", page_size);
			rc = add_param(&url, &sep, "pageSize", n);
		}
		if (!rc && token)
			rc = add_param(&url, &sep, "pageToken", token);
		if (!rc && filter && *filter)
			rc = add_param(&url, &sep, "filter", filter);
		if (!rc && read_mask && *read_mask)
			rc = add_param(&url, &sep, "readMask", read_mask);
		if (rc) {
			rc = bf_err_set(e, -rc, "list: building the URL");
			break;
		}
		rc = vx_call(v, "GET", url.data, NULL, retry, 0, &resp, e);
		if (rc == 0)
			rc = vx_list_page(resp.body ? resp.body : "",
					  resp.body_len, strict, token, cb, ud,
					  &nt, e);
		bf_http_resp_free(&resp);
		free(token);
		token = nt;
		if (rc || !token)
			break;
	}
	free(token);
	bf_buf_free(&url);
	if (rc == 0)
		bf_err_clear(e);
	return rc;
}

int bf_vertex_list(struct bf_vertex *v, const char *filter,
		   const char *read_mask, int page_size, bf_job_cb cb, void *ud,
		   struct bf_err *e)
{
	if (!cb)
		return bf_err_set(e, EINVAL, "list without a callback");
	return bf_vertex_list_ex(v, filter, read_mask, page_size, 0, cb, ud,
				 e);
}

int bf_vertex_list_ex(struct bf_vertex *v, const char *filter,
		      const char *read_mask, int page_size, int flags,
		      bf_job_cb cb, void *ud, struct bf_err *e)
{
	if (!cb)
		return bf_err_set(e, EINVAL, "list without a callback");
	return vx_list(v, filter, read_mask, page_size, 0, retry_of(flags), cb,
		       ud, e);
}

/* ---- cancel ------------------------------------------------------------ */

int bf_vertex_cancel(struct bf_vertex *v, const char *id, struct bf_err *e)
{
	struct bf_err local_err;
	struct bf_http_resp resp;
	int rc;

	if (!e)
		e = &local_err;
	rc = job_call(v, "POST", id, ":cancel", "{}", BF_RETRY_IDEMPOTENT,
			      &resp, e);
	if (rc && e->http_status == 400 &&
	    strcmp(e->status, "FAILED_PRECONDITION") == 0 &&
	    resp.attempts > 1) {
		/* An earlier attempt most likely went through and the job has
		 * since finished cancelling. */
		bf_log_info("vertex cancel %s: already terminal after a retry",
			    id);
		bf_err_clear(e);
		snprintf(e->msg, sizeof(e->msg), "job already terminal");
		rc = 0;
	}
	bf_http_resp_free(&resp);
	return rc;
}

/* ---- delete ------------------------------------------------------------ */

/* Operation names come back from the server; only plain resource-name
 * characters are pasted into a URL. */
static int valid_op_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 512 && s[0] != '/' && !strstr(s, "..") &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789/_.-") == n;
}

/* Reads an Operation reply: 1 done, 0 pending (name copied to *name),
 * -errno for an error inside it or an unusable reply. */
static int op_state(const char *body, size_t len, char **name, struct bf_err *e)
{
	cJSON *root;
	int rc;

	if (!body || len == 0)
		return 1; /* an empty 2xx: nothing left to wait for */
	root = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return bf_err_set(e, EIO, "delete: malformed Operation");
	}
	const cJSON *done = cJSON_GetObjectItemCaseSensitive(root, "done");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");

	if (cJSON_IsObject(err)) {
		const cJSON *code =
			cJSON_GetObjectItemCaseSensitive(err, "code");
		const cJSON *msg =
			cJSON_GetObjectItemCaseSensitive(err, "message");
		int c = cJSON_IsNumber(code) && code->valueint > 0 &&
					code->valueint < 64
				? code->valueint
				: BF_GRPC_UNKNOWN;
		int eno = bf_errno_from_grpc(c);

		rc = bf_err_set(e, eno ? eno : EIO, "%s",
				cJSON_IsString(msg) ? msg->valuestring
						    : "delete failed");
		if (e)
			snprintf(e->status, sizeof(e->status), "%s",
				 bf_grpc_name(c));
	} else if (cJSON_IsTrue(done)) {
		rc = 1;
	} else if (cJSON_IsString(nm) && valid_op_name(nm->valuestring)) {
		*name = strdup(nm->valuestring);
		rc = *name ? 0 : bf_err_set(e, ENOMEM, "out of memory");
	} else if (!nm) {
		rc = 1; /* no Operation to poll, e.g. "{}" */
	} else {
		rc = bf_err_set(e, EIO, "delete: unusable Operation name");
	}
	cJSON_Delete(root);
	return rc;
}

int bf_vertex_delete(struct bf_vertex *v, const char *id, struct bf_err *e)
{
	struct bf_err local_err;
	struct bf_http_resp resp;
	int64_t deadline = bf_now_ms() + DELETE_BUDGET_MS;
	char *op = NULL;
	long delay = OP_POLL_INITIAL_MS;
	int rc;

	if (!e)
		e = &local_err;
	rc = job_call(v, "DELETE", id, NULL, NULL, BF_RETRY_IDEMPOTENT,
			      &resp, e);
	if (rc && e->http_status == 404 && resp.attempts > 1) {
		bf_log_info("vertex delete %s: gone after a retry", id);
		rc = 0;
		bf_http_resp_free(&resp);
		goto out;
	}
	if (rc == 0)
		rc = op_state(resp.body, resp.body_len, &op, e);
	bf_http_resp_free(&resp);

	while (rc == 0) {
		char *opurl;
		int64_t left = deadline - bf_now_ms();

		if (left <= delay) {
			rc = bf_err_set(e, ETIMEDOUT,
					"delete of job %s still running after "
					"%ld s",
					id, DELETE_BUDGET_MS / 1000);
			break;
		}
		if ((rc = vx_sleep_ms(delay))) {
			rc = bf_err_set(e, -rc, "delete wait %s",
					rc == -ETIMEDOUT ? "past the request's "
							   "deadline"
							 : "interrupted");
			break;
		}
		delay = delay * 2 > OP_POLL_CAP_MS ? OP_POLL_CAP_MS : delay * 2;
		if (asprintf(&opurl, "%s/%s", v->root, op) < 0) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			break;
		}
		left = deadline - bf_now_ms();
		rc = vx_call(v, "GET", opurl, NULL, BF_RETRY_IDEMPOTENT,
			     left > 0 ? (long)left : 1, &resp, e);
		free(opurl);
		if (rc == 0) {
			free(op);
			op = NULL;
			rc = op_state(resp.body, resp.body_len, &op, e);
		} else if (e->http_status == 404) {
			/* The Operation expired; the job tells the truth. */
			struct bf_job j;
			struct bf_err je;

			rc = bf_vertex_get(v, id, &j, &je);
			bf_job_free(&j);
			if (rc == -ENOENT)
				rc = 1;
			else if (rc == 0)
				rc = bf_err_set(
					e, EIO,
					"delete: Operation vanished but "
					"job %s still exists",
					id);
			else
				*e = je;
		}
		bf_http_resp_free(&resp);
	}
	if (rc == 1)
		rc = 0;
out:
	if (rc == 0)
		bf_err_clear(e);
	free(op);
	return rc;
}
