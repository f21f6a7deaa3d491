/* test_util.c - unit tests for fs/util: the errno table, the error
 * envelope parser fed hostile input, redaction, buffers and the log sink.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/log.h"

#include "../check.h"

static void test_http_table(void)
{
	CHECK_INT(bf_errno_from_http(200, NULL), 0);
	CHECK_INT(bf_errno_from_http(204, NULL), 0);
	CHECK_INT(bf_errno_from_http(308, NULL), 0);
	CHECK_INT(bf_errno_from_http(400, NULL), EINVAL);
	CHECK_INT(bf_errno_from_http(400, "INVALID_ARGUMENT"), EINVAL);
	CHECK_INT(bf_errno_from_http(400, "FAILED_PRECONDITION"), EBUSY);
	CHECK_INT(bf_errno_from_http(400, "OUT_OF_RANGE"), ERANGE);
	CHECK_INT(bf_errno_from_http(400, "NO_SUCH_NAME"), EINVAL);
	CHECK_INT(bf_errno_from_http(401, NULL), EACCES);
	CHECK_INT(bf_errno_from_http(403, NULL), EACCES);
	CHECK_INT(bf_errno_from_http(403, "PERMISSION_DENIED"), EACCES);
	CHECK_INT(bf_errno_from_http(403, "RESOURCE_EXHAUSTED"), EAGAIN);
	CHECK_INT(bf_errno_from_http(404, NULL), ENOENT);
	/* A specific status wins over a contradicting name. */
	CHECK_INT(bf_errno_from_http(404, "INVALID_ARGUMENT"), ENOENT);
	CHECK_INT(bf_errno_from_http(408, NULL), ETIMEDOUT);
	CHECK_INT(bf_errno_from_http(409, NULL), EEXIST);
	CHECK_INT(bf_errno_from_http(409, "ALREADY_EXISTS"), EEXIST);
	CHECK_INT(bf_errno_from_http(409, "ABORTED"), EAGAIN);
	CHECK_INT(bf_errno_from_http(410, NULL), ENOENT);
	CHECK_INT(bf_errno_from_http(412, NULL), ESTALE);
	CHECK_INT(bf_errno_from_http(412, "FAILED_PRECONDITION"), ESTALE);
	CHECK_INT(bf_errno_from_http(413, NULL), EFBIG);
	CHECK_INT(bf_errno_from_http(416, NULL), ERANGE);
	CHECK_INT(bf_errno_from_http(429, NULL), EAGAIN);
	CHECK_INT(bf_errno_from_http(499, NULL), ECANCELED);
	CHECK_INT(bf_errno_from_http(500, NULL), EIO);
	CHECK_INT(bf_errno_from_http(501, NULL), EOPNOTSUPP);
	CHECK_INT(bf_errno_from_http(502, NULL), EIO);
	CHECK_INT(bf_errno_from_http(503, "UNAVAILABLE"), EIO);
	CHECK_INT(bf_errno_from_http(504, NULL), ETIMEDOUT);
	CHECK_INT(bf_errno_from_http(418, NULL), EIO);
	CHECK_INT(bf_errno_from_http(0, NULL), EIO);
	CHECK_INT(bf_errno_from_http(-7, NULL), EIO);
	CHECK_INT(bf_errno_from_http(99999, NULL), EIO);

	CHECK(bf_http_retryable(408));
	CHECK(bf_http_retryable(429));
	CHECK(bf_http_retryable(500));
	CHECK(bf_http_retryable(502));
	CHECK(bf_http_retryable(503));
	CHECK(bf_http_retryable(504));
	CHECK(!bf_http_retryable(501));
	CHECK(!bf_http_retryable(400));
	CHECK(!bf_http_retryable(401));
	CHECK(!bf_http_retryable(404));
	CHECK(!bf_http_retryable(412));
	CHECK(!bf_http_retryable(200));
}

