/* files.c - open files: generated files as one snapshot per open, output
 * objects through a read-ahead reader (following growth of objects of
 * running jobs), request.json and scratch files of drafts (submit on the
 * opener's flush), and ctl (each write is one command). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "model/model_int.h"

enum fh_type {
	FH_SNAP,
	FH_OBJ,
	FH_REQ,
	FH_TEMP,
	FH_CTL,
	FH_INPUT,
	FH_WAIT,
	FH_RES
};

struct bf_fh {
	enum fh_type type;
	unsigned flags;
	struct bf_node node;
	struct bf_buf snap;
	/* FH_OBJ */
	pthread_mutex_t lock;
	struct bf_reader *r;
	char *bucket, *obj;
	int64_t gen;
	uint64_t size;
	int64_t updated_us;
	int growing;
	int64_t stat_ms;
	/* FH_RES: the result set this open reads; FH_WAIT: waited */
	struct bf_resset *rs;
	int waited;
	/* writers */
	pid_t opener;
	int wrote;
	int submitted;
};

static struct bf_fh *fh_new(enum fh_type type, const struct bf_node *n)
{
	struct bf_fh *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return NULL;
	fh->type = type;
	if (bf_node_copy(&fh->node, n)) {
		free(fh);
		return NULL;
	}
	bf_buf_init(&fh->snap, 0);
	pthread_mutex_init(&fh->lock, NULL);
	return fh;
}

static void fh_free(struct bf_fh *fh)
{
	if (fh->r)
		bf_reader_close(fh->r);
	bf_resset_put(fh->rs);
	free(fh->bucket);
	free(fh->obj);
	bf_buf_free(&fh->snap);
	bf_node_clear(&fh->node);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
}

unsigned bf_fh_flags(const struct bf_fh *fh)
{
	return fh->flags;
}

static int wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

static int open_obj(struct bf_ctx *c, const struct bf_node *n, struct bf_fh *fh,
		    struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	struct bf_outlist *l;
	const struct bf_outent *ent;
	int terminal, rc;

	rc = bf_outdir_entry(c, j, n->sub, &l, &ent, e);
	if (rc)
		return rc;
	if (ent->is_dir) {
		bf_outlist_put(l);
		return bf_err_set(e, EISDIR, "is a directory");
	}
	fh->obj = strdup(ent->obj);
	fh->gen = ent->gen;
	fh->size = ent->size;
	fh->updated_us = ent->updated_us;
	pthread_mutex_lock(&j->lock);
	terminal = bf_mjob_terminal(j) && l->final;
	pthread_mutex_unlock(&j->lock);
	bf_outlist_put(l);
	fh->bucket = bf_outdir_bucket(j);
	if (!fh->obj || !fh->bucket)
		return bf_err_set(e, ENOMEM, "out of memory");
	fh->growing = !terminal;
	if (fh->growing) {
		/* Objects of a running job may grow (incremental exports):
		 * start from the latest generation, bypass the page cache. */
		rc = bf_outdir_stat(c, j, fh->obj, &fh->size, &fh->gen,
				    &fh->updated_us, e);
		if (rc)
			return rc;
		fh->stat_ms = bf_now_ms();
		fh->flags = BF_FH_DIRECT_IO;
	} else {
		/* Immutable once the job finished: keep the page cache,
		 * unless direct I/O was asked for (1 MiB requests). */
		fh->flags = c->o.direct_io ? BF_FH_DIRECT_IO : BF_FH_KEEP_CACHE;
	}
	fh->r = bf_reader_open(c->pool, c->gcs, fh->bucket, fh->obj, fh->gen,
			       fh->size);
	if (!fh->r)
		return bf_err_set(e, ENOMEM, "cannot open a reader");
	return 0;
}

