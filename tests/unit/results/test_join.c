/* test_join.c - output rows matched to input lines: final rows beat
 * incremental ones, by-input keeps input order with "incomplete" holes,
 * retry holds the failed and incomplete input lines, and inputs without
 * usable keys are reported instead of guessed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "memsrc.h"

#define REQ(t) "\"request\":{\"contents\":[{\"parts\":[{\"text\":\"" t "\"}]}]}"
#define OK(k, t) "{\"key\":" k ",\"status\":\"\",\"response\":{\"t\":\"" t "\"}}"
#define BAD(k) "{\"key\":" k ",\"status\":\"Bad Request: {}\"}"

struct out {
	int rc;
	struct bf_join_stats st;
	struct bf_err e;
	char *ok, *bad, *by, *retry;
	int by_fd;
};

static void add(struct bf_join *j, const char *rows, int final, size_t chunk)
{
	struct memsrc m = memsrc_of(rows, chunk);

	CHECK_INT(bf_join_add_output(j, memsrc_read, &m, final, NULL), 0);
}

static struct out finish(struct bf_join *j, const char *input, size_t chunk)
{
	struct memsrc m = memsrc_of(input ? input : "", chunk);
	struct bf_join_files f;
	struct out o = { 0 };

	o.rc = bf_join_finish(j, input ? memsrc_read : NULL, &m, &f, &o.st,
			      &o.e);
	if (o.rc == 0) {
		o.ok = slurp(f.succeeded);
		o.bad = slurp(f.failed);
		o.by = slurp(f.by_input);
		o.retry = slurp(f.retry);
		o.by_fd = f.by_input;
		CHECK_INT(f.succeeded_size, strlen(o.ok));
		CHECK_INT(f.failed_size, strlen(o.bad));
		if (o.by)
			CHECK_INT(f.by_input_size, strlen(o.by));
	}
	bf_join_files_close(&f);
	bf_join_free(j);
	return o;
}

static void out_free(struct out *o)
{
	free(o->ok);
	free(o->bad);
	free(o->by);
	free(o->retry);
}

static struct bf_join *new_join(void)
{
	struct bf_join *j = NULL;

	CHECK_INT(bf_join_new(NULL, &j, NULL), 0);
	return j;
}

static const char *input5 = "{\"key\":\"1\"," REQ("one") "}\n"
			    "{\"key\":\"2\"," REQ("two") "}\n"
			    "{\"key\":\"3\"," REQ("three") "}\n"
			    "{\"key\":\"4\"," REQ("four") "}\n"
			    "{\"key\":\"5\"," REQ("five") "}\n";

static void final_beats_incremental(int final_first, size_t chunk)
{
	const char *inc = OK("\"1\"", "inc1") "\n" OK("\"4\"", "inc4") "\n"
		BAD("\"2\"") "\n";
	const char *fin = OK("\"1\"", "fin1") "\n" OK("\"2\"", "fin2") "\n"
		BAD("\"3\"");
	struct bf_join *j = new_join();
	struct out o;

	if (final_first) {
		add(j, fin, 1, chunk);
		add(j, inc, 0, chunk);
	} else {
		add(j, inc, 0, chunk);
		add(j, fin, 1, chunk);
	}
	o = finish(j, input5, chunk);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_KEYED);
	CHECK_INT(o.st.rows, 6);
	CHECK_INT(o.st.dup_rows, 2);
	CHECK_INT(o.st.succeeded, 3);
	CHECK_INT(o.st.failed, 1);
	CHECK_INT(o.st.inputs, 5);
	CHECK_INT(o.st.incomplete, 1);
	CHECK_INT(o.st.unmatched, 0);
	if (final_first)
		CHECK_STR(o.ok, OK("\"1\"", "fin1") "\n" OK("\"2\"", "fin2")
			  "\n" OK("\"4\"", "inc4") "\n");
	else
		CHECK_STR(o.ok, OK("\"4\"", "inc4") "\n" OK("\"1\"", "fin1")
			  "\n" OK("\"2\"", "fin2") "\n");
	CHECK_STR(o.bad, BAD("\"3\"") "\n");
	CHECK_STR(o.by, OK("\"1\"", "fin1") "\n" OK("\"2\"", "fin2") "\n"
		  BAD("\"3\"") "\n" OK("\"4\"", "inc4") "\n"
		  "{\"key\":\"5\",\"status\":\"incomplete\"}\n");
	CHECK_STR(o.retry, "{\"key\":\"3\"," REQ("three") "}\n"
		  "{\"key\":\"5\"," REQ("five") "}\n");
	out_free(&o);
}

static void later_row_of_same_kind_wins(void)
{
	struct bf_join *j = new_join();
	struct out o;

	/* two generations of an incremental export: the second repeats
	 * the first's rows and adds more */
	add(j, BAD("\"1\"") "\n", 0, 0);
	add(j, OK("\"1\"", "again") "\n" OK("\"2\"", "b") "\n", 0, 0);
	o = finish(j, "{\"key\":\"1\"," REQ("a") "}\n{\"key\":\"2\"," REQ("b")
		   "}\n{\"key\":\"3\"," REQ("c") "}\n", 0);
	CHECK_INT(o.rc, 0);
	CHECK_STR(o.ok, OK("\"1\"", "again") "\n" OK("\"2\"", "b") "\n");
	CHECK_STR(o.bad, "");
	CHECK_STR(o.retry, "{\"key\":\"3\"," REQ("c") "}\n");
	out_free(&o);
}