static void test_curl_table(void)
{
	CHECK_INT(bf_errno_from_curl(CURLE_OK), 0);
	CHECK_INT(bf_errno_from_curl(CURLE_OPERATION_TIMEDOUT), ETIMEDOUT);
	CHECK_INT(bf_errno_from_curl(CURLE_COULDNT_CONNECT), EIO);
	CHECK_INT(bf_errno_from_curl(CURLE_COULDNT_RESOLVE_HOST), EIO);
	CHECK_INT(bf_errno_from_curl(CURLE_RECV_ERROR), EIO);
	CHECK_INT(bf_errno_from_curl(CURLE_GOT_NOTHING), EIO);
	CHECK_INT(bf_errno_from_curl(CURLE_PARTIAL_FILE), EIO);
	CHECK_INT(bf_errno_from_curl(CURLE_ABORTED_BY_CALLBACK), EINTR);
	CHECK_INT(bf_errno_from_curl(CURLE_URL_MALFORMAT), EINVAL);
	CHECK_INT(bf_errno_from_curl(CURLE_OUT_OF_MEMORY), ENOMEM);
	CHECK_INT(bf_errno_from_curl(CURLE_FILESIZE_EXCEEDED), EFBIG);
	CHECK_INT(bf_errno_from_curl(9999), EIO);
	/* A network failure is never ENOENT. */
	for (int c = 1; c < CURL_LAST; c++)
		CHECK(bf_errno_from_curl(c) != ENOENT);

	CHECK(bf_curl_retryable(CURLE_COULDNT_CONNECT));
	CHECK(bf_curl_retryable(CURLE_COULDNT_RESOLVE_HOST));
	CHECK(bf_curl_retryable(CURLE_OPERATION_TIMEDOUT));
	CHECK(bf_curl_retryable(CURLE_SEND_ERROR));
	CHECK(bf_curl_retryable(CURLE_RECV_ERROR));
	CHECK(bf_curl_retryable(CURLE_GOT_NOTHING));
	CHECK(bf_curl_retryable(CURLE_PARTIAL_FILE));
	CHECK(bf_curl_retryable(CURLE_SSL_CONNECT_ERROR));
	CHECK(!bf_curl_retryable(CURLE_OK));
	CHECK(!bf_curl_retryable(CURLE_URL_MALFORMAT));
	CHECK(!bf_curl_retryable(CURLE_ABORTED_BY_CALLBACK));
	CHECK(!bf_curl_retryable(CURLE_WRITE_ERROR));
}

static void test_grpc_table(void)
{
	static const struct {
		int code, err;
		long http;
		const char *name;
	} rows[] = {
		{0, 0, 200, "OK"},
		{1, ECANCELED, 499, "CANCELLED"},
		{2, EIO, 500, "UNKNOWN"},
		{3, EINVAL, 400, "INVALID_ARGUMENT"},
		{4, ETIMEDOUT, 504, "DEADLINE_EXCEEDED"},
		{5, ENOENT, 404, "NOT_FOUND"},
		{6, EEXIST, 409, "ALREADY_EXISTS"},
		{7, EACCES, 403, "PERMISSION_DENIED"},
		{8, EAGAIN, 429, "RESOURCE_EXHAUSTED"},
		{9, EBUSY, 400, "FAILED_PRECONDITION"},
		{10, EAGAIN, 409, "ABORTED"},
		{11, ERANGE, 400, "OUT_OF_RANGE"},
		{12, EOPNOTSUPP, 501, "UNIMPLEMENTED"},
		{13, EIO, 500, "INTERNAL"},
		{14, EIO, 503, "UNAVAILABLE"},
		{15, EIO, 500, "DATA_LOSS"},
		{16, EACCES, 401, "UNAUTHENTICATED"},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK_INT(bf_errno_from_grpc(rows[i].code), rows[i].err);
		CHECK_INT(bf_http_from_grpc(rows[i].code), rows[i].http);
		CHECK_STR(bf_grpc_name(rows[i].code), rows[i].name);
		CHECK_INT(bf_grpc_from_name(rows[i].name), rows[i].code);
	}
	CHECK_INT(bf_grpc_from_name("CANCELED"), 1);
	CHECK_INT(bf_grpc_from_name("nope"), -1);
	CHECK_INT(bf_grpc_from_name(NULL), -1);
	CHECK_INT(bf_errno_from_grpc(17), EIO);
	CHECK_INT(bf_errno_from_grpc(-1), EIO);
	CHECK_STR(bf_grpc_name(99), "UNKNOWN");
	CHECK_INT(bf_http_from_grpc(1000), 500);
}

