/* test_http.c - unit tests for the pure parts of fs/http: the backoff
 * schedule, Retry-After parsing, URL encoding, header capture, log-safe
 * URLs, option defaults, the cancel check, proxy and CA settings. No
 * network.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batchfs/http.h"

#include "../../../fs/http/http_int.h"
#include "../check.h"

static void test_backoff(void)
{
	/* Ceilings: 1 s, 2 s, 4 s, ... capped at 30 s. */
	long want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};

	for (int a = 0; a < 8; a++) {
		CHECK_INT(bf_backoff_ms(a, 1000, 30000, 0.0), 0);
		CHECK_INT(bf_backoff_ms(a, 1000, 30000, 0.9999999), want[a]);
		CHECK(bf_backoff_ms(a, 1000, 30000, 0.5) <= want[a] / 2 + 1);
	}
	/* Every draw within [0, ceiling]. */
	for (int i = 0; i < 1000; i++) {
		double r = (double)rand() / ((double)RAND_MAX + 1.0);
		int a = i % 12;
		long v = bf_backoff_ms(a, 1000, 30000, r);

		CHECK(v >= 0 && v <= (a < 5 ? 1000L << a : 30000));
	}
	/* Huge attempt numbers do not overflow. */
	CHECK_INT(bf_backoff_ms(1000, 1000, 30000, 0.9999999), 30000);
	CHECK(bf_backoff_ms(63, 1L << 40, 1L << 50, 0.9999999) <= 1L << 50);
	CHECK(bf_backoff_ms(63, 1L << 40, 1L << 50, 0.9999999) > 1L << 49);
	/* Bad inputs are clamped. */
	CHECK_INT(bf_backoff_ms(-5, 1000, 30000, 0.9999999), 1000);
	CHECK_INT(bf_backoff_ms(0, 1000, 30000, 7.0), 1000);
	CHECK_INT(bf_backoff_ms(0, 1000, 30000, -1.0), 0);
	CHECK_INT(bf_backoff_ms(0, 0, 30000, 0.5), 0);
	CHECK_INT(bf_backoff_ms(3, 1000, 500, 0.9999999), 500);

	/* A default schedule of 5 attempts fits comfortably in 60 s. */
	{
		long worst = 0;

		for (int a = 0; a < 4; a++)
			worst += bf_backoff_ms(a, 1000, 30000, 0.9999999);
		CHECK(worst <= 15000);
	}
}

static void test_retry_after(void)
{
	long now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	CHECK_INT(bf_parse_retry_after("120", now), 120000);
	CHECK_INT(bf_parse_retry_after(" 3 ", now), 3000);
	CHECK_INT(bf_parse_retry_after("0", now), 0);
	CHECK_INT(bf_parse_retry_after("99999999999999999999999", now),
		  24L * 3600 * 1000);
	CHECK_INT(bf_parse_retry_after("-5", now), -1);
	CHECK_INT(bf_parse_retry_after("1.5", now), -1);
	CHECK_INT(bf_parse_retry_after("", now), -1);
	CHECK_INT(bf_parse_retry_after("soon", now), -1);
	CHECK_INT(bf_parse_retry_after(NULL, now), -1);
	CHECK_INT(bf_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
		  0);
	CHECK_INT(bf_parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
		  10000);
	CHECK_INT(bf_parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
		  60000);
	CHECK_INT(bf_parse_retry_after("Sun Nov  6 08:49:39 1994", now), 2000);
	/* In the past: retry now. */
	CHECK_INT(bf_parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
		  0);
	CHECK_INT(
		bf_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT junk", now),
		-1);
	CHECK_INT(bf_parse_retry_after("Sun, 32 Nov 1994 08:49:37 GMT", now),
		  -1);
}

static void enc(const char *in, const char *want)
{
	char *s = bf_url_encode(in);

	CHECK_STR(s, want);
	free(s);
}

static void test_urlenc(void)
{
	enc("a/b", "a%2Fb");
	enc("dir/sub dir/file.jsonl", "dir%2Fsub%20dir%2Ffile.jsonl");
	enc("a b", "a%20b");
	enc("x#y", "x%23y");
	enc("q?r", "q%3Fr");
	enc("100%", "100%25");
	enc("a+b", "a%2Bb");
	enc("é", "%C3%A9");
	enc("日本", "%E6%97%A5%E6%9C%AC");
	enc("AZaz09-._~", "AZaz09-._~");
	enc("&=:;,@!$'()*[]", "%26%3D%3A%3B%2C%40%21%24%27%28%29%2A%5B%5D");
	enc("\x01\x7f\xff", "%01%7F%FF");
	enc("", "");
	CHECK(bf_url_encode(NULL) == NULL);
}

static void hdr(struct bf_http_resp *r, const char *line)
{
	bf_http_hdr_parse(r, line, strlen(line));
}

