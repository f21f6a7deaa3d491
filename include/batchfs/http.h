/* http.h - the only code that talks HTTP: libcurl with shared connections,
 * deadlines, bounded jittered retries, auth headers and the error envelope.
 *
 * Retries: 408, 429, 5xx and transport errors, exponential backoff with full
 * jitter (initial 1 s, x2, cap 30 s), at most max_attempts, never past the
 * operation budget; Retry-After and RetryInfo are honoured (still inside the
 * budget). A 401 makes the token source drop its token and the call is
 * retried with a fresh one, twice at most (as google-auth does).
 * Non-idempotent requests (BF_RETRY_NEVER) are never re-sent: a lost reply
 * is reported as such so the caller can reconcile.
 */
#ifndef BATCHFS_HTTP_H
#define BATCHFS_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "batchfs/err.h"

struct bf_http;

struct bf_http_opts {
	long connect_timeout_ms;  /* 10000 */
	long request_timeout_ms;  /* one attempt of a buffered call: 30000 */
	long op_budget_ms;	  /* whole call, retries included: 60000 */
	long low_speed_secs;	  /* stall: below 1 byte/s for this long: 20 */
	int max_attempts;	  /* 5 */
	long backoff_initial_ms;  /* 1000 */
	long backoff_cap_ms;	  /* 30000 */
	size_t max_body;	  /* cap on buffered bodies: 32 MiB */
	long recv_buffer;	  /* CURLOPT_BUFFERSIZE: 512 KiB */
	int trace;		  /* log each request (redacted) at debug level */
};
void bf_http_opts_default(struct bf_http_opts *o);

/* Calls curl_global_init on first use; call from main before threads. */
struct bf_http *bf_http_new(const struct bf_http_opts *o);
/* Where authorized calls get their token. The HTTP layer never calls the
 * auth layer above it: whoever builds the client passes one of these
 * (bf_auth_token_source makes one from a struct bf_auth). */
struct bf_token_source {
	/* 0 with the token (no "Bearer ") in out, 1 to send none, or -errno
	 * with e filled. */
	int (*token)(void *ud, char *out, size_t n, struct bf_err *e);
	/* The server refused token (401): drop it. May be NULL. */
	void (*invalidate)(void *ud, const char *token);
	/* Sent as x-goog-user-project beside a token, or NULL. May be NULL. */
	const char *(*quota_project)(void *ud);
	void *ud;
};
/* Copies *ts; NULL (or a NULL token) sends no Authorization. Call before
 * the first request. */
void bf_http_set_token_source(struct bf_http *h,
			      const struct bf_token_source *ts);
/* Trusts the CA certificates in the PEM file path in addition to the
 * system's (fs/http/tls.c says why not instead); what names where the path
 * came from, for messages ("-o cafile", "CURL_CA_BUNDLE"). NULL or "" is a
 * no-op. -errno with e filled when the file cannot be read or holds no
 * certificate. Call before the first request. */
int bf_http_set_cafile(struct bf_http *h, const char *path, const char *what,
		       struct bf_err *e);
/* A proxy for every request (CURLOPT_PROXY, e.g. "http://proxy:3128") and
 * hosts that bypass it (CURLOPT_NOPROXY); NULL leaves libcurl's defaults,
 * the https_proxy, http_proxy, all_proxy and no_proxy variables. With a
 * proxy set, bf_http_rawget refuses (libcurl would have used it). */
int bf_http_set_proxy(struct bf_http *h, const char *proxy,
		      const char *noproxy);
void bf_http_free(struct bf_http *h);

enum bf_retry {
	BF_RETRY_IDEMPOTENT = 0, /* default: retry per the policy above */
	BF_RETRY_NEVER = 1,	 /* send once; ambiguity is the caller's problem */
	/* Idempotent, but a 429 is retried once only, after a wait of at most
	 * 5 s: for callers that keep a budget of their own and have a cached
	 * answer to show meanwhile. */
	BF_RETRY_ONCE_429 = 2,
};

struct bf_http_resp;

struct bf_http_req {
	const char *method; /* NULL = GET */
	const char *url;
	const char *body; /* may be NULL */
	size_t body_len;
	const char *content_type;
	const char *const *headers; /* extra "Name: value", NULL-terminated */
	int no_auth;		    /* do not attach Authorization */
	int direct; /* never through a proxy: the link-local metadata server */
	enum bf_retry retry;
	long timeout_ms; /* per attempt; 0 = opts (streams: none, stall only) */
	long budget_ms;	 /* whole call; 0 = opts */
	long recv_buffer; /* CURLOPT_BUFFERSIZE; 0 = opts */

	/* Streaming. When on_body is set, a 2xx body is handed over in chunks
	 * instead of being buffered; return 0 to go on or -errno to stop.
	 * on_start sees status and headers first and may refuse (-errno).
	 * After a failure mid-body the call is retried only when on_retry is
	 * set: it runs before each new attempt so the caller can rewrite the
	 * headers it owns (e.g. Range) to resume; nonzero return stops. */
	int (*on_start)(void *ud, const struct bf_http_resp *resp);
	int (*on_body)(void *ud, const char *p, size_t n);
	int (*on_retry)(void *ud, int attempt);
	void *ud;
};