static int from(long st, const char *body, struct bf_err *e)
{
	return bf_err_from_reply(e, st, body, body ? strlen(body) : 0);
}

static void test_envelope(void)
{
	struct bf_err e;
	char out[700];

	CHECK_INT(from(404,
		       "{\"error\":{\"code\":404,\"message\":\"Job x not "
		       "found.\",\"status\":\"NOT_FOUND\"}}",
		       &e),
		  -ENOENT);
	CHECK_INT(e.err, ENOENT);
	CHECK_INT(e.http_status, 404);
	CHECK_STR(e.status, "NOT_FOUND");
	CHECK_STR(e.msg, "Job x not found.");
	bf_err_format(&e, out, sizeof(out));
	CHECK_STR(out, "NOT_FOUND: Job x not found.");

	/* One-element array (some Google front ends). */
	CHECK_INT(from(400,
		       "[{\"error\":{\"code\":400,\"message\":\"m\",\"status\":"
		       "\"FAILED_PRECONDITION\"}}]",
		       &e),
		  -EBUSY);
	CHECK_STR(e.status, "FAILED_PRECONDITION");

	/* GCS form: errors[] and no status. */
	CHECK_INT(from(404,
		       "{\"error\":{\"code\":404,\"message\":\"No such object: "
		       "b/"
		       "o\",\"errors\":[{\"domain\":\"global\",\"reason\":"
		       "\"notFound\",\"message\":\"No such object: b/o\"}]}}",
		       &e),
		  -ENOENT);
	CHECK_STR(e.status, "");
	CHECK_STR(e.msg, "No such object: b/o (notFound)");
	bf_err_format(&e, out, sizeof(out));
	CHECK_STR(out, "HTTP 404: No such object: b/o (notFound)");

	/* GCS without a top-level message. */
	from(412, "{\"error\":{\"errors\":[{\"message\":\"Precondition\"}]}}",
	     &e);
	CHECK_INT(e.err, ESTALE);
	CHECK_STR(e.msg, "Precondition");

	/* OAuth form. */
	CHECK_INT(from(400,
		       "{\"error\":\"invalid_grant\",\"error_description\":"
		       "\"Invalid JWT Signature.\"}",
		       &e),
		  -EINVAL);
	CHECK_STR(e.msg, "invalid_grant: Invalid JWT Signature.");

	/* Wrong types everywhere: nothing trusted, still a sane error. */
	from(503,
	     "{\"error\":{\"code\":\"503\",\"message\":17,\"status\":[1],"
	     "\"details\":\"x\",\"errors\":{}}}",
	     &e);
	CHECK_INT(e.err, EIO);
	CHECK_INT(e.http_status, 503);
	CHECK_STR(e.status, "");
	CHECK(e.msg[0] != '\0');
	from(500, "{\"error\":[]}", &e);
	CHECK_INT(e.err, EIO);
	from(500, "{\"error\":null}", &e);
	CHECK_INT(e.err, EIO);
	from(500, "[]", &e);
	CHECK_INT(e.err, EIO);
	from(500, "[1,2]", &e);
	CHECK_INT(e.err, EIO);
	from(500, "\"just a string\"", &e);
	CHECK_INT(e.err, EIO);
	from(400, "{\"error\":{\"status\":\"NOT_A_REAL_STATUS\"}}", &e);
	CHECK_STR(e.status, "");
	CHECK_INT(e.err, EINVAL);

	/* Huge numbers in code: ignored, the HTTP status rules. */
	from(429, "{\"error\":{\"code\":1e400,\"message\":\"q\"}}", &e);
	CHECK_INT(e.err, EAGAIN);
	CHECK_INT(e.http_status, 429);
	from(0,
	     "{\"error\":{\"code\":-99999999999999999999,\"message\":\"q\"}}",
	     &e);
	CHECK_INT(e.err, EIO);
	CHECK_INT(e.http_status, 0);
	/* Code used when there is no HTTP status. */
	from(0, "{\"error\":{\"code\":404,\"message\":\"q\"}}", &e);
	CHECK_INT(e.http_status, 404);
	CHECK_INT(e.err, ENOENT);
	from(0, "{\"error\":{\"code\":404.5}}", &e);
	CHECK_INT(e.http_status, 0);

	/* Deep nesting: cJSON refuses it; we fall back to text. */
	{
		size_t depth = 5000;
		char *deep = malloc(2 * depth + 1);

		memset(deep, '[', depth);
		memset(deep + depth, ']', depth);
		deep[2 * depth] = '\0';
		CHECK_INT(from(502, deep, &e), -EIO);
		CHECK(strlen(e.msg) < sizeof(e.msg));
		free(deep);
	}

	/* Truncated JSON. */
	from(503, "{\"error\":{\"code\":503,\"message\":\"Serv", &e);
	CHECK_INT(e.err, EIO);
	CHECK(strstr(e.msg, "{\"error\"") == e.msg);

	/* Non-JSON: HTML; control characters flattened. */
	from(502, "<html>\r\n<body>Bad Gateway</body>\n</html>", &e);
	CHECK_INT(e.err, EIO);
	CHECK(strchr(e.msg, '\n') == NULL);
	CHECK(strchr(e.msg, '\r') == NULL);
	CHECK(strstr(e.msg, "Bad Gateway") != NULL);

	/* Empty bodies. */
	CHECK_INT(from(404, "", &e), -ENOENT);
	CHECK(e.msg[0] != '\0');
	CHECK_INT(bf_err_from_reply(&e, 500, NULL, 0), -EIO);
	CHECK_INT(bf_err_from_reply(NULL, 404, NULL, 0), -ENOENT);

	/* A body with an embedded NUL: len is respected. */
	CHECK_INT(bf_err_from_reply(&e, 500, "ab\0cd", 5), -EIO);

	/* Very long message: truncated inside msg, on a UTF-8 boundary. */
	{
		size_t n = 4000;
		char *big = malloc(n + 64);

		strcpy(big, "{\"error\":{\"code\":400,\"message\":\"");
		for (size_t i = strlen(big); i < n; i += 2)
			memcpy(big + i, "\xc3\xa9", 2);
		strcpy(big + n, "\"}}");
		from(400, big, &e);
		CHECK(strlen(e.msg) < sizeof(e.msg));
		CHECK(strlen(e.msg) % 2 == 0); /* whole é's only */
		free(big);
	}

	/* Secrets in a server message never survive. */
	from(401,
	     "{\"error\":{\"code\":401,\"message\":\"bad Bearer "
	     "ya29.SECRETSECRET\"}}",
	     &e);
	CHECK(strstr(e.msg, "SECRET") == NULL);

	/* ErrorInfo reason appended. */
	from(429,
	     "{\"error\":{\"code\":429,\"message\":\"Quota\",\"status\":"
	     "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis."
	     "com/"
	     "google.rpc.ErrorInfo\",\"reason\":\"RATE_LIMIT_EXCEEDED\"}]}}",
	     &e);
	CHECK_STR(e.msg, "Quota (RATE_LIMIT_EXCEEDED)");
	CHECK_INT(e.err, EAGAIN);
}

