/* read.c - verified ranged reads of one object generation, streamed
 * straight into the caller's buffer.
 *
 * Reads never hand back misplaced bytes: a 206 must carry a Content-Range
 * starting exactly where we asked, a 200 to a range is only accepted by
 * discarding the leading bytes when that is cheap, and a body that stops
 * early is resumed from the last byte that landed (the http layer calls
 * on_retry, we rewrite Range). A pinned generation that is gone is told
 * apart as replaced (ESTALE) or deleted (ENOENT).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "gcs/gcs_int.h"

/* A 200 answer to a range makes us discard everything before the offset;
 * past this much that costs more than failing. */
#define MAX_SKIP (16u << 20)
/* Reads that make no progress (server keeps answering short) give up. */
#define MAX_IDLE_ROUNDS 4
/* curl's buffer for one of several parallel loads (BF_GCS_READ_PARALLEL). */
#define PARALLEL_RCVBUF (128L << 10)

struct rd {
	char *buf;
	size_t len;
	size_t got;	  /* bytes placed at buf[0..got) */
	uint64_t off;	  /* object offset of buf[0] */
	uint64_t at;	  /* offset this attempt asked for (off + got) */
	int64_t gen;	  /* pinned, 0 = latest */
	int64_t seen_gen; /* generation of the first reply */
	int mode;	  /* 0, 200 or 206 for the current attempt */
	uint64_t skip;	  /* bytes still to discard (200 to a range) */
	uint64_t total;	  /* object size from Content-Range */
	int full;	  /* buffer filled; we stopped the transfer */
	int cancelled;	  /* progress callback said stop */
	int bad;	  /* errno our callbacks decided */
	char why[200];
	char range[80]; /* "Range: bytes=a-b", in the header array */
	bf_gcs_progress_fn progress;
	void *ud;
};

static void rd_set_range(struct rd *r)
{
	r->at = r->off + r->got;
	snprintf(r->range, sizeof(r->range),
		 "Range: bytes=%" PRIu64 "-%" PRIu64, r->at,
		 r->off + r->len - 1);
}

static int rd_fail(struct rd *r, int err, const char *why)
{
	r->bad = err;
	snprintf(r->why, sizeof(r->why), "%s", why);
	return -err;
}

static int rd_on_start(void *ud, const struct bf_http_resp *resp)
{
	struct rd *r = ud;
	uint64_t a, b, t;

	r->mode = 0;
	r->skip = 0;
	r->bad = 0;
	if (resp->status < 200 || resp->status >= 300)
		return 0; /* an error reply: the http layer deals with it */
	if (resp->generation[0]) {
		uint64_t g;

		if (bf_gcs__parse_u64(resp->generation, &g) == 0) {
			if (r->gen > 0 && (int64_t)g != r->gen)
				return rd_fail(r, ESTALE,
					       "reply from another generation");
			if (r->seen_gen > 0 && (int64_t)g != r->seen_gen)
				return rd_fail(
					r, ESTALE,
					"object changed between attempts");
			r->seen_gen = (int64_t)g;
		}
	}
	if (resp->status == 206) {
		if (bf_gcs_parse_content_range(resp->content_range, &a, &b, &t) !=
		    0)
			return rd_fail(r, EIO,
				       "206 without a valid Content-Range");
		if (a != r->at)
			return rd_fail(
				r, EIO,
				"206 with a Content-Range at the wrong offset");
		r->total = t;
		r->mode = 206;
		return 0;
	}
	if (resp->status == 200) {
		/* The server ignored Range: the body starts at byte 0. */
		if (r->at > MAX_SKIP)
			return rd_fail(
				r, EIO,
				"200 to a range request far into the object");
		r->skip = r->at;
		r->mode = 200;
		return 0;
	}
	return rd_fail(r, EIO, "unexpected 2xx status to a range request");
}

static int rd_on_body(void *ud, const char *p, size_t n)
{
	struct rd *r = ud;
	size_t m;

	if (!r->mode)
		return rd_fail(r, EIO, "body before a verified status");
	if (r->skip) {
		size_t d = n < r->skip ? n : (size_t)r->skip;

		r->skip -= d;
		p += d;
		n -= d;
	}
	m = r->len - r->got;
	if (m > n)
		m = n;
	if (m) {
		memcpy(r->buf + r->got, p, m);
		r->got += m;
		if (r->progress && r->progress(r->ud, r->got)) {
			r->cancelled = 1;
			return -ECANCELED;
		}
	}
	if (n > m) {
		/* More than we asked for: what we hold is correct, stop. */
		r->full = 1;
		return -ECANCELED;
	}
	return 0;
}

static int rd_on_retry(void *ud, int attempt)
{
	struct rd *r = ud;

	(void)attempt;
	if (r->cancelled || r->got >= r->len)
		return 1;
	rd_set_range(r);
	r->mode = 0;
	r->skip = 0;
	r->bad = 0;
	return 0;
}

