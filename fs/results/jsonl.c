/* jsonl.c - a draft's input.jsonl before it is staged: every line checked
 * the way the batch importer would fail on it, and every line given a key
 * so each output row can be traced back. Streams: it holds one line and a
 * bounded run of key hashes (dupkeys.c); repeated keys are found after the
 * pass and confirmed by reading the keys back from the output. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "results/results_int.h"

enum key_type { KT_NONE = 0, KT_STRING, KT_NUMBER };

struct norm {
	const char *fname;
	struct bf_dupk *keys;
	struct bf_wbuf *w;
	/* The importer infers one column type per member across the whole
	 * file: a key that is a number on one line and a string on another
	 * fails the job, so it fails here, with the line to fix. */
	enum key_type ktype[2];
	uint64_t kline[2];
	int number_keys; /* opts: added keys are numbers */
	struct bf_jsonl_stats st;
};

static const char *type_name(enum key_type t)
{
	return t == KT_NUMBER ? "a number" : "a string";
}

static int check_request(const char *fname, uint64_t ln, const cJSON *row,
			 struct bf_err *e)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(row, "request");
	const cJSON *contents;

	if (!req)
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": missing \"request\"", fname,
				  ln);
	if (!cJSON_IsObject(req))
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": \"request\" is not an object",
				  fname, ln);
	contents = cJSON_GetObjectItemCaseSensitive(req, "contents");
	if (!contents)
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": missing \"request.contents\"",
				  fname, ln);
	if (!cJSON_IsArray(contents))
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": \"request.contents\" is not "
				  "an array",
				  fname, ln);
	if (cJSON_GetArraySize(contents) == 0)
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": \"request.contents\" is "
				  "empty",
				  fname, ln);
	return 0;
}

/* Records key for line ln; refuses a repeat and a change of type. */
static int note_key(struct norm *n, uint64_t ln, const char *field,
		    const char *key, size_t klen, enum key_type t,
		    int assigned, struct bf_err *e)
{
	int fi = strcmp(field, "key") == 0 ? 0 : 1;

	if (klen == 0)
		return bf_err_set(e, EINVAL, "%s:%" PRIu64 ": \"%s\" is empty",
				  n->fname, ln, field);
	if (n->ktype[fi] == KT_STRING && t == KT_NUMBER && !n->number_keys &&
	    n->st.assigned && !assigned && n->st.keyed == 0 && fi == 0)
		n->st.wants_number_keys = 1; /* only added keys so far */
	if (n->ktype[fi] && n->ktype[fi] != t && assigned)
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": no \"key\", and the one "
				  "batchfs would add is a string while line %"
				  PRIu64 "'s is a number (the importer needs "
				  "one type per member): give every line a key",
				  n->fname, ln, n->kline[fi]);
	if (n->ktype[fi] && n->ktype[fi] != t)
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": \"%s\" is %s here but %s on "
				  "line %" PRIu64 " (the importer needs one "
				  "type per member)",
				  n->fname, ln, field, type_name(t),
				  type_name(n->ktype[fi]), n->kline[fi]);
	if (!n->ktype[fi]) {
		n->ktype[fi] = t;
		n->kline[fi] = ln;
	}
	return bf_dupk_add(n->keys, fi, key, klen, ln, e);
}

static int one_line(struct norm *n, uint64_t ln, const char *s, size_t len,
		    struct bf_err *e)
{
	const char *end = NULL, *field = NULL;
	const cJSON *item = NULL;
	cJSON *row;
	char *key = NULL;
	size_t klen = 0;
	int rc;

