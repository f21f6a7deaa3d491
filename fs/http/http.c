/* http.c - the one place that talks HTTP: a pool of libcurl easy handles,
 * deadlines on every transfer, the bounded retry loop, auth headers and the
 * mapping of every failure to an errno through errmap.c.
 *
 * The client object, its handle pool and the share live in client.c, header
 * capture in hdr.c, the backoff schedule in backoff.c.
 *
 * Connection reuse: each pooled easy handle keeps its own connection cache
 * across calls (curl_easy_reset keeps live connections), and a CURLSH shares
 * the DNS and TLS session caches between handles. The connection cache is
 * deliberately NOT put in the share: our libcurl (7.88) lists it in
 * KNOWN_BUGS ("A shared connection cache is not thread-safe", curl#4915),
 * and a LIFO free list already hands a thread the handle whose connection
 * it just used.
 *
 * Lock order: pool_lock and the share locks are leaf locks, never held
 * across network I/O or across each other. No lock is held while a request
 * runs; the token source may call back into bf_http_do (token endpoint)
 * on another pooled handle.
 *
 * Secrets: CURLOPT_VERBOSE is never set, so curl never prints the request
 * headers; trace lines carry method, URL with secret query values masked,
 * status, attempts and time, and pass through bf_log's redaction.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "batchfs/buf.h"
#include "batchfs/http.h"
#include "batchfs/jitter.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"

#include "http_int.h"

#define SLEEP_SLICE_MS 50
/* A 401 refreshes the token and retries, twice at most, as google-auth
 * does (DEFAULT_MAX_REFRESH_ATTEMPTS): a token revoked just after its
 * refresh is not a failure yet. */
#define AUTH_RETRIES 2

/* ---- one attempt -------------------------------------------------------- */

struct xfer {
	const struct bf_http_req *req;
	struct bf_http_resp *resp;
	struct bf_buf body;
	CURL *c;
	int streaming;	/* final status is 2xx and req->on_body is set */
	int started;	/* on_start ran (or would have) for this attempt */
	int cb_err;	/* -errno from a callback or the body cap */
	uint64_t bytes; /* body bytes received in this attempt */
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	struct bf_http_resp *r = x->resp;
	size_t len = size * n;
	long status = 0;

	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (100 Continue, or the final one). */
		bf_http_hdr_reset(r);
		return len;
	}
	if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &status);
		if (status < 200)
			return len;
		r->status = status;
		if (status >= 300 || !x->req->on_body)
			return len;
		x->streaming = 1;
		x->started = 1;
		if (x->req->on_start) {
			int rc = x->req->on_start(x->req->ud, r);

			if (rc) {
				x->cb_err = rc < 0 ? rc : -EIO;
				return 0; /* aborts with CURLE_WRITE_ERROR */
			}
		}
		return len;
	}
	bf_http_hdr_parse(r, p, len);
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	int rc;

	x->bytes += len;
	if (x->streaming) {
		rc = x->req->on_body(x->req->ud, p, len);
		if (rc) {
			x->cb_err = rc < 0 ? rc : -EIO;
			return 0;
		}
		x->resp->streamed += len;
		return len;
	}
	rc = bf_buf_append(&x->body, p, len);
	if (rc == -EFBIG && x->resp->status >= 400) {
		/* An error page only feeds a message: keep its head and let
		 * the reply be judged (and retried) on its status. */
		size_t room = x->body.max - x->body.len;

		if (room)
			bf_buf_append(&x->body, p, room < len ? room : len);
		return len;
	}
	if (rc) {
		x->cb_err = rc;
		return 0;
	}
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	(void)ud;
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return bf_cancelled();
}

static long min_pos(long a, long b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return a < b ? a : b;
}

