/* test_gcs.c - unit tests for the pure parts of fs/gcs: object JSON (hostile
 * input), gs:// URIs, Content-Range and upload Range headers, RFC 3339, the
 * sequential detector, and a reader pool's budget bookkeeping.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/reader.h"
#include "batchfs/wait.h"
#include "gcs/gcs_int.h"

static int parse(const char *json, struct bf_gcs_object *o)
{
	struct bf_err e;

	return bf_gcs_object_parse(json, json ? strlen(json) : 0, o, &e);
}

static void test_object_ok(void)
{
	struct bf_gcs_object o;

	CHECK_INT(parse("{\"kind\":\"storage#object\",\"name\":\"a/b c.jsonl\","
			"\"size\":\"18446744073709551615\","
			"\"generation\":\"1732600000123456\","
			"\"metageneration\":\"2\","
			"\"updated\":\"2026-11-26T07:14:48.123456Z\","
			"\"contentType\":\"application/jsonl\","
			"\"md5Hash\":\"XrY7u+Ae7tCTyyK7j1rNww==\","
			"\"crc32c\":\"AAAAAA==\",\"unknown\":{\"x\":[1,2]}}",
			&o),
		  0);
	CHECK_STR(o.name, "a/b c.jsonl");
	CHECK(o.size == UINT64_MAX);
	CHECK_INT(o.generation, 1732600000123456LL);
	CHECK_INT(o.metageneration, 2);
	CHECK_INT(o.updated_us, 1795677288123456LL);
	CHECK_STR(o.content_type, "application/jsonl");
	CHECK_STR(o.md5, "XrY7u+Ae7tCTyyK7j1rNww==");
	CHECK_STR(o.crc32c, "AAAAAA==");
	bf_gcs_object_free(&o);

	/* Only name is required; numbers as JSON numbers are accepted. */
	CHECK_INT(parse("{\"name\":\"x\",\"size\":42,\"generation\":7}", &o),
		  0);
	CHECK_INT(o.size, 42);
	CHECK_INT(o.generation, 7);
	CHECK(o.md5 == NULL && o.content_type == NULL && o.updated_us == 0);
	bf_gcs_object_free(&o);

	/* Wrong types for optional strings and a bad date: ignored. */
	CHECK_INT(parse("{\"name\":\"x\",\"contentType\":5,\"md5Hash\":[],"
			"\"updated\":\"yesterday\",\"size\":null}",
			&o),
		  0);
	CHECK(o.content_type == NULL && o.md5 == NULL && o.updated_us == 0 &&
	      o.size == 0);
	bf_gcs_object_free(&o);
}

static void test_object_hostile(void)
{
	static const char *bad[] = {
		NULL,
		"",
		"[]",
		"\"name\"",
		"{}",
		"{\"name\":\"\"}",
		"{\"name\":42}",
		"{\"name\":null}",
		"{\"name\":\"x\",\"size\":\"-1\"}",
		"{\"name\":\"x\",\"size\":\"18446744073709551616\"}",
		"{\"name\":\"x\",\"size\":\"12abc\"}",
		"{\"name\":\"x\",\"size\":\" 12\"}",
		"{\"name\":\"x\",\"size\":1.5}",
		"{\"name\":\"x\",\"size\":-3}",
		"{\"name\":\"x\",\"size\":1e300}",
		"{\"name\":\"x\",\"size\":true}",
		"{\"name\":\"x\",\"size\":{}}",
		"{\"name\":\"x\",\"generation\":\"9223372036854775808\"}",
		"{\"name\":\"x\",\"metageneration\":[1]}",
		"{\"name\":\"x\",\"size\":\"1\"",
		"{\"name\":\"x\",",
		"{\"name\":\"x\"}}}",
	};
	struct bf_gcs_object o;
	char *deep;
	size_t n = 100000;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &o);

		if (rc != -EIO)
			fprintf(stderr, "accepted: %s\n",
				bad[i] ? bad[i] : "NULL");
		CHECK_INT(rc, -EIO);
		CHECK(o.name == NULL);
	}
	/* Deep nesting must not crash. */
	deep = malloc(2 * n + 32);
	strcpy(deep, "{\"name\":\"x\",\"m\":");
	size_t l = strlen(deep);
	memset(deep + l, '[', n);
	memset(deep + l + n, ']', n);
	strcpy(deep + l + 2 * n, "}");
	CHECK_INT(parse(deep, &o), -EIO);
	free(deep);
	/* Length is honoured: the parser never reads past it. */
	{
		struct bf_err e;
		const char *s = "{\"name\":\"x\"}garbage";

		CHECK_INT(bf_gcs_object_parse(s, 12, &o, &e), 0);
		bf_gcs_object_free(&o);
		CHECK_INT(bf_gcs_object_parse(s, 11, &o, &e), -EIO);
	}
}

