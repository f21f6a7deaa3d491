/* test_job.c - fs/vertex/job.c: the BatchPredictionJob parser fed the
 * reference's sample jobs and hostile input, JobState names, RFC 3339. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/vertex.h"
#include "check.h"

#define NAME "projects/123456789012/locations/us-central1/batchPredictionJobs/"

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		perror("malloc");
		exit(1);
	}
	return p;
}

static int parse(const char *json, struct bf_job *j, struct bf_err *e)
{
	bf_err_clear(e);
	return bf_job_parse(json, strlen(json), j, e);
}

static void test_pending(void)
{
	const char *js =
		"{\"name\": \"" NAME "3814889423749775360\","
		"\"displayName\": \"my-job\","
		"\"model\": \"publishers/google/models/gemini-2.5-flash\","
		"\"inputConfig\": {\"instancesFormat\": \"jsonl\", "
		"\"gcsSource\": {\"uris\": "
		"[\"gs://bucket/in/requests.jsonl\"]}},"
		"\"outputConfig\": {\"predictionsFormat\": \"jsonl\", "
		"\"gcsDestination\": {\"outputUriPrefix\": "
		"\"gs://bucket/out\"}},"
		"\"state\": \"JOB_STATE_PENDING\","
		"\"createTime\": \"2026-09-15T19:33:59.153782Z\","
		"\"updateTime\": \"2026-09-15T19:33:59.153782Z\","
		"\"modelVersionId\": \"1\","
		"\"labels\": {\"team\": \"x\", \"batchfs-token\": \"tok-1\"}}";
	struct bf_job j;
	struct bf_err e;

	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_STR(j.id, "3814889423749775360");
	CHECK_STR(j.name, NAME "3814889423749775360");
	CHECK_STR(j.display_name, "my-job");
	CHECK_STR(j.model, "publishers/google/models/gemini-2.5-flash");
	CHECK_INT(j.state, BF_JOB_PENDING);
	CHECK_INT(j.create_us, 1789500839153782LL);
	CHECK_INT(j.update_us, 1789500839153782LL);
	CHECK_INT(j.start_us, 0);
	CHECK_INT(j.end_us, 0);
	CHECK_INT(j.succeeded, 0);
	CHECK_INT(j.failed, 0);
	CHECK_INT(j.incomplete, 0);
	CHECK_INT(j.error_code, 0);
	CHECK(j.error_message == NULL);
	CHECK_STR(j.input_uri, "gs://bucket/in/requests.jsonl");
	CHECK_STR(j.output_prefix, "gs://bucket/out");
	CHECK(j.gcs_output_dir == NULL);
	CHECK(j.bq_output == NULL);
	CHECK_STR(j.client_token, "tok-1");
	CHECK_INT(j.raw_len, strlen(js));
	CHECK(j.raw && memcmp(j.raw, js, j.raw_len) == 0 &&
	      j.raw[j.raw_len] == '\0');

	struct bf_job d;

	CHECK_INT(bf_job_dup(&j, &d), 0);
	CHECK(d.name != j.name && d.raw != j.raw);
	CHECK_STR(d.name, j.name);
	CHECK_STR(d.raw, j.raw);
	CHECK_STR(d.id, j.id);
	CHECK_STR(d.client_token, "tok-1");
	CHECK_INT(d.create_us, j.create_us);
	bf_job_free(&j);
	CHECK(j.name == NULL && j.raw == NULL);
	CHECK_STR(d.input_uri, "gs://bucket/in/requests.jsonl");
	bf_job_free(&d);
	bf_job_free(&d); /* idempotent */
}

static void test_running(void)
{
	const char *js =
		"{\"name\": \"" NAME "42\", \"state\": \"JOB_STATE_RUNNING\","
		"\"startTime\": \"2026-09-15T19:35:00Z\","
		"\"completionStats\": {\"successfulCount\": \"198\", "
		"\"failedCount\": \"2\", \"incompleteCount\": \"5\"}}";
	struct bf_job j;
	struct bf_err e;

	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_STR(j.id, "42");
	CHECK_INT(j.state, BF_JOB_RUNNING);
	CHECK_INT(j.start_us, 1789500900LL * 1000000);
	CHECK_INT(j.succeeded, 198);
	CHECK_INT(j.failed, 2);
	CHECK_INT(j.incomplete, 5);
	CHECK(!bf_job_state_terminal(j.state));
	bf_job_free(&j);
}

