/* join.c - a job's output rows matched back to its input lines. Rows from
 * any number of output objects are appended to one spool file while an
 * index remembers, per key, where the winning row is (a final file's row
 * beats an incremental export's). Then the spool is read once to write
 * succeeded/failed, and the input once to write by-input (rows re-read
 * from the spool) and retry. Memory: the index, one row, fixed buffers.
 *
 * Rows are matched by key when every row carries one (a key's canonical
 * text: the importer may echo "000000" as 0). When rows echo no key, they
 * are matched by the content of their echoed request: the index holds, per
 * row, a fingerprint of the request and its occurrence number in its file,
 * and input line N with the k-th copy of a request gets that request's k-th
 * row. So identical requests each get one row, a row is never counted
 * twice (files repeating rows repeat their occurrence numbers), and a line
 * whose row is not a success is retried, never one that succeeded. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "results/results_int.h"

#define DEFAULT_MAX_LINE (64u << 20)
/* Spool bytes copied to an output file at a time. */
#define COPY_CHUNK (64u << 10)

enum {
	R_PRESENT = 1, /* an output row exists for the key */
	R_FINAL = 2,   /* ... from a final file */
	R_OK_ROW = 4,      /* ... and it succeeded */
	R_USED = 8,    /* an input line had the key */
	R_NOKEY = 16,  /* the row echoes no key */
	R_FPENT = 32,  /* a request fingerprint entry (not a key's) */
};
/* Index namespaces: a key, a row's request (+ occurrence), an input
 * request's occurrence counter. */
enum { NS_KEY = 'k', NS_ROW = 'r', NS_IN = 'i' };
#define FPKEY_LEN (1 + BF_FP_LEN + 8)

/* Spool record: header, key bytes, row bytes. */
struct rec {
	uint32_t rowlen;
	uint32_t keylen; /* UINT32_MAX: the row has no key */
	uint32_t flags;	 /* REC_OK, REC_FINAL */
	uint32_t fplen;	 /* 0 or FPKEY_LEN: the request's index key */
};
enum { REC_OK = 1, REC_FINAL = 2 };

struct bf_join {
	size_t max_line;
	char *tmpdir;
	int spool;
	struct bf_wbuf *w;
	struct bf_kset *idx;
	struct bf_kset *occ; /* this file's request counts (add_output) */
	int have_final;
	int by_request;	/* rows carry no keys: match by request */
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

/* The index key of the n-th copy of a request. */
static void fp_key(char out[FPKEY_LEN], int ns,
		   const unsigned char fp[BF_FP_LEN], uint64_t n)
{
	out[0] = (char)ns;
	memcpy(out + 1, fp, BF_FP_LEN);
	memcpy(out + 1 + BF_FP_LEN, &n, 8);
}

/* The next occurrence number of fp in counter set s. */
static int next_occ(struct bf_kset *s, const unsigned char fp[BF_FP_LEN],
		    uint64_t *n)
{
	char k[FPKEY_LEN];
	struct bf_kval *v;

	fp_key(k, NS_IN, fp, 0);
	if (bf_kset_put(s, k, sizeof(k), &v) < 0)
		return -ENOMEM;
	*n = v->off++;
	return 0;
}

/* Records the row at rowoff as the one for index key k, unless a final
 * row already holds it. */
static int index_row(struct bf_join *j, const char *k, size_t klen,
		     uint64_t rowoff, size_t len, int final, uint32_t flags,
		     int count_dup, struct bf_err *e)
{
	struct bf_kval *v;
	int rc = bf_kset_put(j->idx, k, klen, &v);

	if (rc < 0)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (rc == 0) {
		if (count_dup)
			j->st.dup_rows++;
		/* An incremental row never replaces a final one; otherwise
		 * the later row is the newer. */
		if ((v->flags & R_FINAL) && !final)
			return 0;
	}
	v->off = rowoff;
	v->len = (uint32_t)len;
	v->flags = R_PRESENT | (final ? R_FINAL : 0) | flags;
	return 0;
}

static int add_row(struct bf_join *j, const char *s, size_t len, int final,
		   struct bf_err *e)
{
	cJSON *row;
	struct rec r = { .keylen = UINT32_MAX };
	unsigned char fp[BF_FP_LEN];
	char fk[FPKEY_LEN], *ck = NULL;
	uint64_t rowoff, n;
	char *key = NULL;
	size_t klen = 0;
	int rc = 0, have_fp;

