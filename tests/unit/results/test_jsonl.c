/* test_jsonl.c - input.jsonl checks: every error path names its line, keys
 * are added without touching the rest of the bytes, duplicates refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"
#include "memsrc.h"

#define REQ "\"request\":{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}"

struct run {
	int rc;
	char *out;
	struct bf_jsonl_stats st;
	struct bf_err e;
};

static struct run norm_len(const char *in, size_t len, size_t chunk,
			   const struct bf_jsonl_opts *o)
{
	struct memsrc m = { .p = in, .len = len, .chunk = chunk };
	struct run r = { 0 };
	int fd = memfd();

	r.rc = bf_jsonl_normalize(memsrc_read, &m, fd, o, &r.st, &r.e);
	r.out = slurp(fd);
	close(fd);
	return r;
}

static struct run norm(const char *in, size_t chunk)
{
	return norm_len(in, strlen(in), chunk, NULL);
}

static void keys_added(void)
{
	const char *in = "{" REQ "}\n"
			 "{\"key\":\"a\"," REQ "}\n"
			 "{\"custom_id\":\"c\"," REQ "}\n"
			 "{" REQ ",\"n\":12345678901234567890.50}";
	const char *want = "{\"key\":\"line-1\"," REQ "}\n"
			   "{\"key\":\"a\"," REQ "}\n"
			   "{\"custom_id\":\"c\"," REQ "}\n"
			   "{\"key\":\"line-4\"," REQ ",\"n\":12345678901234567890.50}\n";
	size_t chunks[] = { 0, 1, 3, 17 };

	for (size_t i = 0; i < 4; i++) {
		struct run r = norm(in, chunks[i]);

		CHECK_INT(r.rc, 0);
		CHECK_STR(r.out, want);
		CHECK_INT(r.st.lines, 4);
		CHECK_INT(r.st.keyed, 2);
		CHECK_INT(r.st.assigned, 2);
		CHECK_INT(r.st.bytes_in, strlen(in));
		CHECK_INT(r.st.bytes_out, strlen(want));
		free(r.out);
	}
}

static void blank_crlf_bom(void)
{
	struct run r = norm("\xef\xbb\xbf{" REQ "}\r\n{ " REQ "}\r\n\r\n  \n", 5);

	CHECK_INT(r.rc, 0);
	CHECK_STR(r.out, "{\"key\":\"line-1\"," REQ "}\n{\"key\":\"line-2\", " REQ "}\n");
	free(r.out);

	/* numbers as keys, all of the same type */
	r = norm("{\"key\":1," REQ "}\n{\"key\":2," REQ "}\n", 0);
	CHECK_INT(r.rc, 0);
	CHECK_INT(r.st.keyed, 2);
	free(r.out);

	/* check only */
	struct memsrc m = memsrc_of("{" REQ "}\n", 0);
	struct bf_jsonl_stats st;

	CHECK_INT(bf_jsonl_normalize(memsrc_read, &m, -1, NULL, &st, NULL), 0);
	CHECK_INT(st.lines, 1);
}

static void fails(const char *in, size_t len, int err, const char *msg)
{
	struct run r = norm_len(in, len, 4, NULL);

	CHECK_INT(r.rc, -err);
	CHECK_INT(r.e.err, err);
	if (!strstr(r.e.msg, msg)) {
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", r.e.msg, msg);
		CHECK(0);
	}
	free(r.out);
}

#define FAILS(in, err, msg) fails(in, strlen(in), err, msg)