static void test_succeeded(void)
{
	const char *js =
		"{\"name\": \"" NAME "7\", \"state\": \"JOB_STATE_SUCCEEDED\","
		"\"startTime\": \"2026-09-02T20:06:31Z\","
		"\"endTime\": \"2026-09-02T20:08:31.5Z\","
		"\"outputInfo\": {\"gcsOutputDirectory\": "
		"\"gs://bucket/out/"
		"prediction-model-2026-09-02T20:06:30.166279Z\"},"
		"\"completionStats\": {\"successfulCount\": \"4\", "
		"\"failedCount\": \"1\"}}";
	struct bf_job j;
	struct bf_err e;

	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_INT(j.state, BF_JOB_SUCCEEDED);
	CHECK(bf_job_state_terminal(j.state));
	CHECK_STR(
		j.gcs_output_dir,
		"gs://bucket/out/prediction-model-2026-09-02T20:06:30.166279Z");
	CHECK_INT(j.succeeded, 4);
	CHECK_INT(j.failed, 1);
	CHECK_INT(j.incomplete, 0);
	CHECK_INT(j.end_us - j.start_us, 120500000LL);
	bf_job_free(&j);

	/* BigQuery in/out */
	js = "{\"name\": \"" NAME "8\", \"state\": \"JOB_STATE_SUCCEEDED\","
	     "\"inputConfig\": {\"instancesFormat\": \"bigquery\", "
	     "\"bigquerySource\": {\"inputUri\": \"bq://p.d.t\"}},"
	     "\"outputConfig\": {\"predictionsFormat\": \"bigquery\", "
	     "\"bigqueryDestination\": {\"outputUri\": \"bq://p.d\"}},"
	     "\"outputInfo\": {\"bigqueryOutputDataset\": \"bq://p.d\", "
	     "\"bigqueryOutputTable\": \"predictions_1\"}}";
	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_STR(j.input_uri, "bq://p.d.t");
	CHECK_STR(j.output_prefix, "bq://p.d");
	CHECK_STR(j.bq_output, "bq://p.d.predictions_1");
	bf_job_free(&j);
}

static void test_failed_cancelled(void)
{
	const char *js =
		"{\"name\": \"" NAME "9\", \"state\": \"JOB_STATE_FAILED\","
		"\"error\": {\"code\": 9, \"message\": \"Failed to get GCS "
		"bucket location for b.\"},"
		"\"completionStats\": {\"successfulCount\": \"2\", "
		"\"incompleteCount\": \"-1\"}}";
	struct bf_job j;
	struct bf_err e;

	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_INT(j.state, BF_JOB_FAILED);
	CHECK_INT(j.error_code, 9);
	CHECK_STR(j.error_message, "Failed to get GCS bucket location for b.");
	CHECK_INT(j.succeeded, 2);
	CHECK_INT(j.failed, 0);
	CHECK_INT(j.incomplete, -1);
	bf_job_free(&j);

	js = "{\"name\": \"" NAME "10\", \"state\": \"JOB_STATE_CANCELLED\","
	     "\"error\": {\"code\": 1, \"message\": \"CANCELED\"}}";
	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_INT(j.state, BF_JOB_CANCELLED);
	CHECK_INT(j.error_code, 1);
	CHECK_STR(j.error_message, "CANCELED");
	CHECK(bf_job_state_terminal(j.state));
	bf_job_free(&j);
}

