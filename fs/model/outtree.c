/* outtree.c - a job's output/: its directories and objects as nodes
 * (names from the cached listings of outdir.c), output/bigquery's place,
 * and open objects, read through a read-ahead reader that follows the
 * growth of objects of running jobs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "model/model_int.h"

static int job_has_bq(struct bf_mjob *j)
{
	int r;

	pthread_mutex_lock(&j->lock);
	r = j->have_job && !j->job.gcs_output_dir &&
	    (j->job.bq_output ||
	     (j->job.output_prefix &&
	      strncmp(j->job.output_prefix, "bq://", 5) == 0));
	pthread_mutex_unlock(&j->lock);
	return r;
}

int bf_outtree_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *n, struct bf_attr *a,
		       struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	pthread_mutex_lock(&j->lock);
	if (j->gone || j->draft)
		rc = bf_err_set(e, ENOENT, "no output");
	else
		bf_node_attr(c, a, k->mode, 0, bf_node_mtime(j),
			     bf_node_ttl(c, j));
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int bf_outtree_ent_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	struct bf_outlist *l;
	const struct bf_outent *ent;
	uint64_t size;
	int64_t gen, upd;
	int terminal, rc;
	double ttl;

	(void)k;
	rc = bf_outdir_entry(c, j, n->sub, &l, &ent, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	terminal = bf_mjob_terminal(j);
	ttl = bf_node_ttl(c, j);
	pthread_mutex_unlock(&j->lock);
	if (ent->is_dir) {
		bf_node_attr(c, a, S_IFDIR | 0555, 0, 0, ttl);
		bf_outlist_put(l);
		return 0;
	}
	size = ent->size;
	upd = ent->updated_us;
	if (!terminal || !l->final) {
		/* It may have grown since the listing. */
		rc = bf_outdir_stat(c, j, ent->obj, &size, &gen, &upd, e);
	}
	bf_outlist_put(l);
	if (rc == 0)
		bf_node_attr(c, a, S_IFREG | 0444, size, upd,
			     terminal ? ttl : c->o.attr_timeout);
	return rc;
}

int bf_outtree_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *parent, const char *name,
		      const struct bf_kind_ops *fixed, struct bf_node *out,
		      struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	struct bf_outlist *l;
	const struct bf_outent *ent;
	const char *sub = k->kind == BF_K_OUTPUT ? "" : parent->sub;
	int rc;

	if (fixed && job_has_bq(j)) {
		out->kind = fixed->kind; /* output/bigquery */
		out->job = bf_mjob_get(j);
		return 0;
	}
	rc = bf_outdir_list(c, j, sub, &l, e);
	if (rc)
		return rc;
	ent = bf_outlist_find(l, name);
	if (!ent) {
		bf_outlist_put(l);
		return bf_err_set(e, ENOENT, "no such output object");
	}
	out->kind = ent->is_dir ? BF_K_OUTDIR : BF_K_OUTFILE;
	bf_outlist_put(l);
	out->sub = bf_node_join(sub, name);
	if (!out->sub)
		return bf_err_set(e, ENOMEM, "out of memory");
	out->job = bf_mjob_get(j);
	return 0;
}

/* The listing (a BigQuery job's output/ holds bigquery alone, which the
 * table lists). */
int bf_outtree_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *p, struct bf_dir *d, size_t *cap,
		       struct bf_err *e)
{
	struct bf_mjob *j = p->job;
	const char *sub = k->kind == BF_K_OUTPUT ? "" : p->sub;
	struct bf_outlist *l;
	int terminal, rc;
	double ttl;

	if (k->kind == BF_K_OUTPUT && job_has_bq(j))
		return 0;
	rc = bf_outdir_list(c, j, sub, &l, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	terminal = bf_mjob_terminal(j);
	ttl = bf_node_ttl(c, j);
	pthread_mutex_unlock(&j->lock);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const struct bf_outent *ent = &l->v[i];
		struct bf_node node = {0};
		struct bf_attr a;

		node.kind = ent->is_dir ? BF_K_OUTDIR : BF_K_OUTFILE;
		node.job = bf_mjob_get(j);
		node.sub = bf_node_join(sub, ent->name);
		if (!node.sub) {
			bf_node_clear(&node);
			rc = -ENOMEM;
			break;
		}
		if (ent->is_dir)
			bf_node_attr(c, &a, S_IFDIR | 0555, 0, 0, ttl);
		else
			bf_node_attr(c, &a, S_IFREG | 0444, ent->size,
				     ent->updated_us,
				     terminal ? ttl : c->o.attr_timeout);
		rc = bf_node_dir_add(d, cap, ent->name, &node, &a);
		bf_node_clear(&node);
	}
	bf_outlist_put(l);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}

/* ---- open objects ---- */

int bf_outtree_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		    struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	struct bf_outlist *l;
	const struct bf_outent *ent;
	int terminal, rc;

	(void)flags;
	if (fh->writer)
		return bf_err_set(e, EACCES,
				  "output objects are "
				  "read-only");
	rc = bf_outdir_entry(c, j, fh->node.sub, &l, &ent, e);
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

/* Follows an object that grew since the reader was opened (fh->lock
 * held, j unlocked). */
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

/* v: describe the bytes instead of copying them (bf_reader_readv). */
ssize_t bf_outtree_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
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

ssize_t bf_outtree_pipe(struct bf_fh *fh, size_t len, uint64_t off,
			struct bf_rpipe *t, struct bf_err *e)
{
	ssize_t n;
	int growing;

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

/* fstat: a growing object's size as of 200 ms ago at most. */
int bf_outtree_fgetattr(struct bf_ctx *c, struct bf_fh *fh, struct bf_attr *a,
			struct bf_err *e)
{
	int rc = 0;

	if (!fh->growing)
		return bf_outtree_ent_getattr(c, fh->k, &fh->node, a, e);
	pthread_mutex_lock(&fh->lock);
	if (bf_now_ms() - fh->stat_ms >= 200)
		rc = obj_restat(c, fh, e);
	if (rc == 0)
		bf_node_attr(c, a, S_IFREG | 0444, fh->size, fh->updated_us,
			     c->o.attr_timeout);
	pthread_mutex_unlock(&fh->lock);
	return rc;
}
