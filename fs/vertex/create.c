/* create.c - idempotent job creation: the client token label, one POST at
 * a time, and reconciliation by listing that label whenever a POST's
 * outcome is unknown.
 *
 * Vertex has no request id for CreateBatchPredictionJob, so the HTTP layer
 * never re-sends the POST (BF_RETRY_NEVER). Only a definite 4xx proves no
 * job was made; after anything else (5xx, 429, reset, timeout, an unusable
 * 2xx) the job is looked up by its token before a new POST goes out, and
 * when the lookup itself fails nothing is sent again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/jitter.h"
#include "batchfs/log.h"
#include "batchfs/vertex.h"
#include "vertex/job_int.h"
#include "vertex/vertex_int.h"

/* Create: POSTs (first + re-sends) and the wall-clock budget for all of
 * them, their reconciliation lists and the backoff in between. */
#define CREATE_ATTEMPTS 4
#define CREATE_BUDGET_MS 150000L
#define PER_CALL_BUDGET_MS 60000L
/* After a POST that timed out: how long a job may take to show up. */
#define CREATE_GRACE_MS 15000L
_Static_assert(CREATE_BUDGET_MS + CREATE_GRACE_MS <= BF_VERTEX_CREATE_WINDOW_MS,
	       "the journal waits out BF_VERTEX_CREATE_WINDOW_MS");

struct find_ctx {
	const char *token;
	struct bf_job found;
	int matches;
};

/* Keeps the oldest job carrying the token: if a duplicate ever slipped
 * through, every caller still converges on the same one. */
static int find_cb(void *ud, struct bf_job *job)
{
	struct find_ctx *c = ud;

	/* Do not trust the server's filter support: check the label. */
	if (!job->client_token || strcmp(job->client_token, c->token) != 0)
		return 0;
	c->matches++;
	if (c->found.name && (c->found.create_us < job->create_us ||
			      (c->found.create_us == job->create_us &&
			       strcmp(c->found.id, job->id) <= 0)))
		return 0;
	bf_job_free(&c->found);
	c->found = *job;
	*job = (struct bf_job){0};
	return 0;
}

int bf_vertex_find_by_token(struct bf_vertex *v, const char *client_token,
			    struct bf_job *out, struct bf_err *e)
{
	struct bf_err local_err;
	struct find_ctx c = {.token = client_token};
	char *filter;
	int rc;

	if (!e)
		e = &local_err;
	*out = (struct bf_job){0};
	if (!vx_valid_token(client_token))
		return bf_err_set(e, EINVAL, "invalid client token");
	/* Only the current key is looked up: a token is made per draft and
	 * drafts live in one mount's memory, so every token looked up was
	 * sent by this version, under this key. (A filter on the old key,
	 * batchfs-token, may be refused anyway: '-' is an AIP-160 operator.)
	 * find_cb still accepts a job carrying the token under either key. */
	if (asprintf(&filter, "labels.%s=\"%s\"", BF_TOKEN_LABEL,
		     client_token) < 0)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = vx_list(v, filter, NULL, 0, 1, BF_RETRY_IDEMPOTENT, find_cb, &c,
		     e);
	free(filter);
	if (rc) {
		bf_job_free(&c.found);
		return rc < 0 ? rc : -EIO;
	}
	if (!c.matches)
		return bf_err_set(e, ENOENT, "no job with %s=%s",
				  BF_TOKEN_LABEL, client_token);
	if (c.matches > 1)
		bf_log_warn("vertex: %d jobs carry %s=%s; using %s", c.matches,
			    BF_TOKEN_LABEL, client_token, c.found.id);
	*out = c.found;
	return 0;
}

/* The body with labels[BF_TOKEN_LABEL] set, other labels kept. */
static char *body_with_token(const char *body_json, const char *token,
			     struct bf_err *e)
{
	cJSON *root = cJSON_Parse(body_json ? body_json : "");
	cJSON *labels, *val;
	char *out = NULL;