static void test_wrong_types(void)
{
	const char *js =
		"{\"name\": \"" NAME "11\", \"displayName\": 5, \"model\": [],"
		"\"state\": 3, \"createTime\": 12345, \"startTime\": \"junk\","
		"\"completionStats\": {\"successfulCount\": true, "
		"\"failedCount\": {}, \"incompleteCount\": null},"
		"\"error\": {\"code\": \"9\", \"message\": 7},"
		"\"inputConfig\": {\"gcsSource\": {\"uris\": \"gs://x\"}},"
		"\"outputConfig\": [1],"
		"\"outputInfo\": \"x\", \"labels\": {\"batchfs-token\": 1},"
		"\"unknownField\": {\"deep\": [1, 2, 3]}}";
	struct bf_job j;
	struct bf_err e;

	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_STR(j.id, "11");
	CHECK(j.display_name == NULL && j.model == NULL);
	CHECK_INT(j.state, BF_JOB_UNSPECIFIED);
	CHECK_INT(j.create_us, 0);
	CHECK_INT(j.start_us, 0);
	CHECK_INT(j.succeeded, 0);
	CHECK_INT(j.failed, 0);
	CHECK_INT(j.incomplete, 0);
	CHECK_INT(j.error_code, 0);
	CHECK(j.error_message == NULL);
	CHECK(j.input_uri == NULL && j.output_prefix == NULL);
	CHECK(j.gcs_output_dir == NULL && j.client_token == NULL);
	bf_job_free(&j);

	/* completionStats not an object, error not an object */
	js = "{\"name\": \"" NAME "12\", \"completionStats\": \"5\", "
	     "\"error\": \"boom\", \"labels\": []}";
	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_INT(j.succeeded, 0);
	CHECK_INT(j.error_code, 0);
	bf_job_free(&j);

	/* unknown state name */
	js = "{\"name\": \"" NAME "13\", \"state\": \"JOB_STATE_EXPLODED\"}";
	CHECK_INT(parse(js, &j, &e), 0);
	CHECK_INT(j.state, BF_JOB_UNSPECIFIED);
	bf_job_free(&j);
}

static void test_counters(void)
{
	static const struct {
		const char *val;
		long long want;
	} cases[] = {
		{"\"0\"", 0},
		{"\"9223372036854775807\"", 9223372036854775807LL},
		{"\"9223372036854775808\"", -1}, /* overflow */
		{"\"99999999999999999999999\"", -1},
		{"\"-1\"", -1},
		{"\"-5\"", -1},
		{"\"12abc\"", -1},
		{"\"\"", -1},
		{"\" 12\"", -1},
		{"\"+12\"", -1},
		{"\"1e3\"", -1},
		{"17", 17},
		{"-1", -1},
		{"1.5", -1},
		{"1e300", -1},
		{"12345678901234567890123", -1},
		{"true", 0},
		{"null", 0},
		{"[\"1\"]", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char js[256];
		struct bf_job j;
		struct bf_err e;

		snprintf(js, sizeof(js),
			 "{\"name\": \"" NAME "1\", \"completionStats\": "
			 "{\"successfulCount\": %s}}",
			 cases[i].val);
		CHECK_INT(parse(js, &j, &e), 0);
		if (j.succeeded != cases[i].want)
			fprintf(stderr, "counter case %s\n", cases[i].val);
		CHECK_INT(j.succeeded, cases[i].want);
		bf_job_free(&j);
	}
}

static void test_bad_names(void)
{
	static const char *const bad[] = {
		"{}",
		"{\"name\": 5}",
		"{\"name\": \"\"}",
		"{\"name\": \"" NAME "\"}",
		"{\"name\": \"" NAME "12a\"}",
		"{\"name\": \"" NAME "-1\"}",
		"{\"name\": \"" NAME "123456789012345678901\"}", /* 21 digits */
		"{\"name\": \"" NAME "12/\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bf_job j;
		struct bf_err e;

		CHECK_INT(parse(bad[i], &j, &e), -EIO);
		CHECK_INT(e.err, EIO);
		CHECK(j.name == NULL && j.raw == NULL);
	}
	struct bf_job j;
	struct bf_err e;

	CHECK_INT(parse("{\"name\": \"" NAME "12345678901234567890\"}", &j, &e),
		  0);
	CHECK_STR(j.id, "12345678901234567890");
	bf_job_free(&j);
	/* a bare id is a name too */
	CHECK_INT(parse("{\"name\": \"77\"}", &j, &e), 0);
	CHECK_STR(j.id, "77");
	bf_job_free(&j);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"null",
		"[]",
		"[{\"name\": \"" NAME "1\"}]",
		"\"" NAME "1\"",
		"42",
		"{\"name\": \"" NAME "1\"",	  /* truncated */
		"{\"name\": \"" NAME "1",	  /* truncated in a string */
		"{\"name\": \"" NAME "1\"} junk", /* trailing garbage */
		"{\"name\": \"" NAME "1\",}",
		"{'name': 1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bf_job j;
		struct bf_err e;

		CHECK_INT(parse(bad[i], &j, &e), -EIO);
		CHECK(j.raw == NULL);
	}
	struct bf_job j;
	struct bf_err e;

	/* trailing whitespace is fine */
	CHECK_INT(parse("{\"name\": \"" NAME "1\"}\n  ", &j, &e), 0);
	bf_job_free(&j);
	/* embedded NUL */
	const char nul[] = "{\"name\": \"" NAME "1\"}\0junk";

	CHECK_INT(bf_job_parse(nul, sizeof(nul) - 1, &j, &e), -EIO);
	/* NULL input */
	CHECK_INT(bf_job_parse(NULL, 0, &j, &e), -EIO);
	/* length shorter than the string: truncated view */
	const char *full = "{\"name\": \"" NAME "1\"}";

	CHECK_INT(bf_job_parse(full, strlen(full) - 1, &j, &e), -EIO);
}