/* Sets every option for one attempt; the handle was reset before. */
static int setup_attempt(struct bf_http *h, struct xfer *x,
			 struct curl_slist *hdrs, long remaining_ms,
			 char *errbuf)
{
	const struct bf_http_req *rq = x->req;
	const char *m = rq->method ? rq->method : "GET";
	CURL *c = x->c;
	long attempt_ms;

	/* Streams have no per-attempt limit: stall detection and the
	 * budget end them. */
	if (rq->timeout_ms > 0)
		attempt_ms = rq->timeout_ms;
	else if (rq->on_body)
		attempt_ms = 0;
	else
		attempt_ms = h->o.request_timeout_ms;
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 min_pos(h->o.connect_timeout_ms, remaining_ms));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 min_pos(attempt_ms, remaining_ms));
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->o.low_speed_secs);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 60L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 20L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, rq->recv_buffer > 0
							 ? rq->recv_buffer
							 : h->o.recv_buffer);
	/* Streams (media ranges) on HTTP/1.1: parallel ranges must each
	 * have a TCP connection of their own, never share one HTTP/2
	 * connection's window (gcsfuse's default too); the rest as curl
	 * likes (HTTP/2 over TLS where offered). */
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
			 rq->on_body ? (long)CURL_HTTP_VERSION_1_1
				     : (long)CURL_HTTP_VERSION_2TLS);
	/* Streams are byte ranges of stored objects: transcoding would
	 * shift offsets. JSON may come compressed. */
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING,
			 rq->on_body ? "identity" : "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "batchfs/" BATCHFS_VERSION);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	bf_http_tls_setup(h, c);
	if (rq->direct) /* "" also keeps libcurl from the environment's */
		curl_easy_setopt(c, CURLOPT_PROXY, "");
	/* A non-idempotent request gets its own connection: on a reused
	 * connection libcurl silently re-sends a request whose connection
	 * died before any reply byte, which would break "sent once". */
	if (rq->retry == BF_RETRY_NEVER)
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);

	if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(m, "GET") && !rq->body) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		if (strcmp(m, "POST"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
		if (rq->body || strcmp(m, "DELETE")) {
			/* POST/PUT/PATCH always carry a Content-Length,
			 * even when empty (GCS answers 411 otherwise). */
			curl_easy_setopt(
				c, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)(rq->body ? rq->body_len : 0));
			curl_easy_setopt(c, CURLOPT_POSTFIELDS,
					 rq->body ? rq->body : "");
		}
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	return 0;
}

/* Builds the header list for one attempt (headers may be rewritten by
 * on_retry between attempts, so this runs every time). */
static struct curl_slist *build_headers(const struct bf_http_req *rq,
					const char *token, const char *quota)
{
	struct curl_slist *l = NULL, *n;
	char line[4200];

#define ADD(s)                                                                 \
	do {                                                                   \
		n = curl_slist_append(l, (s));                                 \
		if (!n)                                                        \
			goto fail;                                             \
		l = n;                                                         \
	} while (0)

	ADD("Expect:");
	if (rq->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s",
			 rq->content_type);
		ADD(line);
	}
	for (const char *const *hp = rq->headers; hp && *hp; hp++)
		ADD(*hp);
	if (token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		ADD(line);
		explicit_bzero(line, sizeof(line));
		if (quota) {
			snprintf(line, sizeof(line), "x-goog-user-project: %s",
				 quota);
			ADD(line);
		}
	}
	return l;
#undef ADD
fail:
	explicit_bzero(line, sizeof(line));
	curl_slist_free_all(l);
	return NULL;
}

/* Frees a header list that may hold the Authorization line. */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (p->data && !strncasecmp(p->data, "Authorization:", 14))
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* Sleeps ms in slices, watching the cancel check. */
static int sleep_ms(long ms)
{
	return bf_sleep_ms_cancellable(ms, SLEEP_SLICE_MS) ? -EINTR : 0;
}

/* ---- the retry loop ----------------------------------------------------- */