static long rd(const char *s)
{
	return bf_err_retry_delay_ms(s, strlen(s));
}

static void test_retry_info(void)
{
	CHECK_INT(rd("{\"error\":{\"details\":[{\"@type\":\"type.googleapis."
		     "com/google.rpc.RetryInfo\",\"retryDelay\":\"1.5s\"}]}}"),
		  1500);
	CHECK_INT(rd("[{\"error\":{\"details\":[{\"@type\":\"x\"},{\"@type\":"
		     "\"type.googleapis.com/"
		     "google.rpc.RetryInfo\",\"retryDelay\":\"30s\"}]}}]"),
		  30000);
	CHECK_INT(
		rd("{\"error\":{\"details\":[{\"@type\":\"type.googleapis.com/"
		   "google.rpc.RetryInfo\",\"retryDelay\":{\"seconds\":2,"
		   "\"nanos\":500000000}}]}}"),
		2500);
	CHECK_INT(rd("{\"error\":{\"details\":[{\"@type\":\"type.googleapis."
		     "com/google.rpc.RetryInfo\",\"retryDelay\":\"-1s\"}]}}"),
		  -1);
	CHECK_INT(
		rd("{\"error\":{\"details\":[{\"@type\":\"type.googleapis.com/"
		   "google.rpc.RetryInfo\",\"retryDelay\":\"1e400s\"}]}}"),
		-1);
	CHECK_INT(rd("{\"error\":{\"details\":[{\"@type\":\"type.googleapis."
		     "com/google.rpc.RetryInfo\",\"retryDelay\":\"abc\"}]}}"),
		  -1);
	CHECK_INT(rd("{\"error\":{\"details\":[{\"@type\":\"type.googleapis."
		     "com/google.rpc.RetryInfo\",\"retryDelay\":5}]}}"),
		  -1);
	CHECK_INT(rd("{\"error\":{\"details\":{}}}"), -1);
	CHECK_INT(rd("{\"error\":\"x\"}"), -1);
	CHECK_INT(rd("not json"), -1);
	CHECK_INT(bf_err_retry_delay_ms(NULL, 0), -1);
}