	if (!bf_utf8_text(s, len))
		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ": not UTF-8 text (binary "
				  "data?)",
				  n->fname, ln);
	row = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (row && end) {
		while (end < s + len && strchr(" \t\r\n", *end))
			end++;
		if (end < s + len) {
			cJSON_Delete(row);
			row = NULL;
		}
	}
	if (!row) {
		size_t pos = end && end >= s && end <= s + len
				     ? (size_t)(end - s)
				     : 0;
		size_t show = len - pos > 20 ? 20 : len - pos;

		return bf_err_set(e, EINVAL,
				  "%s:%" PRIu64 ":%zu: malformed JSON near "
				  "'%.*s'",
				  n->fname, ln, pos + 1, (int)show, s + pos);
	}
	if (!cJSON_IsObject(row)) {
		rc = bf_err_set(e, EINVAL,
				"%s:%" PRIu64 ": not a JSON object", n->fname,
				ln);
		goto out;
	}
	rc = check_request(n->fname, ln, row, e);
	if (rc < 0)
		goto out;
	rc = bf_row_key(row, &key, &klen, &item, &field);
	if (rc == -EINVAL) {
		rc = bf_err_set(e, EINVAL,
				"%s:%" PRIu64 ": \"%s\" must be a string or "
				"a number",
				n->fname, ln, field);
		goto out;
	}
	if (rc < 0) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (rc == 1) {
		rc = note_key(n, ln, field, key, klen,
			      cJSON_IsNumber(item) ? KT_NUMBER : KT_STRING, 0,
			      e);
		if (rc < 0)
			goto out;
		n->st.keyed++;
		rc = bf_wbuf_put(n->w, s, len, e);
	} else {
		/* The importer re-types numeric-looking strings (seen:
		 * "000000" came back as 0), so an added key is never one:
		 * "line-N". When the user's keys are numbers, the added key
		 * is the number N, so the column keeps one type. */
		int number = n->ktype[0] == KT_NUMBER || n->number_keys;
		char num[32];
		int k = snprintf(num, sizeof(num),
				 number ? "%" PRIu64 : "line-%" PRIu64, ln);
		const char *brace = memchr(s, '{', len);
		char head[56];
		int hl;

		rc = note_key(n, ln, "key", num, (size_t)k,
			      number ? KT_NUMBER : KT_STRING, 1, e);
		if (rc < 0)
			goto out;
		n->st.assigned++;
		/* Insert into the original bytes rather than re-print: cJSON
		 * would round big integers and reformat floats. The object
		 * has a request, so it is not empty and a ',' fits. */
		hl = snprintf(head, sizeof(head),
			      number ? "{\"key\":%s," : "{\"key\":\"%s\",",
			      num);
		rc = bf_wbuf_put(n->w, head, (size_t)hl, e);
		if (rc == 0)
			rc = bf_wbuf_put(n->w, brace + 1,
					 len - (size_t)(brace + 1 - s), e);
	}
	if (rc == 0)
		rc = bf_wbuf_put(n->w, "\n", 1, e);
	n->st.lines++;
out:
	free(key);
	cJSON_Delete(row);
	return rc;
}

struct prd {
	int fd;
	uint64_t off, end;
};

static ssize_t prd_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct prd *r = ud;
	ssize_t k;

	if (r->off >= r->end)
		return 0;
	if (len > r->end - r->off)
		len = (size_t)(r->end - r->off);
	do {
		k = pread(r->fd, buf, len, (off_t)r->off);
	} while (k < 0 && errno == EINTR);
	if (k < 0)
		return bf_err_set(e, errno, "input.jsonl copy: %m");
	if (k == 0)
		return bf_err_set(e, EIO, "input.jsonl copy shrank");
	r->off += (uint64_t)k;
	return k;
}

#define MAX_PAIRS 16

struct seen_key {
	uint64_t line;
	char *key;
	size_t klen;
	const char *field;
};

static int line_cmp(const void *a, const void *b)
{
	const struct seen_key *x = a, *y = b;

	return x->line < y->line ? -1 : x->line > y->line;
}

/* The repeated key with the smallest second line among lines before
 * upto: -EINVAL naming it, 0 when there is none. The candidates' keys are
 * read back from the keyed output (its lines are the input's lines). */
static int find_duplicate(struct norm *n, int fd, uint64_t bytes, uint64_t upto,
			  struct bf_err *e)
{
	uint64_t pairs[MAX_PAIRS][2];
	struct seen_key want[2 * MAX_PAIRS];
	struct prd src = {.fd = fd, .end = bytes};
	struct bf_lines l;
	size_t nw = 0, got = 0;
	char *s;
	size_t len;
	int np, rc;

	np = bf_dupk_pairs(n->keys, pairs, MAX_PAIRS, e);
	if (np <= 0)
		return np;
	memset(want, 0, sizeof(want));
	for (int i = 0; i < np; i++) {
		want[nw++].line = pairs[i][0];
		want[nw++].line = pairs[i][1];
	}
	qsort(want, nw, sizeof(*want), line_cmp);
	bf_lines_init(&l, prd_read, &src, BF_JSONL_MAX_LINE);
	while (got < nw && (rc = bf_lines_next(&l, &s, &len, e)) == 1) {
		cJSON *row = NULL;
		const cJSON *item;
		const char *field = NULL;
		char *key = NULL;
		size_t klen = 0;

		if (l.lineno != want[got].line)
			continue;
		row = cJSON_ParseWithLength(s, len);
		if (row && bf_row_key(row, &key, &klen, &item, &field) == 1) {
			for (size_t i = got; i < nw && want[i].line == l.lineno;
			     i++) {
				want[i].key = i == got ? key : NULL;
				want[i].klen = klen;
				want[i].field = field;
			}
		}
		cJSON_Delete(row);
		while (got < nw && want[got].line == l.lineno)
			got++;
	}
	bf_lines_free(&l);
	rc = 0;
	for (int i = 0; i < np && !rc; i++) {
		struct seen_key *a = NULL, *b = NULL;

		if (pairs[i][1] >= upto)
			break;
		for (size_t k = 0; k < nw; k++) {
			if (!a && want[k].line == pairs[i][0] && want[k].key)
				a = &want[k];
			if (!b && want[k].line == pairs[i][1] && want[k].key)
				b = &want[k];
		}
		if (a && b && a->klen == b->klen &&
		    strcmp(a->field, b->field) == 0 &&
		    memcmp(a->key, b->key, a->klen) == 0)
			rc = bf_err_set(e, EINVAL,
					"%s:%" PRIu64 ": duplicate key \"%.*s\" "
					"(lines %" PRIu64 " and %" PRIu64 ")",
					n->fname, pairs[i][1],
					(int)(b->klen > 200 ? 200 : b->klen),
					b->key, pairs[i][0], pairs[i][1]);
	}
	for (size_t k = 0; k < nw; k++)
		free(want[k].key);
	return rc;
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r", s[i]))
			return 0;
	return 1;
}

