/* files.c - the files a user writes in a draft: request.json (submitted
 * on the opener's flush; the spec, read-only, once the job is accepted),
 * input.jsonl (-o staging; staged on the writer's flush, staging.c) and
 * scratch files (editors, install). Their bytes live in the draft. */
#include "model/files.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/log.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/fh.h"
#include "model/gen.h"
#include "model/input.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/model.h"
#include "model/node.h"
#include "model/perm.h"
#include "model/render.h"

/* Writes past the end fill the gap with zeros this many bytes at a time. */
#define ZERO_CHUNK 4096

static int buf_write_at(struct bf_buf *b, const char *p, size_t len,
			uint64_t off, size_t max, struct bf_err *e)
{
	static const char zeros[ZERO_CHUNK];

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

static int buf_resize(struct bf_buf *b, uint64_t size, size_t max,
		      struct bf_err *e)
{
	if (max && size > max)
		return bf_err_set(e, EFBIG,
				  "larger than max_request (%zu "
				  "bytes)",
				  max);
	if (size <= b->len) {
		b->len = size;
		if (b->data)
			b->data[size] = '\0';
		return 0;
	}
	while (b->len < size) {
		static const char zeros[ZERO_CHUNK];
		size_t n = size - b->len;
		int rc;

		if (n > sizeof(zeros))
			n = sizeof(zeros);
		rc = bf_buf_append(b, zeros, n);
		if (rc)
			return bf_err_set(e, -rc, "cannot grow the file");
	}
	return 0;
}

/* Where chmod keeps the mode of a draft's file (j->lock held). */
static int draft_open(struct bf_mjob *j)
{
	return j && j->draft && !j->gone && j->d;
}

mode_t *bf_files_req_mode(struct bf_mjob *j, const struct bf_node *n)
{
	(void)n;
	return draft_open(j) && !j->d->req_absent ? &j->d->req_mode : NULL;
}

mode_t *bf_files_input_mode(struct bf_mjob *j, const struct bf_node *n)
{
	(void)n;
	return draft_open(j) && j->d->in.present ? &j->d->in.mode : NULL;
}

mode_t *bf_files_temp_mode(struct bf_mjob *j, const struct bf_node *n)
{
	struct bf_tmpfile *t;

	if (!draft_open(j))
		return NULL;
	t = bf_draft_tmp_find(j->d, n->sub);
	return t ? &t->mode : NULL;
}

/* Writers that wrote and never flushed from the writing process. */
void bf_files_release(struct bf_ctx *c, struct bf_fh *fh, const char *path)
{
	(void)c;
	if (!fh->wrote || fh->submitted)
		return;
	bf_log_warn("%s: closed without a flush from the writing "
		    "process; not submitted (write it again to "
		    "submit)",
		    path);
}

/* ---- request.json ---- */

int bf_files_req_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			 const struct bf_node *n, struct bf_attr *a,
			 struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	mode_t mode = k->mode;

	pthread_mutex_lock(&j->lock);
	if (j->draft)
		mode = bf_perm_draft(j->d ? j->d->req_mode : 0);
	pthread_mutex_unlock(&j->lock);
	return bf_gen_attr(c, k, n, mode, a, e);
}

int bf_files_req_spec(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		      struct bf_err *e)
{
	(void)c;
	(void)e;
	return bf_render_spec(&j->job, b);
}

int bf_files_req_text(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		      struct bf_err *e)
{
	(void)c;
	(void)e;
	return bf_buf_append(b, j->d->req.data ? j->d->req.data : "",
			     j->d->req.len);
}

int bf_files_req_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		      struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	int draft, w = fh->writer;

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
	if (!w)
		return bf_gen_snapshot(c, fh, e);
	fh->flags = BF_FH_DIRECT_IO;
	return 0;
}

ssize_t bf_files_req_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			  size_t len, uint64_t off, struct bf_rvec *v,
			  struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	ssize_t n;

	if (!fh->writer)
		return bf_fh_snap_read(c, fh, buf, len, off, v, e);
	pthread_mutex_lock(&j->lock);
	n = j->draft ? bf_fh_buf_read(&j->d->req, buf, len, off) : 0;
	pthread_mutex_unlock(&j->lock);
	return n;
}

ssize_t bf_files_req_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
			   size_t len, uint64_t off, struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	int rc;

	pthread_mutex_lock(&j->lock);
	if (!j->draft)
		rc = bf_err_set(e, EACCES,
				"the job was submitted; "
				"request.json is read-only");
	else
		rc = buf_write_at(&j->d->req, buf, len, off, c->o.max_request,
				  e);
	if (rc == -EFBIG) {
		/* Say why in `error` too: an editor shows only "File too
		 * large". */
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
}

int bf_files_req_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
		       struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!fh->wrote || fh->submitted)
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

