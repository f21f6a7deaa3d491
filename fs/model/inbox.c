/* inbox.c - inbox/, the hot folder (-o model and -o staging): creating
 * NAME.jsonl there makes a draft jobs/NAME whose input.jsonl (a temporary
 * file, input.c) receives the bytes; the writer's close stages it and
 * submits it with the mount's default request, {"model": MODEL} (+ "dest"),
 * labelled batchfs_inbox. A spool that empties: it lists the files still
 * being written and NAME.error, the message of a refused file, kept in
 * memory until rm or a later successful submit of NAME.jsonl. */
#include "model/inbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/err.h"
#include "batchfs/log.h"
#include "batchfs/vertex.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/fh.h"
#include "model/files.h"
#include "model/input.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/names.h"
#include "model/node.h"
#include "model/perm.h"

#define SUFFIX ".jsonl"
#define ERR_SUFFIX ".error"
/* Messages kept at most; the oldest goes first. */
#define MAX_ERRORS 1024

struct inbox_err {
	char *name; /* NAME */
	char *msg;
	int64_t mtime_us;
	struct inbox_err *next;
};

struct bf_inbox {
	/* A leaf: held with no other lock, and nothing is called under it. */
	pthread_mutex_t lock;
	struct inbox_err *errs; /* newest first (lock) */
	size_t nerrs;		/* (lock) */
};

struct bf_inbox *bf_inbox_new(void)
{
	struct bf_inbox *ib = calloc(1, sizeof(*ib));

	if (ib)
		pthread_mutex_init(&ib->lock, NULL);
	return ib;
}

static void err_free(struct inbox_err *x)
{
	if (!x)
		return;
	free(x->name);
	free(x->msg);
	free(x);
}

void bf_inbox_free(struct bf_inbox *ib)
{
	struct inbox_err *x, *nx;

	if (!ib)
		return;
	for (x = ib->errs; x; x = nx) {
		nx = x->next;
		err_free(x);
	}
	pthread_mutex_destroy(&ib->lock);
	free(ib);
}

static int enabled(struct bf_ctx *c)
{
	return c->o.model && c->o.staging && c->inbox;
}

/* ---- messages of refused files ---- */

static struct inbox_err **err_find(struct bf_inbox *ib, const char *name)
{
	struct inbox_err **pp = &ib->errs;

