/* ns.c - namespace changes: mkdir (drafts), rmdir (drafts and finished
 * jobs), unlink and rename inside drafts (editors, install), truncate. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/model_int.h"

int bf_model_mkdir(struct bf_ctx *c, const struct bf_node *parent,
		   const char *name, struct bf_node *out, struct bf_attr *a,
		   struct bf_err *e)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (parent->kind != BF_K_JOBS)
		return bf_err_set(e, EPERM,
				  "directories can only be made in "
				  "jobs/ (one per job)");
	rc = bf_draft_add(c, name, &out->job, e);
	if (rc)
		return rc;
	out->kind = BF_K_JOB;
	rc = bf_model_getattr(c, out, a, e);
	if (rc)
		bf_node_clear(out);
	return rc;
}

int bf_model_rmdir(struct bf_ctx *c, const struct bf_node *parent,
		   const char *name, struct bf_err *e)
{
	struct bf_mjob *j;
	char id[24];
	int rc, draft, submitting, terminal;

	if (parent->kind != BF_K_JOBS)
		return bf_err_set(e, EPERM,
				  "only job directories can be "
				  "removed");
	rc = bf_jobs_lookup(c, name, &j, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	draft = j->draft;
	submitting = j->submitting;
	pthread_mutex_unlock(&j->lock);
	if (draft) {
		if (submitting)
			rc = bf_err_set(e, EBUSY,
					"the draft is being "
					"submitted");
		else
			bf_jobs_remove(c, j);
		goto out;
	}
	rc = bf_mjob_fresh(c, j, 1, e);
	if (rc)
		goto out;
	pthread_mutex_lock(&j->lock);
	terminal = bf_mjob_terminal(j);
	snprintf(id, sizeof(id), "%s", j->id);
	pthread_mutex_unlock(&j->lock);
	if (!terminal) {
		rc = bf_err_set(e, EBUSY,
				"the job is still running: cancel "
				"it first (echo cancel > ctl)");
		goto out;
	}
	rc = bf_vertex_delete(c->vx, id, e);
	if (rc == 0 || rc == -ENOENT) {
		bf_jobs_remove(c, j);
		bf_jobs_invalidate(c);
		rc = 0;
	}
out:
	if (rc && !draft)
		bf_mjob_note_op(j, "rmdir", rc, e);
	bf_mjob_put(j);
	return rc;
}

#define is_reserved child_is_reserved

int bf_model_unlink(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	int rc = 0;

	(void)c;
	if (parent->kind != BF_K_JOB)
		return bf_err_set(e, EPERM, "files here cannot be removed");
	pthread_mutex_lock(&j->lock);
	if (!j->d || (!j->draft && is_reserved(name))) {
		/* Scratch files left by an editor stay removable. */
		rc = bf_err_set(e, EPERM,
				"files of a job cannot be removed "
				"(rmdir the job directory to delete it)");
	} else if (strcmp(name, "request.json") == 0) {
		if (j->d->req_absent) {
			rc = bf_err_set(e, ENOENT, "no such file");
		} else {
			bf_buf_reset(&j->d->req);
			j->d->req_absent = 1;
		}
	} else if (strcmp(name, "input.jsonl") == 0) {
		/* Its staged copy stays in Cloud Storage. */
		if (!j->d->in.present)
			rc = bf_err_set(e, ENOENT, "no such file");
		else
			bf_input_unlink(j);
	} else if (is_reserved(name)) {
		rc = bf_err_set(e, EPERM, "%s is generated", name);
	} else {
		struct bf_tmpfile **pp = &j->d->tmp, *t;

		while ((t = *pp) && strcmp(t->name, name) != 0)
			pp = &t->next;
		if (!t) {
			rc = bf_err_set(e, ENOENT, "no such file");
		} else {
			*pp = t->next;
			bf_buf_free(&t->data);
			free(t->name);
			free(t);
		}
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* Takes temp file name out of the draft (j->lock held); NULL if absent. */
static struct bf_tmpfile *tmp_detach(struct bf_draft *d, const char *name)
{
	struct bf_tmpfile **pp = &d->tmp, *t;

	while ((t = *pp) && strcmp(t->name, name) != 0)
		pp = &t->next;
	if (t)
		*pp = t->next;
	return t;
}

static void tmp_free(struct bf_tmpfile *t)
{
	if (!t)
		return;
	bf_buf_free(&t->data);
	free(t->name);
	free(t);
}

int bf_model_rename(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, const struct bf_node *newparent,
		    const char *newname, unsigned int flags, struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	struct bf_tmpfile *t, *old;
	int rc = 0;

	if (parent->kind != BF_K_JOB || newparent->kind != BF_K_JOB ||
	    parent->job != newparent->job)
		return bf_err_set(e, parent->kind == BF_K_JOBS ? EPERM : EXDEV,
				  "rename works only inside one draft");
	if (flags & ~1u) /* RENAME_NOREPLACE only */
		return bf_err_set(e, EINVAL, "unsupported rename flags");
	if (strcmp(name, newname) == 0)
		return 0;
	if ((is_reserved(name) && strcmp(name, "request.json") != 0) ||
	    (is_reserved(newname) && strcmp(newname, "request.json") != 0))
		return bf_err_set(e, EPERM,
				  "generated files cannot be "
				  "renamed");
	if (strcmp(newname, "request.json") == 0) {
		/* Editor-style save: the temp file's content is the request;
		 * the rename returns the submit result. */
		char *text;
		size_t len;

		pthread_mutex_lock(&j->lock);
		if (!j->draft) {
			pthread_mutex_unlock(&j->lock);
			return bf_err_set(e, EACCES,
					  "the job was already "
					  "submitted; request.json is "
					  "read-only");
		}
		if ((flags & 1) && !j->d->req_absent) {
			pthread_mutex_unlock(&j->lock);
			return bf_err_set(e, EEXIST, "request.json exists");
		}
		t = bf_draft_tmp_find(j->d, name);
		if (!t) {
			pthread_mutex_unlock(&j->lock);
			return bf_err_set(e, ENOENT, "no such file");
		}
		len = t->data.len;
		text = malloc(len + 1);
		if (text) {
			memcpy(text, t->data.data ? t->data.data : "", len);
			text[len] = '\0';
		}
		pthread_mutex_unlock(&j->lock);
		if (!text)
			return bf_err_set(e, ENOMEM, "out of memory");
		rc = bf_draft_submit(c, j, text, len, e);
		free(text);
		if (rc == 0) {
			pthread_mutex_lock(&j->lock);
			tmp_free(tmp_detach(j->d, name));
			pthread_mutex_unlock(&j->lock);
		}
		return rc;
	}
	pthread_mutex_lock(&j->lock);
	if (!j->draft) {
		rc = bf_err_set(e, EPERM, "files of a job cannot be renamed");
		goto out;
	}
	old = bf_draft_tmp_find(j->d, newname);
	if ((flags & 1) && old) {
		rc = bf_err_set(e, EEXIST, "%s exists", newname);
		goto out;
	}
	if (strcmp(name, "request.json") == 0) {
		/* request.json -> backup name (vim's "save with backup"). */
		if (j->d->req_absent) {
			rc = bf_err_set(e, ENOENT, "no such file");
			goto out;
		}
		t = old;
		if (!t) {
			t = calloc(1, sizeof(*t));
			if (!t || !(t->name = strdup(newname))) {
				free(t);
				rc = bf_err_set(e, ENOMEM, "out of memory");
				goto out;
			}
			bf_buf_init(&t->data, c->o.max_request);
			t->next = j->d->tmp;
			j->d->tmp = t;
		}
		bf_buf_free(&t->data);
		t->data = j->d->req;
		t->data.max = c->o.max_request;
		bf_buf_init(&j->d->req, c->o.max_request);
		t->mtime_us = j->d->req_mtime_us;
		t->mode = j->d->req_mode; /* the file moves, mode and all */
		j->d->req_absent = 1;
		goto out;
	}
	t = tmp_detach(j->d, name);
	if (!t) {
		rc = bf_err_set(e, ENOENT, "no such file");
		goto out;
	}
	tmp_free(tmp_detach(j->d, newname));
	free(t->name);
	t->name = strdup(newname);
	if (!t->name) {
		tmp_free(t);
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	t->next = j->d->tmp;
	j->d->tmp = t;
out:
	pthread_mutex_unlock(&j->lock);
	return rc;
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
		static const char zeros[4096];
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

int bf_model_truncate(struct bf_ctx *c, const struct bf_node *n, uint64_t size,
		      struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	switch (n->kind) {
	case BF_K_CTL:
		return 0; /* "echo cancel > ctl" truncates first */
	case BF_K_REQUEST:
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
	case BF_K_TEMP: {
		struct bf_tmpfile *t;

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
	case BF_K_INPUT:
		pthread_mutex_lock(&j->lock);
		rc = bf_input_truncate(j, size, e);
		pthread_mutex_unlock(&j->lock);
		return rc;
	case BF_K_ROOT:
	case BF_K_JOBS:
	case BF_K_JOB:
	case BF_K_OUTPUT:
	case BF_K_OUTDIR:
	case BF_K_RESULTS:
	case BF_K_BYID:
		return bf_err_set(e, EISDIR, "is a directory");
	default:
		return bf_err_set(e, EACCES, "read-only file");
	}
}
