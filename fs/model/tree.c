/* tree.c - the top of the tree: the root, jobs/ and a job's directory
 * (which names exist in a draft's and in a job's, and its scratch files).
 * The kinds below a job's directory are their own files' (kinds.c). */
#include "model/tree.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/err.h"
#include "batchfs/log.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/files.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/listing.h"
#include "model/model.h"
#include "model/node.h"

/* The root, jobs/ and by-id/: fixed, for the life of the mount. */
int bf_tree_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		    const struct bf_node *n, struct bf_attr *a,
		    struct bf_err *e)
{
	(void)n;
	(void)e;
	bf_node_attr(c, a, k->mode, 0, c->start_us, c->o.entry_timeout);
	return 0;
}

int bf_tree_root_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *parent, const char *name,
			const struct bf_kind_ops *fixed, struct bf_node *out,
			struct bf_err *e)
{
	(void)c;
	(void)k;
	(void)parent;
	(void)name;
	if (!fixed)
		return bf_err_set(e, ENOENT, "no such file");
	out->kind = fixed->kind;
	return 0;
}

int bf_tree_jobs_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *parent, const char *name,
			const struct bf_kind_ops *fixed, struct bf_node *out,
			struct bf_err *e)
{
	int rc;

	(void)k;
	(void)parent;
	(void)fixed;
	rc = bf_listing_lookup(c, name, &out->job, e);
	if (rc)
		return rc;
	out->kind = BF_K_JOB;
	return 0;
}

int bf_tree_jobs_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			 const struct bf_node *n, struct bf_dir *d, size_t *cap,
			 struct bf_err *e)
{
	struct bf_jobref *refs;
	size_t nr;
	int rc = bf_listing_refs(c, &refs, &nr, e);

	(void)k;
	(void)n;
	if (rc)
		return rc;
	for (size_t i = 0; i < nr && rc == 0; i++) {
		struct bf_node node = {.kind = BF_K_JOB};
		struct bf_attr a;
		struct bf_mjob *j = refs[i].job;

		/* Attributes from the listing: no request per job. */
		pthread_mutex_lock(&j->lock);
		bf_node_attr(c, &a, S_IFDIR | 0755, 0, bf_node_mtime(j),
			     c->o.attr_timeout);
		pthread_mutex_unlock(&j->lock);
		node.job = bf_mjob_get(j);
		rc = bf_node_dir_add(d, cap, refs[i].name, &node, &a);
		bf_node_clear(&node);
	}
	bf_listing_refs_free(refs, nr);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}

int bf_tree_job_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *n, struct bf_attr *a,
			struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	pthread_mutex_lock(&j->lock);
	/* Short TTL even when finished: the job may be deleted by someone
	 * else, and revalidating costs no request. */
	if (j->gone)
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	else
		bf_node_attr(c, a, k->mode, 0, bf_node_mtime(j),
			     c->o.attr_timeout);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int bf_tree_job_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *parent, const char *name,
		       const struct bf_kind_ops *fixed, struct bf_node *out,
		       struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	int draft, gone, absent, tmp, input;

	(void)c;
	(void)k;
	pthread_mutex_lock(&j->lock);
	draft = j->draft;
	gone = j->gone;
	absent = j->d && j->d->req_absent;
	input = j->d && j->d->in.present;
	tmp = bf_draft_tmp_find(j->d, name) != NULL;
	pthread_mutex_unlock(&j->lock);
	if (gone)
		return bf_err_set(e, ENOENT, "the job no longer exists");
	if (fixed && (fixed->where & (draft ? BF_KW_DRAFT : BF_KW_JOB)) &&
	    !(draft && fixed->kind == BF_K_REQUEST && absent) &&
	    !(fixed->kind == BF_K_INPUT && !input)) {
		out->kind = fixed->kind;
	} else if (tmp) {
		out->kind = BF_K_TEMP;
		out->sub = strdup(name);
		if (!out->sub)
			return bf_err_set(e, ENOMEM, "out of memory");
	} else {
		return bf_err_set(e, ENOENT, "no such file");
	}
	out->job = bf_mjob_get(j);
	return 0;
}

/* A job directory's scratch files (the table lists the others). */
int bf_tree_job_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *p, struct bf_dir *d, size_t *cap,
			struct bf_err *e)
{
	struct bf_mjob *j = p->job;
	char **tmps = NULL;
	size_t ntmp = 0;
	int rc = 0, have;

	(void)k;
	pthread_mutex_lock(&j->lock);
	have = j->d && !j->gone;
	if (have) {
		struct bf_tmpfile *t;

		for (t = j->d->tmp; t; t = t->next)
			ntmp++;
		tmps = calloc(ntmp ? ntmp : 1, sizeof(*tmps));
		ntmp = 0;
		for (t = j->d->tmp; tmps && t; t = t->next)
			tmps[ntmp++] = strdup(t->name);
	}
	pthread_mutex_unlock(&j->lock);
	if (have && !tmps)
		return bf_err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < ntmp; i++) {
		struct bf_node node = {.kind = BF_K_TEMP};
		struct bf_attr a;

		node.sub = tmps[i];
		node.job = bf_mjob_get(j);
		if (rc == 0 && node.sub &&
		    bf_files_temp_attr(c, &node, &a, e) == 0)
			rc = bf_node_dir_add(d, cap, tmps[i], &node, &a);
		bf_node_clear(&node);
	}
	free(tmps);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}