int bf_jsonl_normalize(bf_read_fn rd, void *ud, int out_fd,
		       const struct bf_jsonl_opts *o,
		       struct bf_jsonl_stats *st, struct bf_err *e)
{
	struct bf_jsonl_opts def = { 0 };
	struct norm n = { 0 };
	struct bf_lines l;
	struct bf_wbuf *w;
	uint64_t first_blank = 0, max_bytes, err_line = 0;
	int own_fd = -1;
	char *s;
	size_t len;
	int rc;

	if (!o)
		o = &def;
	n.fname = o->name ? o->name : "input.jsonl";
	n.number_keys = o->number_keys;
	max_bytes = o->max_bytes ? o->max_bytes : BF_JSONL_MAX_BYTES;
	w = malloc(sizeof(*w));
	n.keys = bf_dupk_new(o->key_run);
	if (!w || !n.keys) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (out_fd < 0) {
		/* Repeated keys are confirmed from the keyed copy. */
		out_fd = own_fd = bf_spool_open(NULL, e);
		if (out_fd < 0) {
			rc = out_fd;
			goto out;
		}
	}
	bf_wbuf_init(w, out_fd);
	n.w = w;
	bf_lines_init(&l, rd, ud, o->max_line ? o->max_line
					      : BF_JSONL_MAX_LINE);
	while ((rc = bf_lines_next(&l, &s, &len, e)) == 1) {
		if (l.bytes > max_bytes) {
			rc = bf_err_set(e, EFBIG,
					"%s: larger than %" PRIu64 " bytes",
					n.fname, max_bytes);
			break;
		}
		if (l.lineno == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		if (blank(s, len)) {
			if (!first_blank)
				first_blank = l.lineno;
			continue;
		}
		if (first_blank) {
			/* A skipped line would shift every later line's
			 * number, and numbers are the keys. */
			rc = bf_err_set(e, EINVAL,
					"%s:%" PRIu64 ": empty line (only "
					"trailing empty lines are allowed)",
					n.fname, first_blank);
			err_line = first_blank;
			break;
		}
		rc = one_line(&n, l.lineno, s, len, e);
		if (rc < 0) {
			if (rc == -EINVAL)
				err_line = l.lineno;
			break;
		}
	}
	if (rc == 0 || err_line) {
		/* A repeated key before the first bad line is reported
		 * instead: the error names the first line that is wrong. */
		struct bf_err de;
		int drc;

		bf_err_clear(&de);
		drc = bf_wbuf_flush(w, &de);
		if (drc == 0)
			drc = find_duplicate(&n, out_fd, w->total,
					     err_line ? err_line : UINT64_MAX,
					     &de);
		if (drc < 0) {
			rc = drc;
			if (e)
				*e = de;
		}
	}
	if (rc == -EFBIG && strncmp(e ? e->msg : "", "line ", 5) == 0) {
		char msg[sizeof(e->msg)];

		snprintf(msg, sizeof(msg), "%s", e->msg + 5);
		bf_err_set(e, EFBIG, "%s:%s", n.fname, msg);
	}
	if (rc == 0 && l.bytes > max_bytes)
		rc = bf_err_set(e, EFBIG, "%s: larger than %" PRIu64 " bytes",
				n.fname, max_bytes);
	if (rc == 0 && n.st.lines == 0)
		rc = bf_err_set(e, EINVAL, "%s: empty (no requests)", n.fname);
	if (rc == 0)
		rc = bf_wbuf_flush(w, e);
	n.st.bytes_in = l.bytes;
	n.st.bytes_out = w->total;
	bf_lines_free(&l);
	if (st)
		*st = n.st;
out:
	bf_dupk_free(n.keys);
	if (own_fd >= 0)
		close(own_fd);
	free(w);
	return rc < 0 ? rc : 0;
}