static void errors(void)
{
	struct run r;

	FAILS("", EINVAL, "input.jsonl: empty (no requests)");
	FAILS("\n\n \n", EINVAL, "input.jsonl: empty");
	FAILS("{" REQ "}\n{\"request\":{\"contents\":[}}\n", EINVAL,
	      "input.jsonl:2:");
	FAILS("{" REQ "}\n{" REQ "} x\n", EINVAL,
	      "input.jsonl:2:");
	FAILS("{" REQ "}\n{" REQ "}\n{" REQ "} x\n", EINVAL, "malformed JSON");
	FAILS("[1,2]\n", EINVAL, "input.jsonl:1: not a JSON object");
	FAILS("{" REQ "}\n{\"x\":1}\n", EINVAL, "input.jsonl:2: missing \"request\"");
	FAILS("{\"request\":[]}\n", EINVAL, "\"request\" is not an object");
	FAILS("{\"request\":{}}\n", EINVAL,
	      "input.jsonl:1: missing \"request.contents\"");
	FAILS("{\"request\":{\"contents\":{}}}\n", EINVAL,
	      "\"request.contents\" is not an array");
	FAILS("{" REQ "}\n{" REQ "}\n{\"request\":{\"contents\":[]}}\n", EINVAL,
	      "input.jsonl:3: \"request.contents\" is empty");
	FAILS("{" REQ "}\n\n{" REQ "}\n", EINVAL,
	      "input.jsonl:2: empty line (only trailing");
	FAILS("{\"key\":{}," REQ "}\n", EINVAL,
	      "input.jsonl:1: \"key\" must be a string or a number");
	FAILS("{\"custom_id\":\"\"," REQ "}\n", EINVAL, "\"custom_id\" is empty");
	/* duplicates: explicit, and an explicit key equal to a line number */
	FAILS("{\"key\":\"a\"," REQ "}\n{" REQ "}\n{\"key\":\"a\"," REQ "}\n",
	      EINVAL, "input.jsonl:3: duplicate key \"a\" (lines 1 and 3)");
	FAILS("{\"key\":\"line-2\"," REQ "}\n{" REQ "}\n", EINVAL,
	      "input.jsonl:2: duplicate key \"line-2\" (lines 1 and 2)");
	FAILS("{\"custom_id\":\"x\"," REQ "}\n{\"custom_id\":\"x\"," REQ "}\n",
	      EINVAL, "duplicate key \"x\" (lines 1 and 2)");
	/* importer's one type per member */
	FAILS("{\"key\":1," REQ "}\n{\"key\":\"b\"," REQ "}\n", EINVAL,
	      "input.jsonl:2: \"key\" is a string here but a number on line 1");
	/* an added key is never numeric-looking (the importer re-types
	 * those), and is a number when the user's keys are numbers */
	r = norm("{\"key\":7," REQ "}\n{" REQ "}\n", 0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.out, "{\"key\":7," REQ "}\n{\"key\":2," REQ "}\n");
	free(r.out);
	r = norm("{\"key\":\"000000\"," REQ "}\n{" REQ "}\n", 0);
	CHECK_INT(r.rc, 0);
	CHECK_STR(r.out, "{\"key\":\"000000\"," REQ "}\n{\"key\":\"line-2\"," REQ "}\n");
	free(r.out);
	FAILS("{\"key\":2," REQ "}\n{" REQ "}\n", EINVAL,
	      "input.jsonl:2: duplicate key \"2\"");
	/* lines without a key before the user's number keys: the caller is
	 * told to key with numbers, and doing so gives one type */
	r = norm_len("{" REQ "}\n{\"key\":7," REQ "}\n",
		     strlen("{" REQ "}\n{\"key\":7," REQ "}\n"), 0, NULL);
	CHECK_INT(r.rc, -EINVAL);
	CHECK_INT(r.st.wants_number_keys, 1);
	free(r.out);
	{
		struct bf_jsonl_opts o = { .number_keys = 1 };

		r = norm_len("{" REQ "}\n{\"key\":7," REQ "}\n",
			     strlen("{" REQ "}\n{\"key\":7," REQ "}\n"), 0,
			     &o);
		CHECK_INT(r.rc, 0);
		CHECK_STR(r.out, "{\"key\":1," REQ "}\n{\"key\":7," REQ "}\n");
		free(r.out);
	}
	/* binary */
	FAILS("{" REQ "}\n{\"request\":{\"contents\":[\"\xff\xfe\"]}}\n",
	      EINVAL, "input.jsonl:2: not UTF-8 text");
	fails("{" REQ "}\n\x00\x01\x02\n", strlen("{" REQ "}\n") + 4, EINVAL,
	      "input.jsonl:2: not UTF-8");
	FAILS("\x89PNG\r\n\x1a\n", EINVAL, "input.jsonl:1: not UTF-8");
	FAILS("{\"request\":{\"contents\":[\"\xed\xa0\x80\"]}}\n", EINVAL,
	      "not UTF-8"); /* a surrogate */
	FAILS("{\"request\":{\"contents\":[\"\xc0\xaf\"]}}\n", EINVAL,
	      "not UTF-8"); /* overlong '/' */
}