static void test_err_set_format(void)
{
	struct bf_err e;
	char out[700];

	bf_err_clear(&e);
	CHECK_INT(e.err, 0);
	bf_err_format(&e, out, sizeof(out));
	CHECK_STR(out, "OK");
	CHECK_INT(bf_err_set(&e, EIO, "disk %d", 3), -EIO);
	CHECK_INT(e.err, EIO);
	CHECK_STR(e.msg, "disk 3");
	CHECK_INT(bf_err_set(&e, -ENOENT, "neg"), -ENOENT);
	CHECK_INT(e.err, ENOENT);
	CHECK_INT(bf_err_set(NULL, EACCES, "x"), -EACCES);
	bf_err_set(&e, EACCES, "token %s", "Bearer abcdefgh");
	CHECK(strstr(e.msg, "abcdefgh") == NULL);
	bf_err_set(&e, ETIMEDOUT, "slow");
	bf_err_format(&e, out, sizeof(out));
	CHECK_STR(out, "ETIMEDOUT: slow");
	e.curl_code = 28;
	bf_err_format(&e, out, sizeof(out));
	CHECK(strstr(out, "curl 28") != NULL);
	bf_err_format(&e, out, 4);
	CHECK_INT(strlen(out), 3);
}

static void redacts(const char *in, const char *secret)
{
	char s[1024];

	snprintf(s, sizeof(s), "%s", in);
	bf_redact(s);
	if (strstr(s, secret)) {
		fprintf(stderr, "not redacted: %s -> %s\n", in, s);
		CHECK(0);
	} else {
		CHECK(1);
	}
}