/* Puts a formatted prefix in front of e->msg, truncating the old text. */
static void prefix_msg(struct bf_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void prefix_msg(struct bf_err *e, const char *fmt, ...)
{
	char tmp[sizeof(e->msg)];
	size_t pl, ml;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	pl = strlen(tmp);
	ml = strlen(e->msg);
	if (pl + ml >= sizeof(e->msg)) {
		ml = sizeof(e->msg) - 1 - pl;
		/* Do not cut a UTF-8 sequence in half. */
		while (ml && ((unsigned char)e->msg[ml] & 0xc0) == 0x80)
			ml--;
	}
	memmove(e->msg + pl, e->msg, ml);
	memcpy(e->msg, tmp, pl);
	e->msg[pl + ml] = '\0';
}

enum verdict { V_DONE, V_RETRY, V_FAIL };

struct call {
	struct bf_http *h;
	const struct bf_http_req *req;
	struct bf_http_resp *resp;
	struct bf_err *e;
	int64_t start, deadline;
	int auth_retried; /* refreshes after a 401, at most AUTH_RETRIES */
	char token[BF_TOKEN_MAX];
	int have_token;
	int last_rc; /* -errno of the last failed attempt */
};

static const char *method_of(const struct bf_http_req *rq)
{
	return rq->method ? rq->method : "GET";
}

/* Classifies a finished attempt; fills c->e and c->last_rc on failure. */
static enum verdict judge(struct call *c, struct xfer *x, CURLcode cc,
			  const char *errbuf, long sent_bytes)
{
	const struct bf_http_req *rq = c->req;
	struct bf_http_resp *r = c->resp;
	struct bf_err *e = c->e;
	int never = rq->retry == BF_RETRY_NEVER;
	char sane[512];

	bf_http_url_for_log(rq->url, sane, sizeof(sane));
	if (x->cb_err) {
		/* Our own callbacks or the body cap said stop: final. */
		if (x->cb_err == -EFBIG)
			c->last_rc = bf_err_set(
				e, EFBIG,
				"%s %s: reply body larger than %zu bytes",
				method_of(rq), sane, c->h->o.max_body);
		else
			c->last_rc = bf_err_set(
				e, -x->cb_err,
				"%s %s: stopped by the caller (%s)",
				method_of(rq), sane, strerror(-x->cb_err));
		e->http_status = r->status;
		return V_FAIL;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK && bf_cancelled()) {
		int why = bf_cancel_errno();

		c->last_rc = bf_err_set(
			e, why ? why : EINTR, "%s %s: %s", method_of(rq), sane,
			why == ETIMEDOUT ? "the request's deadline passed"
					 : "interrupted");
		return V_FAIL;
	}
	if (cc != CURLE_OK) {
		int err = bf_errno_from_curl(cc);
		const char *what = errbuf[0] ? errbuf : curl_easy_strerror(cc);
		char tlsmsg[400];

		if (bf_curl_cert_error(cc)) {
			bf_http_tls_explain(rq->url, what, tlsmsg,
					    sizeof(tlsmsg));
			what = tlsmsg;
		}

		if (r->status >= 200 && r->status < 300 && never)
			c->last_rc = bf_err_set(
				e, err,
				"%s %s: reply lost after HTTP %ld (the request "
				"took effect): %s",
				method_of(rq), sane, r->status, what);
		else if (never && sent_bytes > 0)
			c->last_rc =
				bf_err_set(e, err,
					   "%s %s: outcome unknown, the "
					   "request may have been applied: %s",
					   method_of(rq), sane, what);
		else
			c->last_rc = bf_err_set(e, err, "%s %s: %s",
						method_of(rq), sane, what);
		e->curl_code = cc;
		e->http_status = r->status;
		if (!bf_curl_retryable(cc))
			return V_FAIL;
		/* Nothing left the machine: even a one-shot request may go
		 * again, it was never sent. */
		if (never && sent_bytes > 0)
			return V_FAIL;
		if (x->started && !rq->on_retry)
			return V_FAIL; /* mid-body, caller cannot resume */
		return V_RETRY;
	}
	if (r->status >= 100 && r->status < 400)
		return V_DONE;

	/* An HTTP error reply. */
	c->last_rc = bf_err_from_reply(e, r->status, x->body.data, x->body.len);
	if (r->status == 401 && c->have_token &&
	    c->auth_retried < AUTH_RETRIES)
		return V_RETRY; /* rejected before any effect: safe */
	if (!bf_http_retryable(r->status))
		return V_FAIL;
	if (r->status == 429 && rq->retry == BF_RETRY_ONCE_429 &&
	    r->attempts >= 2)
		return V_FAIL;
	if (never) {
		prefix_msg(e, "outcome unknown (HTTP %ld, not retried): ",
			   r->status);
		return V_FAIL;
	}
	return V_RETRY;
}

static void trace(struct call *c, int attempts, int rc)
{
	char sane[512];

	if (!c->h->o.trace || !bf_log_enabled(BF_LOG_DEBUG))
		return;
	bf_http_url_for_log(c->req->url, sane, sizeof(sane));
	bf_log_debug("http %s %s -> %ld rc=%d (%d attempt%s, %lld ms)",
		     method_of(c->req), sane, c->resp->status, rc, attempts,
		     attempts == 1 ? "" : "s",
		     (long long)(bf_now_ms() - c->start));
}

/* Gets a token for this attempt; 0, or -errno with e filled. */
static int attach_token(struct call *c)
{
	int rc;

	c->have_token = 0;
	if (c->req->no_auth || !c->h->ts.token)
		return 0;
	rc = c->h->ts.token(c->h->ts.ud, c->token, sizeof(c->token), c->e);
	if (rc < 0)
		return rc;
	c->have_token = rc == 0 && c->token[0];
	return 0;
}

static int run_attempt(struct call *c, int attempt, enum verdict *v)
{
	struct bf_http *h = c->h;
	struct xfer x = {.req = c->req, .resp = c->resp};
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE] = "";
	long sent = 0, conns = 0, remaining;
	CURLcode cc;
	int rc;

	(void)attempt;
	rc = attach_token(c);
	if (rc < 0)
		return rc;
	remaining = (long)(c->deadline - bf_now_ms());
	if (remaining <= 0)
		return 1;
	hdrs = build_headers(c->req, c->have_token ? c->token : NULL,
			     c->h->ts.quota_project
				     ? c->h->ts.quota_project(c->h->ts.ud)
				     : NULL);
	x.c = bf_http_pool_get(h);
	if (!hdrs || !x.c) {
		free_headers(hdrs);
		bf_http_pool_put(h, x.c);
		return bf_err_set(c->e, ENOMEM, "out of memory for a request");
	}
	/* Committed to a new attempt: the previous one's error goes. */
	bf_err_clear(c->e);
	bf_buf_init(&x.body, h->o.max_body);
	bf_http_hdr_reset(c->resp);
	c->resp->status = 0;
	curl_easy_reset(x.c);
	setup_attempt(h, &x, hdrs, remaining, errbuf);
	bf_http_stat_add(&h->st.requests, 1);
	cc = curl_easy_perform(x.c);
	curl_easy_getinfo(x.c, CURLINFO_REQUEST_SIZE, &sent);
	curl_easy_getinfo(x.c, CURLINFO_NUM_CONNECTS, &conns);
	if (conns > 0)
		bf_http_stat_add(&h->st.connects, (uint64_t)conns);
	if (!c->resp->status)
		curl_easy_getinfo(x.c, CURLINFO_RESPONSE_CODE,
				  &c->resp->status);
	/* Drop our pointers to stack buffers before pooling the handle. */
	curl_easy_setopt(x.c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, NULL);
	bf_http_pool_put(h, x.c);
	free_headers(hdrs);
	bf_http_stat_add(&h->st.bytes_in, x.bytes);

	*v = judge(c, &x, cc, errbuf, sent);
	free(c->resp->body);
	c->resp->body_len = x.body.len;
	c->resp->body = x.streaming ? (bf_buf_free(&x.body), NULL)
				    : bf_buf_steal(&x.body);
	if (c->resp->body == NULL)
		c->resp->body_len = 0;
	return 0;
}