static char *deep(int depth, const char *open, const char *close)
{
	static const char head[] = "{\"name\": \"" NAME "5\", \"x\": ";
	size_t lo = strlen(open), lc = strlen(close), o = 0;
	char *s = xmalloc(sizeof(head) + (lo + lc) * (size_t)depth + 4);

	memcpy(s, head, sizeof(head) - 1);
	o = sizeof(head) - 1;
	for (int i = 0; i < depth; i++, o += lo)
		memcpy(s + o, open, lo);
	s[o++] = '1';
	for (int i = 0; i < depth; i++, o += lc)
		memcpy(s + o, close, lc);
	memcpy(s + o, "}", 2);
	return s;
}

static void test_deep_and_big(void)
{
	struct bf_job j;
	struct bf_err e;
	char *s;

	/* within cJSON's nesting limit (1000): parses, unknown field ignored */
	s = deep(500, "[", "]");
	CHECK_INT(parse(s, &j, &e), 0);
	CHECK_STR(j.id, "5");
	bf_job_free(&j);
	free(s);
	s = deep(400, "{\"a\":", "}");
	CHECK_INT(parse(s, &j, &e), 0);
	bf_job_free(&j);
	free(s);
	/* past it: refused, not a crash */
	s = deep(100000, "[", "]");
	CHECK_INT(parse(s, &j, &e), -EIO);
	free(s);
	s = deep(100000, "{\"a\":", "}");
	CHECK_INT(parse(s, &j, &e), -EIO);
	free(s);
	/* unbalanced deep opening only */
	s = xmalloc(300001);
	memset(s, '[', 300000);
	s[300000] = '\0';
	CHECK_INT(parse(s, &j, &e), -EIO);
	free(s);

	/* 2 MiB body: EFBIG before parsing */
	size_t big = 2 * 1024 * 1024;

	s = xmalloc(big + 1);
	int h = snprintf(s, big + 1, "{\"name\": \"" NAME "6\", \"pad\": \"");
	memset(s + h, 'a', big - h - 2);
	memcpy(s + big - 2, "\"}", 3);
	CHECK_INT(strlen(s), big);
	CHECK_INT(parse(s, &j, &e), -EFBIG);
	CHECK_INT(e.err, EFBIG);
	CHECK(j.raw == NULL);
	free(s);

	/* just under 1 MiB: kept whole */
	big = 1024 * 1024;
	s = xmalloc(big + 1);
	h = snprintf(s, big + 1, "{\"name\": \"" NAME "6\", \"pad\": \"");
	memset(s + h, 'a', big - h - 2);
	memcpy(s + big - 2, "\"}", 3);
	CHECK_INT(parse(s, &j, &e), 0);
	CHECK_INT(j.raw_len, big);
	bf_job_free(&j);
	free(s);

	/* huge string values and many unknown keys */
	s = xmalloc(600000);
	h = snprintf(s, 600000, "{\"name\": \"" NAME "6\"");
	for (int i = 0; i < 20000; i++)
		h += snprintf(s + h, 600000 - h, ", \"k%d\": %d", i, i);
	snprintf(s + h, 600000 - h, ", \"displayName\": \"d\"}");
	CHECK_INT(parse(s, &j, &e), 0);
	CHECK_STR(j.display_name, "d");
	bf_job_free(&j);
	free(s);
}