static void test_redact(void)
{
	char s[256];

	redacts("Authorization: Bearer ya29.a0AfB_SECRET", "SECRET");
	redacts("authorization: bearer SECRETTOKEN123", "SECRETTOKEN");
	redacts("{\"access_token\":\"SECRET\",\"expires_in\":3599}", "SECRET");
	redacts("{\"access_token\" : \"SECRET\"}", "SECRET");
	redacts("{\"refresh_token\":\"1//SECRET\"}", "SECRET");
	redacts("{\"id_token\":\"eyJSECRET\"}", "SECRET");
	redacts("{\"client_secret\":\"SECRET\"}", "SECRET");
	redacts("{\"private_key\":\"-----BEGIN PRIVATE "
		"KEY-----\\nMIISECRET\\n-----END PRIVATE KEY-----\\n\"}",
		"SECRET");
	redacts("{\"private_key\":\"a\\\"SECRET\"}", "SECRET");
	redacts("grant_type=urn%3Aietf&assertion=eyJ.SECRET.sig", "SECRET");
	redacts("refresh_token=SECRET&client_id=x", "SECRET");
	redacts("log: {\\\"access_token\\\":\\\"SECRET\\\"}", "SECRET");
	redacts("token ya29.SECRET here", "SECRET");
	redacts("truncated {\"access_token\":\"SECRETWITHOUTEND", "SECRET");

	/* Non-secrets survive. */
	snprintf(s, sizeof(s),
		 "{\"private_key_id\":\"kid\",\"token_uri\":\"u\",\"expires_"
		 "in\":1}");
	bf_redact(s);
	CHECK_STR(s, "{\"private_key_id\":\"kid\",\"token_uri\":\"u\","
		     "\"expires_in\":1}");
	snprintf(s, sizeof(s), "Bearer");
	bf_redact(s);
	CHECK_STR(s, "Bearer");
	snprintf(s, sizeof(s), "x=1&assertion=&y=2");
	bf_redact(s);
	CHECK_STR(s, "x=1&assertion=&y=2");
	snprintf(s, sizeof(s), "{\"access_token\":\"abc\"} Bearer t");
	bf_redact(s);
	CHECK_STR(s, "{\"access_token\":\"***\"} Bearer *");
	/* Idempotent. */
	snprintf(s, sizeof(s), "Bearer LONGSECRET and assertion=XYZXYZ");
	bf_redact(s);
	CHECK_STR(s, "Bearer *** and assertion=***");
	bf_redact(s);
	CHECK_STR(s, "Bearer *** and assertion=***");
	bf_redact(NULL);
}

static void test_buf(void)
{
	struct bf_buf b;
	char *p;

	bf_buf_init(&b, 10);
	CHECK(b.data == NULL);
	CHECK_INT(bf_buf_puts(&b, "hello"), 0);
	CHECK_STR(b.data, "hello");
	CHECK_INT(b.len, 5);
	CHECK_INT(bf_buf_append(&b, "12345", 5), 0);
	CHECK_INT(b.len, 10);
	CHECK_INT(bf_buf_append(&b, "x", 1), -EFBIG);
	CHECK_INT(b.len, 10);
	CHECK_STR(b.data, "hello12345");
	CHECK_INT(bf_buf_printf(&b, "%d", 1), -EFBIG);
	CHECK_STR(b.data, "hello12345");
	bf_buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.data, "");
	CHECK_INT(bf_buf_printf(&b, "%s-%d", "ab", 42), 0);
	CHECK_STR(b.data, "ab-42");
	CHECK_INT(bf_buf_append(&b, NULL, 0), 0);
	CHECK_INT(bf_buf_append(&b, "x", (size_t)-1), -EFBIG);
	p = bf_buf_steal(&b);
	CHECK_STR(p, "ab-42");
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
	free(p);
	p = bf_buf_steal(&b);
	CHECK_STR(p, "");
	free(p);
	bf_buf_free(&b);

	/* Unlimited buffer growing past several doublings, with NULs. */
	bf_buf_init(&b, 0);
	{
		int bad = 0;

		for (int i = 0; i < 10000; i++)
			bad += bf_buf_append(&b, "\0ab", 3) != 0;
		CHECK_INT(bad, 0);
	}
	CHECK_INT(b.len, 30000);
	CHECK(b.data[30000] == '\0');
	CHECK(b.cap >= 30001);
	CHECK(b.data[1] == 'a');
	bf_buf_free(&b);
	CHECK(b.data == NULL);

	/* The cap bounds the allocation too. */
	bf_buf_init(&b, 300);
	for (int i = 0; i < 300; i++)
		bf_buf_append(&b, "z", 1);
	CHECK_INT(b.len, 300);
	CHECK(b.cap <= 301);
	bf_buf_free(&b);
}