/* BF_RETRY_ONCE_429: the longest wait before its one retry of a 429. */
#define ONCE_429_WAIT_MS 5000L

/* Wait before the next attempt: jittered backoff, at least what the server
 * asked for. Returns 0, -EINTR, or 1 when the wait would overrun the
 * deadline (the caller then reports the last error). */
static int wait_before_retry(struct call *c, int retry_no)
{
	struct bf_http *h = c->h;
	long ms, hint, left;
	int rc;

	if (c->resp->status == 401)
		return 0;
	ms = bf_backoff_ms(retry_no, h->o.backoff_initial_ms,
			   h->o.backoff_cap_ms, bf_jitter01());
	hint = c->resp->retry_after_ms;
	if (c->resp->body && c->resp->body_len) {
		long ri =
			bf_err_retry_delay_ms(c->resp->body, c->resp->body_len);

		if (ri > hint)
			hint = ri;
	}
	if (hint > ms)
		ms = hint;
	left = (long)(c->deadline - bf_now_ms());
	if (c->req->retry == BF_RETRY_ONCE_429 && c->resp->status == 429 &&
	    ms > ONCE_429_WAIT_MS)
		left = ms; /* the caller shows its cache rather than wait */
	if (h->o.trace)
		bf_log_debug(
			"http retry %d after %s (status %ld): %s in %ld ms",
			retry_no + 1, c->e->msg, c->resp->status,
			ms >= left ? "giving up, budget too short" : "retrying",
			ms);
	if (ms >= left)
		return 1;
	rc = sleep_ms(ms);
	return rc;
}

int bf_http_do(struct bf_http *h, const struct bf_http_req *req,
	       struct bf_http_resp *resp, struct bf_err *e)
{
	struct bf_http_resp local;
	struct bf_err elocal;
	struct call *c;
	int attempts = 0, retries = 0, rc = 0, max_attempts;
	enum verdict v = V_FAIL;