int bf_model_open(struct bf_ctx *c, const struct bf_node *n, int flags,
		  pid_t opener_tgid, struct bf_fh **out, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	struct bf_fh *fh = NULL;
	int rc = 0, w = wants_write(flags);

	*out = NULL;
	switch (n->kind) {
	case BF_K_ROOT:
	case BF_K_JOBS:
	case BF_K_JOB:
	case BF_K_OUTPUT:
	case BF_K_OUTDIR:
		return bf_err_set(e, EISDIR, "is a directory");
	case BF_K_REQUEST: {
		int draft;

		pthread_mutex_lock(&j->lock);
		draft = j->draft && !j->gone;
		if (draft && w && (flags & O_TRUNC)) {
			bf_buf_reset(&j->d->req);
			j->d->req_mtime_us = bf_clock_wall_us();
		}
		if (draft && w)
			j->d->req_absent = 0;
		pthread_mutex_unlock(&j->lock);
		if (w && !draft)
			return bf_err_set(e, EACCES,
					  "the job was submitted; "
					  "request.json is read-only");
		if (w) {
			fh = fh_new(FH_REQ, n);
			if (!fh)
				return bf_err_set(e, ENOMEM, "out of memory");
			fh->flags = BF_FH_DIRECT_IO;
			fh->opener = opener_tgid;
			break;
		}
		goto snapshot;
	}
	case BF_K_README:
	case BF_K_JOBJSON:
	case BF_K_STATE:
	case BF_K_PROGRESS:
	case BF_K_ERROR:
	case BF_K_BQFILE:
		if (w)
			return bf_err_set(e, EACCES, "read-only file");
	snapshot:
		fh = fh_new(FH_SNAP, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		fh->flags = BF_FH_DIRECT_IO | BF_FH_NOFLUSH;
		rc = bf_render_node(c, n, &fh->snap, e);
		break;
	case BF_K_CTL:
		fh = fh_new(w ? FH_CTL : FH_SNAP, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		fh->flags = BF_FH_DIRECT_IO | (w ? 0 : BF_FH_NOFLUSH);
		break;
	case BF_K_TEMP: {
		struct bf_tmpfile *t;

		pthread_mutex_lock(&j->lock);
		t = bf_draft_tmp_find(j->d, n->sub);
		if (t && w && (flags & O_TRUNC)) {
			bf_buf_reset(&t->data);
			t->mtime_us = bf_clock_wall_us();
		}
		pthread_mutex_unlock(&j->lock);
		if (!t)
			return bf_err_set(e, ENOENT, "no such file");
		fh = fh_new(FH_TEMP, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		fh->flags = BF_FH_DIRECT_IO;
		break;
	}
	case BF_K_INPUT:
		pthread_mutex_lock(&j->lock);
		if (w && !j->draft && !j->gone)
			rc = bf_err_set(e, EPERM,
					"the job was submitted; its "
					"files are generated");
		else if (!j->draft || j->gone || !j->d->in.present)
			rc = bf_err_set(e, ENOENT, "no such file");
		else if (w)
			rc = bf_input_open_write(c, j, flags & O_TRUNC, e);
		pthread_mutex_unlock(&j->lock);
		if (rc)
			return rc;
		fh = fh_new(FH_INPUT, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		fh->flags = BF_FH_DIRECT_IO | (w ? 0 : BF_FH_NOFLUSH);
		fh->opener = opener_tgid;
		break;
	case BF_K_WAIT:
		if (w)
			return bf_err_set(e, EACCES, "read-only file");
		fh = fh_new(FH_WAIT, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		fh->flags = BF_FH_DIRECT_IO | BF_FH_NOFLUSH;
		break;
	case BF_K_RESFILE: {
		uint64_t size;

		if (w)
			return bf_err_set(e, EACCES, "results are read-only");
		fh = fh_new(FH_RES, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		rc = bf_resdir_get(c, j, &fh->rs, e);
		if (rc == 0 && bf_resset_file(fh->rs, n->sub, &size) != 0)
			rc = bf_err_set(e, ENOENT, "no such file");
		/* One set per open: a running job's results change. */
		if (rc == 0)
			fh->flags = BF_FH_NOFLUSH |
				    (bf_resset_final(fh->rs) ? BF_FH_KEEP_CACHE
							     : BF_FH_DIRECT_IO);
		break;
	}
	case BF_K_OUTFILE:
		if (w)
			return bf_err_set(e, EACCES,
					  "output objects are "
					  "read-only");
		fh = fh_new(FH_OBJ, n);
		if (!fh)
			return bf_err_set(e, ENOMEM, "out of memory");
		rc = open_obj(c, n, fh, e);
		break;
	default:
		return bf_err_set(e, ENOENT, "unknown node");
	}
	if (rc) {
		fh_free(fh);
		return rc;
	}
	*out = fh;
	return 0;
}

int bf_model_create(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, int flags, pid_t opener_tgid,
		    struct bf_node *out, struct bf_attr *a, struct bf_fh **fh,
		    struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	*fh = NULL;
	if (parent->kind != BF_K_JOB)
		return bf_err_set(e, EPERM,
				  "files can only be created in a "
				  "draft (mkdir jobs/NAME first)");
	pthread_mutex_lock(&j->lock);
	if (!j->draft || j->gone) {
		rc = bf_err_set(e, EPERM,
				"the job was submitted; its files "
				"are generated");
	} else if (strcmp(name, "request.json") == 0) {
		if ((flags & O_EXCL) && !j->d->req_absent)
			rc = bf_err_set(e, EEXIST, "request.json exists");
		else {
			if (j->d->req_absent) /* a new file */
				j->d->req_mode = 0;
			j->d->req_absent = 0;
			bf_buf_reset(&j->d->req);
			j->d->req_mtime_us = bf_clock_wall_us();
			out->kind = BF_K_REQUEST;
		}
	} else if (strcmp(name, "input.jsonl") == 0) {
		if ((flags & O_EXCL) && j->d->in.present)
			rc = bf_err_set(e, EEXIST, "input.jsonl exists");
		else
			rc = bf_input_open_write(c, j, 1, e);
		if (rc == 0)
			out->kind = BF_K_INPUT;
	} else if (!bf_names_valid(name) || strchr(name, '/')) {
		rc = bf_err_set(e, EINVAL, "invalid name");
	} else if (child_is_reserved(name)) {
		rc = bf_err_set(e, EPERM, "%s is generated", name);
	} else {
		struct bf_tmpfile *t = bf_draft_tmp_find(j->d, name);
		size_t n = 0;

		for (struct bf_tmpfile *x = j->d->tmp; x; x = x->next)
			n++;
		if (t && (flags & O_EXCL)) {
			rc = bf_err_set(e, EEXIST, "%s exists", name);
		} else if (t) {
			bf_buf_reset(&t->data);
		} else if (n >= BF_MAX_TMPFILES) {
			rc = bf_err_set(e, ENOSPC,
					"too many files in the "
					"draft");
		} else {
			t = calloc(1, sizeof(*t));
			if (!t || !(t->name = strdup(name))) {
				free(t);
				rc = bf_err_set(e, ENOMEM, "out of memory");
			} else {
				bf_buf_init(&t->data, c->o.max_request);
				t->next = j->d->tmp;
				j->d->tmp = t;
			}
		}
		if (rc == 0) {
			t->mtime_us = bf_clock_wall_us();
			out->kind = BF_K_TEMP;
			out->sub = strdup(name);
			if (!out->sub)
				rc = bf_err_set(e, ENOMEM, "out of memory");
		}
	}
	pthread_mutex_unlock(&j->lock);
	if (rc)
		goto fail;
	out->job = bf_mjob_get(j);
	rc = bf_model_getattr(c, out, a, e);
	if (rc)
		goto fail;
	rc = bf_model_open(c, out, (flags & ~O_TRUNC) | O_WRONLY, opener_tgid,
			   fh, e);
	if (rc)
		goto fail;
	return 0;
fail:
	bf_node_clear(out);
	return rc;
}

static ssize_t buf_read(const struct bf_buf *b, char *buf, size_t len,
			uint64_t off)
{
	size_t n;

	if (off >= b->len)
		return 0;
	n = b->len - off;
	if (n > len)
		n = len;
	memcpy(buf, b->data + off, n);
	return (ssize_t)n;
}

/* Follows an object that grew since the reader was opened (j unlocked). */
static int obj_restat(struct bf_ctx *c, struct bf_fh *fh, struct bf_err *e)
{
	uint64_t size;
	int64_t gen, upd;
	int rc;

	rc = bf_outdir_stat(c, fh->node.job, fh->obj, &size, &gen, &upd, e);
	if (rc)
		return rc;
	fh->stat_ms = bf_now_ms();
	if (gen != fh->gen || size != fh->size) {
		fh->gen = gen;
		fh->size = size;
		fh->updated_us = upd;
		bf_reader_update(fh->r, gen, size);
	}
	return 0;
}

struct bf_mjob *bf_fh_wait_job(struct bf_fh *fh)
{
	struct bf_mjob *j = NULL;

	if (fh->type != FH_WAIT)
		return NULL;
	pthread_mutex_lock(&fh->lock);
	if (!fh->waited)
		j = bf_mjob_get(fh->node.job);
	pthread_mutex_unlock(&fh->lock);
	return j;
}

int bf_fh_wait_settle(struct bf_fh *fh, const struct bf_buf *st)
{
	int rc = 0;

	pthread_mutex_lock(&fh->lock);
	if (!fh->waited) {
		bf_buf_reset(&fh->snap);
		rc = bf_buf_append(&fh->snap, st->data ? st->data : "",
				   st->len);
		fh->waited = rc == 0;
	}
	pthread_mutex_unlock(&fh->lock);
	return rc;
}

/* v: describe the bytes instead of copying them (bf_reader_readv). */
static ssize_t obj_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			size_t len, uint64_t off, struct bf_rvec *v,
			struct bf_err *e)
{
	ssize_t n;
	int lrc;

	/* READs of one file take turns; a READ queued here (the kernel's
	 * read-ahead sends several) waits on the network by proxy: it takes
	 * a place in the gate, and ends at its deadline or signal. */
	lrc = bf_net_enter();
	if (lrc)
		return bf_err_set(e, -lrc,
				  "too many requests are waiting on "
				  "the network");
	lrc = bf_clock_mutex_lock(&fh->lock);
	if (lrc) {
		bf_net_leave();
		return bf_err_set(e, -lrc,
				  "waiting for another read of the "
				  "file: %s",
				  lrc == -ETIMEDOUT ? "deadline passed"
						    : "interrupted");
	}
	if (fh->growing && off + len > fh->size &&
	    bf_now_ms() - fh->stat_ms >= 200) {
		/* Past the known end of a growing object: look again. */
		int rc = obj_restat(c, fh, e);

		if (rc && rc != -ENOENT) {
			pthread_mutex_unlock(&fh->lock);
			bf_net_leave();
			return rc;
		}
	}
	n = bf_reader_readv(fh->r, buf, len, off, v, e);
	if (fh->growing && (n == -ESTALE || n == -ENOENT)) {
		/* The generation we pinned was replaced by a longer one. */
		int rc = obj_restat(c, fh, e);

		n = rc ? rc : bf_reader_readv(fh->r, buf, len, off, v, e);
	}
	pthread_mutex_unlock(&fh->lock);
	bf_net_leave();
	return n;
}

ssize_t bf_fh_read(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		   uint64_t off, struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	ssize_t n;

	switch (fh->type) {
	case FH_SNAP:
	case FH_CTL:
		return buf_read(&fh->snap, buf, len, off);
	case FH_REQ:
	case FH_TEMP:
		pthread_mutex_lock(&j->lock);
		if (fh->type == FH_REQ) {
			n = j->draft ? buf_read(&j->d->req, buf, len, off) : 0;
		} else {
			struct bf_tmpfile *t =
				bf_draft_tmp_find(j->d, fh->node.sub);

			n = t ? buf_read(&t->data, buf, len, off) : 0;
		}
		pthread_mutex_unlock(&j->lock);
		return n;
	case FH_INPUT:
		return bf_input_read(j, buf, len, off, e);
	case FH_RES:
		return bf_resset_read(fh->rs, fh->node.sub, buf, len, off, e);
	case FH_WAIT:
		pthread_mutex_lock(&fh->lock);
		n = 0;
		if (!fh->waited) {
			n = bf_wait_job(c, j, &fh->snap, e);
			fh->waited = n == 0;
		}
		if (n == 0)
			n = buf_read(&fh->snap, buf, len, off);
		pthread_mutex_unlock(&fh->lock);
		return n;
	case FH_OBJ:
		break;
	}
	return obj_read(c, fh, buf, len, off, NULL, e);
}

ssize_t bf_fh_readv(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		    uint64_t off, struct bf_rvec *v, struct bf_err *e)
{
	v->r = NULL;
	v->n = 0;
	if (fh->type != FH_OBJ)
		return bf_fh_read(c, fh, buf, len, off, e);
	return obj_read(c, fh, buf, len, off, v, e);
}

ssize_t bf_fh_pipe(struct bf_fh *fh, size_t len, uint64_t off,
		   struct bf_rpipe *t, struct bf_err *e)
{
	ssize_t n;
	int growing;

	t->r = NULL;
	if (fh->type != FH_OBJ)
		return 0;
	pthread_mutex_lock(&fh->lock);
	growing = fh->growing; /* its generation moves: the block path */
	pthread_mutex_unlock(&fh->lock);
	if (growing)
		return 0;
	/* The stream may wait on the network: a place in the gate, or the
	 * block path (which asks again) when it is full. */
	if (bf_net_enter())
		return 0;
	n = bf_reader_pipe(fh->r, off, len, t, e);
	bf_net_leave();
	return n;
}

static int buf_write_at(struct bf_buf *b, const char *p, size_t len,
			uint64_t off, size_t max, struct bf_err *e)
{
	static const char zeros[4096];

	if (max && (off > max || len > max - off))
		return bf_err_set(e, EFBIG,
				  "larger than max_request (%zu "
				  "bytes)",
				  max);
	while (b->len < off) {
		size_t n = off - b->len;
		int rc;

		if (n > sizeof(zeros))
			n = sizeof(zeros);
		rc = bf_buf_append(b, zeros, n);
		if (rc)
			return bf_err_set(e, -rc, "cannot grow the file");
	}
	if (off < b->len) {
		size_t over = b->len - off;

		if (over > len)
			over = len;
		memcpy(b->data + off, p, over);
		p += over;
		len -= over;
	}
	if (len) {
		int rc = bf_buf_append(b, p, len);

		if (rc)
			return bf_err_set(e, -rc, "cannot grow the file");
	}
	return 0;
}

void bf_mjob_note_op(struct bf_mjob *j, const char *op, int rc,
		     const struct bf_err *e)
{
	char line[700], *s = NULL;

	if (rc) {
		bf_err_format(e, line, sizeof(line));
		if (asprintf(&s, "%s failed: %s%s%s\n", op, strerror(-rc),
			     line[0] ? ": " : "", line) < 0)
			s = NULL;
	}
	pthread_mutex_lock(&j->lock);
	if (!j->draft) {
		free(j->submit_err);
		j->submit_err = s;
		s = NULL;
	}
	pthread_mutex_unlock(&j->lock);
	free(s);
}

static ssize_t ctl_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
			 size_t len, struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	char cmd[32], id[24];
	size_t a = 0, b = len;
	int rc;

	while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\n' ||
			 buf[a] == '\r'))
		a++;
	while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' ||
			 buf[b - 1] == '\n' || buf[b - 1] == '\r'))
		b--;
	if (b - a >= sizeof(cmd))
		return bf_err_set(e, EINVAL,
				  "unknown ctl command (use "
				  "\"cancel\" or \"refresh\")");
	memcpy(cmd, buf + a, b - a);
	cmd[b - a] = '\0';
	pthread_mutex_lock(&j->lock);
	snprintf(id, sizeof(id), "%s", j->id);
	pthread_mutex_unlock(&j->lock);
	if (strcmp(cmd, "cancel") == 0) {
		rc = bf_vertex_cancel(c->vx, id, e);
		if (rc == 0) {
			struct bf_err ign;

			bf_err_clear(&ign);
			bf_mjob_fresh(c, j, 1, &ign);
		}
	} else if (strcmp(cmd, "refresh") == 0) {
		rc = bf_mjob_fresh(c, j, 1, e);
		bf_outdir_expire(j);
		bf_jobs_invalidate(c);
	} else {
		rc = bf_err_set(e, EINVAL,
				"unknown ctl command \"%s\" (use "
				"\"cancel\" or \"refresh\")",
				cmd);
	}
	/* The errno alone says little ("Device or resource busy"): the
	 * reason stays in `error` until the next ctl command succeeds. */
	bf_mjob_note_op(j, cmd, rc, e);
	return rc ? rc : (ssize_t)len;
}