	/* Rows are spooled from their '{', so one can be re-opened to put
	 * the input's key in front. */
	while (len > 0 && strchr(" \t\r", *s)) {
		s++;
		len--;
	}
	r.rowlen = (uint32_t)len;
	row = cJSON_ParseWithLength(s, len);
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
	if (rc == 1) {
		/* a numeric key's canonical text is at most 24 bytes */
		ck = malloc(klen + 32);
		if (!ck) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		ck[0] = NS_KEY;
		klen = 1 + bf_match_key(key, klen, ck + 1, klen + 31);
		r.keylen = (uint32_t)klen;
	} else {
		j->st.keyless_rows++;
	}
	have_fp = bf_match_request(
		cJSON_GetObjectItemCaseSensitive(row, "request"), fp);
	if (have_fp < 0) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (have_fp) {
		if (next_occ(j->occ, fp, &n) < 0) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		fp_key(fk, NS_ROW, fp, n);
		r.fplen = FPKEY_LEN;
	}
	rowoff = j->w->total + sizeof(r) + (r.keylen != UINT32_MAX ? klen : 0) +
		 r.fplen;
	rc = bf_wbuf_put(j->w, &r, sizeof(r), e);
	if (rc == 0 && r.keylen != UINT32_MAX)
		rc = bf_wbuf_put(j->w, ck, klen, e);
	if (rc == 0 && r.fplen)
		rc = bf_wbuf_put(j->w, fk, r.fplen, e);
	if (rc == 0)
		rc = bf_wbuf_put(j->w, s, len, e);
	if (rc == 0 && r.keylen != UINT32_MAX)
		rc = index_row(j, ck, klen, rowoff, len, final,
			       (r.flags & REC_OK) ? R_OK_ROW : 0, 1, e);
	if (rc == 0 && r.fplen)
		rc = index_row(j, fk, r.fplen, rowoff, len, final,
			       ((r.flags & REC_OK) ? R_OK_ROW : 0) | R_FPENT |
				       (r.keylen == UINT32_MAX ? R_NOKEY : 0),
			       r.keylen == UINT32_MAX, e);
out:
	free(ck);
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