	if (!resp)
		resp = &local;
	if (!e)
		e = &elocal;
	*resp = (struct bf_http_resp){.retry_after_ms = -1};
	bf_err_clear(e);
	if (!h || !req || !req->url)
		return bf_err_set(e, EINVAL, "bad HTTP request");
	if (bf_net_enter())
		return bf_err_set(e, EAGAIN,
				  "too many requests are waiting on the "
				  "network");
	c = calloc(1, sizeof(*c));
	if (!c) {
		bf_net_leave();
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	*c = (struct call){
		.h = h,
		.req = req,
		.resp = resp,
		.e = e,
		.start = bf_now_ms(),
	};
	c->deadline = c->start +
		      (req->budget_ms > 0 ? req->budget_ms : h->o.op_budget_ms);
	/* The request's own deadline caps the call: the listing and the job
	 * fetch of one lookup share it. */
	if (bf_req_deadline() && bf_req_deadline() < c->deadline)
		c->deadline = bf_req_deadline();
	max_attempts = h->o.max_attempts;

	for (;;) {
		if (bf_cancelled()) {
			if (bf_cancel_errno() == ETIMEDOUT)
				goto budget;
			bf_err_clear(e);
			rc = bf_err_set(e, EINTR, "interrupted");
			break;
		}
		attempts++;
		resp->attempts = attempts;
		rc = run_attempt(c, attempts, &v);
		if (rc < 0)
			break;
		if (rc > 0) { /* no time left to even start */
			rc = c->last_rc
				     ? c->last_rc
				     : bf_err_set(e, ETIMEDOUT, "no time left");
			attempts--;
			resp->attempts = attempts;
			goto budget;
		}
		if (v == V_DONE) {
			rc = 0;
			break;
		}
		rc = c->last_rc;
		if (v == V_FAIL)
			break;
		if (resp->status == 401 && c->have_token &&
		    c->auth_retried < AUTH_RETRIES) {
			/* The auth retry is extra, outside max_attempts. */
			c->auth_retried++;
			if (h->ts.invalidate)
				h->ts.invalidate(h->ts.ud, c->token);
			max_attempts++;
		}
		if (attempts >= max_attempts)
			break;
		if ((long)(c->deadline - bf_now_ms()) <= 0)
			goto budget;
		if (resp->status != 401) {
			int w = wait_before_retry(c, retries);

			if (w < 0 && bf_cancel_errno() == ETIMEDOUT)
				goto budget;
			if (w < 0) {
				bf_err_clear(e);
				rc = bf_err_set(
					e, EINTR,
					"interrupted while waiting to retry");
				break;
			}
			if (w > 0)
				goto budget;
		}
		if (req->on_retry) {
			int r = req->on_retry(req->ud, attempts + 1);

			if (r) {
				if (r < 0)
					rc = bf_err_set(e, -r,
							"resume refused: %s",
							strerror(-r));
				break;
			}
		}
		retries++;
		bf_http_stat_add(&h->st.retries, 1);
	}
	goto out_retried;
budget:
	/* The budget ran out: a timeout of our own if the last attempt timed
	 * out, else its real error (503 stays EIO, 429 stays EAGAIN). */
	if (!rc || rc == -ETIMEDOUT ||
	    e->curl_code == CURLE_OPERATION_TIMEDOUT) {
		e->err = ETIMEDOUT;
		if (c->deadline <= c->start)
			prefix_msg(e, "the request's deadline had passed%s",
				   e->msg[0] ? ": " : "");
		else
			prefix_msg(e,
				   "deadline of %ld ms exceeded after %d "
				   "attempt%s%s",
				   (long)(c->deadline - c->start), attempts,
				   attempts == 1 ? "" : "s",
				   e->msg[0] ? ": " : "");
		rc = -ETIMEDOUT;
		goto out;
	}
out_retried:
	if (attempts > 1 && rc < 0 && rc != -EINTR) {
		size_t l = strlen(e->msg);

		snprintf(e->msg + l, sizeof(e->msg) - l,
			 " (%d attempts, %lld ms)", attempts,
			 (long long)(bf_now_ms() - c->start));
	}
out:
	if (rc == 0 && v != V_DONE)
		rc = -EIO;
	if (rc < 0) {
		bf_http_stat_add(&h->st.failures, 1);
		if (!e->err)
			e->err = -rc;
	} else {
		bf_err_clear(e);
	}
	trace(c, attempts, rc);
	explicit_bzero(c->token, sizeof(c->token));
	free(c);
	bf_net_leave();
	if (resp == &local)
		bf_http_resp_free(&local);
	return rc;
}

int bf_http_json(struct bf_http *h, const char *method, const char *url,
		 const char *json_body, enum bf_retry retry,
		 struct bf_http_resp *resp, struct bf_err *e)
{
	struct bf_http_req req = {
		.method = method,
		.url = url,
		.body = json_body,
		.body_len = json_body ? strlen(json_body) : 0,
		.content_type = json_body ? "application/json" : NULL,
		.retry = retry,
	};
	static const char *const accept[] = {"Accept: application/json", NULL};

	req.headers = accept;
	return bf_http_do(h, &req, resp, e);
}
