/* join.c - a job's output rows matched back to its input lines. Rows from
 * any number of output objects are appended to one spool file while an
 * index remembers, per key, where the winning row is (a final file's row
 * beats an incremental export's). Then the spool is read once to write
 * succeeded/failed, and the input once to write by-input (rows re-read
 * from the spool) and retry. Memory: the index, one row, fixed buffers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "results/results_int.h"

#define DEFAULT_MAX_LINE (64u << 20)

enum {
	R_PRESENT = 1, /* an output row exists for the key */
	R_FINAL = 2,   /* ... from a final file */
	R_OK_ROW = 4,      /* ... and it succeeded */
	R_USED = 8,    /* an input line had the key */
};

/* Spool record: header, key bytes, row bytes. */
struct rec {
	uint32_t rowlen;
	uint32_t keylen; /* UINT32_MAX: the row has no key */
	uint32_t flags;	 /* REC_OK, REC_FINAL */
};
enum { REC_OK = 1, REC_FINAL = 2 };

struct bf_join {
	size_t max_line;
	char *tmpdir;
	int spool;
	struct bf_wbuf *w;
	struct bf_kset *idx;
	int have_final;
	struct bf_join_stats st;
};

int bf_join_new(const struct bf_join_opts *o, struct bf_join **out,
		struct bf_err *e)
{
	struct bf_join *j = calloc(1, sizeof(*j));
	int rc;

	*out = NULL;
	if (!j)
		return bf_err_set(e, ENOMEM, "out of memory");
	j->spool = -1;
	j->max_line = o && o->max_line ? o->max_line : DEFAULT_MAX_LINE;
	j->tmpdir = o && o->tmpdir ? strdup(o->tmpdir) : NULL;
	j->w = malloc(sizeof(*j->w));
	j->idx = bf_kset_new();
	if ((o && o->tmpdir && !j->tmpdir) || !j->w || !j->idx) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	j->spool = bf_spool_open(j->tmpdir, e);
	if (j->spool < 0) {
		rc = j->spool;
		goto fail;
	}
	bf_wbuf_init(j->w, j->spool);
	*out = j;
	return 0;
fail:
	bf_join_free(j);
	return rc;
}

void bf_join_free(struct bf_join *j)
{
	if (!j)
		return;
	if (j->spool >= 0)
		close(j->spool);
	bf_kset_free(j->idx);
	free(j->w);
	free(j->tmpdir);
	free(j);
}

static int add_row(struct bf_join *j, const char *s, size_t len, int final,
		   struct bf_err *e)
{
	cJSON *row = cJSON_ParseWithLength(s, len);
	struct rec r = { .rowlen = (uint32_t)len, .keylen = UINT32_MAX };
	struct bf_kval *v;
	uint64_t rowoff;
	char *key = NULL;
	size_t klen = 0;
	int rc = 0;

	if (!row || !cJSON_IsObject(row)) {
		/* Not a row; nothing to match it with or to count as an
		 * answer. */
		j->st.bad_rows++;
		goto out;
	}
	j->st.rows++;
	r.flags = (bf_row_ok(row) ? REC_OK : 0) | (final ? REC_FINAL : 0);
	if (final)
		j->have_final = 1;
	rc = bf_row_key(row, &key, &klen, NULL, NULL);
	if (rc == -ENOMEM) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (rc == 1)
		r.keylen = (uint32_t)klen;
	else
		j->st.keyless_rows++;
	rowoff = j->w->total + sizeof(r) + (rc == 1 ? klen : 0);
	rc = bf_wbuf_put(j->w, &r, sizeof(r), e);
	if (rc == 0 && key)
		rc = bf_wbuf_put(j->w, key, klen, e);
	if (rc == 0)
		rc = bf_wbuf_put(j->w, s, len, e);
	if (rc < 0 || !key)
		goto out;
	rc = bf_kset_put(j->idx, key, klen, &v);
	if (rc < 0) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (rc == 0) {
		j->st.dup_rows++;
		/* An incremental row never replaces a final one; otherwise
		 * the later row is the newer. */
		if ((v->flags & R_FINAL) && !final) {
			rc = 0;
			goto out;
		}
	}
	v->off = rowoff;
	v->len = (uint32_t)len;
	v->flags = R_PRESENT | (final ? R_FINAL : 0) |
		   ((r.flags & REC_OK) ? R_OK_ROW : 0);
	rc = 0;
out:
	free(key);
	cJSON_Delete(row);
	return rc;
}

/* bf_lines_next, passing over lines of only blanks and tabs (strchr also
 * matches a NUL byte, so those count as blank too): neither an output row
 * nor an input request. */
static int next_nonblank(struct bf_lines *l, char **s, size_t *len,
			 struct bf_err *e)
{
	int rc;