static void test_states(void)
{
	static const char *const names[] = {
		"JOB_STATE_UNSPECIFIED", "JOB_STATE_QUEUED",
		"JOB_STATE_PENDING",	 "JOB_STATE_RUNNING",
		"JOB_STATE_SUCCEEDED",	 "JOB_STATE_FAILED",
		"JOB_STATE_CANCELLING",	 "JOB_STATE_CANCELLED",
		"JOB_STATE_PAUSED",	 "JOB_STATE_EXPIRED",
		"JOB_STATE_UPDATING",	 "JOB_STATE_PARTIALLY_SUCCEEDED",
	};
	static const int terminal[] = {0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1};

	for (int i = 0; i < 12; i++) {
		CHECK_STR(bf_job_state_name((enum bf_job_state)i), names[i]);
		CHECK_INT(bf_job_state_parse(names[i]), i);
		CHECK_INT(bf_job_state_terminal((enum bf_job_state)i),
			  terminal[i]);

		char js[200];
		struct bf_job j;
		struct bf_err e;

		snprintf(js, sizeof(js),
			 "{\"name\": \"" NAME "1\", \"state\": \"%s\"}",
			 names[i]);
		CHECK_INT(parse(js, &j, &e), 0);
		CHECK_INT(j.state, i);
		bf_job_free(&j);
	}
	CHECK_INT(bf_job_state_parse(NULL), BF_JOB_UNSPECIFIED);
	CHECK_INT(bf_job_state_parse(""), BF_JOB_UNSPECIFIED);
	CHECK_INT(bf_job_state_parse("job_state_running"), BF_JOB_UNSPECIFIED);
	CHECK_INT(bf_job_state_parse("JOB_STATE_RUNNING "), BF_JOB_UNSPECIFIED);
	CHECK_STR(bf_job_state_name((enum bf_job_state)12),
		  "JOB_STATE_UNSPECIFIED");
	CHECK_STR(bf_job_state_name((enum bf_job_state) - 1),
		  "JOB_STATE_UNSPECIFIED");
	CHECK_INT(bf_job_state_terminal((enum bf_job_state)99), 0);
}

