/* http_cli.c - drives bf_http_do from the command line for the integration
 * tests (tests/core/test_http.py): performs the request described by argv
 * (optionally several times on one client) and prints one JSON line per
 * request with status, bytes, errno, attempts and elapsed ms.
 *
 *   http_cli [options] METHOD URL
 *     --body S  --content-type T  --header "N: v" (repeatable)
 *     --never  --stream  --resume  --range A-B  --out FILE
 *     --budget MS  --timeout MS  --connect-timeout MS  --low-speed S
 *     --attempts N  --backoff MS  --backoff-cap MS  --max-body N
 *     --repeat N  --auth-stub  --cancel-after MS  --trace
 *     --threads N (N threads x --repeat buffered requests on one client;
 *                  prints one summary line)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/http.h"
#include "batchfs/log.h"

/* --auth-stub: a fixed token that changes whenever it is invalidated, and
 * a count of invalidations. */
static int stub_invalidations;

static int stub_token(void *ud, char *out, size_t n, struct bf_err *e)
{
	(void)ud;
	(void)e;
	snprintf(out, n, "stub-token-%d",
		 __atomic_load_n(&stub_invalidations, __ATOMIC_RELAXED));
	return 0;
}

static void stub_invalidate(void *ud, const char *token)
{
	(void)ud;
	(void)token;
	__atomic_add_fetch(&stub_invalidations, 1, __ATOMIC_RELAXED);
}

static const struct bf_token_source stub_source = {
	.token = stub_token,
	.invalidate = stub_invalidate,
};

struct stream {
	FILE *out;
	long long start, end; /* requested range, -1 if none */
	uint64_t got;
	char range_hdr[96];
};

static int on_body(void *ud, const char *p, size_t n)
{
	struct stream *s = ud;

	if (s->out && fwrite(p, 1, n, s->out) != n)
		return -EIO;
	s->got += n;
	return 0;
}

static int on_retry(void *ud, int attempt)
{
	struct stream *s = ud;

	(void)attempt;
	if (s->start < 0)
		return 0;
	/* Resume after the bytes already delivered. */
	if (s->end >= 0)
		snprintf(s->range_hdr, sizeof(s->range_hdr),
			 "Range: bytes=%lld-%lld", s->start + (long long)s->got,
			 s->end);
	else
		snprintf(s->range_hdr, sizeof(s->range_hdr),
			 "Range: bytes=%lld-", s->start + (long long)s->got);
	return 0;
}

static int64_t cancel_at;
static int cancel_check(void *ud)
{
	(void)ud;
	return cancel_at && bf_now_ms() >= cancel_at;
}

struct worker {
	struct bf_http *h;
	const struct bf_http_req *req;
	int repeat, ok, failed, first_rc;
	char first_msg[512];
	pthread_t tid;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (int n = 0; n < w->repeat; n++) {
		struct bf_http_resp r;
		struct bf_err e;
		int rc = bf_http_do(w->h, w->req, &r, &e);

		if (rc) {
			if (!w->failed++) {
				w->first_rc = rc;
				snprintf(w->first_msg, sizeof(w->first_msg),
					 "%s", e.msg);
			}
		} else {
			w->ok++;
		}
		bf_http_resp_free(&r);
	}
	return NULL;
}

/* Many threads on one client: exercises the pool and the share locks. */
static int run_threads(struct bf_http *h, const struct bf_http_req *req,
		       int threads, int repeat)
{
	struct worker *w = calloc((size_t)threads, sizeof(*w));
	struct bf_http_stats s;
	int ok = 0, failed = 0, rc = 0;
	const char *msg = "";
	int64_t t0 = bf_now_ms();

	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){.h = h, .req = req, .repeat = repeat};
		pthread_create(&w[i].tid, NULL, work, &w[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].tid, NULL);
		ok += w[i].ok;
		failed += w[i].failed;
		if (w[i].failed && !rc) {
			rc = w[i].first_rc;
			msg = w[i].first_msg;
		}
	}
	bf_http_get_stats(h, &s);
	printf("{\"rc\":%d,\"ok\":%d,\"failed\":%d,\"ms\":%lld,"
	       "\"requests\":%llu,\"connects\":%llu,\"msg\":\"%s\"}\n",
	       rc, ok, failed, (long long)(bf_now_ms() - t0),
	       (unsigned long long)s.requests, (unsigned long long)s.connects,
	       rc ? "see stderr" : "");
	if (rc)
		fprintf(stderr, "first failure: %s\n", msg);
	free(w);
	return failed ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: http_cli [options] METHOD URL\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bf_http_opts o;
	struct bf_http *h;
	struct bf_http_req req = {0};
	struct stream st = {.start = -1, .end = -1};
	const char *headers[34] = {0};
	int nh = 0, repeat = 1, stream = 0, resume = 0, auth = 0, threads = 0;
	long cancel_after = 0;
	const char *out = NULL;
	int i, worst = 0;

	bf_http_opts_default(&o);
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define ARG(name) (!strcmp(a, name) && v && ++i)
		if (ARG("--body")) {
			req.body = v;
			req.body_len = strlen(v);
		} else if (ARG("--content-type")) {
			req.content_type = v;
		} else if (ARG("--header")) {
			if (nh < 32)
				headers[nh++] = v;
		} else if (!strcmp(a, "--never")) {
			req.retry = BF_RETRY_NEVER;
		} else if (!strcmp(a, "--stream")) {
			stream = 1;
		} else if (!strcmp(a, "--resume")) {
			stream = resume = 1;
		} else if (!strcmp(a, "--auth-stub")) {
			auth = 1;
		} else if (!strcmp(a, "--trace")) {
			o.trace = 1;
		} else if (ARG("--range")) {
			if (sscanf(v, "%lld-%lld", &st.start, &st.end) < 1)
				usage();
		} else if (ARG("--out")) {
			out = v;
		} else if (ARG("--budget")) {
			req.budget_ms = atol(v);
		} else if (ARG("--timeout")) {
			req.timeout_ms = atol(v);
		} else if (ARG("--connect-timeout")) {
			o.connect_timeout_ms = atol(v);
		} else if (ARG("--low-speed")) {
			o.low_speed_secs = atol(v);
		} else if (ARG("--attempts")) {
			o.max_attempts = atoi(v);
		} else if (ARG("--backoff")) {
			o.backoff_initial_ms = atol(v);
		} else if (ARG("--backoff-cap")) {
			o.backoff_cap_ms = atol(v);
		} else if (ARG("--max-body")) {
			o.max_body = (size_t)atoll(v);
		} else if (ARG("--threads")) {
			threads = atoi(v);
		} else if (ARG("--repeat")) {
			repeat = atoi(v);
		} else if (ARG("--cancel-after")) {
			cancel_after = atol(v);
		} else {
			usage();
		}