static char last_line[4096];
static int lines;

static void sink(enum bf_log_level l, const char *line)
{
	(void)l;
	snprintf(last_line, sizeof(last_line), "%s", line);
	lines++;
}

static void test_log(void)
{
	char big[5000];

	bf_log_init(1, BF_LOG_INFO);
	bf_log_set_sink(sink);
	bf_log_info("hello %d", 7);
	CHECK_STR(last_line, "hello 7");
	bf_log_debug("hidden");
	CHECK_INT(lines, 1);
	CHECK(!bf_log_enabled(BF_LOG_DEBUG));
	bf_log_set_level(BF_LOG_DEBUG);
	CHECK(bf_log_enabled(BF_LOG_DEBUG));
	bf_log_debug("auth header Authorization: Bearer %s", "ya29.TOPSECRET");
	CHECK(strstr(last_line, "TOPSECRET") == NULL);
	CHECK(strstr(last_line, "Authorization: Bearer ***") != NULL);
	bf_log_err("two\nlines");
	CHECK_STR(last_line, "two lines");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bf_log_warn("%s", big);
	CHECK(strlen(last_line) < 2048);
	CHECK(strstr(last_line, "...") != NULL);
	bf_log_set_sink(NULL);
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* -o log_file= and -o log_format=json: one record a line, secrets masked
 * in both formats, quotes and control bytes escaped in JSON. */
static void test_log_file_formats(void)
{
	char path[] = "/tmp/bf_logXXXXXX";
	int fd = mkstemp(path);
	char *t;

	CHECK(fd >= 0);
	close(fd);
	bf_log_init(1, BF_LOG_INFO);
	CHECK_INT(bf_log_open_file(path), 0);
	bf_log_set_json(0);
	bf_log_info("text Authorization: Bearer ya29.TOPSECRET1 end");
	bf_log_set_json(1);
	bf_log_warn(
		"json {\"access_token\":\"TOPSECRET2\"} \"q\" \\ tab\there");
	bf_log_warn("utf8 \xc3\xa9 latin1 \xe9 cut \xe2\x82");
	bf_log_debug("not at this level");
	bf_log_set_json(0);
	bf_log_close();
	t = slurp(path);
	CHECK(strstr(t, "TOPSECRET") == NULL);
	CHECK(strstr(t, " info: text Authorization: Bearer *** end\n") != NULL);
	CHECK(strstr(t, "\"level\":\"warn\"") != NULL);
	CHECK(strstr(t, "\"msg\":\"json {\\\"access_token\\\":\\\"***\\\"} "
			"\\\"q\\\" \\\\ tab\\u0009here\"}\n") != NULL);
	CHECK(strncmp(strchr(t, '\n') + 1, "{\"time\":\"", 9) == 0);
	CHECK(strstr(t, "not at this level") == NULL);
	/* valid UTF-8 kept, stray bytes replaced: the line stays JSON */
	CHECK(strstr(t, "\"msg\":\"utf8 \xc3\xa9 latin1 \\ufffd cut "
			"\\ufffd\\ufffd\"}\n") != NULL);
	{
		int lines = 0;

		for (char *p = t; *p; p++)
			lines += *p == '\n';
		CHECK_INT(lines, 3);
	}
	unlink(path);
	CHECK_INT(bf_log_open_file("/nonexistent-dir/x.log"), -ENOENT);
	bf_log_init(1, BF_LOG_WARN);
}

static void test_sd_notify_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_INT(bf_sd_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_INT(bf_sd_notify("READY=1"), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify", 1);
	CHECK(bf_sd_notify("READY=1") < 0);
	unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
	test_http_table();
	test_curl_table();
	test_grpc_table();
	test_envelope();
	test_retry_info();
	test_err_set_format();
	test_redact();
	test_buf();
	test_log();
	test_log_file_formats();
	test_sd_notify_env();
	return CHECK_DONE();
}