static void test_headers(void)
{
	struct bf_http_resp r = {.retry_after_ms = -1};
	char big[300];

	hdr(&r, "Content-Range: bytes 0-99/1000\r\n");
	CHECK_STR(r.content_range, "bytes 0-99/1000");
	hdr(&r, "content-range:bytes 5-9/10   \r\n");
	CHECK_STR(r.content_range, "bytes 5-9/10");
	hdr(&r, "Range: bytes=0-262143\r\n");
	CHECK_STR(r.range, "bytes=0-262143");
	hdr(&r, "X-Goog-Generation: 1700000000000001\r\n");
	CHECK_STR(r.generation, "1700000000000001");
	hdr(&r, "x-goog-generation: 12ab\r\n");
	CHECK_STR(r.generation, "1700000000000001");
	hdr(&r, "x-goog-generation: 123456789012345678901234567890\r\n");
	CHECK_STR(r.generation, "");
	hdr(&r, "Location: http://127.0.0.1/upload?upload_id=x\r\n");
	CHECK_STR(r.location, "http://127.0.0.1/upload?upload_id=x");
	hdr(&r, "Retry-After: 7\r\n");
	CHECK_INT(r.retry_after_ms, 7000);
	hdr(&r, "Retry-After: nonsense\r\n");
	CHECK_INT(r.retry_after_ms, -1);
	hdr(&r, "no colon at all\r\n");
	hdr(&r, "Content-Rangex: nope\r\n");
	CHECK_STR(r.content_range, "bytes 5-9/10");
	/* An oversize value is dropped, not truncated. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "Content-Range: ", 15);
	big[sizeof(big) - 1] = '\0';
	hdr(&r, big);
	CHECK_STR(r.content_range, "");
	bf_http_hdr_reset(&r);
	CHECK(r.location == NULL);
	CHECK_STR(r.range, "");
	CHECK_INT(r.retry_after_ms, -1);
	bf_http_resp_free(&r);
}

static void test_url_for_log(void)
{
	char out[256];

	bf_http_url_for_log("http://h/p?a=1&access_token=SECRET&b=2", out,
			    sizeof(out));
	CHECK_STR(out, "http://h/p?a=1&access_token=***&b=2");
	bf_http_url_for_log("http://h/u?uploadType=resumable&upload_id=ABC",
			    out, sizeof(out));
	CHECK_STR(out, "http://h/u?uploadType=resumable&upload_id=***");
	bf_http_url_for_log("http://h/p", out, sizeof(out));
	CHECK_STR(out, "http://h/p");
	bf_http_url_for_log("http://h/p?key=K", out, sizeof(out));
	CHECK_STR(out, "http://h/p?key=***");
	bf_http_url_for_log("http://h/p?flag&x=", out, sizeof(out));
	CHECK_STR(out, "http://h/p?flag&x=");
	bf_http_url_for_log("http://h/very/long/path?key=SECRET", out, 12);
	CHECK(strlen(out) <= 11);
	CHECK(strstr(out, "SECRET") == NULL);
	bf_http_url_for_log(NULL, out, sizeof(out));
	CHECK_STR(out, "");
}

static int cancel_flag;
static int cancel_check(void *ud)
{
	return *(int *)ud;
}

static void test_misc(void)
{
	struct bf_http_opts o;
	struct bf_http *h;
	struct bf_http_stats st;
	struct bf_http_resp r;
	struct bf_err e;
	int64_t t0, t1;

	bf_http_opts_default(&o);
	CHECK_INT(o.connect_timeout_ms, 10000);
	CHECK_INT(o.request_timeout_ms, 30000);
	CHECK_INT(o.op_budget_ms, 60000);
	CHECK_INT(o.low_speed_secs, 20);
	CHECK_INT(o.max_attempts, 5);
	CHECK_INT(o.backoff_initial_ms, 1000);
	CHECK_INT(o.backoff_cap_ms, 30000);
	CHECK_INT(o.max_body, 32 << 20);
	CHECK_INT(o.recv_buffer, 512 << 10);

	t0 = bf_now_ms();
	{
		struct timespec ts = {0, 20 * 1000000L};

		nanosleep(&ts, NULL);
	}
	t1 = bf_now_ms();
	CHECK(t1 - t0 >= 19 && t1 - t0 < 1000);

	CHECK(!bf_cancelled());
	bf_cancel_set(cancel_check, &cancel_flag);
	CHECK(!bf_cancelled());
	cancel_flag = 1;
	CHECK(bf_cancelled());

	/* A cancelled thread never starts a request. */
	h = bf_http_new(NULL);
	CHECK(h != NULL);
	CHECK_INT(bf_http_json(h, "GET", "http://127.0.0.1:9/", NULL,
			       BF_RETRY_IDEMPOTENT, &r, &e),
		  -EINTR);
	CHECK_INT(e.err, EINTR);
	bf_http_resp_free(&r);
	bf_cancel_set(NULL, NULL);
	CHECK(!bf_cancelled());

	/* Bad requests. */
	CHECK_INT(
		bf_http_json(h, "GET", NULL, NULL, BF_RETRY_IDEMPOTENT, &r, &e),
		-EINVAL);
	bf_http_resp_free(&r);
	bf_http_get_stats(h, &st);
	CHECK_INT(st.requests, 0);
	bf_http_free(h);
	bf_http_free(NULL);
}