static void keyless_incremental_rows_yield_to_final_files(void)
{
	struct bf_join *j = new_join();
	struct out o;

	add(j, "{\"status\":\"\",\"response\":{\"n\":1}}\n", 0, 0);
	add(j, "{\"status\":\"\",\"response\":{\"n\":1}}\n"
	       "{\"status\":\"x\"}\n", 1, 0);
	o = finish(j, NULL, 0);
	CHECK_INT(o.rc, 0);
	CHECK_STR(o.ok, "{\"status\":\"\",\"response\":{\"n\":1}}\n");
	CHECK_STR(o.bad, "{\"status\":\"x\"}\n");
	CHECK_INT(o.st.keyless_rows, 3);
	CHECK_INT(o.st.dup_rows, 1);
	out_free(&o);

	/* only incremental exports (a cancelled job): they are the rows */
	j = new_join();
	add(j, "{\"status\":\"\",\"response\":{}}\n", 0, 0);
	o = finish(j, NULL, 0);
	CHECK_INT(o.st.succeeded, 1);
	out_free(&o);
}

static void success_rule(void)
{
	CHECK(bf_row_succeeded("{\"status\":\"\",\"response\":{}}", 29));
	CHECK(bf_row_succeeded("{\"response\":{}}", 15));
	CHECK(!bf_row_succeeded("{\"status\":\"\"}", 13));
	CHECK(!bf_row_succeeded("{\"status\":\"x\",\"response\":{}}", 28));
	CHECK(!bf_row_succeeded("{\"status\":{\"code\":3},\"response\":{}}",
				36));
	CHECK(!bf_row_succeeded("{\"status\":\"\",\"response\":null}", 31));
	CHECK(!bf_row_succeeded("nope", 4));
}