	while (*pp && strcmp((*pp)->name, name) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void err_drop(struct bf_inbox *ib, const char *name)
{
	struct inbox_err **pp, *x;

	pthread_mutex_lock(&ib->lock);
	pp = err_find(ib, name);
	x = *pp;
	if (x) {
		*pp = x->next;
		ib->nerrs--;
	}
	pthread_mutex_unlock(&ib->lock);
	err_free(x);
}

static void err_put(struct bf_inbox *ib, const char *name, const char *msg)
{
	struct inbox_err *x = calloc(1, sizeof(*x)), *old = NULL, **pp;

	if (!x || !(x->name = strdup(name)) ||
	    !(x->msg = strdup(msg ? msg : "refused\n"))) {
		err_free(x);
		return;
	}
	x->mtime_us = bf_clock_wall_us();
	err_drop(ib, name);
	pthread_mutex_lock(&ib->lock);
	x->next = ib->errs;
	ib->errs = x;
	if (++ib->nerrs > MAX_ERRORS) {
		for (pp = &ib->errs; (*pp)->next; pp = &(*pp)->next)
			;
		old = *pp;
		*pp = NULL;
		ib->nerrs--;
	}
	pthread_mutex_unlock(&ib->lock);
	err_free(old);
}

/* A copy of NAME's message and its time; -ENOENT when none. */
static int err_get(struct bf_inbox *ib, const char *name, char **msg,
		   int64_t *mtime_us)
{
	struct inbox_err *x;
	int rc = 0;

	pthread_mutex_lock(&ib->lock);
	x = *err_find(ib, name);
	if (!x)
		rc = -ENOENT;
	else if (msg && !(*msg = strdup(x->msg)))
		rc = -ENOMEM;
	if (x && mtime_us)
		*mtime_us = x->mtime_us;
	pthread_mutex_unlock(&ib->lock);
	return rc;
}

/* ---- the drafts the inbox made ---- */

struct find {
	const char *name;
	struct bf_mjob *found;
	char **names; /* readdir: every one's "NAME.jsonl" */
	size_t n, cap;
};

/* An inbox draft still being written (j->lock held). */
static int spooled(struct bf_mjob *j)
{
	return j->draft && !j->gone && j->d && j->d->inbox;
}

/* Table lock held (bf_jobs_foreach): j->name is stable. */
static void find_cb(void *ud, struct bf_mjob *j)
{
	struct find *f = ud;
	int hit;

	pthread_mutex_lock(&j->lock);
	hit = spooled(j);
	if (hit && f->name && !f->found && j->name &&
	    strcmp(j->name, f->name) == 0)
		f->found = bf_mjob_get(j);
	if (hit && !f->name && f->names) {
		if (f->n == f->cap) {
			size_t cap = f->cap ? 2 * f->cap : 16;
			char **v = realloc(f->names, cap * sizeof(*v));

			if (v) {
				f->names = v;
				f->cap = cap;
			}
		}
		if (f->n < f->cap && (f->names[f->n] = strdup(j->d->inbox)))
			f->n++;
	}
	pthread_mutex_unlock(&j->lock);
}

/* The inbox draft named name (a reference), or NULL. */
static struct bf_mjob *spool_find(struct bf_ctx *c, const char *name)
{
	struct find f = {.name = name};

	bf_jobs_foreach(c, find_cb, &f);
	return f.found;
}

/* ---- the directory ---- */

int bf_inbox_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		     const struct bf_node *n, struct bf_attr *a,
		     struct bf_err *e)
{
	(void)n;
	if (!enabled(c))
		return bf_err_set(e, ENOENT,
				  "no inbox/: mount with -o model=MODEL and "
				  "-o staging=gs://BUCKET/PREFIX");
	bf_node_attr(c, a, k->mode, 0, c->start_us, 0);
	return 0;
}

int bf_inbox_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		    const struct bf_node *parent, const char *name,
		    const struct bf_kind_ops *fixed, struct bf_node *out,
		    struct bf_err *e)
{
	char *base;
	int rc = 0;

	(void)k;
	(void)parent;
	(void)fixed;
	if ((base = bf_names_strip(name, SUFFIX))) {
		out->job = spool_find(c, base);
		out->kind = BF_K_INFILE;
		if (!out->job)
			rc = bf_err_set(e, ENOENT, "no such file");
	} else if ((base = bf_names_strip(name, ERR_SUFFIX))) {
		out->kind = BF_K_INERR;
		if (err_get(c->inbox, base, NULL, NULL))
			rc = bf_err_set(e, ENOENT, "no such file");
	} else {
		return bf_err_set(e, ENOENT, "no such file");
	}
	free(base);
	if (rc == 0 && !(out->sub = strdup(name)))
		rc = bf_err_set(e, ENOMEM, "out of memory");
	return rc;
}

int bf_inbox_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
		     const struct bf_node *n, struct bf_dir *d, size_t *cap,
		     struct bf_err *e)
{
	struct find f = {0};
	struct inbox_err *x;
	int rc = 0;

