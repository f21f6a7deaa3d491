/* test_regress.c - unit tests for the bugs the fuzz targets found in other
 * layers (see /work/coord/fuzz-findings.md, F1..F9), so each fix stays
 * fixed even without a fuzz run. Plain C: works with any compiler. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/check.h"
#include "auth/auth_int.h"
#include "batchfs/log.h"
#include "batchfs/results.h"
#include "model/model_int.h"

/* F1: a huge negative expires_in is clamped, not cast. */
static void token_expiry(void)
{
	static const char body[] =
		"{\"access_token\":\"ya29.a\",\"expires_in\":-1e30}";
	struct bf_err e = {0};
	char *tok = NULL;
	long life = -5;

	CHECK_INT(bf_auth_parse_token_reply(body, sizeof(body) - 1, &tok, &life,
					    &e),
		  0);
	CHECK_INT(life, 0);
	bf_auth_free_secret(tok);
}

/* F2: a token file whose token has bytes a header cannot carry. */
static int file_token(const char *content)
{
	char path[] = "/tmp/bf-regress-token-XXXXXX", tok[256];
	struct bf_auth_opts o = {.mode = BF_AUTH_TOKEN};
	struct bf_auth *a = NULL;
	struct bf_err e = {0};
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return -errno;
	if (write(fd, content, strlen(content)) < 0)
		rc = -errno;
	close(fd);
	o.token_file = path;
	rc = bf_auth_new(&o, NULL, &a, &e);
	if (rc == 0)
		rc = bf_auth_token(a, tok, sizeof(tok), &e);
	bf_auth_free(a);
	unlink(path);
	return rc;
}

static void token_file(void)
{
	CHECK_INT(file_token("ya29.good-token\n"), 0);
	CHECK_INT(file_token("=\xf6"), -EACCES);
	CHECK_INT(file_token("ya29.a\rb\n"), -EACCES);
	CHECK_INT(file_token("ya29.a\x01"), -EACCES);
	CHECK_INT(file_token("ya29.a\tb"), -EACCES);
}

/* F3: the "near '...'" quote stays inside (text, len). */
static void request_quote(void)
{
	static const char src[] = "{\"model\":\"m\"} x";
	size_t len = sizeof(src) - 1;
	char *text = malloc(len), *out = NULL; /* no terminator */
	struct bf_err e = {0};

	memcpy(text, src, len);
	CHECK_INT(bf_validate_request(text, len, "job1", &out, &e), -EINVAL);
	CHECK(out == NULL);
	CHECK(strstr(e.msg, "near 'x'") != NULL);
	free(text);
}

/* F4: "." / ".." plus continuation bytes must not cut down to "."/"..". */
static void dot_names(void)
{
	char s[400], *n;

	s[0] = '.';
	memset(s + 1, 0x80, 300);
	s[301] = '\0';
	n = bf_names_sanitize(s, BF_NAME_MAX);
	CHECK_STR(n, "_");
	free(n);
	s[1] = '.'; /* ".." + a lead byte + 299 continuation bytes */
	s[2] = (char)0xe9;
	n = bf_names_sanitize(s, BF_NAME_MAX);
	CHECK_STR(n, "__");
	free(n);
	n = bf_names_sanitize(".", BF_NAME_MAX);
	CHECK_STR(n, "_");
	free(n);
	n = bf_names_sanitize("", BF_NAME_MAX);
	CHECK_STR(n, "_");
	free(n);
	n = bf_names_sanitize("...", BF_NAME_MAX);
	CHECK_STR(n, "...");
	free(n);
}

/* F5: server counters at INT64_MAX do not overflow the progress file. */
static void progress_counters(void)
{
	struct bf_job j;
	struct bf_buf b;

	memset(&j, 0, sizeof(j));
	j.state = BF_JOB_RUNNING;
	j.succeeded = j.failed = j.incomplete = INT64_MAX;
	bf_buf_init(&b, 0);
	CHECK_INT(bf_render_progress(&j, &b), 0);
	CHECK(b.data && strstr(b.data, " 66%") != NULL);
	bf_buf_free(&b);
}

/* F6: the first bf_lines_next call (no buffer yet) is defined behaviour;
 * only a UBSan build (build-fuzz) can tell, where this would stop. */
struct str_src {
	const char *p;
	size_t len;
};

static ssize_t str_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct str_src *s = ud;
	size_t n = s->len < len ? s->len : len;

	(void)e;
	memcpy(buf, s->p, n);
	s->p += n;
	s->len -= n;
	return (ssize_t)n;
}

static void jsonl_first_line(void)
{
	static const char in[] =
		"{\"request\":{\"contents\":[{\"role\":\"user\"}]}}\n";
	struct str_src s = {in, sizeof(in) - 1};
	struct bf_jsonl_stats st = {0};
	struct bf_err e = {0};

	CHECK_INT(bf_jsonl_normalize(str_read, &s, -1, NULL, &st, &e), 0);
	CHECK_INT(st.lines, 1);
	CHECK_INT(st.assigned, 1);
}

/* F7: an output row and an input line with the empty key "" (the key
 * buffer is still NULL): no memcmp on NULL (UBSan build only). */
static void join_empty_key(void)
{
	static const char out[] = "{\"key\":\"\",\"response\":{},"
				  "\"status\":\"\"}\n";
	static const char in[] = "{\"key\":\"\",\"request\":{\"contents\":"
				 "[{\"role\":\"user\"}]}}\n";
	struct str_src so = {out, sizeof(out) - 1}, si = {in, sizeof(in) - 1};
	struct bf_join_files f;
	struct bf_join *j = NULL;

	CHECK_INT(bf_join_new(NULL, &j, NULL), 0);
	CHECK_INT(bf_join_add_output(j, str_read, &so, 1, NULL), 0);
	if (bf_join_finish(j, str_read, &si, &f, NULL, NULL) == 0) {
		CHECK(f.succeeded >= 0);
		bf_join_files_close(&f);
	}
	bf_join_free(j);
}

/* F9: a number key far outside long long (UBSan build only). */
static void jsonl_huge_key(void)
{
	static const char in[] = "{\"key\":-1e300,\"request\":{\"contents\":"
				 "[{\"role\":\"user\"}]}}\n";
	struct str_src s = {in, sizeof(in) - 1};
	struct bf_jsonl_stats st = {0};

	CHECK_INT(bf_jsonl_normalize(str_read, &s, -1, NULL, &st, NULL), 0);
	CHECK_INT(st.keyed, 1);
}

int main(void)
{
	bf_log_set_level(BF_LOG_ERR);
	token_expiry();
	token_file();
	request_quote();
	dot_names();
	progress_counters();
	jsonl_first_line();
	join_empty_key();
	jsonl_huge_key();
	return CHECK_DONE();
}