	/* Occurrences count within one file: a later export repeating an
	 * earlier one's rows repeats their numbers. */
	j->occ = bf_kset_new();
	if (!j->occ)
		return bf_err_set(e, ENOMEM, "out of memory");
	bf_lines_init(&l, rd, ud, j->max_line);
	while ((rc = next_nonblank(&l, &s, &len, e)) == 1) {
		rc = add_row(j, s, len, final, e);
		if (rc < 0)
			break;
	}
	bf_lines_free(&l);
	bf_kset_free(j->occ);
	j->occ = NULL;
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
		{
			uint32_t kl = r.keylen != UINT32_MAX ? r.keylen : 0;
			/* By request: the fingerprint decides; by key: the
			 * key. */
			int use_fp = j->by_request && r.fplen;
			int use_key = !j->by_request && r.keylen != UINT32_MAX;
			uint32_t need = kl + r.fplen;
			struct bf_kval *v;

			if (need > kcap) {
				char *p = realloc(key, need);

				if (!p) {
					rc = bf_err_set(e, ENOMEM,
							"out of memory");
					break;
				}
				key = p;
				kcap = need;
			}
			if (need) {
				rc = bf_pread_full(j->spool, key, need, rowoff,
						   e);
				if (rc < 0)
					break;
			}
			rowoff += need;
			if (use_fp || use_key) {
				v = use_fp ? bf_kset_get(j->idx, key + kl,
							 r.fplen)
					   : bf_kset_get(j->idx, key, kl);
				if (!v || v->off != rowoff)
					goto next; /* replaced by another row */
			} else if (j->have_final && !(r.flags & REC_FINAL)) {
				j->st.dup_rows++;
				goto next;
			}
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

/* Opens a line with the key member: {"FIELD":VALUE (no ',' yet). */
static int put_key(struct bf_wbuf *w, const char *field, const cJSON *k,
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
	free(v);
	return rc;
}

static int incomplete(struct bf_wbuf *w, const char *field, const cJSON *k,
		      struct bf_err *e)
{
	int rc = put_key(w, field, k, e);

	if (rc == 0)
		rc = bf_wbuf_put(w, ",\"status\":\"incomplete\"}\n", 24, e);
	return rc;
}

/* The row at v (which echoes no key) with the input's key member put in
 * front, so by-input lines name their line's key either way. */
static int copy_keyed(struct bf_join *j, const struct bf_kval *v,
		      const char *field, const cJSON *item, struct bf_wbuf *by,
		      char *tmp, size_t tmplen, struct bf_err *e)
{
	int rc = put_key(by, field, item, e);

	/* The row starts with '{' (spooled so); "{}" has no request, so
	 * a fingerprinted row has a member and takes a ','. */
	if (rc == 0)
		rc = bf_wbuf_put(by, ",", 1, e);
	if (rc == 0)
		rc = copy_range(j->spool, v->off + 1, v->len - 1, by, tmp,
				tmplen, e);
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
	unsigned char fp[BF_FP_LEN];
	char ik[FPKEY_LEN], *ck = NULL;
	char *key = NULL;
	size_t klen = 0;
	uint64_t n;
	int rc, keyed;

	keyed = line && cJSON_IsObject(line)
			? bf_row_key(line, &key, &klen, &item, &fname)
			: 0;
	if (keyed == -ENOMEM) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	if (j->by_request) {
		rc = line && cJSON_IsObject(line)
			     ? bf_match_request(
				       cJSON_GetObjectItemCaseSensitive(
					       line, "request"),
				       fp)
			     : 0;
		if (rc < 0) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		if (rc == 0) {
			j->st.keys = BF_JOIN_NO_KEYS;
			j->st.bad_line = ln;
			rc = 1;
			goto out;
		}
		if (next_occ(j->idx, fp, &n) < 0) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		fp_key(ik, NS_ROW, fp, n);
		rc = bf_kset_put(j->idx, ik, sizeof(ik), &v);
	} else {
		if (keyed != 1) {
			j->st.keys = BF_JOIN_NO_KEYS;
			j->st.bad_line = ln;
			rc = 1;
			goto out;
		}
		ck = malloc(klen + 32);
		if (!ck) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		ck[0] = NS_KEY;
		klen = 1 + bf_match_key(key, klen, ck + 1, klen + 31);
		rc = bf_kset_put(j->idx, ck, klen, &v);
	}
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
	if ((v->flags & R_PRESENT) && (v->flags & R_NOKEY) && keyed == 1) {
		rc = copy_keyed(j, v, fname, item, by, tmp, tmplen, e);
		if (rc == 0)
			rc = bf_wbuf_put(by, "\n", 1, e);
	} else if (v->flags & R_PRESENT) {
		rc = copy_range(j->spool, v->off, v->len, by, tmp, tmplen, e);
		if (rc == 0)
			rc = bf_wbuf_put(by, "\n", 1, e);
	} else if (keyed == 1) {
		j->st.incomplete++;
		rc = incomplete(by, fname, item, e);
	} else {
		j->st.incomplete++;
		rc = bf_wbuf_put(by, "{\"status\":\"incomplete\"}\n", 24, e);
	}
	if (rc == 0 && (v->flags & (R_PRESENT | R_OK_ROW)) != (R_PRESENT | R_OK_ROW)) {
		rc = bf_wbuf_put(retry, s, len, e);
		if (rc == 0)
			rc = bf_wbuf_put(retry, "\n", 1, e);
	}
out:
	free(ck);
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

	if ((v->flags & R_PRESENT) && !(v->flags & R_USED) &&
	    !(v->flags & R_FPENT) == !j->by_request)
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
	const size_t tmplen = COPY_CHUNK;
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
	/* Rows that echo no key can only be matched by their request. */
	j->by_request = j->st.rows > 0 && j->st.keyless_rows == j->st.rows;
	j->st.by_request = j->by_request;
	rc = bf_wbuf_flush(j->w, e);
	if (rc == 0)
		rc = split(j, w[OK], w[BAD], tmp, tmplen, e);
	if (rc == 0 && input)
		rc = by_input(j, input, ud, w[BY], w[RETRY], tmp, tmplen, e);
	if (rc < 0)
		goto out;
	bf_kset_each(j->idx, count_unmatched, j);
	/* Matched by request, a row that fits no line means the echo
	 * differs from the input in a way not foreseen: a line shown as
	 * incomplete may have succeeded, and retrying it would pay twice. */
	if (rc == 0 && input && j->by_request && j->st.unmatched) {
		j->st.keys = BF_JOIN_UNMATCHED;
		rc = 1;
	}
	if (rc == 1 || !input) {
		if (!input)
			j->st.keys = BF_JOIN_NO_KEYS;
		close(w[BY]->fd);
		close(w[RETRY]->fd);
		w[BY]->fd = w[RETRY]->fd = -1;
		rc = 0;
	}
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