/* A pinned read got 404/412: tell "replaced" (ESTALE) from "gone". */
static int stale_or_gone(struct bf_gcs *g, const char *bucket, const char *name,
			 int64_t gen, int rc, struct bf_err *e)
{
	struct bf_gcs_object o;
	struct bf_err se;
	int src = bf_gcs_stat(g, bucket, name, &o, &se);

	if (src == 0) {
		int64_t now = o.generation;

		bf_gcs_object_free(&o);
		if (now != gen)
			return bf_err_set(e, ESTALE,
					  "gs://%s/%s: generation %" PRId64
					  " replaced by %" PRId64,
					  bucket, name, gen, now);
		return rc;
	}
	if (src == -ENOENT)
		return bf_err_set(e, ENOENT, "gs://%s/%s: object deleted",
				  bucket, name);
	return rc;
}

char *bf_gcs__media_url(struct bf_gcs *g, const char *bucket,
			const char *name, int64_t gen)
{
	char *obj = bf_gcs__object_url(g->api, bucket, name), *url;

	if (!obj)
		return NULL;
	if (gen > 0)
		url = bf_gcs__printf("%s?alt=media&generation=%" PRId64, obj,
				     gen);
	else
		url = bf_gcs__printf("%s?alt=media", obj);
	free(obj);
	return url;
}

ssize_t bf_gcs_read_ex(struct bf_gcs *g, const char *bucket, const char *name,
		       int64_t gen, uint64_t off, char *buf, size_t len,
		       bf_gcs_progress_fn progress, void *ud, int flags,
		       struct bf_err *e)
{
	struct rd r = {
		.buf = buf,
		.len = len,
		.off = off,
		.gen = gen,
		.total = UINT64_MAX,
		.progress = progress,
		.ud = ud,
	};
	const char *headers[] = {r.range, "Accept-Encoding: identity", NULL};
	char *url = NULL;
	ssize_t rc = 0;
	int idle = 0;

	bf_err_clear(e);
	if (!len)
		return 0;
	if (len > (size_t)SSIZE_MAX || off > UINT64_MAX - len)
		return bf_err_set(e, EINVAL, "read range too large");
	url = bf_gcs__media_url(g, bucket, name, gen);
	if (!url)
		return bf_err_set(e, ENOMEM, "out of memory");

	while (r.got < len) {
		struct bf_http_req req = {
			.method = "GET",
			.url = url,
			.headers = headers,
			.on_start = rd_on_start,
			.on_body = rd_on_body,
			.on_retry = rd_on_retry,
			.ud = &r,
			.recv_buffer = (flags & BF_GCS_READ_PARALLEL)
					       ? PARALLEL_RCVBUF
					       : 0,
		};
		struct bf_http_resp resp = {0};
		size_t before = r.got;
		int hrc;

		rd_set_range(&r);
		r.mode = 0;
		r.bad = 0;
		r.full = 0;
		hrc = bf_http_do(g->http, &req, &resp, e);
		if (r.full) {
			bf_http_resp_free(&resp);
			bf_err_clear(e);
			break;
		}
		if (r.cancelled) {
			bf_http_resp_free(&resp);
			rc = bf_err_set(e, ECANCELED, "read cancelled");
			goto out;
		}
		if (hrc < 0) {
			long st = resp.status;

			bf_http_resp_free(&resp);
			if (r.bad) {
				rc = bf_err_set(e, r.bad,
						"gs://%s/%s at %" PRIu64 ": %s",
						bucket, name, r.at, r.why);
				goto out;
			}
			if (st == 416) { /* at or past the end */
				bf_err_clear(e);
				break;
			}
			if ((st == 404 || st == 412) && gen > 0) {
				rc = stale_or_gone(g, bucket, name, gen, hrc,
						   e);
				goto out;
			}
			rc = hrc;
			goto out;
		}
		bf_http_resp_free(&resp);
		if (r.mode == 200) {
			/* A whole-object body ended: that is the object's end.
			 */
			break;
		}
		if (r.mode != 206) {
			rc = bf_err_set(
				e, EIO,
				"gs://%s/%s: unexpected reply to a range read",
				bucket, name);
			goto out;
		}
		if (r.total != UINT64_MAX && off + r.got >= r.total)
			break;
		if (r.got == before && ++idle >= MAX_IDLE_ROUNDS) {
			rc = bf_err_set(
				e, EIO,
				"gs://%s/%s: server keeps sending short ranges",
				bucket, name);
			goto out;
		}
	}
	rc = (ssize_t)r.got;
out:
	free(url);
	return rc;
}

ssize_t bf_gcs_read(struct bf_gcs *g, const char *bucket, const char *name,
		    int64_t gen, uint64_t off, char *buf, size_t len,
		    struct bf_err *e)
{
	return bf_gcs_read_ex(g, bucket, name, gen, off, buf, len, NULL, NULL,
			      0, e);
}
