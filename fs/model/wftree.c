/* wftree.c - the nodes of the file-native workflows in the tree: a job's
 * results/ and its files (resdir.c computes them), and by-id/ID symlinks
 * to ../jobs/NAME. */
#include "model/wftree.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/err.h"
#include "batchfs/log.h"
#include "model/ctx.h"
#include "model/fh.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/listing.h"
#include "model/model.h"
#include "model/node.h"
#include "model/resdir.h"

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

int bf_wftree_readlink(struct bf_ctx *c, const struct bf_node *n, char **out,
		       struct bf_err *e)
{
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
		bf_node_attr(c, a, S_IFREG | 0444, size, bf_resset_mtime(s),
			     bf_resset_final(s) ? c->o.final_timeout
						: c->o.attr_timeout);
	bf_resset_put(s);
	return rc;
}

int bf_wftree_resfile_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			      const struct bf_node *n, struct bf_attr *a,
			      struct bf_err *e)
{
	(void)k;
	return res_attr(c, n, a, e);
}

int bf_wftree_link_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e)
{
	char *t;
	int rc = link_target(c, n->job, &t, e);

	if (rc == 0)
		bf_node_attr(c, a, k->mode, strlen(t), c->start_us,
			     c->o.attr_timeout);
	free(t);
	return rc;
}

int bf_wftree_results_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			      const struct bf_node *n, struct bf_attr *a,
			      struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	if (!j)
		return bf_err_set(e, ENOENT, "unknown node");
	pthread_mutex_lock(&j->lock);
	if (j->gone)
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	else if (j->draft)
		rc = bf_err_set(e, ENOENT, "not in a draft");
	else
		bf_node_attr(c, a, k->mode, 0, bf_node_mtime(j),
			     bf_node_ttl(c, j));
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* The job whose id is id, from the jobs/ listing (a reference). */
static int job_by_id(struct bf_ctx *c, const char *id, struct bf_mjob **out,
		     struct bf_err *e)
{
	struct bf_jobref *refs;
	size_t n;
	int rc = bf_listing_refs(c, &refs, &n, e);

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
	bf_listing_refs_free(refs, n);
	return *out ? 0 : bf_err_set(e, ENOENT, "no job with id %s", id);
}

static int named(struct bf_node *out, const char *name, struct bf_err *e)
{
	out->sub = strdup(name);
	if (!out->sub)
		return bf_err_set(e, ENOMEM, "out of memory");
	return 0;
}

int bf_wftree_byid_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			  const struct bf_node *parent, const char *name,
			  const struct bf_kind_ops *fixed, struct bf_node *out,
			  struct bf_err *e)
{
	int rc;

	(void)k;
	(void)parent;
	(void)fixed;
	rc = job_by_id(c, name, &out->job, e);
	if (rc)
		return rc;
	out->kind = BF_K_LINK;
	return named(out, name, e);
}

int bf_wftree_results_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			     const struct bf_node *parent, const char *name,
			     const struct bf_kind_ops *fixed,
			     struct bf_node *out, struct bf_err *e)
{
	struct bf_resset *s;
	uint64_t size;
	int rc;

	(void)k;
	(void)fixed;
	rc = bf_resdir_get(c, parent->job, &s, e);
	if (rc)
		return rc;
	rc = bf_resset_file(s, name, &size);
	bf_resset_put(s);
	if (rc)
		return bf_err_set(e, ENOENT, "no such file");
	out->kind = BF_K_RESFILE;
	out->job = bf_mjob_get(parent->job);
	return named(out, name, e);
}

int bf_wftree_byid_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *p, struct bf_dir *d,
			   size_t *cap, struct bf_err *e)
{
	struct bf_jobref *refs = NULL;
	size_t n = 0;
	int rc = bf_listing_refs(c, &refs, &n, e);

	(void)k;
	(void)p;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct bf_node node = {.kind = BF_K_LINK};
		struct bf_attr a;
		char id[24];

		pthread_mutex_lock(&refs[i].job->lock);
		snprintf(id, sizeof(id), "%s", refs[i].job->id);
		pthread_mutex_unlock(&refs[i].job->lock);
		if (!id[0])
			continue; /* drafts have no id yet */
		node.job = bf_mjob_get(refs[i].job);
		node.sub = strdup(id);
		bf_node_attr(c, &a, S_IFLNK | 0777,
			     strlen("../jobs/") + strlen(refs[i].name),
			     c->start_us, c->o.attr_timeout);
		rc = node.sub ? bf_node_dir_add(d, cap, id, &node, &a)
			      : -ENOMEM;
		bf_node_clear(&node);
		if (rc)
			rc = bf_err_set(e, -rc, "out of memory");
	}
	if (refs)
		bf_listing_refs_free(refs, n);
	return rc;
}

int bf_wftree_results_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			      const struct bf_node *p, struct bf_dir *d,
			      size_t *cap, struct bf_err *e)
{
	const char *names[8];
	struct bf_resset *s;
	size_t n;
	int rc = bf_resdir_get(c, p->job, &s, e);

	(void)k;
	if (rc)
		return rc;
	n = bf_resset_names(s, names);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct bf_node node = {.kind = BF_K_RESFILE};
		struct bf_attr a;
		uint64_t size = 0;

		bf_resset_file(s, names[i], &size);
		node.job = bf_mjob_get(p->job);
		node.sub = strdup(names[i]);
		bf_node_attr(c, &a, S_IFREG | 0444, size, bf_resset_mtime(s),
			     bf_resset_final(s) ? c->o.final_timeout
						: c->o.attr_timeout);
		rc = node.sub ? bf_node_dir_add(d, cap, names[i], &node, &a)
			      : -ENOMEM;
		bf_node_clear(&node);
		if (rc)
			rc = bf_err_set(e, -rc, "out of memory");
	}
	bf_resset_put(s);
	return rc;
}

/* ---- open files of results/: one result set per open ---- */

int bf_wftree_resfile_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
			   struct bf_err *e)
{
	uint64_t size;
	int rc;

	(void)flags;
	if (fh->writer)
		return bf_err_set(e, EACCES, "results are read-only");
	rc = bf_resdir_get(c, fh->node.job, &fh->rs, e);
	if (rc == 0 && bf_resset_file(fh->rs, fh->node.sub, &size) != 0)
		rc = bf_err_set(e, ENOENT, "no such file");
	/* One set per open: a running job's results change. */
	if (rc == 0)
		fh->flags = BF_FH_NOFLUSH |
			    (bf_resset_final(fh->rs) ? BF_FH_KEEP_CACHE
						     : BF_FH_DIRECT_IO);
	return rc;
}

ssize_t bf_wftree_resfile_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			       size_t len, uint64_t off, struct bf_rvec *v,
			       struct bf_err *e)
{
	(void)c;
	(void)v;
	return bf_resset_read(fh->rs, fh->node.sub, buf, len, off, e);
}
