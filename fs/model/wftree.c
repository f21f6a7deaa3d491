/* wftree.c - the nodes of the file-native workflows in the tree: a draft's
 * input.jsonl, a job's wait and results/, and by-id/ID symlinks to
 * ../jobs/NAME. Attributes, lookups and directory snapshots; tree.c hands
 * these kinds over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/log.h"
#include "model/model_int.h"

int bf_wf_kind(enum bf_kind k)
{
	return k == BF_K_INPUT || k == BF_K_WAIT || k == BF_K_RESULTS ||
	       k == BF_K_RESFILE || k == BF_K_BYID || k == BF_K_LINK;
}

static double ttl_of(struct bf_ctx *c, struct bf_mjob *j)
{
	return bf_mjob_terminal(j) ? c->o.final_timeout : c->o.attr_timeout;
}

static int64_t mtime_of(struct bf_mjob *j)
{
	if (j->draft || !j->have_job)
		return j->ctime_us;
	return j->job.update_us ? j->job.update_us : j->job.create_us;
}

static int link_target(struct bf_ctx *c, struct bf_mjob *j, char **out,
		       struct bf_err *e)
{
	char *name = bf_mjob_name(c, j);

	*out = NULL;
	if (!name)
		return bf_err_set(e, ENOENT, "the job no longer exists");
	if (asprintf(out, "../jobs/%s", name) < 0)
		*out = NULL;
	free(name);
	return *out ? 0 : bf_err_set(e, ENOMEM, "out of memory");
}

int bf_model_readlink(struct bf_ctx *c, const struct bf_node *n, char **out,
		      struct bf_err *e)
{
	*out = NULL;
	if (n->kind != BF_K_LINK || !n->job)
		return bf_err_set(e, EINVAL, "not a symbolic link");
	return link_target(c, n->job, out, e);
}

static int res_attr(struct bf_ctx *c, const struct bf_node *n,
		    struct bf_attr *a, struct bf_err *e)
{
	struct bf_resset *s;
	uint64_t size;
	int rc = bf_resdir_get(c, n->job, &s, e);

	if (rc)
		return rc;
	rc = bf_resset_file(s, n->sub, &size);
	if (rc)
		rc = bf_err_set(e, ENOENT, "no such file");
	else
		bf_attr_fill(c, a, S_IFREG | 0444, size, bf_resset_mtime(s),
			     bf_resset_final(s) ? c->o.final_timeout
						: c->o.attr_timeout);
	bf_resset_put(s);
	return rc;
}

int bf_wf_getattr(struct bf_ctx *c, const struct bf_node *n,
		  struct bf_attr *a, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	switch (n->kind) {
	case BF_K_BYID:
		bf_attr_fill(c, a, S_IFDIR | 0555, 0, c->start_us,
			     c->o.entry_timeout);
		return 0;
	case BF_K_LINK: {
		char *t;

		rc = link_target(c, j, &t, e);
		if (rc == 0)
			bf_attr_fill(c, a, S_IFLNK | 0777, strlen(t),
				     c->start_us, c->o.attr_timeout);
		free(t);
		return rc;
	}
	case BF_K_RESFILE:
		return res_attr(c, n, a, e);
	default:
		break;
	}
	if (!j)
		return bf_err_set(e, ENOENT, "unknown node");
	if (n->kind == BF_K_WAIT) {
		/* Cheap: never blocks, a stat of wait is not a wait. */
		rc = bf_mjob_fresh(c, j, 0, e);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&j->lock);
	if (j->gone) {
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	} else if (n->kind == BF_K_INPUT) {
		if (!j->draft || !j->d || !j->d->in.present)
			rc = bf_err_set(e, ENOENT, "no such file");
		else
			/* No kernel caching: it leaves the directory when
			 * the draft is submitted, and a cached name would
			 * answer ENOENT where a lookup gives EPERM. */
			bf_attr_fill(c, a, bf_perm_draft(j->d->in.mode),
				     j->d->in.len, j->d->in.mtime_us, 0);
	} else if (j->draft) {
		rc = bf_err_set(e, ENOENT, "not in a draft");
	} else if (n->kind == BF_K_WAIT) {
		size_t sz = 0;

		/* Unknown until the job ends: direct I/O reads past it. */
		if (bf_mjob_terminal(j))
			sz = strlen(bf_job_state_name(j->job.state)) + 1;
		bf_attr_fill(c, a, S_IFREG | 0444, sz, mtime_of(j),
			     ttl_of(c, j));
	} else if (n->kind == BF_K_RESULTS) {
		bf_attr_fill(c, a, S_IFDIR | 0555, 0, mtime_of(j),
			     ttl_of(c, j));
	} else {
		rc = bf_err_set(e, ENOENT, "unknown node");
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* The job whose id is id, from the jobs/ listing (a reference). */
static int job_by_id(struct bf_ctx *c, const char *id, struct bf_mjob **out,
		     struct bf_err *e)
{
	struct bf_jobref *refs;
	size_t n;
	int rc = bf_jobs_list(c, &refs, &n, e);

	*out = NULL;
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !*out; i++) {
		struct bf_mjob *j = refs[i].job;

		pthread_mutex_lock(&j->lock);
		if (j->id[0] && strcmp(j->id, id) == 0)
			*out = bf_mjob_get(j);
		pthread_mutex_unlock(&j->lock);
	}
	bf_jobs_refs_free(refs, n);
	return *out ? 0 : bf_err_set(e, ENOENT, "no job with id %s", id);
}