static void custom_ids_numbers_and_strays(void)
{
	struct bf_join *j = new_join();
	struct out o;

	/* the importer may echo "7" as 7; a row for a key the input does
	 * not have; a row without any key; a line that is not JSON; an
	 * export cut mid-row */
	add(j, "{\"key\":7,\"status\":\"\",\"response\":{}}\n"
	       "{\"custom_id\":\"c\",\"status\":\"\",\"response\":{}}\n"
	       OK("\"zzz\"", "stray") "\n"
	       "{\"status\":\"\",\"response\":{\"anon\":1}}\n"
	       "garbage\n"
	       "{\"key\":\"8\",\"status\":\"\",\"resp",
	    0, 5);
	o = finish(j, "{\"key\":\"7\"," REQ("a") "}\n"
		      "{\"custom_id\":\"c\"," REQ("b") "}\n"
		      "{\"custom_id\":\"d\"," REQ("c") "}\n"
		      "{\"key\":\"8\"," REQ("d") "}\n", 3);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_KEYED);
	CHECK_INT(o.st.rows, 4);
	CHECK_INT(o.st.bad_rows, 2);
	CHECK_INT(o.st.keyless_rows, 1);
	CHECK_INT(o.st.succeeded, 4);
	CHECK_INT(o.st.unmatched, 1);
	CHECK_INT(o.st.incomplete, 2);
	CHECK_STR(o.by, "{\"key\":7,\"status\":\"\",\"response\":{}}\n"
		  "{\"custom_id\":\"c\",\"status\":\"\",\"response\":{}}\n"
		  "{\"custom_id\":\"d\",\"status\":\"incomplete\"}\n"
		  "{\"key\":\"8\",\"status\":\"incomplete\"}\n");
	CHECK_STR(o.retry, "{\"custom_id\":\"d\"," REQ("c") "}\n"
		  "{\"key\":\"8\"," REQ("d") "}\n");
	CHECK(strstr(o.ok, "anon") != NULL);
	out_free(&o);
}

static void keys_missing_or_repeated(void)
{
	struct bf_join *j = new_join();
	struct out o;

	add(j, OK("\"1\"", "a") "\n" BAD("\"2\"") "\n", 1, 0);
	o = finish(j, "{\"key\":\"1\"," REQ("a") "}\n{" REQ("b") "}\n", 0);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_NO_KEYS);
	CHECK_INT(o.st.bad_line, 2);
	CHECK(o.by == NULL && o.retry == NULL);
	CHECK_STR(o.ok, OK("\"1\"", "a") "\n");
	CHECK_STR(o.bad, BAD("\"2\"") "\n");
	out_free(&o);

	j = new_join();
	add(j, OK("\"1\"", "a") "\n", 1, 0);
	o = finish(j, "{\"key\":\"1\"," REQ("a") "}\n{\"key\":\"2\"," REQ("b")
		   "}\n{\"key\":\"2\"," REQ("c") "}\n", 0);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_DUP_KEYS);
	CHECK_INT(o.st.bad_line, 3);
	CHECK(o.by == NULL);
	out_free(&o);

	j = new_join();
	add(j, OK("\"1\"", "a") "\n", 1, 0);
	o = finish(j, "{\"key\":\"1\"," REQ("a") "}\nnot json\n", 0);
	CHECK_INT(o.st.keys, BF_JOIN_NO_KEYS);
	out_free(&o);

	/* no input at all: succeeded/failed only */
	j = new_join();
	add(j, OK("\"1\"", "a") "\n", 1, 0);
	o = finish(j, NULL, 0);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_NO_KEYS);
	CHECK_STR(o.ok, OK("\"1\"", "a") "\n");
	out_free(&o);
}

static void empty_and_errors(void)
{
	struct bf_join *j = new_join();
	struct out o;
	struct memsrc m = memsrc_of(OK("\"1\"", "a") "\n" OK("\"2\"", "b"), 4);
	struct bf_err e;

	/* nothing produced yet: every input line is incomplete */
	o = finish(j, input5, 0);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.incomplete, 5);
	CHECK_STR(o.ok, "");
	CHECK_STR(o.retry, input5);
	out_free(&o);

	/* read errors come back with the source's errno */
	j = new_join();
	m.fail_at = 12;
	CHECK_INT(bf_join_add_output(j, memsrc_read, &m, 1, &e), -EIO);
	CHECK_STR(e.msg, "test: read failed");
	bf_join_free(j);

	j = new_join();
	struct memsrc in = memsrc_of(input5, 0);
	struct bf_join_files f;

	in.fail_at = 20;
	CHECK_INT(bf_join_finish(j, memsrc_read, &in, &f, NULL, &e), -EIO);
	CHECK(f.succeeded == -1 && f.by_input == -1);
	bf_join_free(j);

	/* a row longer than the cap */
	struct bf_join_opts jo = { .max_line = 16 };

	CHECK_INT(bf_join_new(&jo, &j, NULL), 0);
	m = memsrc_of(OK("\"1\"", "a long answer") "\n", 0);
	CHECK_INT(bf_join_add_output(j, memsrc_read, &m, 1, &e), -EFBIG);
	bf_join_free(j);

	/* a spool directory that does not exist */
	jo.tmpdir = "/nonexistent/dir";
	CHECK_INT(bf_join_new(&jo, &j, &e), -ENOENT);
	CHECK(j == NULL);
}