	(void)k;
	(void)n;
	f.names = calloc(16, sizeof(*f.names));
	f.cap = f.names ? 16 : 0;
	bf_jobs_foreach(c, find_cb, &f);
	/* The messages' names join the list: one snapshot of both. */
	pthread_mutex_lock(&c->inbox->lock);
	for (x = c->inbox->errs; x; x = x->next) {
		char *s = NULL;

		if (f.n == f.cap) {
			size_t ncap = f.cap ? 2 * f.cap : 16;
			char **v = realloc(f.names, ncap * sizeof(*v));

			if (!v)
				break;
			f.names = v;
			f.cap = ncap;
		}
		if (asprintf(&s, "%s%s", x->name, ERR_SUFFIX) >= 0)
			f.names[f.n++] = s;
	}
	pthread_mutex_unlock(&c->inbox->lock);
	for (size_t i = 0; i < f.n; i++) {
		struct bf_node node = {0};
		struct bf_attr a;
		struct bf_err ie;

		bf_err_clear(&ie);
		if (rc == 0 &&
		    bf_inbox_lookup(c, NULL, NULL, f.names[i], NULL, &node,
				    &ie) == 0 &&
		    (node.kind == BF_K_INFILE
			     ? bf_inbox_file_getattr(c, NULL, &node, &a, &ie)
			     : bf_inbox_err_getattr(c, NULL, &node, &a, &ie)) ==
			    0)
			rc = bf_node_dir_add(d, cap, f.names[i], &node, &a);
		bf_node_clear(&node);
		free(f.names[i]);
	}
	free(f.names);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}

/* ---- inbox/NAME.jsonl ---- */

int bf_inbox_create(struct bf_ctx *c, const char *name, struct bf_node *out,
		    struct bf_err *e)
{
	struct bf_mjob *j = NULL;
	char *base = bf_names_strip(name, SUFFIX);
	int rc;

	if (!enabled(c)) {
		rc = bf_err_set(e, ENOENT, "no inbox/");
		goto out;
	}
	if (!base || !bf_names_valid(base)) {
		rc = bf_err_set(e, EINVAL,
				"inbox/ takes NAME.jsonl files only, NAME a "
				"job directory name");
		goto out;
	}
	rc = bf_draft_add(c, base, &j, e);
	if (rc)
		goto out;
	pthread_mutex_lock(&j->lock);
	if (!(j->d->inbox = strdup(name)))
		rc = bf_err_set(e, ENOMEM, "out of memory");
	else
		rc = bf_input_open_write(c, j, 1, e);
	pthread_mutex_unlock(&j->lock);
	if (rc == 0 && !(out->sub = strdup(name)))
		rc = bf_err_set(e, ENOMEM, "out of memory");
	if (rc) {
		bf_jobs_remove(c, j);
		bf_mjob_put(j);
		goto out;
	}
	out->kind = BF_K_INFILE;
	out->job = j;
	bf_log_info("inbox/%s: receiving job %s", name, base);
out:
	free(base);
	return rc;
}

int bf_inbox_file_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			  const struct bf_node *n, struct bf_attr *a,
			  struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int ok;

	if (!j)
		return bf_err_set(e, ENOENT, "no such file");
	pthread_mutex_lock(&j->lock);
	ok = spooled(j);
	pthread_mutex_unlock(&j->lock);
	if (!ok)
		return bf_err_set(e, ENOENT, "submitted, or removed");
	return bf_files_input_getattr(c, k, n, a, e);
}

/* The default request of an inbox job; NULL: out of memory. */
static char *default_request(struct bf_ctx *c)
{
	cJSON *r = cJSON_CreateObject(), *l;
	char *s = NULL;

	if (r && cJSON_AddStringToObject(r, "model", c->o.model) &&
	    (!c->o.dest || cJSON_AddStringToObject(r, "dest", c->o.dest)) &&
	    (l = cJSON_AddObjectToObject(r, "labels")) &&
	    cJSON_AddStringToObject(l, BF_INBOX_LABEL, "1"))
		s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	return s;
}

