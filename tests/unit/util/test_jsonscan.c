/* test_jsonscan.c - bf_json_scan: framing, first-member-wins, element
 * limits, errors, and the memory it needs for a large page. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "batchfs/jsonscan.h"

struct seen {
	int elems, members;
	char log[512];
	int stop_at;
};

static void note(struct seen *s, const char *key, const cJSON *v)
{
	char *t = cJSON_PrintUnformatted(v);
	size_t n = strlen(s->log);

	snprintf(s->log + n, sizeof(s->log) - n, "%s%s=%s", n ? " " : "", key,
		 t ? t : "?");
	free(t);
}

static int on_elem(void *ud, const char *key, const cJSON *el)
{
	struct seen *s = ud;

	s->elems++;
	note(s, key, el);
	return s->stop_at && s->elems == s->stop_at ? 7 : 0;
}

static int on_member(void *ud, const char *key, const cJSON *v)
{
	struct seen *s = ud;

	s->members++;
	note(s, key, v);
	return 0;
}

static const char *const arrays[] = {"items", "prefixes", NULL};

static int scan(const char *body, struct seen *s, size_t max)
{
	struct bf_json_scan sc = {.arrays = arrays,
				  .max_elems = max,
				  .elem = on_elem,
				  .member = on_member,
				  .ud = s};
	struct bf_err e = {0};

	memset(s->log, 0, sizeof(s->log));
	s->elems = s->members = 0;
	return bf_json_scan(body, strlen(body), &sc, &e);
}

static void test_framing(void)
{
	struct seen s = {0};

	CHECK_INT(scan("{}", &s, 0), 0);
	CHECK_INT(scan(" \n{ }\n ", &s, 0), 0);
	CHECK_INT(scan("{\"items\": [], \"nextPageToken\": \"t\"}", &s, 0), 0);
	CHECK_STR(s.log, "nextPageToken=\"t\"");
	CHECK_INT(scan("{\"items\":[{\"a\":1}, 2 ,\"x\"],\"k\":{\"b\":[1]}}",
		       &s, 0),
		  0);
	CHECK_STR(s.log, "items={\"a\":1} items=2 items=\"x\" k={\"b\":[1]}");
	/* Not streamed when not an array: the member callback decides. */
	CHECK_INT(scan("{\"items\": null}", &s, 0), 0);
	CHECK_STR(s.log, "items=null");
	/* The first occurrence wins, like cJSON_GetObjectItem. */
	CHECK_INT(
		scan("{\"k\":1,\"items\":[1],\"k\":2,\"items\":[2,3]}", &s, 0),
		0);
	CHECK_STR(s.log, "k=1 items=1");
	/* Escaped member names are decoded. */
	CHECK_INT(scan("{\"it\\u0065ms\":[5]}", &s, 0), 0);
	CHECK_STR(s.log, "items=5");
}

static void test_errors(void)
{
	static const char *bad[] = {
		"",
		"[]",
		"{",
		"{\"a\"}",
		"{\"a\":}",
		"{\"a\":1,}",
		"{\"a\":1 \"b\":2}",
		"{a:1}",
		"{\"items\":[1,]}",
		"{\"items\":[1 2]}",
		"{\"items\":[",
		"{\"items\":[{]}",
		"{} x",
		"{}{}",
		"{\"a\":1}}",
		"{\"items\":[[[[[[[[[[[[[",
	};
	struct seen s = {0};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int rc = scan(bad[i], &s, 0);

		if (rc != -EIO)
			fprintf(stderr, "case %zu: %s -> %d\n", i, bad[i], rc);
		CHECK_INT(rc, -EIO);
	}
	/* A NUL ends the text, as for a C string; text before it counts. */
	{
		struct bf_json_scan sc = {.arrays = arrays};
		struct bf_err e = {0};

		CHECK_INT(bf_json_scan("{}\0junk", 7, &sc, &e), 0);
		CHECK_INT(bf_json_scan("{} \0", 4, &sc, &e), 0);
		CHECK_INT(bf_json_scan("{} x\0", 5, &sc, &e), -EIO);
		CHECK_INT(bf_json_scan("{\0}", 3, &sc, &e), -EIO);
	}
}

static void test_limits(void)
{
	struct seen s = {0};
	struct bf_err e = {0};
	struct bf_json_scan sc = {
		.arrays = arrays, .max_elems = 2, .elem = on_elem, .ud = &s};
	const char *three = "{\"items\":[1,2,3]}";

	CHECK_INT(bf_json_scan(three, strlen(three), &sc, &e), -EIO);
	CHECK(strstr(e.msg, "more than 2") != NULL);
	CHECK_INT(s.elems, 2);
	CHECK_INT(scan("{\"items\":[1,2],\"prefixes\":[\"a\",\"b\"]}", &s, 2),
		  0);
	/* A callback's non-zero value stops the scan and is returned. */
	s.stop_at = 2;
	CHECK_INT(scan("{\"items\":[1,2,3]}", &s, 0), 7);
	CHECK_INT(s.elems, 2);
	s.stop_at = 0;
	/* Too many distinct members. */
	{
		char buf[4096];
		size_t n = 0;

		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
		for (int i = 0; i < 100; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n,
					      "%s\"m%d\":%d", i ? "," : "", i,
					      i);
		snprintf(buf + n, sizeof(buf) - n, "}");
		CHECK_INT(scan(buf, &s, 0), -EIO);
	}
}

struct peak {
	long count;
	size_t base, max;
};

/* Samples the heap in use while the scan is under way. */
static int count_only(void *ud, const char *key, const cJSON *el)
{
	struct peak *p = ud;

	(void)key;
	(void)el;
	if (++p->count % 997 == 0) {
		struct mallinfo2 mi = mallinfo2();

		if (mi.uordblks > p->max)
			p->max = mi.uordblks;
	}
	return 0;
}

/* A 16 MiB page of tiny elements is read with the memory of one element,
 * where cJSON_Parse of it takes several times its size. */
static void test_big_page_memory(void)
{
	const char *one = "{\"name\":\"projects/1/x/%07d\",\"state\":\"S\"},";
	size_t cap = 16u << 20, n = 0;
	char *body = malloc(cap + 64);
	long want = 0;
	struct peak pk = {0};
	struct mallinfo2 after;
	struct bf_json_scan sc = {
		.arrays = arrays, .elem = count_only, .ud = &pk};
	struct bf_err e = {0};

	if (!body) {
		CHECK(0);
		return;
	}
	n += (size_t)sprintf(body, "{\"items\":[");
	while (n + 64 < cap) {
		n += (size_t)sprintf(body + n, one, (int)want);
		want++;
	}
	body[n - 1] = ']';
	body[n++] = '}';
	body[n] = '\0';
	pk.base = pk.max = mallinfo2().uordblks;
	CHECK_INT(bf_json_scan(body, n, &sc, &e), 0);
	after = mallinfo2();
	CHECK_INT(pk.count, want);
	/* At most a few KiB live at any time (a whole parse: ~80 MiB), and
	 * nothing left behind. */
	if (pk.max - pk.base > 64 * 1024)
		fprintf(stderr, "heap in use grew by %zu bytes\n",
			pk.max - pk.base);
	CHECK(pk.max - pk.base <= 64 * 1024);
	CHECK(after.uordblks <= pk.base + 4096);
	free(body);
}

int main(void)
{
	test_framing();
	test_errors();
	test_limits();
	test_big_page_memory();
	return CHECK_DONE();
}