/* Rows that echo no key: matched by their echoed request, whose members
 * come back reordered, with null members added and numbers re-typed. */
#define RQ(t, n) "\"request\":{\"contents\":[{\"parts\":[{\"text\":\"" t \
		 "\"}],\"role\":\"user\"}],\"generationConfig\":{\"topK\":" n "}}"
#define ECHO(t, n) "\"request\":{\"generationConfig\":{\"topK\":" n "}," \
		   "\"contents\":[{\"role\":\"user\",\"parts\":[{\"fileData\":" \
		   "null,\"text\":\"" t "\"}]}]}"
#define ROKT(t, n, a) "\"status\":\"\",\"processed_time\":\"x\"," ECHO(t, n) \
		      ",\"response\":{\"a\":\"" a "\"}}"
#define ROK(t, n, a) "{" ROKT(t, n, a)
#define RBADT(t, n) "\"status\":\"Bad\"," ECHO(t, n) ",\"response\":{}}"
#define RBAD(t, n) "{" RBADT(t, n)

static void keyless_rows_match_by_request(void)
{
	static const char input[] =
		"{\"key\":\"line-1\"," RQ("a", "1") "}\n"
		"{\"key\":\"line-2\"," RQ("same", "2") "}\n"
		"{\"key\":\"line-3\"," RQ("b", "3") "}\n"
		"{\"key\":\"line-4\"," RQ("same", "2") "}\n"
		"{\"key\":\"line-5\"," RQ("same", "2") "}\n"
		"{\"key\":\"line-6\"," RQ("c", "6") "}\n";
	struct bf_join *j = new_join();
	struct out o;

	/* out of order; numbers re-typed (2 -> 2.0, 3 -> "3"); the three
	 * identical requests: two rows, one failed; "c" not done */
	add(j, ROK("same", "2.0", "s1") "\n" ROK("b", "\"3\"", "b") "\n"
	       RBAD("same", "2") "\n" ROK("a", "1", "a") "\n", 1, 0);
	o = finish(j, input, 7);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_KEYED);
	CHECK_INT(o.st.keyless_rows, 4);
	CHECK_INT(o.st.succeeded, 3);
	CHECK_INT(o.st.failed, 1);
	CHECK_INT(o.st.incomplete, 2);
	CHECK_INT(o.st.unmatched, 0);
	/* each line gets exactly one row, the input's key put in front */
	CHECK_STR(o.by,
		  "{\"key\":\"line-1\"," ROKT("a", "1", "a") "\n"
		  "{\"key\":\"line-2\"," ROKT("same", "2.0", "s1") "\n"
		  "{\"key\":\"line-3\"," ROKT("b", "\"3\"", "b") "\n"
		  "{\"key\":\"line-4\"," RBADT("same", "2") "\n"
		  "{\"key\":\"line-5\",\"status\":\"incomplete\"}\n"
		  "{\"key\":\"line-6\",\"status\":\"incomplete\"}\n");
	/* never a line that succeeded: one more "same" and "c" */
	CHECK_STR(o.retry, "{\"key\":\"line-4\"," RQ("same", "2") "}\n"
		  "{\"key\":\"line-5\"," RQ("same", "2") "}\n"
		  "{\"key\":\"line-6\"," RQ("c", "6") "}\n");
	out_free(&o);

	/* partial files: an export repeating an earlier one's rows, and a
	 * file left beside the final one, never count a row twice */
	j = new_join();
	add(j, ROK("same", "2", "s1") "\n", 0, 0);
	add(j, ROK("same", "2", "s1") "\n" ROK("a", "1", "a") "\n", 0, 0);
	o = finish(j, input, 0);
	CHECK_INT(o.st.succeeded, 2);
	CHECK_INT(o.st.incomplete, 4);
	CHECK_STR(o.retry, "{\"key\":\"line-3\"," RQ("b", "3") "}\n"
		  "{\"key\":\"line-4\"," RQ("same", "2") "}\n"
		  "{\"key\":\"line-5\"," RQ("same", "2") "}\n"
		  "{\"key\":\"line-6\"," RQ("c", "6") "}\n");
	out_free(&o);

	/* input without keys: matched all the same */
	j = new_join();
	add(j, ROK("b", "3", "b") "\n", 1, 0);
	o = finish(j, "{" RQ("a", "1") "}\n{" RQ("b", "3") "}\n", 0);
	CHECK_INT(o.st.keys, BF_JOIN_KEYED);
	CHECK_STR(o.by, "{\"status\":\"incomplete\"}\n" ROK("b", "3", "b") "\n");
	CHECK_STR(o.retry, "{" RQ("a", "1") "}\n");
	out_free(&o);
}