ssize_t bf_fh_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
		    size_t len, uint64_t off, struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	int rc = 0;

	switch (fh->type) {
	case FH_CTL:
		return ctl_write(c, fh, buf, len, e);
	case FH_REQ:
		pthread_mutex_lock(&j->lock);
		if (!j->draft)
			rc = bf_err_set(e, EACCES,
					"the job was submitted; "
					"request.json is read-only");
		else
			rc = buf_write_at(&j->d->req, buf, len, off,
					  c->o.max_request, e);
		if (rc == -EFBIG) {
			/* Say why in `error` too: an editor shows only
			 * "File too large". */
			char *s;

			if (asprintf(&s,
				     "request.json: larger than max_request "
				     "(%zu bytes)\n",
				     c->o.max_request) >= 0) {
				free(j->submit_err);
				j->submit_err = s;
			}
		}
		if (rc == 0) {
			j->d->req_mtime_us = bf_clock_wall_us();
			j->d->req_absent = 0;
			fh->wrote = 1;
		}
		pthread_mutex_unlock(&j->lock);
		return rc ? rc : (ssize_t)len;
	case FH_INPUT: {
		ssize_t n = bf_input_write(j, buf, len, off, e);

		if (n > 0)
			fh->wrote = 1;
		return n;
	}
	case FH_TEMP: {
		struct bf_tmpfile *t;

		pthread_mutex_lock(&j->lock);
		t = bf_draft_tmp_find(j->d, fh->node.sub);
		if (!t)
			rc = bf_err_set(e, ENOENT, "the file was removed");
		else
			rc = buf_write_at(&t->data, buf, len, off,
					  c->o.max_request, e);
		if (rc == 0)
			t->mtime_us = bf_clock_wall_us();
		pthread_mutex_unlock(&j->lock);
		return rc ? rc : (ssize_t)len;
	}
	default:
		return bf_err_set(e, EBADF, "not open for writing");
	}
}