	if (!cJSON_IsObject(root)) {
		bf_err_set(e, EINVAL, "job request is not a JSON object");
		goto done;
	}
	labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
	if (!cJSON_IsObject(labels)) {
		cJSON_DeleteItemFromObjectCaseSensitive(root, "labels");
		labels = cJSON_AddObjectToObject(root, "labels");
		if (!labels)
			goto nomem;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(labels, BF_TOKEN_LABEL);
	/* A spec copied from a job of an older batchfs carries its token
	 * under the old key: it is not this create's. */
	cJSON_DeleteItemFromObjectCaseSensitive(labels, BF_TOKEN_LABEL_OLD);
	val = cJSON_CreateString(token);
	if (!val || !cJSON_AddItemToObject(labels, BF_TOKEN_LABEL, val)) {
		cJSON_Delete(val);
		goto nomem;
	}
	out = cJSON_PrintUnformatted(root);
	if (!out)
		goto nomem;
done:
	cJSON_Delete(root);
	return out;
nomem:
	bf_err_set(e, ENOMEM, "out of memory");
	goto done;
}

/* A reply that proves the server did not create the job. */
static int definite_reject(const struct bf_err *e)
{
	long s = e->http_status;

	return s >= 400 && s <= 499 && s != 408 && s != 429;
}

/* No reply because our clock ran out: the server may still be working on
 * the POST, so its job can appear after a first lookup comes back empty. */
static int maybe_in_flight(int rc, const struct bf_err *e)
{
	return e->http_status == 0 &&
	       (rc == -ETIMEDOUT || e->curl_code == CURLE_OPERATION_TIMEDOUT);
}

/* Looks the token up now and, for grace_ms, again with growing pauses. */
static int reconcile(struct bf_vertex *v, const char *token, long grace_ms,
		     struct bf_job *out, struct bf_err *e)
{
	int64_t end = bf_now_ms() + grace_ms;
	long delay = 500;
	int rc;

	for (;;) {
		rc = bf_vertex_find_by_token(v, token, out, e);
		if (rc != -ENOENT || bf_now_ms() + delay > end)
			return rc;
		if ((rc = vx_sleep_ms(delay)))
			return bf_err_set(e, -rc, "%s",
					  rc == -ETIMEDOUT ? "past the "
							     "request's deadline"
							   : "interrupted");
		delay = delay * 2 > 4000 ? 4000 : delay * 2;
	}
}

/* Transport failures that happen before a byte of the request left. */
static int never_sent(const struct bf_err *e)
{
	return e->http_status == 0 &&
	       (e->curl_code == CURLE_COULDNT_RESOLVE_PROXY ||
		e->curl_code == CURLE_COULDNT_RESOLVE_HOST ||
		e->curl_code == CURLE_COULDNT_CONNECT);
}

int bf_vertex_create(struct bf_vertex *v, const char *body_json,
		     const char *client_token, struct bf_job *out,
		     struct bf_err *e)
{
	struct bf_err local_err;
	struct bf_err last = {0}, tmp;
	int64_t deadline = bf_now_ms() + CREATE_BUDGET_MS;
	long wait_hint = -1; /* Retry-After / RetryInfo of the last reply */
	char *body, *url = NULL;
	int rc = 0, sent = 0, accepted;
	long grace;
	size_t n;

	if (!e)
		e = &local_err;
	*out = (struct bf_job){0};
	if (body_json && strlen(body_json) > BF_JOB_MAX_RAW)
		return bf_err_set(e, EFBIG, "job request over 1 MiB");
	if (!vx_valid_token(client_token))
		return bf_err_set(e, EINVAL,
				  "client token must be 1-63 of [a-z0-9_-]");
	body = body_with_token(body_json, client_token, e);
	if (!body)
		return -e->err;
	if (strlen(body) > BF_JOB_MAX_RAW) {
		free(body);
		return bf_err_set(e, EFBIG, "job request over 1 MiB");
	}
	url = strdup(v->coll);
	if (!url) {
		free(body);
		return bf_err_set(e, ENOMEM, "out of memory");
	}