/* A keyless row whose echoed request matches no line: which lines it
 * answered is unknown, so no retry.jsonl that could pay twice. */
static void keyless_rows_that_match_nothing(void)
{
	struct bf_join *j = new_join();
	struct out o;

	add(j, ROK("a", "1", "a") "\n" ROK("changed", "1", "x") "\n", 1, 0);
	o = finish(j, "{\"key\":\"line-1\"," RQ("a", "1") "}\n"
		      "{\"key\":\"line-2\"," RQ("b", "1") "}\n", 0);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.keys, BF_JOIN_UNMATCHED);
	CHECK_INT(o.st.unmatched, 1);
	CHECK(o.by == NULL && o.retry == NULL);
	CHECK_INT(o.st.succeeded, 2);
	out_free(&o);
}

/* The importer re-types numeric-looking key strings: "000000" -> 0. */
static void numeric_keys_retyped(void)
{
	struct bf_join *j = new_join();
	struct out o;

	add(j, OK("0", "z") "\n" OK("17", "s") "\n", 1, 0);
	o = finish(j, "{\"key\":\"000000\"," REQ("a") "}\n"
		      "{\"key\":\"17\"," REQ("b") "}\n", 0);
	CHECK_INT(o.rc, 0);
	CHECK_INT(o.st.incomplete, 0);
	CHECK_STR(o.retry, "");
	out_free(&o);
}

/* results/README: the advice fits the reason. */
static void readme_text(void)
{
	struct bf_join_stats st = {0};
	char *r;

	r = bf_join_readme("the job's input is not in Cloud Storage", &st);
	CHECK(r && strstr(r, "not here: the job's input is not in Cloud"));
	CHECK(r && strstr(r, "only from\nCloud Storage objects"));
	CHECK(r && !strstr(r, "staging") && !strstr(r, "\"key\""));
	free(r);
	st.keys = BF_JOIN_NO_KEYS;
	st.bad_line = 7;
	r = bf_join_readme(NULL, &st);
	CHECK(r && strstr(r, "line 7 of the input has neither"));
	CHECK(r && strstr(r, "-o staging=gs://BUCKET/PREFIX"));
	free(r);
	st.keys = BF_JOIN_DUP_KEYS;
	r = bf_join_readme(NULL, &st);
	CHECK(r && strstr(r, "the key on line 7 of the input appears"));
	free(r);
}

int main(void)
{
	final_beats_incremental(0, 0);
	final_beats_incremental(1, 0);
	final_beats_incremental(0, 3);
	later_row_of_same_kind_wins();
	keyless_incremental_rows_yield_to_final_files();
	success_rule();
	custom_ids_numbers_and_strays();
	keys_missing_or_repeated();
	empty_and_errors();
	keyless_rows_match_by_request();
	keyless_rows_that_match_nothing();
	numeric_keys_retyped();
	readme_text();
	return CHECK_DONE();
}