int bf_files_req_truncate(struct bf_ctx *c, const struct bf_node *n,
			  uint64_t size, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc;

	pthread_mutex_lock(&j->lock);
	if (!j->draft)
		rc = bf_err_set(e, EACCES,
				"the job was submitted; "
				"request.json is read-only");
	else
		rc = buf_resize(&j->d->req, size, c->o.max_request, e);
	if (rc == 0)
		j->d->req_mtime_us = bf_clock_wall_us();
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* ---- scratch files ---- */

int bf_files_temp_attr(struct bf_ctx *c, const struct bf_node *n,
		       struct bf_attr *a, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	struct bf_tmpfile *t;
	int rc = 0;

	pthread_mutex_lock(&j->lock);
	t = bf_draft_tmp_find(j->d, n->sub);
	if (t)
		bf_node_attr(c, a, bf_perm_draft(t->mode), t->data.len,
			     t->mtime_us, c->o.attr_timeout);
	else
		rc = bf_err_set(e, ENOENT, "no such file");
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int bf_files_temp_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			  const struct bf_node *n, struct bf_attr *a,
			  struct bf_err *e)
{
	(void)k;
	return bf_files_temp_attr(c, n, a, e);
}

int bf_files_temp_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		       struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	struct bf_tmpfile *t;

	(void)c;
	pthread_mutex_lock(&j->lock);
	t = bf_draft_tmp_find(j->d, fh->node.sub);
	if (t && fh->writer && (flags & O_TRUNC)) {
		bf_buf_reset(&t->data);
		t->mtime_us = bf_clock_wall_us();
	}
	pthread_mutex_unlock(&j->lock);
	if (!t)
		return bf_err_set(e, ENOENT, "no such file");
	fh->flags = BF_FH_DIRECT_IO;
	return 0;
}

ssize_t bf_files_temp_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			   size_t len, uint64_t off, struct bf_rvec *v,
			   struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	struct bf_tmpfile *t;
	ssize_t n;

	(void)c;
	(void)v;
	(void)e;
	pthread_mutex_lock(&j->lock);
	t = bf_draft_tmp_find(j->d, fh->node.sub);
	n = t ? bf_fh_buf_read(&t->data, buf, len, off) : 0;
	pthread_mutex_unlock(&j->lock);
	return n;
}

ssize_t bf_files_temp_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
			    size_t len, uint64_t off, struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	struct bf_tmpfile *t;
	int rc;

	pthread_mutex_lock(&j->lock);
	t = bf_draft_tmp_find(j->d, fh->node.sub);
	if (!t)
		rc = bf_err_set(e, ENOENT, "the file was removed");
	else
		rc = buf_write_at(&t->data, buf, len, off, c->o.max_request, e);
	if (rc == 0)
		t->mtime_us = bf_clock_wall_us();
	pthread_mutex_unlock(&j->lock);
	return rc ? rc : (ssize_t)len;
}

int bf_files_temp_truncate(struct bf_ctx *c, const struct bf_node *n,
			   uint64_t size, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	struct bf_tmpfile *t;
	int rc;

	pthread_mutex_lock(&j->lock);
	t = bf_draft_tmp_find(j->d, n->sub);
	if (!t)
		rc = bf_err_set(e, ENOENT, "no such file");
	else
		rc = buf_resize(&t->data, size, c->o.max_request, e);
	if (rc == 0)
		t->mtime_us = bf_clock_wall_us();
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* ---- input.jsonl ---- */

int bf_files_input_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	(void)k;
	if (!j)
		return bf_err_set(e, ENOENT, "unknown node");
	pthread_mutex_lock(&j->lock);
	if (j->gone)
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	else if (!j->draft || !j->d || !j->d->in.present)
		rc = bf_err_set(e, ENOENT, "no such file");
	else
		/* No kernel caching: it leaves the directory when the draft
		 * is submitted, and a cached name would answer ENOENT where
		 * a lookup gives EPERM. */
		bf_node_attr(c, a, bf_perm_draft(j->d->in.mode), j->d->in.len,
			     j->d->in.mtime_us, 0);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int bf_files_input_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
			struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	int rc = 0, w = fh->writer;

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
	fh->flags = BF_FH_DIRECT_IO | (w ? 0 : BF_FH_NOFLUSH);
	return 0;
}

ssize_t bf_files_input_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			    size_t len, uint64_t off, struct bf_rvec *v,
			    struct bf_err *e)
{
	(void)c;
	(void)v;
	return bf_input_read(fh->node.job, buf, len, off, e);
}

ssize_t bf_files_input_write(struct bf_ctx *c, struct bf_fh *fh,
			     const char *buf, size_t len, uint64_t off,
			     struct bf_err *e)
{
	ssize_t n = bf_input_write(fh->node.job, buf, len, off, e);

	(void)c;
	if (n > 0)
		fh->wrote = 1;
	return n;
}

int bf_files_input_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
			 struct bf_err *e)
{
	if (!fh->wrote || tgid != fh->opener)
		return 0;
	/* Staged at each close of the writer that wrote since. */
	fh->wrote = 0;
	return bf_input_stage(c, fh->node.job, e);
}

int bf_files_input_truncate(struct bf_ctx *c, const struct bf_node *n,
			    uint64_t size, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc;

	(void)c;
	pthread_mutex_lock(&j->lock);
	rc = bf_input_truncate(j, size, e);
	pthread_mutex_unlock(&j->lock);
	return rc;
}