int bf_wf_lookup(struct bf_ctx *c, const struct bf_node *parent,
		 const char *name, struct bf_node *out, struct bf_err *e)
{
	int rc;

	if (parent->kind == BF_K_BYID) {
		rc = job_by_id(c, name, &out->job, e);
		if (rc)
			return rc;
		out->kind = BF_K_LINK;
	} else if (parent->kind == BF_K_RESULTS) {
		struct bf_resset *s;
		uint64_t size;

		rc = bf_resdir_get(c, parent->job, &s, e);
		if (rc)
			return rc;
		rc = bf_resset_file(s, name, &size);
		bf_resset_put(s);
		if (rc)
			return bf_err_set(e, ENOENT, "no such file");
		out->kind = BF_K_RESFILE;
		out->job = bf_mjob_get(parent->job);
	} else {
		return bf_err_set(e, ENOTDIR, "not a directory");
	}
	out->sub = strdup(name);
	if (!out->sub) {
		bf_node_clear(out);
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	return 0;
}

static int opendir_byid(struct bf_ctx *c, struct bf_dir *d, size_t *cap,
			struct bf_err *e)
{
	struct bf_jobref *refs = NULL;
	size_t n = 0;
	int rc = bf_jobs_list(c, &refs, &n, e);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct bf_node node = { .kind = BF_K_LINK };
		struct bf_attr a;
		char id[24];

		pthread_mutex_lock(&refs[i].job->lock);
		snprintf(id, sizeof(id), "%s", refs[i].job->id);
		pthread_mutex_unlock(&refs[i].job->lock);
		if (!id[0])
			continue; /* drafts have no id yet */
		node.job = bf_mjob_get(refs[i].job);
		node.sub = strdup(id);
		bf_attr_fill(c, &a, S_IFLNK | 0777,
			     strlen("../jobs/") + strlen(refs[i].name),
			     c->start_us, c->o.attr_timeout);
		rc = node.sub ? bf_dir_add(d, cap, id, &node, &a) : -ENOMEM;
		bf_node_clear(&node);
		if (rc)
			rc = bf_err_set(e, -rc, "out of memory");
	}
	if (refs)
		bf_jobs_refs_free(refs, n);
	return rc;
}

static int opendir_results(struct bf_ctx *c, const struct bf_node *p,
			   struct bf_dir *d, size_t *cap, struct bf_err *e)
{
	const char *names[8];
	struct bf_resset *s;
	size_t n;
	int rc = bf_resdir_get(c, p->job, &s, e);

	if (rc)
		return rc;
	n = bf_resset_names(s, names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct bf_node node = { .kind = BF_K_RESFILE };
		struct bf_attr a;
		uint64_t size = 0;

		bf_resset_file(s, names[i], &size);
		node.job = bf_mjob_get(p->job);
		node.sub = strdup(names[i]);
		bf_attr_fill(c, &a, S_IFREG | 0444, size, bf_resset_mtime(s),
			     bf_resset_final(s) ? c->o.final_timeout
						: c->o.attr_timeout);
		rc = node.sub ? bf_dir_add(d, cap, names[i], &node, &a)
			      : -ENOMEM;
		bf_node_clear(&node);
		if (rc)
			rc = bf_err_set(e, -rc, "out of memory");
	}
	bf_resset_put(s);
	return rc;
}

int bf_wf_opendir(struct bf_ctx *c, const struct bf_node *n, struct bf_dir *d,
		  size_t *cap, struct bf_err *e)
{
	if (n->kind == BF_K_BYID)
		return opendir_byid(c, d, cap, e);
	if (n->kind == BF_K_RESULTS)
		return opendir_results(c, n, d, cap, e);
	return bf_err_set(e, ENOTDIR, "not a directory");
}
