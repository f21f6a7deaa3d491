/* gen.c - generated files: their text (rendered from the cached job by the
 * kind's render function, fetching the job first if it is due), their
 * attributes (size: the text's length) and their opens, a snapshot each.
 * The renderers of README, job.json, state, progress, error and
 * output/bigquery are here too; render.c formats. */
#include "model/gen.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/fh.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/model.h"
#include "model/node.h"
#include "model/render.h"
#include "model/resdir.h"

int bf_gen_render(struct bf_ctx *c, const struct bf_kind_ops *k,
		  const struct bf_node *n, struct bf_buf *b, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	if (!j && k->render)
		return k->render(c, NULL, b, e); /* README */
	if (!j)
		return bf_err_set(e, EINVAL, "not a file");
	rc = bf_mjob_fresh(c, j, 0, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	if (j->gone)
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	else if (j->draft)
		rc = k->render_draft ? k->render_draft(c, j, b, e)
				     : bf_err_set(e, ENOENT, "not in a draft");
	else if (!j->have_job)
		rc = bf_err_set(e, EIO, "the job has not been fetched");
	else
		rc = k->render ? k->render(c, j, b, e)
			       : bf_err_set(e, EISDIR, "not a file");
	pthread_mutex_unlock(&j->lock);
	if (rc < 0 && e && !e->err)
		bf_err_set(e, -rc, "cannot render");
	return rc;
}

int bf_gen_attr(struct bf_ctx *c, const struct bf_kind_ops *k,
		const struct bf_node *n, mode_t mode, struct bf_attr *a,
		struct bf_err *e)
{
	struct bf_buf b;
	int64_t mt = c->start_us;
	double ttl = c->o.final_timeout;
	int rc;

	bf_buf_init(&b, 0);
	rc = bf_gen_render(c, k, n, &b, e);
	if (rc == 0 && n->job) {
		pthread_mutex_lock(&n->job->lock);
		mt = bf_node_mtime(n->job);
		ttl = bf_node_ttl(c, n->job);
		pthread_mutex_unlock(&n->job->lock);
	}
	if (rc == 0)
		bf_node_attr(c, a, mode, b.len, mt, ttl);
	bf_buf_free(&b);
	return rc;
}

int bf_gen_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		   const struct bf_node *n, struct bf_attr *a, struct bf_err *e)
{
	return bf_gen_attr(c, k, n, k->mode, a, e);
}

int bf_gen_snapshot(struct bf_ctx *c, struct bf_fh *fh, struct bf_err *e)
{
	fh->flags = BF_FH_DIRECT_IO | BF_FH_NOFLUSH;
	return bf_gen_render(c, fh->k, &fh->node, &fh->snap, e);
}

int bf_gen_open(struct bf_ctx *c, struct bf_fh *fh, int flags, struct bf_err *e)
{
	(void)flags;
	if (fh->writer)
		return bf_err_set(e, EACCES, "read-only file");
	return bf_gen_snapshot(c, fh, e);
}

/* ---- renderers (j->lock held) ---- */

int bf_gen_readme(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e)
{
	(void)j;
	(void)e;
	return bf_render_readme(&c->o, b);
}

int bf_gen_jobjson(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		   struct bf_err *e)
{
	(void)c;
	(void)e;
	return bf_render_jobjson(&j->job, b);
}

int bf_gen_bq(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
	      struct bf_err *e)
{
	(void)c;
	(void)e;
	return bf_render_bq(&j->job, b);
}

int bf_gen_state(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		 struct bf_err *e)
{
	(void)c;
	(void)e;
	return bf_render_state(&j->job, b);
}

int bf_gen_state_draft(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		       struct bf_err *e)
{
	(void)c;
	(void)e;
	return bf_buf_puts(b, j->submitting ? "SUBMITTING\n" : "DRAFT\n");
}

/* A copy the service has not confirmed within `refresh` (budget spent,
 * 429, service down) says so at the end of its line: " stale=12s", the
 * seconds since the service last sent it. */
static int mark_stale(int64_t ms, struct bf_buf *b)
{
	if (ms <= 0 || b->len == 0 || b->data[b->len - 1] != '\n')
		return 0;
	b->len--;
	return bf_buf_printf(b, " stale=%llds\n",
			     (long long)((ms + 500) / 1000));
}

int bf_gen_progress(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		    struct bf_err *e)
{
	int rc;

	(void)e;
	/* rows results/ already read: free to know */
	rc = bf_render_progress_rows(&j->job, bf_clock_wall_us(),
				     bf_resdir_rows_seen(j->res), b);
	if (rc == 0)
		rc = mark_stale(bf_mjob_stale_ms(c, j), b);
	return rc;
}

int bf_gen_error(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		 struct bf_err *e)
{
	int rc;

	(void)c;
	(void)e;
	rc = bf_render_error(&j->job, b);
	/* then why the last ctl command or rmdir failed */
	if (!rc && j->submit_err)
		rc = bf_buf_puts(b, j->submit_err);
	return rc;
}

int bf_gen_success(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		   struct bf_err *e)
{
	(void)c;
	(void)b;
	/* Not PARTIALLY_SUCCEEDED: a sensor must not take that as whole. */
	if (j->job.state != BF_JOB_SUCCEEDED)
		return bf_err_set(e, ENOENT, "the job has not succeeded");
	return 0;
}

int bf_gen_error_draft(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		       struct bf_err *e)
{
	(void)c;
	(void)e;
	return j->submit_err ? bf_buf_puts(b, j->submit_err) : 0;
}