#undef ARG
	}
	if (argc - i != 2)
		usage();
	req.method = argv[i];
	req.url = argv[i + 1];

	bf_log_init(1, o.trace ? BF_LOG_DEBUG : BF_LOG_WARN);
	h = bf_http_new(&o);
	if (!h)
		return 1;
	if (auth)
		bf_http_set_token_source(h, &stub_source);
	if (st.start >= 0) {
		on_retry(&st, 0);
		headers[nh++] = st.range_hdr;
	}
	req.headers = headers;
	if (stream) {
		req.on_body = on_body;
		req.ud = &st;
		if (resume)
			req.on_retry = on_retry;
	}
	if (out) {
		st.out = fopen(out, "wb");
		if (!st.out)
			return 1;
	}

	if (threads > 0) {
		worst = run_threads(h, &req, threads, repeat);
		bf_http_free(h);
		return worst;
	}
	for (int n = 0; n < repeat; n++) {
		struct bf_http_resp r;
		struct bf_err e;
		struct bf_http_stats s;
		int64_t t0 = bf_now_ms();
		cJSON *j = cJSON_CreateObject();
		char *line;
		int rc;

		st.got = 0;
		if (st.start >= 0)
			on_retry(&st, 0);
		cancel_at = cancel_after ? t0 + cancel_after : 0;
		bf_cancel_set(cancel_after ? cancel_check : NULL, NULL);
		rc = bf_http_do(h, &req, &r, &e);
		bf_cancel_set(NULL, NULL);
		if (!stream && out && r.body && rc == 0)
			fwrite(r.body, 1, r.body_len, st.out);
		bf_http_get_stats(h, &s);
		cJSON_AddNumberToObject(j, "rc", rc);
		cJSON_AddStringToObject(
			j, "errno",
			rc ? (strerrorname_np(-rc) ? strerrorname_np(-rc) : "?")
			   : "");
		cJSON_AddNumberToObject(j, "status", (double)r.status);
		cJSON_AddNumberToObject(j, "attempts", r.attempts);
		cJSON_AddNumberToObject(j, "bytes", (double)r.body_len);
		cJSON_AddNumberToObject(j, "streamed", (double)r.streamed);
		cJSON_AddNumberToObject(j, "ms", (double)(bf_now_ms() - t0));
		cJSON_AddStringToObject(j, "msg", rc ? e.msg : "");
		cJSON_AddNumberToObject(j, "http_status",
					(double)e.http_status);
		cJSON_AddNumberToObject(j, "curl_code", e.curl_code);
		cJSON_AddStringToObject(j, "content_range", r.content_range);
		cJSON_AddStringToObject(j, "generation", r.generation);
		cJSON_AddNumberToObject(j, "retry_after_ms",
					(double)r.retry_after_ms);
		cJSON_AddNumberToObject(j, "invalidations",
					__atomic_load_n(&stub_invalidations,
							__ATOMIC_RELAXED));
		cJSON_AddNumberToObject(j, "requests", (double)s.requests);
		cJSON_AddNumberToObject(j, "retries", (double)s.retries);
		cJSON_AddNumberToObject(j, "failures", (double)s.failures);
		cJSON_AddNumberToObject(j, "bytes_in", (double)s.bytes_in);
		cJSON_AddNumberToObject(j, "connects", (double)s.connects);
		if (r.body && r.body_len < 4096)
			cJSON_AddStringToObject(j, "body", r.body);
		line = cJSON_PrintUnformatted(j);
		printf("%s\n", line);
		fflush(stdout);
		free(line);
		cJSON_Delete(j);
		bf_http_resp_free(&r);
		if (rc)
			worst = 1;
	}
	if (st.out)
		fclose(st.out);
	bf_http_free(h);
	return worst;
}
