/* refresh.c - when and how a running job's cached copy is refreshed under
 * the call budget (budget.c). A job that is due (older than `refresh`)
 * is either
 *   - served from the cache, marked stale, while the budget is spent or
 *     the service said 429 (bf_budget_may), or
 *   - refreshed together with every other unfinished job by one filtered,
 *     paged list (state is none of the final states), when that list costs
 *     no more calls than the jobs that came due since the last one would
 *     with a get each, or
 *   - fetched alone with a get (jobs.c).
 * Unfinished jobs missing from the list have finished (or were deleted):
 * they stay due and are fetched alone; when many are, the jobs/ listing is
 * expired instead, which refreshes them all in its pass. One list at a
 * time: callers that find one running show their copy. A service that refuses
 * the list (not a transient failure) turns it off for the mount. */
#include "model/refresh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/budget.h"
#include "model/ctx.h"
#include "model/hmap.h"
#include "model/jobs.h"

/* Every unfinished state, so a state Google adds later is refreshed too. */
#define LIVE_FILTER                                                            \
	"state!=\"JOB_STATE_SUCCEEDED\" AND state!=\"JOB_STATE_FAILED\" AND "  \
	"state!=\"JOB_STATE_CANCELLED\" AND state!=\"JOB_STATE_EXPIRED\" AND " \
	"state!=\"JOB_STATE_PARTIALLY_SUCCEEDED\""
/* Page size asked for by the list of unfinished jobs. The service may
 * send fewer per page; every page is charged to the budget all the same. */
#define LIVE_PAGE 1000

/* Every field but lock is guarded by lock. */
struct bf_refresher {
	pthread_mutex_t lock; /* immutable after creation */
	int running;	      /* a list is in flight */
	int off;	   /* the service refused the list: gets only */
	unsigned due;	   /* jobs that came due since the last list */
	int64_t failed_ms; /* the last list failed transiently then */
	struct bf_refresh_stats st;
};

