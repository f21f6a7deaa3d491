/* ns.c - namespace and attribute changes: mkdir (drafts), rmdir (drafts
 * and finished jobs), create, unlink and rename inside drafts (editors,
 * install), chmod and chown (the rules are perm.c's). Above the kind table:
 * it calls the model's entry points. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/vertex.h"
#include "model/clock.h"
#include "model/ctl.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/inbox.h"
#include "model/input.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/listing.h"
#include "model/model.h"
#include "model/names.h"
#include "model/outbox.h"
#include "model/perm.h"

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
	rc = bf_listing_lookup(c, name, &j, e);
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
		bf_ctl_note(j, "rmdir", rc, e);
	bf_mjob_put(j);
	return rc;
}

/* Is name one of the files batchfs generates in a job directory? */
static int is_reserved(const char *name)
{
	return bf_kind_child(BF_K_JOB, name) != BF_K_NONE;
}

#define BF_MAX_TMPFILES 64

int bf_model_unlink(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	int rc = 0;

	if (parent->kind == BF_K_INBOX)
		return bf_inbox_unlink(c, name, e);
	if (parent->kind == BF_K_OUTBOX)
		return bf_outbox_unlink(c, name, e);
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

int bf_model_create(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, int flags, pid_t opener_tgid,
		    struct bf_node *out, struct bf_attr *a, struct bf_fh **fh,
		    struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	*fh = NULL;
	if (parent->kind == BF_K_INBOX) {
		/* a draft jobs/NAME whose input.jsonl gets the bytes */
		rc = bf_inbox_create(c, name, out, e);
		if (rc)
			goto fail;
		goto open;
	}
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
	} else if (is_reserved(name)) {
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
open:
	rc = bf_model_getattr(c, out, a, e);
	if (rc)
		goto fail;
	rc = bf_model_open(c, out, (flags & ~O_TRUNC) | O_WRONLY, opener_tgid,
			   fh, e);
	if (rc)
		goto fail;
	return 0;
fail:
	if (parent->kind == BF_K_INBOX && out->job)
		bf_jobs_remove(c, out->job); /* the name is free again */
	bf_node_clear(out);
	return rc;
}

/* Where a draft file's chmod'ed mode is kept (j->lock held); NULL when n
 * is not one now. */
static mode_t *draft_slot(struct bf_mjob *j, const struct bf_node *n)
{
	const struct bf_kind_ops *k = bf_kind_ops(n->kind);

	return k->mode_slot ? k->mode_slot(j, n) : NULL;
}

void bf_model_created(struct bf_ctx *c, const struct bf_node *n, mode_t mode,
		      struct bf_attr *a)
{
	mode_t max = bf_perm_mode(&c->o, BF_DRAFT_FILE_MODE) & 0777;
	mode_t bits = mode & max, *slot;

	if (!n->job)
		return;
	pthread_mutex_lock(&n->job->lock);
	slot = draft_slot(n->job, n);
	if (slot) {
		/* Narrowed only: a file made 0755 is 0644, as with a umask. */
		*slot = bits == max ? 0 : S_IFREG | bits;
		a->st.st_mode = S_IFREG | bits;
	}
	pthread_mutex_unlock(&n->job->lock);
}

int bf_model_chattr(struct bf_ctx *c, const struct bf_node *n,
		    const struct bf_chattr *want, struct bf_err *e)
{
	struct bf_attr a;
	mode_t *slot;
	int rc, settable = 0;

	rc = bf_model_getattr(c, n, &a, e);
	if (rc)
		return rc;
	if (n->job) {
		pthread_mutex_lock(&n->job->lock);
		settable = draft_slot(n->job, n) != NULL;
		pthread_mutex_unlock(&n->job->lock);
	}
	rc = bf_perm_chattr(&c->o, n->kind, &a.st, settable, want, e);
	if (rc != 1)
		return rc;
	pthread_mutex_lock(&n->job->lock);
	slot = draft_slot(n->job, n);
	if (slot)
		*slot = S_IFREG | (want->mode & 0777);
	else
		rc = bf_err_set(e, ENOENT, "no such file");
	pthread_mutex_unlock(&n->job->lock);
	return rc == 1 ? 0 : rc;
}