static void test_uri(void)
{
	char *b, *o;

	CHECK_INT(bf_gcs_parse_uri("gs://bkt/out/pre fix/x.jsonl", &b, &o), 0);
	CHECK_STR(b, "bkt");
	CHECK_STR(o, "out/pre fix/x.jsonl");
	free(b);
	free(o);
	CHECK_INT(bf_gcs_parse_uri("gs://bkt", &b, &o), 0);
	CHECK_STR(b, "bkt");
	CHECK_STR(o, "");
	free(b);
	free(o);
	CHECK_INT(bf_gcs_parse_uri("gs://bkt/", &b, &o), 0);
	CHECK_STR(o, "");
	free(b);
	free(o);
	CHECK_INT(bf_gcs_parse_uri("gs://b/a//b#?%+", &b, &o), 0);
	CHECK_STR(o, "a//b#?%+");
	free(b);
	free(o);
	CHECK_INT(bf_gcs_parse_uri("gs://", &b, &o), -EINVAL);
	CHECK_INT(bf_gcs_parse_uri("gs:///x", &b, &o), -EINVAL);
	CHECK_INT(bf_gcs_parse_uri("s3://b/x", &b, &o), -EINVAL);
	CHECK_INT(bf_gcs_parse_uri("GS://b/x", &b, &o), -EINVAL);
	CHECK_INT(bf_gcs_parse_uri("gs://b c/x", &b, &o), -EINVAL);
	CHECK_INT(bf_gcs_parse_uri(NULL, &b, &o), -EINVAL);
	CHECK(b == NULL && o == NULL);
}