int bf_inbox_file_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
			struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	char *base = bf_names_strip(fh->node.sub, SUFFIX), *req = NULL,
	     *msg = NULL;
	uint64_t len = 0;
	int rc = 0, ok;

	if (!fh->wrote || tgid != fh->opener || !base)
		goto out;
	fh->wrote = 0;
	pthread_mutex_lock(&j->lock);
	ok = spooled(j);
	if (ok)
		len = j->d->in.len;
	pthread_mutex_unlock(&j->lock);
	/* Empty (touch): stays in inbox/ unsubmitted, as an empty
	 * input.jsonl is not staged; a later write and close submits. */
	if (!ok || !len)
		goto out;
	rc = bf_input_stage(c, j, e);
	if (rc == 0) {
		req = default_request(c);
		rc = req ? bf_draft_submit(c, j, req, strlen(req), e)
			 : bf_err_set(e, ENOMEM, "out of memory");
	}
	if (rc == 0) {
		fh->submitted = 1;
		err_drop(c->inbox, base);
		bf_log_info("inbox/%s: submitted as jobs/%s", fh->node.sub,
			    base);
		goto out;
	}
	/* Refused: nothing was submitted; the name is free again and the
	 * message stays as inbox/NAME.error. */
	pthread_mutex_lock(&j->lock);
	if (j->submit_err)
		msg = strdup(j->submit_err);
	ok = j->draft;
	pthread_mutex_unlock(&j->lock);
	if (!msg) {
		char line[600];

		bf_err_format(e, line, sizeof(line));
		if (asprintf(&msg, "%s\n", line) < 0)
			msg = NULL;
	}
	err_put(c->inbox, base, msg);
	if (ok)
		bf_jobs_remove(c, j);
	bf_log_warn("inbox/%s: not submitted: %s", fh->node.sub,
		    e ? e->msg : "");
out:
	free(msg);
	free(req);
	free(base);
	return rc;
}

int bf_inbox_unlink(struct bf_ctx *c, const char *name, struct bf_err *e)
{
	struct bf_mjob *j;
	char *base;
	int rc = 0, busy;

	if ((base = bf_names_strip(name, ERR_SUFFIX))) {
		if (err_get(c->inbox, base, NULL, NULL))
			rc = bf_err_set(e, ENOENT, "no such file");
		else
			err_drop(c->inbox, base);
	} else if ((base = bf_names_strip(name, SUFFIX)) &&
		   (j = spool_find(c, base))) {
		pthread_mutex_lock(&j->lock);
		busy = j->submitting;
		pthread_mutex_unlock(&j->lock);
		if (busy)
			rc = bf_err_set(e, EBUSY, "being submitted");
		else
			bf_jobs_remove(c, j);
		bf_mjob_put(j);
	} else {
		rc = bf_err_set(e, ENOENT, "no such file");
	}
	free(base);
	return rc;
}

/* ---- inbox/NAME.error ---- */

static int err_text(struct bf_ctx *c, const struct bf_node *n, char **msg,
		    int64_t *mtime_us, struct bf_err *e)
{
	char *base = bf_names_strip(n->sub ? n->sub : "", ERR_SUFFIX);
	int rc = base ? err_get(c->inbox, base, msg, mtime_us) : -ENOENT;

	free(base);
	if (rc)
		return bf_err_set(e, -rc, rc == -ENOENT ? "no such file"
							: "out of memory");
	return 0;
}

int bf_inbox_err_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			 const struct bf_node *n, struct bf_attr *a,
			 struct bf_err *e)
{
	char *msg = NULL;
	int64_t mt = 0;
	int rc = err_text(c, n, &msg, &mt, e);

	(void)k;
	if (rc == 0)
		bf_node_attr(c, a, S_IFREG | 0444, strlen(msg), mt, 0);
	free(msg);
	return rc;
}

int bf_inbox_err_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		      struct bf_err *e)
{
	char *msg = NULL;
	int rc;

	(void)flags;
	if (fh->writer)
		return bf_err_set(e, EACCES, "read-only file");
	rc = err_text(c, &fh->node, &msg, NULL, e);
	if (rc == 0 && bf_buf_puts(&fh->snap, msg))
		rc = bf_err_set(e, ENOMEM, "out of memory");
	free(msg);
	fh->flags = BF_FH_DIRECT_IO | BF_FH_NOFLUSH;
	return rc;
}