	while ((rc = bf_lines_next(l, s, len, e)) == 1) {
		size_t i = 0;

		while (i < *len && strchr(" \t", (*s)[i]))
			i++;
		if (i < *len)
			break;
	}
	return rc;
}

int bf_join_add_output(struct bf_join *j, bf_read_fn rd, void *ud, int final,
		       struct bf_err *e)
{
	struct bf_lines l;
	char *s;
	size_t len;
	int rc;

	bf_lines_init(&l, rd, ud, j->max_line);
	while ((rc = next_nonblank(&l, &s, &len, e)) == 1) {
		rc = add_row(j, s, len, final, e);
		if (rc < 0)
			break;
	}
	bf_lines_free(&l);
	return rc < 0 ? rc : 0;
}

static int copy_range(int fd, uint64_t off, uint64_t len, struct bf_wbuf *w,
		      char *tmp, size_t tmplen, struct bf_err *e)
{
	while (len > 0) {
		size_t n = len > tmplen ? tmplen : (size_t)len;
		int rc = bf_pread_full(fd, tmp, n, off, e);

		if (rc == 0)
			rc = bf_wbuf_put(w, tmp, n, e);
		if (rc < 0)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/* One pass over the spool: each key's winning row, and every keyless row,
 * to succeeded or failed, in the order the rows were read. Keyless rows of
 * incremental exports are dropped when a final file exists: it repeats
 * them, and without a key they cannot be de-duplicated. */
static int split(struct bf_join *j, struct bf_wbuf *ok, struct bf_wbuf *bad,
		 char *tmp, size_t tmplen, struct bf_err *e)
{
	uint64_t off = 0, end = j->w->total;
	char *key = NULL;
	size_t kcap = 0;
	int rc = 0;

	while (off < end) {
		struct rec r;
		uint64_t rowoff;
		struct bf_wbuf *w;

		rc = bf_pread_full(j->spool, &r, sizeof(r), off, e);
		if (rc < 0)
			break;
		rowoff = off + sizeof(r);
		if (r.keylen != UINT32_MAX) {
			struct bf_kval *v;

			if (r.keylen > kcap) {
				char *p = realloc(key, r.keylen);

				if (!p) {
					rc = bf_err_set(e, ENOMEM,
							"out of memory");
					break;
				}
				key = p;
				kcap = r.keylen;
			}
			rc = bf_pread_full(j->spool, key, r.keylen, rowoff, e);
			if (rc < 0)
				break;
			rowoff += r.keylen;
			v = bf_kset_get(j->idx, key, r.keylen);
			if (!v || v->off != rowoff)
				goto next; /* replaced by another row */
		} else if (j->have_final && !(r.flags & REC_FINAL)) {
			j->st.dup_rows++;
			goto next;
		}
		w = (r.flags & REC_OK) ? ok : bad;
		if (r.flags & REC_OK)
			j->st.succeeded++;
		else
			j->st.failed++;
		rc = copy_range(j->spool, rowoff, r.rowlen, w, tmp, tmplen, e);
		if (rc == 0)
			rc = bf_wbuf_put(w, "\n", 1, e);
		if (rc < 0)
			break;
next:
		off = rowoff + r.rowlen;
	}
	free(key);
	return rc;
}

static int incomplete(struct bf_wbuf *w, const char *field, const cJSON *k,
		      struct bf_err *e)
{
	char *v = cJSON_PrintUnformatted(k);
	int rc;

	if (!v)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = bf_wbuf_put(w, "{\"", 2, e);
	if (rc == 0)
		rc = bf_wbuf_put(w, field, strlen(field), e);
	if (rc == 0)
		rc = bf_wbuf_put(w, "\":", 2, e);
	if (rc == 0)
		rc = bf_wbuf_put(w, v, strlen(v), e);
	if (rc == 0)
		rc = bf_wbuf_put(w, ",\"status\":\"incomplete\"}\n", 24, e);
	free(v);
	return rc;
}

/* One input line -> its by-input line and, unless it succeeded, a retry
 * line. Returns 1 when the input cannot be matched (st->keys says why). */
static int match_line(struct bf_join *j, const char *s, size_t len,
		      uint64_t ln, struct bf_wbuf *by, struct bf_wbuf *retry,
		      char *tmp, size_t tmplen, struct bf_err *e)
{
	cJSON *line = cJSON_ParseWithLength(s, len);
	const cJSON *item = NULL;
	const char *fname = NULL;
	struct bf_kval *v;
	char *key = NULL;
	size_t klen;
	int rc;

	rc = line && cJSON_IsObject(line)
		     ? bf_row_key(line, &key, &klen, &item, &fname)
		     : 0;
	if (rc == -ENOMEM) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (rc != 1) {
		j->st.keys = BF_JOIN_NO_KEYS;
		j->st.bad_line = ln;
		rc = 1;
		goto out;
	}
	rc = bf_kset_put(j->idx, key, klen, &v);
	if (rc < 0) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (v->flags & R_USED) {
		j->st.keys = BF_JOIN_DUP_KEYS;
		j->st.bad_line = ln;
		rc = 1;
		goto out;
	}
	v->flags |= R_USED;
	if (v->flags & R_PRESENT) {
		rc = copy_range(j->spool, v->off, v->len, by, tmp, tmplen, e);
		if (rc == 0)
			rc = bf_wbuf_put(by, "\n", 1, e);
	} else {
		j->st.incomplete++;
		rc = incomplete(by, fname, item, e);
	}
	if (rc == 0 && (v->flags & (R_PRESENT | R_OK_ROW)) != (R_PRESENT | R_OK_ROW)) {
		rc = bf_wbuf_put(retry, s, len, e);
		if (rc == 0)
			rc = bf_wbuf_put(retry, "\n", 1, e);
	}
out:
	free(key);
	cJSON_Delete(line);
	return rc;
}

static int by_input(struct bf_join *j, bf_read_fn input, void *ud,
		    struct bf_wbuf *by, struct bf_wbuf *retry, char *tmp,
		    size_t tmplen, struct bf_err *e)
{
	struct bf_lines l;
	char *s;
	size_t len;
	int rc;

	bf_lines_init(&l, input, ud, j->max_line);
	while ((rc = next_nonblank(&l, &s, &len, e)) == 1) {
		j->st.inputs++;
		rc = match_line(j, s, len, l.lineno, by, retry, tmp, tmplen,
				e);
		if (rc != 0)
			break;
	}
	bf_lines_free(&l);
	return rc;
}

static void count_unmatched(void *ud, struct bf_kval *v)
{
	struct bf_join *j = ud;

	if ((v->flags & R_PRESENT) && !(v->flags & R_USED))
		j->st.unmatched++;
}

static int finish_file(struct bf_wbuf *w, int *fd, uint64_t *size,
		       struct bf_err *e)
{
	int rc = bf_wbuf_flush(w, e);

	if (rc < 0)
		return rc;
	if (lseek(w->fd, 0, SEEK_SET) < 0)
		return bf_err_set(e, errno, "spool seek: %s", strerror(errno));
	*size = w->total;
	*fd = w->fd;
	return 0;
}

void bf_join_files_close(struct bf_join_files *f)
{
	int *fds[] = { &f->succeeded, &f->failed, &f->by_input, &f->retry };

	for (size_t i = 0; i < 4; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int bf_join_finish(struct bf_join *j, bf_read_fn input, void *ud,
		   struct bf_join_files *out, struct bf_join_stats *st,
		   struct bf_err *e)
{
	enum { OK, BAD, BY, RETRY, NW };
	struct bf_wbuf *w[NW] = { 0 };
	const size_t tmplen = 1 << 16;
	char *tmp = malloc(tmplen);
	int rc = 0;

	*out = (struct bf_join_files){ .succeeded = -1, .failed = -1,
				       .by_input = -1, .retry = -1 };
	if (!tmp)
		return bf_err_set(e, ENOMEM, "out of memory");
	for (int i = 0; i < NW; i++) {
		int fd;

		w[i] = malloc(sizeof(*w[i]));
		if (!w[i]) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		fd = bf_spool_open(j->tmpdir, e);
		bf_wbuf_init(w[i], fd);
		if (fd < 0) {
			rc = fd;
			goto out;
		}
	}
	rc = bf_wbuf_flush(j->w, e);
	if (rc == 0)
		rc = split(j, w[OK], w[BAD], tmp, tmplen, e);
	if (rc == 0 && input)
		rc = by_input(j, input, ud, w[BY], w[RETRY], tmp, tmplen, e);
	if (rc < 0)
		goto out;
	if (rc == 1 || !input) {
		if (!input)
			j->st.keys = BF_JOIN_NO_KEYS;
		close(w[BY]->fd);
		close(w[RETRY]->fd);
		w[BY]->fd = w[RETRY]->fd = -1;
		rc = 0;
	}
	bf_kset_each(j->idx, count_unmatched, j);
	for (int i = 0; i < NW && rc == 0; i++) {
		int *fd[] = { &out->succeeded, &out->failed, &out->by_input,
			      &out->retry };
		uint64_t *sz[] = { &out->succeeded_size, &out->failed_size,
				   &out->by_input_size, &out->retry_size };

		if (w[i]->fd < 0)
			continue;
		rc = finish_file(w[i], fd[i], sz[i], e);
		if (rc == 0)
			w[i]->fd = -1; /* now the caller's */
	}
	if (rc < 0)
		bf_join_files_close(out);
out:
	for (int i = 0; i < NW; i++) {
		if (w[i] && w[i]->fd >= 0)
			close(w[i]->fd);
		free(w[i]);
	}
	free(tmp);
	if (st)
		*st = j->st;
	return rc;
}
