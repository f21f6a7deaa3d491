/* upload.c - object uploads: one uploadType=media request below the
 * resumable threshold, a resumable session above it.
 *
 * A resumable session sends chunks (multiples of 256 KiB) with
 * Content-Range. Chunk PUTs are sent once by the http layer (BF_RETRY_NEVER):
 * after a failure we ask the session what it persisted (Content-Range:
 * bytes * /TOTAL) and resume from there, a bounded number of times, so a
 * chunk is never re-sent blindly and bytes are never skipped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "batchfs/http.h"
#include "batchfs/jitter.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "gcs/gcs_int.h"

#define MAX_CHUNK_FAILURES 6
/* Back-off between a failed chunk and the status query. */
#define BACKOFF_INITIAL_MS 500
#define BACKOFF_CAP_MS 8000
#define UPLOAD_BUDGET_MS (30L * 60 * 1000)

static const char *ctype_or_default(const char *ct)
{
	return ct && *ct ? ct : "application/octet-stream";
}

/* Reads exactly n bytes at off; a file that shrank is EIO. */
static int pread_full(int fd, char *p, size_t n, uint64_t off, struct bf_err *e)
{
	while (n) {
		ssize_t k = pread(fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return bf_err_set(e, errno, "reading upload source: %s",
					  strerror(errno));
		if (k == 0)
			return bf_err_set(
				e, EIO,
				"upload source is shorter than expected");
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static int parse_reply(const struct bf_http_resp *resp,
		       struct bf_gcs_object *out, struct bf_err *e)
{
	struct bf_gcs_object tmp;
	int rc;

	rc = bf_gcs_object_parse(resp->body, resp->body_len, out ? out : &tmp,
				 e);
	if (!out && rc == 0)
		bf_gcs_object_free(&tmp);
	return rc;
}

/* A retried create with ifGenerationMatch can meet its own first attempt:
 * 412 then means "already there". Accept it when the object looks like
 * ours. */
static int accept_if_ours(struct bf_gcs *g, const char *bucket,
			  const char *name, uint64_t len, int rc,
			  struct bf_gcs_object *out, struct bf_err *e)
{
	struct bf_gcs_object o;
	struct bf_err se;

	if (bf_gcs_stat(g, bucket, name, &o, &se) != 0)
		return rc;
	if (o.size != len) {
		bf_gcs_object_free(&o);
		return rc;
	}
	bf_log_warn("gs://%s/%s: 412 after a retried upload; the object of "
		    "the same size is taken as ours",
		    bucket, name);
	bf_err_clear(e);
	if (out)
		*out = o;
	else
		bf_gcs_object_free(&o);
	return 0;
}

static char *upload_url(struct bf_gcs *g, const char *bucket, const char *name,
			const char *type, int64_t igm)
{
	char *base = bf_gcs__object_url(g->upload, bucket, NULL);
	char *en = bf_url_encode(name);
	char *url = NULL;
	char cond[48] = "";

	if (igm >= 0)
		snprintf(cond, sizeof(cond), "&ifGenerationMatch=%" PRId64,
			 igm);
	if (base && en &&
	    asprintf(&url, "%s?uploadType=%s&name=%s%s", base, type, en, cond) <
		    0)
		url = NULL;
	free(base);
	free(en);
	return url;
}

static int upload_simple(struct bf_gcs *g, const char *bucket, const char *name,
			 const char *ct, const char *data, int fd, uint64_t len,
			 int64_t igm, struct bf_gcs_object *out,
			 struct bf_err *e)
{
	struct bf_http_resp resp = {0};
	char *url, *owned = NULL;
	int rc;

	url = upload_url(g, bucket, name, "media", igm);
	if (!url)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (!data && len) {
		owned = malloc(len);
		if (!owned) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		rc = pread_full(fd, owned, len, 0, e);
		if (rc)
			goto out;
		data = owned;
	}
	struct bf_http_req req = {
		.method = "POST",
		.url = url,
		.body = data ? data : "",
		.body_len = len,
		.content_type = ct,
		.retry = BF_RETRY_IDEMPOTENT,
	};
	rc = bf_http_do(g->http, &req, &resp, e);
	if (rc == -ESTALE && igm >= 0 && resp.attempts > 1)
		rc = accept_if_ours(g, bucket, name, len, rc, out, e);
	else if (rc == 0 && resp.status != 200 && resp.status != 201)
		rc = bf_err_set(e, EIO, "upload gs://%s/%s: HTTP %ld", bucket,
				name, resp.status);
	else if (rc == 0)
		rc = parse_reply(&resp, out, e);
out:
	bf_http_resp_free(&resp);
	free(owned);
	free(url);
	return rc;
}

static int initiate(struct bf_gcs *g, const char *bucket, const char *name,
		    const char *ct, uint64_t len, int64_t igm, char **session,
		    struct bf_err *e)
{
	struct bf_http_resp resp = {0};
	char h_type[300], h_len[64];
	const char *headers[] = {h_type, h_len, NULL};
	char *url, *meta = NULL;
	cJSON *m;
	int rc;

	*session = NULL;
	url = upload_url(g, bucket, name, "resumable", igm);
	m = cJSON_CreateObject();
	if (m && cJSON_AddStringToObject(m, "name", name) &&
	    cJSON_AddStringToObject(m, "contentType", ct))
		meta = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	if (!url || !meta) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	snprintf(h_type, sizeof(h_type), "X-Upload-Content-Type: %s", ct);
	snprintf(h_len, sizeof(h_len), "X-Upload-Content-Length: %" PRIu64,
		 len);
	struct bf_http_req req = {
		.method = "POST",
		.url = url,
		.body = meta,
		.body_len = strlen(meta),
		.content_type = "application/json; charset=UTF-8",
		.headers = headers,
		/* A lost reply only orphans a session; a new one is fine. */
		.retry = BF_RETRY_IDEMPOTENT,
	};
	rc = bf_http_do(g->http, &req, &resp, e);
	if (rc)
		goto out;
	if (resp.status != 200 && resp.status != 201) {
		rc = bf_err_set(e, EIO, "resumable upload start: HTTP %ld",
				resp.status);
		goto out;
	}
	if (!resp.location || !resp.location[0]) {
		rc = bf_err_set(e, EIO, "resumable upload start: no Location");
		goto out;
	}
	if (resp.location[0] == '/')
		rc = asprintf(session, "%s%s", g->base, resp.location) < 0
			     ? -ENOMEM
			     : 0;
	else
		*session = strdup(resp.location);
	if (rc || !*session) {
		*session = NULL;
		rc = bf_err_set(e, ENOMEM, "out of memory");
	}
out:
	bf_http_resp_free(&resp);
	free(meta);
	free(url);
	return rc;
}

static int retryable(int rc, const struct bf_err *e)
{
	if (rc == -EINTR || rc == -ENOMEM)
		return 0;
	if (e->http_status > 0)
		return bf_http_retryable(e->http_status);
	return 1; /* transport failure or no reply at all */
}

/* The back-off between a failed chunk and the status query: up to
 * BACKOFF_CAP_MS, so it watches the cancel check like every other wait. */
int bf_gcs__upload_pause(long ms, struct bf_err *e)
{
	int rc = bf_sleep_ms_cancellable(ms, BF_WAIT_SLICE_MS);

	return rc ? bf_err_set(e, EINTR, "upload interrupted") : 0;
}

/* Interprets a chunk or status reply: 1 = complete (out filled), 0 = 308
 * with *pos updated, -errno otherwise. */
static int session_reply(const struct bf_http_resp *resp, uint64_t len,
			 uint64_t *pos, struct bf_gcs_object *out,
			 struct bf_err *e)
{
	uint64_t persisted;

	if (resp->status == 200 || resp->status == 201) {
		int rc = parse_reply(resp, out, e);

		return rc ? rc : 1;
	}
	if (resp->status == 308) {
		if (bf_gcs_parse_upload_range(resp->range, &persisted) ||
		    persisted > len)
			return bf_err_set(e, EIO,
					  "resumable upload: bad Range \"%s\"",
					  resp->range);
		*pos = persisted;
		return 0;
	}
	return bf_err_set(e, EIO, "resumable upload: unexpected HTTP %ld",
			  resp->status);
}

static int query_status(struct bf_gcs *g, const char *session, uint64_t len,
			uint64_t *pos, struct bf_gcs_object *out,
			struct bf_err *e)
{
	struct bf_http_resp resp = {0};
	char h_cr[64];
	const char *headers[] = {h_cr, NULL};
	int rc;

	snprintf(h_cr, sizeof(h_cr), "Content-Range: bytes */%" PRIu64, len);
	struct bf_http_req req = {
		.method = "PUT",
		.url = session,
		.body = "",
		.body_len = 0,
		.content_type = "application/octet-stream",
		.headers = headers,
		.retry = BF_RETRY_IDEMPOTENT,
	};
	rc = bf_http_do(g->http, &req, &resp, e);
	if (rc == 0)
		rc = session_reply(&resp, len, pos, out, e);
	bf_http_resp_free(&resp);
	return rc;
}

static int upload_resumable(struct bf_gcs *g, const char *bucket,
			    const char *name, const char *ct, const char *data,
			    int fd, uint64_t len, int64_t igm,
			    struct bf_gcs_object *out, struct bf_err *e)
{
	char *session = NULL, *cbuf = NULL;
	uint64_t pos = 0;
	int fails = 0, rc;
	int64_t deadline = bf_now_ms() + UPLOAD_BUDGET_MS;

	rc = initiate(g, bucket, name, ct, len, igm, &session, e);
	if (rc)
		return rc;
	if (!data) {
		cbuf = malloc(g->chunk_size);
		if (!cbuf) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
	}
	for (;;) {
		struct bf_http_resp resp = {0};
		uint64_t n =
			len - pos < g->chunk_size ? len - pos : g->chunk_size;
		const char *p = data ? data + pos : cbuf;
		char h_cr[96];
		const char *headers[] = {h_cr, NULL};
		uint64_t before = pos;

		if (n == 0) {
			/* Everything persisted but no final reply seen. */
			rc = query_status(g, session, len, &pos, out, e);
			if (rc == 1) {
				rc = 0;
				break;
			}
			if (rc == 0)
				rc = bf_err_set(e, EIO,
						"resumable upload: session "
						"incomplete at its end");
			goto out;
		}
		if (!data) {
			rc = pread_full(fd, cbuf, n, pos, e);
			if (rc)
				goto out;
		}
		snprintf(h_cr, sizeof(h_cr),
			 "Content-Range: bytes %" PRIu64 "-%" PRIu64
			 "/%" PRIu64,
			 pos, pos + n - 1, len);
		struct bf_http_req req = {
			.method = "PUT",
			.url = session,
			.body = p,
			.body_len = n,
			.content_type = "application/octet-stream",
			.headers = headers,
			.retry = BF_RETRY_NEVER,
		};
		rc = bf_http_do(g->http, &req, &resp, e);
		if (rc == 0)
			rc = session_reply(&resp, len, &pos, out, e);
		bf_http_resp_free(&resp);
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc == 0) {
			if (pos > before)
				fails = 0;
			else if (++fails > MAX_CHUNK_FAILURES)
				goto stuck;
			continue;
		}
		/* The chunk failed: find out what the session kept. */
		while (rc < 0) {
			if (!retryable(rc, e) || ++fails > MAX_CHUNK_FAILURES ||
			    bf_now_ms() >= deadline)
				goto out;
			bf_log_info("gs://%s/%s: chunk at %" PRIu64
				    " failed (%s), asking the session",
				    bucket, name, before, e->msg);
			rc = bf_gcs__upload_pause(
				bf_backoff_ms(fails - 1, BACKOFF_INITIAL_MS,
					      BACKOFF_CAP_MS, bf_jitter01()),
				e);
			if (rc < 0)
				goto out;
			rc = query_status(g, session, len, &pos, out, e);
		}
		if (rc == 1) {
			rc = 0;
			break;
		}
		bf_err_clear(e);
	}
	goto out;
stuck:
	rc = bf_err_set(e, EIO, "resumable upload gs://%s/%s makes no progress",
			bucket, name);
out:
	free(cbuf);
	free(session);
	return rc;
}

int bf_gcs_upload(struct bf_gcs *g, const char *bucket, const char *name,
		  const char *content_type, const char *data, int fd,
		  uint64_t len, int64_t if_generation_match,
		  struct bf_gcs_object *out, struct bf_err *e)
{
	const char *ct = ctype_or_default(content_type);

	bf_err_clear(e);
	if (out)
		memset(out, 0, sizeof(*out));
	if (!data && fd < 0 && len)
		return bf_err_set(e, EINVAL, "upload without a source");
	if (len < g->resumable_threshold)
		return upload_simple(g, bucket, name, ct, data, fd, len,
				     if_generation_match, out, e);
	return upload_resumable(g, bucket, name, ct, data, fd, len,
				if_generation_match, out, e);
}