static void caps(void)
{
	char big[400];
	struct bf_jsonl_opts o = { .max_line = 100 };
	struct run r;

	/* two good lines, then one of 150 + bytes */
	memset(big, 0, sizeof(big));
	snprintf(big, sizeof(big), "{" REQ "}\n{" REQ "}\n{" REQ ",\"p\":\"");
	memset(big + strlen(big), 'x', 150);
	big[sizeof(big) - 4] = 0;
	strcat(big, "\"}\n");
	r = norm_len(big, strlen(big), 7, &o);
	CHECK_INT(r.rc, -EFBIG);
	CHECK_STR(r.e.msg, "input.jsonl:3: longer than 100 bytes");
	free(r.out);

	/* a huge line with no newline at all */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	r = norm_len(big, strlen(big), 0, &o);
	CHECK_INT(r.rc, -EFBIG);
	CHECK_STR(r.e.msg, "input.jsonl:1: longer than 100 bytes");
	free(r.out);

	struct bf_jsonl_opts o2 = { .max_bytes = 150, .name = "in.jsonl" };
	const char *three = "{" REQ "}\n{" REQ "}\n{" REQ "}\n";

	r = norm_len(three, strlen(three), 0, &o2);
	CHECK_INT(r.rc, -EFBIG);
	CHECK(strstr(r.e.msg, "in.jsonl: larger than 150 bytes") != NULL);
	free(r.out);
	o2.max_bytes = strlen(three);
	r = norm_len(three, strlen(three), 0, &o2);
	CHECK_INT(r.rc, 0);
	free(r.out);
}

static void read_error(void)
{
	const char *in = "{" REQ "}\n{" REQ "}\n{" REQ "}\n";
	struct memsrc m = memsrc_of(in, 10);
	struct bf_err e;

	m.fail_at = 50;
	CHECK_INT(bf_jsonl_normalize(memsrc_read, &m, -1, NULL, NULL, &e), -EIO);
	CHECK_STR(e.msg, "test: read failed");
}

/* n lines keyed k0..k(n-1), except that line dup_b repeats line dup_a's
 * key and line bad is not JSON (0: none). */
static char *many(int n, int dup_a, int dup_b, int bad)
{
	size_t cap = (size_t)n * 120 + 1, len = 0;
	char *s = malloc(cap);

	for (int i = 1; i <= n; i++) {
		int k = i == dup_b ? dup_a : i;

		if (i == bad)
			len += (size_t)snprintf(s + len, cap - len, "{oops\n");
		else
			len += (size_t)snprintf(s + len, cap - len,
						"{\"key\":\"k%d\"," REQ "}\n", k);
	}
	return s;
}

static struct run norm_run(const char *in, size_t run)
{
	struct bf_jsonl_opts o = { .key_run = run };

	return norm_len(in, strlen(in), 1 << 16, &o);
}

/* Keys are hashed into sorted runs of key_run records that spill to disk;
 * a repeat is found across runs, and the one reported is the first line
 * that repeats a key, as a streaming check would. */
static void duplicates_across_runs(void)
{
	char *in = many(5000, 3, 4990, 0);
	struct run r = norm_run(in, 64);

	CHECK_INT(r.rc, -EINVAL);
	CHECK_STR(r.e.msg, "input.jsonl:4990: duplicate key \"k3\" "
			   "(lines 3 and 4990)");
	free(r.out);
	free(in);
	/* two repeats: the one whose second line comes first wins */
	in = many(5000, 2000, 2100, 0);
	memcpy(strstr(in, "\"k4999\""), "\"k1   \"", 7);
	memcpy(strstr(in, "\"k1   \""), "\"k1\"   ", 7);
	r = norm_run(in, 64);
	CHECK_INT(r.rc, -EINVAL);
	CHECK_STR(r.e.msg, "input.jsonl:2100: duplicate key \"k2000\" "
			   "(lines 2000 and 2100)");
	free(r.out);
	free(in);
	/* a repeat before a bad line is what fails; after it, the line */
	in = many(3000, 10, 20, 2500);
	r = norm_run(in, 64);
	CHECK_STR(r.e.msg, "input.jsonl:20: duplicate key \"k10\" "
			   "(lines 10 and 20)");
	free(r.out);
	free(in);
	in = many(3000, 10, 2900, 2500);
	r = norm_run(in, 64);
	if (!strstr(r.e.msg, "input.jsonl:2500:"))
		fprintf(stderr, "got: %s\n", r.e.msg);
	CHECK(strstr(r.e.msg, "input.jsonl:2500:") != NULL);
	free(r.out);
	free(in);
	/* no repeat: everything passes, in memory or spilled */
	in = many(3000, 0, 0, 0);
	r = norm_run(in, 64);
	CHECK_INT(r.rc, 0);
	CHECK_INT((int)r.st.lines, 3000);
	free(r.out);
	r = norm_run(in, 0);
	CHECK_INT(r.rc, 0);
	free(r.out);
	free(in);
}

int main(void)
{
	duplicates_across_runs();
	keys_added();
	blank_crlf_bom();
	errors();
	caps();
	read_error();
	return CHECK_DONE();
}