int bf_fh_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
		struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (fh->type == FH_INPUT && fh->wrote && tgid == fh->opener) {
		/* Staged at each close of the writer that wrote since. */
		fh->wrote = 0;
		return bf_input_stage(c, j, e);
	}
	if (fh->type != FH_REQ || !fh->wrote || fh->submitted)
		return 0;
	/* Flushes from other processes sharing the descriptor (a child of
	 * the shell that exits early) must not submit half a file. */
	if (tgid != fh->opener)
		return 0;
	pthread_mutex_lock(&j->lock);
	if (j->draft && j->d->req.len) {
		len = j->d->req.len;
		text = malloc(len + 1);
		if (text) {
			memcpy(text, j->d->req.data, len);
			text[len] = '\0';
		}
	}
	pthread_mutex_unlock(&j->lock);
	if (!len)
		return 0;
	if (!text)
		return bf_err_set(e, ENOMEM, "out of memory");
	fh->submitted = 1;
	rc = bf_draft_submit(c, j, text, len, e);
	free(text);
	return rc;
}

int bf_fh_getattr(struct bf_ctx *c, struct bf_fh *fh, struct bf_attr *a,
		  struct bf_err *e)
{
	int rc;

	if (fh->type != FH_OBJ || !fh->growing)
		return bf_model_getattr(c, &fh->node, a, e);
	pthread_mutex_lock(&fh->lock);
	rc = 0;
	if (bf_now_ms() - fh->stat_ms >= 200)
		rc = obj_restat(c, fh, e);
	if (rc == 0)
		bf_attr_fill(c, a, S_IFREG | 0444, fh->size, fh->updated_us,
			     c->o.attr_timeout);
	pthread_mutex_unlock(&fh->lock);
	return rc;
}

void bf_fh_release(struct bf_ctx *c, struct bf_fh *fh)
{
	if ((fh->type == FH_REQ && fh->wrote && !fh->submitted) ||
	    (fh->type == FH_INPUT && fh->wrote)) {
		char path[512];

		bf_node_path(c, &fh->node, path, sizeof(path));
		bf_log_warn("%s: closed without a flush from the writing "
			    "process; not submitted (write it again to "
			    "submit)",
			    path);
	}
	fh_free(fh);
}