static int timed_out_check(void *ud)
{
	(void)ud;
	return ETIMEDOUT;
}

struct gate_arg {
	int rc;
	int64_t ms;
};

static void *gate_thread(void *p)
{
	struct gate_arg *a = p;
	int64_t t0 = bf_now_ms();

	bf_cancel_set(cancel_check, &cancel_flag);
	bf_req_limits(0, 1);
	a->rc = bf_net_enter();
	a->ms = bf_now_ms() - t0;
	if (a->rc == 0)
		bf_net_leave();
	bf_cancel_set(NULL, NULL);
	return NULL;
}

/* The request's limits: its deadline caps calls and reads as ETIMEDOUT;
 * the network gate admits max gated threads, ungated ones always. */
static void test_request_limits(void)
{
	struct bf_http *h = bf_http_new(NULL);
	struct bf_http_resp r;
	struct bf_err e;

	CHECK_INT(bf_cancel_errno(), 0);
	bf_cancel_set(cancel_check, &cancel_flag);
	cancel_flag = 0;
	bf_req_limits(bf_now_ms() - 1, 0);
	CHECK(bf_cancelled());
	CHECK_INT(bf_cancel_errno(), ETIMEDOUT);
	/* A call whose request's deadline has passed is not made. */
	CHECK_INT(bf_http_json(h, "GET", "http://127.0.0.1:9/", NULL,
			       BF_RETRY_IDEMPOTENT, &r, &e),
		  -ETIMEDOUT);
	CHECK_INT(e.err, ETIMEDOUT);
	bf_http_resp_free(&r);
	cancel_flag = 1;
	CHECK_INT(bf_cancel_errno(), EINTR); /* an interrupt comes first */
	cancel_flag = 0;
	/* A check may say why: ETIMEDOUT (a READ of the file timed out). */
	bf_cancel_set(timed_out_check, NULL);
	CHECK_INT(bf_cancel_errno(), ETIMEDOUT);
	/* Clearing the check clears the limits. */
	bf_cancel_set(NULL, NULL);
	CHECK(!bf_cancelled());
	CHECK_INT(bf_req_deadline(), 0);

	bf_net_gate_set(2, 0);
	CHECK_INT(bf_net_enter(), 0); /* ungated: no place taken */
	bf_net_leave();
	CHECK_INT(bf_net_inside(), 0);
	bf_cancel_set(cancel_check, &cancel_flag);
	bf_req_limits(0, 1);
	CHECK_INT(bf_net_enter(), 0);
	CHECK_INT(bf_net_enter(), 0); /* nested: counts once */
	CHECK_INT(bf_net_inside(), 1);
	bf_net_leave();
	bf_net_leave();
	CHECK_INT(bf_net_inside(), 0);
	/* Full: a call is not made, -EAGAIN at once. */
	bf_net_gate_set(1, 0);
	CHECK_INT(bf_net_enter(), 0);
	{
		struct gate_arg g = {0};
		pthread_t t;

		pthread_create(&t, NULL, gate_thread, &g);
		pthread_join(t, NULL);
		CHECK_INT(g.rc, -EAGAIN);
	}
	bf_net_leave();
	CHECK_INT(bf_net_inside(), 0);
	bf_net_gate_set(0, 0);
	bf_cancel_set(NULL, NULL);
	bf_http_free(h);
}

/* With the gate full, one more waits (up to 2 s) and gets the place freed
 * meanwhile; past the queue, -EAGAIN at once. */
static void test_gate_queue(void)
{
	struct gate_arg a = {0}, b = {0};
	pthread_t ta, tb;
	struct timespec ts = {0, 300 * 1000000L};

	cancel_flag = 0;
	bf_net_gate_set(1, 1);
	bf_cancel_set(cancel_check, &cancel_flag);
	bf_req_limits(0, 1);
	CHECK_INT(bf_net_enter(), 0);
	pthread_create(&ta, NULL, gate_thread, &a);
	nanosleep(&ts, NULL); /* a is queued now */
	pthread_create(&tb, NULL, gate_thread, &b);
	pthread_join(tb, NULL);
	CHECK_INT(b.rc, -EAGAIN);
	CHECK(b.ms < 200);
	bf_net_leave(); /* a gets the place */
	pthread_join(ta, NULL);
	CHECK_INT(a.rc, 0);
	CHECK(a.ms >= 250 && a.ms < 2000);
	CHECK_INT(bf_net_inside(), 0);
	bf_cancel_set(NULL, NULL);
	bf_net_gate_set(0, 0);
}