struct bf_refresher *bf_refresher_new(void)
{
	struct bf_refresher *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void bf_refresher_free(struct bf_refresher *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void bf_refresher_get_stats(struct bf_refresher *r, struct bf_refresh_stats *s)
{
	pthread_mutex_lock(&r->lock);
	*s = r->st;
	pthread_mutex_unlock(&r->lock);
}

static int live_page(const struct bf_ctx *c)
{
	return c->o.page_size > 0 ? c->o.page_size : LIVE_PAGE;
}

/* j->lock held. */
static int is_live(struct bf_mjob *j)
{
	return !j->draft && !j->gone && j->id[0] && j->have_job &&
	       !bf_job_state_terminal(j->job.state);
}

struct count {
	size_t live;
};

static void count_cb(void *ud, struct bf_mjob *j)
{
	struct count *n = ud;

	pthread_mutex_lock(&j->lock);
	if (is_live(j))
		n->live++;
	pthread_mutex_unlock(&j->lock);
}

struct got {
	struct bf_jobvec jv;
	struct bf_hmap *ids;
};

static int got_cb(void *ud, struct bf_job *job)
{
	struct got *g = ud;

	if (!job->id[0])
		return 0;
	if (bf_jobvec_take(&g->jv, job))
		return -ENOMEM;
	return bf_hmap_put(g->ids, g->jv.v[g->jv.n - 1].id, g);
}

struct missing {
	struct got *g;
	size_t n;
};

/* Table lock held: live entries the list did not return have finished or
 * gone; they stay due and are marked for a get of their own. */
static void missing_cb(void *ud, struct bf_mjob *j)
{
	struct missing *m = ud;

	pthread_mutex_lock(&j->lock);
	if (is_live(j) && !bf_hmap_get(m->g->ids, j->id)) {
		j->want_get = 1;
		m->n++;
	}
	pthread_mutex_unlock(&j->lock);
}

/* One list of the unfinished jobs, folded into the cache. */
static int live_list(struct bf_ctx *c, size_t *returned, size_t *missing)
{
	struct got g = {0};
	struct missing m = {0};
	struct bf_err err;
	int64_t now;
	int rc;

	g.ids = bf_hmap_new();
	if (!g.ids)
		return -ENOMEM;
	bf_err_clear(&err);
	rc = bf_vertex_list_ex(c->vx, LIVE_FILTER, NULL, live_page(c),
			       BF_VX_SOFT_429, got_cb, &g, &err);
	if (rc == 0) {
		now = bf_now_ms();
		for (size_t i = 0; i < g.jv.n; i++) {
			struct bf_mjob *j = bf_jobs_find_id(c, g.jv.v[i].id);

			if (!j)
				continue; /* new: the next listing adds it */
			bf_mjob_offer(j, &g.jv.v[i], now);
			bf_mjob_put(j);
		}
		m.g = &g;
		bf_jobs_foreach(c, missing_cb, &m);
		*returned = g.jv.n;
		*missing = m.n;
	} else {
		bf_log_warn("jobs: refresh failed, showing the last fetched "
			    "state (list of unfinished jobs): %s (HTTP %ld)",
			    err.msg, err.http_status);
	}
	bf_jobvec_free(&g.jv);
	bf_hmap_free(g.ids);
	return rc;
}

int bf_refresh_plan(struct bf_ctx *c, struct bf_mjob *j)
{
	struct bf_refresher *r = c->refresher;
	int64_t ivl = (int64_t)(c->o.refresh * 1000), now = bf_now_ms();
	struct count n = {0};
	size_t pages, returned = 0, missing = 0;
	int due, alone, rc;

	pthread_mutex_lock(&j->lock);
	due = is_live(j) && !j->fetching && now - j->fetched_ms >= ivl;
	alone = j->want_get;
	pthread_mutex_unlock(&j->lock);
	if (!due)
		return BF_PLAN_GO;
	if (!bf_budget_may(c->budget, now))
		return BF_PLAN_STALE;
	pthread_mutex_lock(&r->lock);
	/* As after a failed get (jobs.c): the copy is shown for one
	 * interval, so the lookup, open and read of one `cat` do not each
	 * wait on a failing service. */
	rc = r->failed_ms && now - r->failed_ms < ivl;
	pthread_mutex_unlock(&r->lock);
	if (rc)
		return BF_PLAN_STALE;
	if (alone) {
		/* Missing from the last list: its final state needs a get. */
		pthread_mutex_lock(&j->lock);
		j->want_get = 0;
		pthread_mutex_unlock(&j->lock);
		pthread_mutex_lock(&r->lock);
		r->st.gets++;
		pthread_mutex_unlock(&r->lock);
		return BF_PLAN_GO;
	}

	pthread_mutex_lock(&r->lock);
	if (r->running) {
		/* Every job it covers has a copy (is_live): show it rather
		 * than wait on another request's list, which may hang until
		 * that request's deadline. The list's result shows next. */
		pthread_mutex_unlock(&r->lock);
		return BF_PLAN_STALE;
	}
	pthread_mutex_unlock(&r->lock);

	bf_jobs_foreach(c, count_cb, &n);
	pages = (n.live + (size_t)live_page(c) - 1) / (size_t)live_page(c);

	pthread_mutex_lock(&r->lock);
	if (r->running) { /* lost a race: this get goes on its own */
		pthread_mutex_unlock(&r->lock);
		return BF_PLAN_GO;
	}
	r->due++;
	if (r->off || n.live < 2 || r->due < pages) {
		r->st.gets++;
		pthread_mutex_unlock(&r->lock);
		return BF_PLAN_GO;
	}
	r->running = 1;
	r->due = 0;
	pthread_mutex_unlock(&r->lock);

	rc = live_list(c, &returned, &missing);
	bf_jobs_outage(c, rc);
	if (rc == 0 && missing > 1 &&
	    missing >= (n.live + (size_t)c->page_size - 1) /
			       (size_t)c->page_size) {
		/* One pass of the full listing is cheaper than a get each. */
		bf_jobs_invalidate(c);
	}

	pthread_mutex_lock(&r->lock);
	if (rc && !bf_transient(rc) && rc != -EINTR && !r->off) {
		/* The service does not take the filter (or the list): the
		 * budget still holds with a get per due job. */
		bf_log_warn("jobs: the list of unfinished jobs was refused "
			    "(%s); running jobs are refreshed one by one",
			    strerror(-rc));
		r->off = 1;
	}
	r->running = 0;
	r->failed_ms = bf_transient(rc) ? bf_now_ms() : 0;
	r->st.lists++;
	r->st.listed += returned;
	pthread_mutex_unlock(&r->lock);
	return bf_transient(rc) ? BF_PLAN_STALE : BF_PLAN_GO;
}