static void test_rfc3339(void)
{
	static const struct {
		const char *s;
		long long us;
	} ok[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"1970-01-01T00:00:01Z", 1000000},
		{"2026-09-15T19:33:59Z", 1789500839000000LL},
		{"2026-09-15T19:33:59.1Z", 1789500839100000LL},
		{"2026-09-15T19:33:59.153Z", 1789500839153000LL},
		{"2026-09-15T19:33:59.153782Z", 1789500839153782LL},
		{"2026-09-15T19:33:59.153782999Z", 1789500839153782LL},
		{"2026-09-15T19:33:59.000000001Z", 1789500839000000LL},
		{"2026-09-15T19:33:59.1537829999999Z", 1789500839153782LL},
		{"2026-09-15t19:33:59z", 1789500839000000LL},
		{"2026-09-15 19:33:59Z", 1789500839000000LL},
		{"2026-09-15T21:33:59+02:00", 1789500839000000LL},
		{"2026-09-15T14:03:59.5-05:30", 1789500839500000LL},
		{"2026-09-15T19:33:59+00:00", 1789500839000000LL},
		{"2026-09-15T19:33:59-00:00", 1789500839000000LL},
		{"2024-02-29T00:00:00Z", 1709164800000000LL},
		{"2000-02-29T00:00:00Z", 951782400000000LL},
		{"2016-12-31T23:59:60Z", 1483228800000000LL}, /* leap second */
		{"9999-12-31T23:59:59Z", 253402300799000000LL},
	};
	static const char *const bad[] = {
		NULL,
		"",
		"garbage",
		"2026-09-15",
		"2026-09-15T19:33:59", /* no zone */
		"2026-09-15T19:33Z",
		"2026-09-15T19:33:59.Z", /* dot without digits */
		"2026-09-15T19:33:59ZZ",
		"2026-09-15T19:33:59Z ",
		" 2026-09-15T19:33:59Z",
		"2026-9-15T19:33:59Z",
		"2026-09-15X19:33:59Z",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-02-29T00:00:00Z", /* not a leap year */
		"1900-02-29T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-09-00T00:00:00Z",
		"2026-09-15T24:00:00Z",
		"2026-09-15T19:60:00Z",
		"2026-09-15T19:33:61Z",
		"2026-09-15T19:33:59+2:00",
		"2026-09-15T19:33:59+02",
		"2026-09-15T19:33:59+0200",
		"2026-09-15T19:33:59+24:00",
		"2026-09-15T19:33:59+02:60",
		"1969-12-31T23:59:59Z", /* before the epoch */
		"1970-01-01T00:00:00+00:01",
		"+2026-09-15T19:33:59Z",
		"2026-09-15T19:33:59.12a4Z",
		"２０２６-09-15T19:33:59Z",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long long got = bf_parse_rfc3339_us(ok[i].s);

		if (got != ok[i].us)
			fprintf(stderr, "rfc3339 case %s\n", ok[i].s);
		CHECK_INT(got, ok[i].us);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long got = bf_parse_rfc3339_us(bad[i]);

		if (got != -1)
			fprintf(stderr, "rfc3339 bad case %s\n",
				bad[i] ? bad[i] : "(null)");
		CHECK_INT(got, -1);
	}
}

static void test_base_urls(void)
{
	static const struct {
		const char *endpoint, *location, *base;
	} cases[] = {
		{NULL, "us-central1",
		 "https://us-central1-aiplatform.googleapis.com"},
		{NULL, "europe-west4",
		 "https://europe-west4-aiplatform.googleapis.com"},
		{NULL, "global", "https://aiplatform.googleapis.com"},
		{NULL, "us", "https://aiplatform.us.rep.googleapis.com"},
		{NULL, "eu", "https://aiplatform.eu.rep.googleapis.com"},
		{"http://127.0.0.1:8080/", "us-central1",
		 "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080", "any/thing", "http://127.0.0.1:8080"},
		{NULL, "bad/loc", NULL},
		{NULL, "Bad", NULL},
		{NULL, "", NULL},
	};
	struct bf_http_opts ho;
	struct bf_http *h;

	bf_http_opts_default(&ho);
	h = bf_http_new(&ho);
	CHECK(h != NULL);
	for (size_t i = 0; h && i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bf_vertex_opts o = {
			.endpoint = cases[i].endpoint,
			.project = "p",
			.location = cases[i].location,
		};
		struct bf_vertex *v = bf_vertex_new(&o, h);

		if (!cases[i].base) {
			CHECK(v == NULL);
		} else {
			CHECK(v != NULL);
			if (v)
				CHECK_STR(bf_vertex_base(v), cases[i].base);
		}
		bf_vertex_free(v);
	}
	struct bf_vertex_opts o = {.location = "us-central1"};

	CHECK(bf_vertex_new(&o, h) == NULL); /* no project */
	bf_http_free(h);
}

int main(void)
{
	test_pending();
	test_running();
	test_succeeded();
	test_failed_cancelled();
	test_wrong_types();
	test_counters();
	test_bad_names();
	test_malformed();
	test_deep_and_big();
	test_states();
	test_rfc3339();
	test_base_urls();
	return CHECK_DONE();
}