static void test_content_range(void)
{
	uint64_t a = 1, b = 1, t = 1;

	CHECK_INT(bf_gcs_parse_content_range("bytes 0-99/1000", &a, &b, &t), 0);
	CHECK(a == 0 && b == 99 && t == 1000);
	CHECK_INT(bf_gcs_parse_content_range("Bytes  5-5/6 ", &a, &b, &t), 0);
	CHECK(a == 5 && b == 5 && t == 6);
	CHECK_INT(bf_gcs_parse_content_range("bytes 10-19/*", &a, &b, &t), 0);
	CHECK(a == 10 && b == 19 && t == UINT64_MAX);
	CHECK_INT(bf_gcs_parse_content_range("bytes */1000", &a, &b, &t), 1);
	CHECK(a == UINT64_MAX && t == 1000);
	CHECK_INT(bf_gcs_parse_content_range(
			  "bytes "
			  "18446744073709551614-18446744073709551614/"
			  "18446744073709551615",
			  &a, &b, &t),
		  0);
	static const char *bad[] = {
		NULL,
		"",
		"bytes",
		"bytes 1-2",
		"bytes 2-1/10",
		"bytes 0-10/10",
		"bytes -1-2/3",
		"bytes 1--2/3",
		"bytes a-b/c",
		"items 0-1/2",
		"bytes 0-1/2 x",
		"bytes */*",
		"bytes 0-18446744073709551616/1",
		"bytes 1-2/3/4",
		"bytes0-1/2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(bf_gcs_parse_content_range(bad[i], &a, &b, &t), -EINVAL);
}

static void test_upload_range(void)
{
	uint64_t p = 7;

	CHECK_INT(bf_gcs_parse_upload_range(NULL, &p), 0);
	CHECK_INT(p, 0);
	CHECK_INT(bf_gcs_parse_upload_range("", &p), 0);
	CHECK_INT(p, 0);
	CHECK_INT(bf_gcs_parse_upload_range("bytes=0-262143", &p), 0);
	CHECK_INT(p, 262144);
	CHECK_INT(bf_gcs_parse_upload_range("bytes=0-0", &p), 0);
	CHECK_INT(p, 1);
	CHECK_INT(bf_gcs_parse_upload_range("bytes=1-5", &p), -EINVAL);
	CHECK_INT(bf_gcs_parse_upload_range("bytes 0-5/6", &p), -EINVAL);
	CHECK_INT(bf_gcs_parse_upload_range("bytes=0-", &p), -EINVAL);
	CHECK_INT(bf_gcs_parse_upload_range("bytes=0-18446744073709551615", &p),
		  -EINVAL);
}

/* RFC 3339 goes through the object's "updated"; a bad one gives 0. */
static int64_t upd(const char *t)
{
	struct bf_gcs_object o;
	char json[200];
	int64_t us;

	snprintf(json, sizeof(json), "{\"name\":\"x\",\"updated\":\"%s\"}", t);
	if (parse(json, &o))
		return -42;
	us = o.updated_us;
	bf_gcs_object_free(&o);
	return us;
}

static void test_rfc3339(void)
{
	CHECK_INT(upd("1970-01-01T00:00:01Z"), 1000000);
	CHECK_INT(upd("2026-11-26T07:14:48Z"), 1795677288000000LL);
	CHECK_INT(upd("2026-11-26T08:14:48.5+01:00"), 1795677288500000LL);
	CHECK_INT(upd("2026-11-26t07:14:48.123456789z"), 1795677288123456LL);
	/* The shared parser (util/timefmt.c) rejects pre-epoch times: absent. */
	CHECK_INT(upd("1969-12-31T23:59:59Z"), 0);
	CHECK(upd("2024-02-29T00:00:00Z") > 0);
	static const char *bad[] = {
		"",
		"2026-11-26",
		"2026-11-26T07:14:48",
		"2026-13-01T00:00:00Z",
		"2026-11-31T00:00:00Z",
		"2026-11-26T24:00:00Z",
		"2026-11-26T07:14:48.Z",
		"2026-11-26T07:14:48+0100",
		"2026-11-26T07:14:48Zjunk",
		"26-11-26T07:14:48Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(upd(bad[i]), 0);
}

static void test_seq(void)
{
	struct bf_seq s;
	const size_t M = 1u << 20;

	bf_seq_init(&s, M, 8 * M);
	CHECK_INT(bf_seq_access(&s, 0, 131072), 1);
	CHECK_INT(bf_seq_take_window(&s), M);
	CHECK_INT(bf_seq_take_window(&s), 2 * M);
	CHECK_INT(bf_seq_take_window(&s), 4 * M);
	CHECK_INT(bf_seq_take_window(&s), 8 * M);
	CHECK_INT(bf_seq_take_window(&s), 8 * M); /* capped */
	CHECK_INT(bf_seq_access(&s, 131072, 131072), 1);
	/* kernel readahead out of order: a bit ahead, then the hole */
	CHECK_INT(bf_seq_access(&s, 393216, 131072), 1);
	CHECK_INT(bf_seq_access(&s, 262144, 131072), 1);
	CHECK(s.next == 524288);
	/* small forward gap */
	CHECK_INT(bf_seq_access(&s, 524288 + 2 * M, 4096), 1);
	CHECK_INT(s.streak, 5);
	/* a seek far away resets the window */
	CHECK_INT(bf_seq_access(&s, 500 * M, 4096), 0);
	CHECK_INT(s.streak, 0);
	CHECK_INT(bf_seq_take_window(&s), M);
	/* a seek backwards beyond the tolerance */
	CHECK_INT(bf_seq_access(&s, 500 * M + 4096, 4096), 1);
	CHECK_INT(bf_seq_access(&s, 400 * M, 4096), 0);
	/* a read the reader holds bytes for stays in the stream however
	 * far behind (a late worker of many) and keeps the window */
	bf_seq_init(&s, M, 8 * M);
	CHECK_INT(bf_seq_access(&s, 0, 131072), 1);
	CHECK_INT(bf_seq_take_window(&s), M);
	CHECK_INT(bf_seq_access(&s, 3 * M, 131072), 1);
	bf_seq_held(&s, 131072, 131072);
	CHECK_INT(s.streak, 3);
	CHECK(s.next == 3 * M + 131072);
	CHECK_INT(bf_seq_take_window(&s), 2 * M);
	/* one not held, far behind: no longer sequential, but the window
	 * is not restarted (only a forward jump does that) */
	CHECK_INT(bf_seq_access(&s, 0, 4096), 0);
	CHECK_INT(s.streak, 0);
	CHECK_INT(bf_seq_access(&s, 4096, 4096), 1);
	CHECK_INT(bf_seq_take_window(&s), 4 * M);
	/* first read far into the file is not sequential */
	bf_seq_init(&s, M, 8 * M);
	CHECK_INT(bf_seq_access(&s, 100 * M, 4096), 0);
	CHECK_INT(bf_seq_access(&s, 100 * M + 4096, 4096), 1);
	/* defaults */
	bf_seq_init(&s, 0, 0);
	CHECK_INT(s.min_window, M);
	CHECK_INT(s.max_window, 8 * M);
}

static void test_pool(void)
{
	struct bf_reader_pool *p = bf_reader_pool_new(64u << 20, 0);
	struct bf_reader_stats st;

	CHECK(p != NULL);
	CHECK_INT(bf_reader_pool_used(p), 0);
	bf_reader_pool_stats(p, &st);
	CHECK_INT(st.window_fetches, 0);
	/* A reader that never reads holds no memory and closes cleanly. */
	struct bf_reader *r = bf_reader_open(p, NULL, "b", "o", 1, 10);

	CHECK(r != NULL);
	CHECK_INT(bf_reader_pool_used(p), 0);
	{
		char buf[4];
		struct bf_err e;

		/* at or past EOF: no network needed */
		CHECK_INT(bf_reader_read(r, buf, 4, 10, &e), 0);
		CHECK_INT(bf_reader_read(r, buf, 4, 1000, &e), 0);
		CHECK_INT(bf_reader_read(r, buf, 0, 0, &e), 0);
	}
	bf_reader_close(r);
	bf_reader_pool_free(p);
}

static void test_endpoint(void)
{
	/* Construction only: no requests are made. */
	struct bf_gcs_opts o = {.endpoint = "127.0.0.1:9/"};
	struct bf_gcs *g = bf_gcs_new(&o, NULL);

	CHECK_STR(g->base, "http://127.0.0.1:9");
	CHECK_STR(g->api, "http://127.0.0.1:9/storage/v1");
	CHECK_STR(g->upload, "http://127.0.0.1:9/upload/storage/v1");
	CHECK_INT(g->resumable_threshold, 8u << 20);
	CHECK_INT(g->chunk_size, 8u << 20);
	CHECK_INT(g->page_size, 1000);
	bf_gcs_free(g);
	o = (struct bf_gcs_opts){.endpoint = "https://gcs.example:8443//",
				 .chunk_size = 300000,
				 .list_page_size = 5000};
	g = bf_gcs_new(&o, NULL);
	CHECK_STR(g->api, "https://gcs.example:8443/storage/v1");
	CHECK_INT(g->chunk_size, 524288); /* rounded up to 256 KiB */
	CHECK_INT(g->page_size, 1000);
	bf_gcs_free(g);
	g = bf_gcs_new(NULL, NULL);
	CHECK_STR(g->api, "https://storage.googleapis.com/storage/v1");
	bf_gcs_free(g);
	{
		char *u = bf_gcs__object_url("http://h/storage/v1", "bkt",
					     "a/b c#?%+\xc3\xa9");

		CHECK_STR(u, "http://h/storage/v1/b/bkt/o/"
			     "a%2Fb%20c%23%3F%25%2B%C3%A9");
		free(u);
		u = bf_gcs__object_url("http://h/storage/v1", "bkt", NULL);
		CHECK_STR(u, "http://h/storage/v1/b/bkt/o");
		free(u);
	}
}

static int64_t fire_at;

static int fires(void *ud)
{
	(void)ud;
	return bf_now_ms() >= fire_at ? EINTR : 0;
}

/* A resumable upload's back-off (up to 8 s between a failed chunk and the
 * status query) ends within a slice of Ctrl-C; it used to sleep it out. */
static void test_upload_pause(void)
{
	struct bf_err e;
	int64_t t0, dt;

	bf_err_clear(&e);
	CHECK_INT(bf_gcs__upload_pause(20, &e), 0);
	CHECK_INT(e.err, 0);

	fire_at = bf_now_ms() + 100;
	bf_cancel_set(fires, NULL);
	t0 = bf_now_ms();
	CHECK_INT(bf_gcs__upload_pause(8000, &e), -EINTR);
	dt = bf_now_ms() - t0;
	bf_cancel_set(NULL, NULL);
	CHECK_INT(e.err, EINTR);
	CHECK(dt >= 100);
	CHECK(dt <= 100 + BF_WAIT_SLICE_MS + 250);
}

int main(void)
{
	test_object_ok();
	test_object_hostile();
	test_uri();
	test_content_range();
	test_upload_range();
	test_rfc3339();
	test_seq();
	test_pool();
	test_endpoint();
	test_upload_pause();
	return CHECK_DONE();
}
