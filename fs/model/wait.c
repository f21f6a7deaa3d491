/* wait.c - a job's `wait` file, whose read blocks until the job has
 * finished (polling every `refresh` seconds, for as long as the reader
 * wants: a signal ends it with EINTR), or is parked (waitq.c); its text is
 * the final state line. */
#include "model/wait.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/wait.h"
#include "batchfs/vertex.h"
#include "model/ctx.h"
#include "model/fh.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/model.h"
#include "model/node.h"
#include "model/render.h"

/* Sleeps up to s seconds in short steps; -EINTR when the caller was
 * interrupted, -ESHUTDOWN when the mount goes away. */
#define NAP_SLICE_MS 50
static int nap(struct bf_ctx *c, double s)
{
	int64_t end = bf_now_ms() + (int64_t)(s * 1000);

	do {
		if (bf_cancelled())
			return -EINTR;
		if (__atomic_load_n(&c->shutdown, __ATOMIC_ACQUIRE))
			return -ESHUTDOWN;
		if (bf_sleep_ms_cancellable(NAP_SLICE_MS, NAP_SLICE_MS))
			return -EINTR;
	} while (bf_now_ms() < end);
	return 0;
}

int bf_wait_check(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e)
{
	int rc = bf_mjob_fresh(c, j, 0, e), done = 0;

	/* The service being slow or down is no reason to give up a wait the
	 * user asked for; the next look tries again. */
	if (rc && !bf_transient(rc))
		return rc;
	pthread_mutex_lock(&j->lock);
	if (j->gone) {
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
		done = 1;
	} else if (j->have_job && bf_job_state_terminal(j->job.state)) {
		rc = bf_render_state(&j->job, b);
		done = 1;
	}
	pthread_mutex_unlock(&j->lock);
	return done ? (rc ? rc : 1) : 0;
}

int bf_wait_job(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		struct bf_err *e)
{
	double ivl = c->o.refresh > 0.1 ? c->o.refresh : 0.1;
	int rc;

	for (;;) {
		rc = bf_wait_check(c, j, b, e);
		if (rc)
			return rc < 0 ? rc : 0;
		rc = nap(c, ivl);
		if (rc)
			return bf_err_set(e, -rc,
					  rc == -EINTR ? "interrupted"
						       : "unmounting");
	}
}

/* ---- the node and its handles ---- */

int bf_wait_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		    const struct bf_node *n, struct bf_attr *a,
		    struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc;

	if (!j)
		return bf_err_set(e, ENOENT, "unknown node");
	/* Cheap: never blocks, a stat of wait is not a wait. */
	rc = bf_mjob_fresh(c, j, 0, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	if (j->gone) {
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	} else if (j->draft) {
		rc = bf_err_set(e, ENOENT, "not in a draft");
	} else {
		size_t sz = 0;

		/* Unknown until the job ends: direct I/O reads past it. */
		if (bf_mjob_terminal(j))
			sz = strlen(bf_job_state_name(j->job.state)) + 1;
		bf_node_attr(c, a, k->mode, sz, bf_node_mtime(j),
			     bf_node_ttl(c, j));
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int bf_wait_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		 struct bf_err *e)
{
	(void)c;
	(void)flags;
	if (fh->writer)
		return bf_err_set(e, EACCES, "read-only file");
	fh->flags = BF_FH_DIRECT_IO | BF_FH_NOFLUSH;
	return 0;
}

ssize_t bf_wait_read(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		     uint64_t off, struct bf_rvec *v, struct bf_err *e)
{
	ssize_t n = 0;

	(void)v;
	pthread_mutex_lock(&fh->lock);
	if (!fh->waited) {
		n = bf_wait_job(c, fh->node.job, &fh->snap, e);
		fh->waited = n == 0;
	}
	if (n == 0)
		n = bf_fh_buf_read(&fh->snap, buf, len, off);
	pthread_mutex_unlock(&fh->lock);
	return n;
}

struct bf_mjob *bf_wait_fh_job(struct bf_fh *fh)
{
	struct bf_mjob *j = NULL;

	if (fh->node.kind != BF_K_WAIT)
		return NULL;
	pthread_mutex_lock(&fh->lock);
	if (!fh->waited)
		j = bf_mjob_get(fh->node.job);
	pthread_mutex_unlock(&fh->lock);
	return j;
}

int bf_wait_settle(struct bf_fh *fh, const struct bf_buf *st)
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