/* A throwaway self-signed CA certificate (its key was discarded). */
static const char TEST_CA_PEM[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBljCCATugAwIBAgIUevcif1PyWSIvs6j79//0/VikH7owCgYIKoZIzj0EAwIw\n"
	"HzEdMBsGA1UEAwwUYmF0Y2hmcyB1bml0IHRlc3QgQ0EwIBcNMjYxMjAzMTEwODMz\n"
	"WhgPMjEyNjExMDkxMTA4MzNaMB8xHTAbBgNVBAMMFGJhdGNoZnMgdW5pdCB0ZXN0\n"
	"IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/GunH8ssorfDgQnHN6XuogR+\n"
	"3FjVBXIBWBYhZa0shXvqTlqS+HsnVl5xytWXl+MOk7JxLrTOYlsmr4owy9t1fKNT\n"
	"MFEwHQYDVR0OBBYEFKE1fusghzJu0RNXI2N4LXS2naK9MB8GA1UdIwQYMBaAFKE1\n"
	"fusghzJu0RNXI2N4LXS2naK9MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n"
	"SQAwRgIhAJsWSX0GrLyGqQvDgB/36meIeALyAKSRnL5EcxBm1flNAiEAiazVQFC4\n"
	"41KdV7s/jR9StPU3k6pycUmIFrJvyfvvG8I=\n"
	"-----END CERTIFICATE-----\n";

/* Proxy and CA settings: the raw GET (splice path) refuses when a proxy is
 * set, since libcurl would have used it; CA files are checked up front. */
static void test_proxy_and_ca(void)
{
	struct bf_http *h = bf_http_new(NULL);
	struct bf_rawget g;
	struct bf_err e;
	char path[] = "/tmp/bf-test-ca-XXXXXX";
	int fd;

	CHECK(h != NULL);
	CHECK_INT(bf_http_set_proxy(h, "http://127.0.0.1:9", NULL), 0);
	CHECK_INT(bf_http_rawget(h, "http://127.0.0.1:9/o", NULL, 0, &g, &e),
		  -EPROTONOSUPPORT);
	CHECK(strstr(e.msg, "proxy") != NULL);
	CHECK_INT(bf_http_set_proxy(h, NULL, NULL), 0);
	/* Without it the raw GET dials (port 9: nothing listens). */
	CHECK(bf_http_rawget(h, "http://127.0.0.1:9/o", NULL, 0, &g, &e) !=
	      -EPROTONOSUPPORT);

	CHECK_INT(bf_http_set_cafile(h, NULL, "-o cafile", &e), 0);
	CHECK_INT(bf_http_set_cafile(h, "/nonexistent/ca.pem", "-o cafile", &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "/nonexistent/ca.pem") != NULL);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, "not a certificate\n", 18) == 18);
		close(fd);
		CHECK_INT(bf_http_set_cafile(h, path, "SSL_CERT_FILE", &e),
			  -EINVAL);
		CHECK(strstr(e.msg, "SSL_CERT_FILE") != NULL);
		/* Two certificates (a bundle), then a second file replaces
		 * the first list: no leak under valgrind. */
		fd = open(path, O_WRONLY | O_TRUNC);
		CHECK(fd >= 0);
		CHECK(write(fd, TEST_CA_PEM, strlen(TEST_CA_PEM)) ==
		      (ssize_t)strlen(TEST_CA_PEM));
		CHECK(write(fd, TEST_CA_PEM, strlen(TEST_CA_PEM)) ==
		      (ssize_t)strlen(TEST_CA_PEM));
		close(fd);
		CHECK_INT(bf_http_set_cafile(h, path, "-o cafile", &e), 0);
		CHECK_INT(bf_http_set_cafile(h, path, "-o cafile", &e), 0);
		unlink(path);
	}
	bf_http_free(h);

	CHECK(bf_curl_cert_error(60)); /* CURLE_PEER_FAILED_VERIFICATION */
	CHECK(bf_curl_cert_error(77)); /* CURLE_SSL_CACERT_BADFILE */
	CHECK(!bf_curl_cert_error(35)); /* handshake failed: retried */
	CHECK(!bf_curl_retryable(60));
	CHECK_INT(bf_errno_from_curl(60), EIO);
}

int main(void)
{
	test_backoff();
	test_retry_after();
	test_urlenc();
	test_headers();
	test_url_for_log();
	test_misc();
	test_request_limits();
	test_gate_queue();
	test_proxy_and_ca();
	return CHECK_DONE();
}