struct bf_http_resp {
	long status;	   /* final HTTP status, 0 if none arrived */
	char *body;	   /* buffered body (NUL-terminated), error bodies too */
	size_t body_len;
	char content_range[96];
	char range[96];	   /* "Range" reply header (resumable 308) */
	char *location;	   /* "Location" reply header */
	char generation[24]; /* x-goog-generation */
	long retry_after_ms; /* -1 if absent */
	int attempts;
	uint64_t streamed;   /* bytes handed to on_body, all attempts */
};
void bf_http_resp_free(struct bf_http_resp *r);

/* Performs the request. Returns 0 when the final status is 1xx-3xx
 * (check resp->status), otherwise -errno with e filled from the reply's
 * error envelope or the transport error. -EINTR if the thread's cancel
 * check fired, -ETIMEDOUT when the budget ran out. resp may be NULL. */
int bf_http_do(struct bf_http *h, const struct bf_http_req *req,
	       struct bf_http_resp *resp, struct bf_err *e);

/* A GET over plain http:// whose 2xx body is left in the socket, to be
 * spliced rather than copied (fs/http/rawget.c). One attempt, no retry,
 * no redirect; -EPROTONOSUPPORT for https or when a proxy is configured:
 * callers fall back to bf_http_do. On 0, resp.status and the tracked
 * headers are set, pre[0..pre_len) holds body bytes that arrived with the
 * headers and fd is the socket, positioned after them. rcvbuf > 0 sets
 * SO_RCVBUF (bytes the kernel may hold ahead of the reader). */
#define BF_RAWGET_HEAD 16384
struct bf_rawget {
	int fd;
	struct bf_http_resp resp;
	uint64_t length; /* Content-Length, UINT64_MAX if absent */
	char *pre;
	size_t pre_len;
};
int bf_http_rawget(struct bf_http *h, const char *url,
		   const char *const *headers, int rcvbuf, struct bf_rawget *g,
		   struct bf_err *e);
void bf_rawget_close(struct bf_rawget *g);
/* Counts body bytes that bypassed libcurl in bf_http_stats.bytes_in. */
void bf_http_count_in(struct bf_http *h, uint64_t n);

/* Convenience: buffered JSON call (body may be NULL). */
int bf_http_json(struct bf_http *h, const char *method, const char *url,
		 const char *json_body, enum bf_retry retry,
		 struct bf_http_resp *resp, struct bf_err *e);

/* Interruption. The FUSE glue sets a per-thread check before calling into
 * the core; a nonzero return aborts transfers and backoff sleeps with
 * -EINTR. NULL clears it. */
/* A check returns 0, or nonzero to stop (ETIMEDOUT: stop as timed out). */
typedef int (*bf_cancel_fn)(void *ud);
/* Setting NULL also clears the request limits below. */
void bf_cancel_set(bf_cancel_fn fn, void *ud);
/* Nonzero when the check fired or the request's deadline has passed. */
int bf_cancelled(void);
/* Why bf_cancelled() is true: EINTR (the check fired), ETIMEDOUT (the
 * deadline passed), or 0. */
int bf_cancel_errno(void);

/* The calling thread's request: an absolute deadline (bf_now_ms; 0 for
 * none) that caps every call's budget and every wait it makes, and
 * whether the thread takes a place in the network gate (FUSE workers). */
void bf_req_limits(int64_t deadline_ms, int gated);
int64_t bf_req_deadline(void);

/* The network gate: at most max gated threads wait on the network at once
 * (0: no limit), and when it is full at most queue more wait up to 2 s for
 * a place. bf_net_enter is 0 (inside, leave with bf_net_leave) or -EAGAIN;
 * ungated threads always get in. bf_http_do enters by itself; the model
 * enters before waiting on another thread's network call. */
void bf_net_gate_set(int max, int queue);
int bf_net_enter(void);
void bf_net_leave(void);
int bf_net_inside(void); /* how many are inside now (tests, logs) */

/* Backoff schedule used by the retry loop (exposed for tests and for
 * callers with their own loops): full jitter in [0, min(cap, initial*2^n)].
 * rnd is a value in [0, 1). */
long bf_backoff_ms(int attempt, long initial_ms, long cap_ms, double rnd);

/* Parses Retry-After (delta-seconds or HTTP-date) into ms; -1 if invalid. */
long bf_parse_retry_after(const char *value, long now_s);

/* Monotonic clock in ms. */
int64_t bf_now_ms(void);

/* Percent-encoding. path_segment: everything outside RFC 3986 unreserved is
 * encoded, '/' included. query: same set (space as %20, '+' as %2B).
 * Caller frees. */
char *bf_url_encode(const char *s);

/* Counters since start, for benchmarks and SIGUSR1 dumps. */
struct bf_http_stats {
	uint64_t requests, retries, failures, bytes_in;
	uint64_t connects; /* new connections opened (reuse = fewer) */
};
void bf_http_get_stats(struct bf_http *h, struct bf_http_stats *s);

#endif