	for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
		struct bf_http_resp resp;
		int64_t left = deadline - bf_now_ms();

		if (attempt > 0) {
			long d = bf_backoff_ms(attempt - 1, 1000, 30000,
					       bf_jitter01());

			if (wait_hint > d)
				d = wait_hint;
			if (d >= left)
				break; /* the next try would miss the budget */
			if ((rc = vx_sleep_ms(d)))
				goto interrupted;
			left = deadline - bf_now_ms();
		}
		if (left <= 0)
			break;
		bf_err_clear(&tmp);
		sent++;
		rc = vx_call(v, "POST", url, body, BF_RETRY_NEVER,
			     left < PER_CALL_BUDGET_MS ? (long)left
						       : PER_CALL_BUDGET_MS,
			     &resp, &tmp);
		wait_hint = resp.retry_after_ms;
		if (rc && wait_hint < 0 && resp.body)
			wait_hint =
				bf_err_retry_delay_ms(resp.body, resp.body_len);
		if (rc == 0) {
			rc = bf_job_parse(resp.body, resp.body_len, out, &tmp);
			tmp.http_status = resp.status;
			bf_http_resp_free(&resp);
			if (rc == 0) {
				bf_err_clear(e);
				goto done;
			}
			bf_log_warn("vertex create: 2xx reply unusable (%s); "
				    "reconciling",
				    tmp.msg);
		} else {
			bf_http_resp_free(&resp);
			if (rc == -EINTR)
				goto interrupted;
			if (definite_reject(&tmp)) {
				*e = tmp;
				goto done;
			}
		}
		last = tmp;
		if (rc && never_sent(&tmp))
			continue;
		bf_log_info("vertex create: no usable reply (%s, HTTP %ld); "
			    "looking up %s=%s",
			    tmp.msg, tmp.http_status, BF_TOKEN_LABEL,
			    client_token);
		/* A 2xx (even one whose body was lost or unreadable) means
		 * the job exists: wait for it to show, never send again. */
		accepted = tmp.http_status >= 200 && tmp.http_status <= 299;
		grace = accepted || maybe_in_flight(rc, &tmp) ? CREATE_GRACE_MS
							      : 0;
		left = deadline - bf_now_ms();
		if (grace > left)
			grace = left > 0 ? (long)left : 0;
		rc = reconcile(v, client_token, grace, out, &tmp);
		if (rc == 0) {
			bf_log_info("vertex create: found job %s by token",
				    out->id);
			bf_err_clear(e);
			goto done;
		}
		if (rc == -EINTR)
			goto interrupted;
		if (rc == -ENOENT && accepted) {
			rc = bf_err_set(e, EIO,
					"create answered HTTP %ld but no job "
					"with %s=%s can be found (%s)",
					last.http_status, BF_TOKEN_LABEL,
					client_token, last.msg);
			e->http_status = last.http_status;
			goto done;
		}
		if (rc != -ENOENT) {
			/* Cannot tell whether a job exists: sending again
			 * could make a second one. */
			bf_err_clear(e);
			rc = bf_err_set(
				e, tmp.err,
				"create outcome unknown (%s); lookup by "
				"token failed: %s",
				last.msg, tmp.msg);
			goto done;
		}
	}
	if (!last.err)
		last.err = ETIMEDOUT;
	*e = last;
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n,
		 " (create sent %d time%s, no job created)", sent,
		 sent == 1 ? "" : "s");
	rc = -last.err;
	goto done;
interrupted:
	/* rc: -EINTR, or -ETIMEDOUT when the request's own deadline (-o
	 * change_deadline) ended the wait. */
	rc = bf_err_set(e, rc == -ETIMEDOUT ? ETIMEDOUT : EINTR,
			"create %s; a job with %s=%s may exist",
			rc == -ETIMEDOUT ? "past the request's deadline"
					 : "interrupted",
			BF_TOKEN_LABEL, client_token);
done:
	free(url);
	free(body);
	return rc;
}
