/* jobs.c - the job table: every job of the project/location (from one
 * paging list pass, refreshed on a TTL) plus this mount's drafts, their
 * directory names, and each job's cached BatchPredictionJob (re-fetched at
 * most every `refresh` seconds while unfinished, kept for good once
 * terminal). Listing and per-job fetches are single flight. Whether a
 * due refresh happens, and by a list or a get, is the plan's call (the
 * hook ctx.c sets to refresh.c's, under the budget). State other files
 * keep per job is theirs to make; the entry frees it through the hooks
 * they attach, knowing none of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/budget.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/hmap.h"
#include "model/jobs.h"
#include "model/names.h"

/* Every field but the first two and plan is guarded by lock. */
struct bf_jobs {
	pthread_mutex_t lock; /* immutable after creation */
	pthread_cond_t cond;  /* a listing pass ended */
	struct bf_mjob **v;   /* the entries, one reference each */
	size_t n, cap;
	struct bf_hmap *by_name, *by_id;
	/* Names that a job of this mount's listing had and lost (it was
	 * deleted): not given to another job while the mount lives. */
	char **retired;
	size_t nretired, capretired;
	int64_t listed_ms; /* 0: never listed or invalidated */
	int have_listing;  /* one pass succeeded at least once */
	int listing;	   /* a pass is in flight */
	uint64_t pass;	   /* bumped by every pass that landed */
	int last_rc;	   /* the last pass's outcome, for its waiters */
	struct bf_err last_err;
	int64_t outage_ms; /* a listing or job fetch last timed out then */
	/* Asked before a due refresh (refresh.c's, set by ctx.c before the
	 * mount serves; immutable after); NULL: go. */
	int (*plan)(struct bf_ctx *c, struct bf_mjob *j);
};

/* A server that let a call time out is not asked again by requests that
 * have a copy to show, for one refresh interval: one `cat state` then
 * waits out one deadline, not one per request (lookup, open, read). */
static void outage_note(struct bf_jobs *t, int rc)
{
	if (rc != -ETIMEDOUT)
		return;
	pthread_mutex_lock(&t->lock);
	t->outage_ms = bf_now_ms();
	pthread_mutex_unlock(&t->lock);
}

void bf_jobs_outage(struct bf_ctx *c, int rc)
{
	outage_note(c->jobs, rc);
}

static int in_outage(struct bf_ctx *c)
{
	int64_t ivl = (int64_t)(c->o.refresh * 1000);
	int r;

	pthread_mutex_lock(&c->jobs->lock);
	r = c->jobs->outage_ms && bf_now_ms() - c->jobs->outage_ms < ivl;
	pthread_mutex_unlock(&c->jobs->lock);
	return r;
}

struct bf_jobs *bf_jobs_new(void)
{
	struct bf_jobs *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->by_name = bf_hmap_new();
	t->by_id = bf_hmap_new();
	if (!t->by_name || !t->by_id) {
		bf_jobs_free(t);
		return NULL;
	}
	return t;
}

void bf_jobs_free(struct bf_jobs *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		bf_mjob_put(t->v[i]);
	free(t->v);
	for (size_t i = 0; i < t->nretired; i++)
		free(t->retired[i]);
	free(t->retired);
	bf_hmap_free(t->by_name);
	bf_hmap_free(t->by_id);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}

static struct bf_mjob *mjob_new(void)
{
	struct bf_mjob *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->refs = 1;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->ctime_us = bf_clock_wall_us();
	return j;
}

struct bf_mjob *bf_mjob_get(struct bf_mjob *j)
{
	if (j)
		__atomic_add_fetch(&j->refs, 1, __ATOMIC_RELAXED);
	return j;
}

void bf_mjob_put(struct bf_mjob *j)
{
	if (!j || __atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* The other files' state, last attached first. */
	while (j->nhooks-- > 0)
		j->hooks[j->nhooks].free(j->hooks[j->nhooks].p);
	bf_job_free(&j->job);
	free(j->name);
	free(j->submit_err);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}

int bf_mjob_attach(struct bf_mjob *j, void *p, void (*free_fn)(void *))
{
	if (j->nhooks == BF_MJOB_HOOKS)
		return -ENOMEM;
	j->hooks[j->nhooks].p = p;
	j->hooks[j->nhooks].free = free_fn;
	j->nhooks++;
	return 0;
}

void bf_jobs_set_plan(struct bf_jobs *t,
		      int (*plan)(struct bf_ctx *c, struct bf_mjob *j))
{
	t->plan = plan;
}

int bf_mjob_terminal(struct bf_mjob *j)
{
	return !j->draft && j->have_job && bf_job_state_terminal(j->job.state);
}

static int table_add(struct bf_jobs *t, struct bf_mjob *j)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct bf_mjob **v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = j;
	return 0;
}

static void retire(struct bf_jobs *t, const char *name)
{
	char *s;

	if (t->nretired == t->capretired) {
		size_t cap = t->capretired ? t->capretired * 2 : 16;
		char **v = realloc(t->retired, cap * sizeof(*v));

		if (!v)
			return;
		t->retired = v;
		t->capretired = cap;
	}
	s = strdup(name);
	if (s)
		t->retired[t->nretired++] = s;
}

/* mkdir of a retired name: this mount's own doing, so it may have it. */
static void unretire(struct bf_jobs *t, const char *name)
{
	for (size_t i = 0; i < t->nretired; i++) {
		if (strcmp(t->retired[i], name) == 0) {
			free(t->retired[i]);
			t->retired[i] = t->retired[--t->nretired];
			return;
		}
	}
}

static void table_drop_at(struct bf_jobs *t, size_t i, int keep_name)
{
	struct bf_mjob *j = t->v[i];

	if (keep_name && !j->draft && j->name)
		retire(t, j->name);

	if (j->name && bf_hmap_get(t->by_name, j->name) == j)
		bf_hmap_del(t->by_name, j->name);
	if (j->id[0] && bf_hmap_get(t->by_id, j->id) == j)
		bf_hmap_del(t->by_id, j->id);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	pthread_mutex_lock(&j->lock);
	j->gone = 1;
	pthread_mutex_unlock(&j->lock);
	bf_mjob_put(j);
}

/* Names the entries that have none yet; table lock held. A name, once
 * given, stays with its entry (a draft, then the job it became) for the
 * life of the mount, and a retired name is not given again: so a name
 * never changes meaning, whatever later listings bring. The job fields
 * are copied under each entry's lock: a fetch may replace them meanwhile. */
static int rename_all(struct bf_jobs *t)
{
	size_t n = t->n + t->nretired;
	struct bf_name_in *in = calloc(n ? n : 1, sizeof(*in));
	char **disp = calloc(t->n ? t->n : 1, sizeof(*disp));
	int rc = -ENOMEM;

	if (!in || !disp)
		goto out;
	for (size_t i = 0; i < t->nretired; i++)
		in[t->n + i].fixed = t->retired[i];
	for (size_t i = 0; i < t->n; i++) {
		struct bf_mjob *j = t->v[i];

		if (j->name) {
			/* Names change only under the table lock, which we
			 * hold. */
			in[i].fixed = j->name;
			continue;
		}
		pthread_mutex_lock(&j->lock);
		if (j->job.display_name)
			disp[i] = strdup(j->job.display_name);
		in[i].create_us = j->job.create_us;
		pthread_mutex_unlock(&j->lock);
		in[i].display = disp[i];
		in[i].id = j->id;
	}
	rc = bf_names_assign(in, n);
	if (rc == 0) {
		bf_hmap_clear(t->by_name);
		for (size_t i = 0; i < t->n; i++) {
			free(t->v[i]->name);
			t->v[i]->name = in[i].out;
			bf_hmap_put(t->by_name, in[i].out, t->v[i]);
		}
		for (size_t i = t->n; i < n; i++)
			free(in[i].out);
	}
out:
	for (size_t i = 0; disp && i < t->n; i++)
		free(disp[i]);
	free(disp);
	free(in);
	return rc;
}

struct collect {
	struct bf_job *v;
	size_t n, cap;
};

static int collect_cb(void *ud, struct bf_job *job)
{
	struct collect *cl = ud;

	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 256;
		struct bf_job *v = realloc(cl->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		cl->v = v;
		cl->cap = cap;
	}
	cl->v[cl->n++] = *job;
	memset(job, 0, sizeof(*job)); /* moved out */
	return 0;
}

/* Folds one complete listing into the table; table lock held. */
static void merge(struct bf_ctx *c, struct bf_jobs *t, struct collect *cl)
{
	int64_t now = bf_now_ms();
	uint64_t pass = ++t->pass;

	for (size_t i = 0; i < cl->n; i++) {
		struct bf_job *nj = &cl->v[i];
		struct bf_mjob *j;

		if (!nj->id[0])
			continue;
		j = bf_hmap_get(t->by_id, nj->id);
		if (!j) {
			j = mjob_new();
			if (!j)
				continue;
			snprintf(j->id, sizeof(j->id), "%s", nj->id);
			if (table_add(t, j) ||
			    bf_hmap_put(t->by_id, j->id, j)) {
				bf_mjob_put(j);
				continue;
			}
		}
		pthread_mutex_lock(&j->lock);
		j->seen = pass;
		j->listed = 1;
		/* A fetch in flight will land a reply as new as ours. */
		if (!j->fetching &&
		    (!j->have_job || nj->update_us >= j->job.update_us)) {
			bf_job_free(&j->job);
			j->job = *nj;
			memset(nj, 0, sizeof(*nj));
			j->have_job = 1;
			j->fetched_ms = now;
			j->confirmed_ms = now;
		}
		pthread_mutex_unlock(&j->lock);
	}
	for (size_t i = t->n; i-- > 0;) {
		struct bf_mjob *j = t->v[i];

		if (j->draft || j->seen == pass)
			continue;
		/* A job we just created may not be listed yet; once a
		 * listing showed it, its absence means it was deleted. The
		 * unlisted ones are asked for by id after the pass. */
		if (j->local && !j->listed && now < j->keep_until_ms) {
			j->verify = 1;
			continue;
		}
		table_drop_at(t, i, 1);
	}
	if (rename_all(t))
		bf_log_warn("jobs: out of memory while naming jobs");
	(void)c;
}

static int list_pass(struct bf_ctx *c, int have, struct bf_err *e)
{
	struct bf_jobs *t = c->jobs;
	struct collect cl = {0};
	struct bf_mjob *verify[8];
	size_t nv = 0;
	struct bf_err err;
	int rc;

	bf_err_clear(&err);
	/* With a listing to show, a 429 is retried once only: the budget backs
	 * off instead. */
	rc = bf_vertex_list_ex(c->vx, NULL, NULL, c->page_size,
			       have ? BF_VX_SOFT_429 : 0, collect_cb, &cl,
			       &err);
	pthread_mutex_lock(&t->lock);
	if (rc == 0) {
		merge(c, t, &cl);
		t->listed_ms = bf_now_ms();
		t->have_listing = 1;
	} else if (bf_transient(rc) && t->have_listing) {
		/* The previous listing is shown for another list_ttl. */
		t->listed_ms = bf_now_ms();
	}
	if (rc == -ETIMEDOUT)
		t->outage_ms = bf_now_ms();
	t->listing = 0;
	t->last_rc = rc;
	t->last_err = err;
	pthread_cond_broadcast(&t->cond);
	for (size_t i = 0; rc == 0 && i < t->n && nv < 8; i++)
		if (t->v[i]->verify) {
			t->v[i]->verify = 0;
			verify[nv++] = bf_mjob_get(t->v[i]);
		}
	pthread_mutex_unlock(&t->lock);
	/* This mount's jobs the listing did not show: a GET tells a job not
	 * listed yet from one deleted (a 404 drops it). */
	for (size_t i = 0; i < nv; i++) {
		bf_mjob_fresh(c, verify[i], 1, NULL);
		bf_mjob_put(verify[i]);
	}
	for (size_t i = 0; i < cl.n; i++)
		bf_job_free(&cl.v[i]);
	free(cl.v);
	if (rc && e)
		*e = err;
	return rc;
}

/* Lists again when the listing is older than list_ttl. On failure with an
 * older listing at hand, that listing is used (logged). */
static int ensure_listing(struct bf_ctx *c, struct bf_err *e)
{
	struct bf_jobs *t = c->jobs;
	int64_t ttl = (int64_t)(c->o.list_ttl * 1000);
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (t->have_listing && t->listed_ms &&
	    bf_now_ms() - t->listed_ms < ttl) {
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	if (t->listing) {
		uint64_t pass = t->pass;

		/* Waiting on another worker's listing holds this worker too:
		 * it takes a place in the network gate (which may wait: not
		 * under the lock). */
		pthread_mutex_unlock(&t->lock);
		rc = bf_net_enter();
		pthread_mutex_lock(&t->lock);
		while (!rc && t->listing)
			rc = bf_clock_cond_wait(&t->cond, &t->lock);
		if (rc == 0) {
			bf_net_leave();
			rc = t->pass != pass ? 0 : t->last_rc;
			if (rc && e)
				*e = t->last_err;
		} else {
			if (rc != -EAGAIN)
				bf_net_leave();
			rc = bf_err_set(e, -rc,
					rc == -EINTR ? "interrupted"
					: rc == -EAGAIN
						? "too many requests are "
						  "waiting on the network"
						: "the listing did not come "
						  "within the deadline");
			if (rc == -EINTR || !t->have_listing) {
				pthread_mutex_unlock(&t->lock);
				return rc;
			}
		}
		pthread_mutex_unlock(&t->lock);
	} else if (t->have_listing && !bf_budget_may(c->budget, bf_now_ms())) {
		/* Out of budget: the listing we have stands in. */
		pthread_mutex_unlock(&t->lock);
		return 0;
	} else {
		int have = t->have_listing;

		t->listing = 1;
		pthread_mutex_unlock(&t->lock);
		rc = list_pass(c, have, e);
	}
	if (bf_transient(rc)) {
		int have;

		pthread_mutex_lock(&t->lock);
		have = t->have_listing;
		pthread_mutex_unlock(&t->lock);
		if (have) {
			bf_log_warn("jobs: listing failed, using the previous "
				    "one: %s (HTTP %ld)",
				    e ? e->msg : "", e ? e->http_status : 0L);
			return 0;
		}
	}
	return rc;
}

struct bf_mjob *bf_jobs_find_id(struct bf_ctx *c, const char *id)
{
	struct bf_mjob *j;

	pthread_mutex_lock(&c->jobs->lock);
	j = bf_mjob_get(bf_hmap_get(c->jobs->by_id, id));
	pthread_mutex_unlock(&c->jobs->lock);
	return j;
}

void bf_jobs_foreach(struct bf_ctx *c, void (*fn)(void *ud, struct bf_mjob *j),
		     void *ud)
{
	pthread_mutex_lock(&c->jobs->lock);
	for (size_t i = 0; i < c->jobs->n; i++)
		fn(ud, c->jobs->v[i]);
	pthread_mutex_unlock(&c->jobs->lock);
}

void bf_mjob_offer(struct bf_mjob *j, struct bf_job *nj, int64_t now_ms)
{
	pthread_mutex_lock(&j->lock);
	if (!j->fetching && !j->draft && !j->gone &&
	    (!j->have_job || nj->update_us >= j->job.update_us)) {
		bf_job_free(&j->job);
		j->job = *nj;
		memset(nj, 0, sizeof(*nj));
		j->have_job = 1;
		j->fetched_ms = now_ms;
		j->confirmed_ms = now_ms;
	}
	pthread_mutex_unlock(&j->lock);
}

int64_t bf_mjob_stale_ms(struct bf_ctx *c, struct bf_mjob *j)
{
	int64_t age;

	if (j->draft || !j->have_job || bf_mjob_terminal(j))
		return 0;
	age = bf_now_ms() - j->confirmed_ms;
	return age > (int64_t)(c->o.refresh * 1000) ? age : 0;
}

void bf_jobs_invalidate(struct bf_ctx *c)
{
	pthread_mutex_lock(&c->jobs->lock);
	c->jobs->listed_ms = 0;
	pthread_mutex_unlock(&c->jobs->lock);
}

int bf_jobs_lookup(struct bf_ctx *c, const char *name, struct bf_mjob **out,
		   struct bf_err *e)
{
	struct bf_jobs *t = c->jobs;
	struct bf_mjob *j;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	j = bf_hmap_get(t->by_name, name);
	if (j && j->draft) {
		*out = bf_mjob_get(j);
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	pthread_mutex_unlock(&t->lock);
	rc = ensure_listing(c, e);
	pthread_mutex_lock(&t->lock);
	j = bf_hmap_get(t->by_name, name);
	if (j)
		*out = bf_mjob_get(j);
	pthread_mutex_unlock(&t->lock);
	if (*out)
		return 0;
	if (rc)
		return rc;
	return bf_err_set(e, ENOENT, "no job named %s", name);
}

int bf_jobs_list(struct bf_ctx *c, struct bf_jobref **out, size_t *n,
		 struct bf_err *e)
{
	struct bf_jobs *t = c->jobs;
	struct bf_jobref *v;
	int rc = ensure_listing(c, e);

	*out = NULL;
	*n = 0;
	if (rc)
		return rc;
	pthread_mutex_lock(&t->lock);
	v = calloc(t->n ? t->n : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&t->lock);
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < t->n; i++) {
		v[*n].name = strdup(t->v[i]->name ? t->v[i]->name : "_");
		if (!v[*n].name)
			continue;
		v[*n].job = bf_mjob_get(t->v[i]);
		(*n)++;
	}
	pthread_mutex_unlock(&t->lock);
	*out = v;
	return 0;
}

void bf_jobs_refs_free(struct bf_jobref *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		bf_mjob_put(v[i].job);
	}
	free(v);
}

int bf_mjob_fresh(struct bf_ctx *c, struct bf_mjob *j, int force,
		  struct bf_err *e)
{
	int64_t ivl = (int64_t)(c->o.refresh * 1000);
	struct bf_job nj;
	struct bf_err err;
	char id[24];
	int rc, soft;

	if (!force) {
		int have;

		pthread_mutex_lock(&j->lock);
		have = j->have_job;
		pthread_mutex_unlock(&j->lock);
		/* After a timeout even the list of unfinished jobs is not
		 * tried again: one `cat` waits one deadline, not one per
		 * request. */
		if (have && in_outage(c))
			return 0;
		if (c->jobs->plan && c->jobs->plan(c, j) == BF_PLAN_STALE)
			return 0; /* served from the cache, shown as stale */
	}
	pthread_mutex_lock(&j->lock);
	if (j->gone) {
		pthread_mutex_unlock(&j->lock);
		return bf_err_set(e, ENOENT, "the job no longer exists");
	}
	if (j->draft || !j->id[0]) {
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	if (!force && j->have_job &&
	    (bf_job_state_terminal(j->job.state) ||
	     bf_now_ms() - j->fetched_ms < ivl)) {
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	if (!force && j->have_job) {
		pthread_mutex_unlock(&j->lock);
		if (in_outage(c))
			return 0; /* the last state, logged when it timed out */
		pthread_mutex_lock(&j->lock);
	}
	if (j->fetching) {
		uint64_t gen = j->fetch_gen;

		/* Held workers count in the network gate; past the
		 * request's deadline, or with the gate full, the last state
		 * is shown. */
		pthread_mutex_unlock(&j->lock);
		rc = bf_net_enter();
		pthread_mutex_lock(&j->lock);
		while (!rc && j->fetching && j->fetch_gen == gen)
			rc = bf_clock_cond_wait(&j->cond, &j->lock);
		if (rc) {
			if (rc != -EAGAIN)
				bf_net_leave();
			if (rc != -EINTR && j->have_job) {
				pthread_mutex_unlock(&j->lock);
				return 0;
			}
			pthread_mutex_unlock(&j->lock);
			return bf_err_set(e, -rc,
					  rc == -EINTR ? "interrupted"
						       : "the job's state did "
							 "not come within the "
							 "deadline");
		}
		bf_net_leave();
		rc = j->fetch_rc;
		if (rc && e)
			*e = j->fetch_err;
		if (bf_transient(rc) && j->have_job)
			rc = 0; /* the other caller logged it */
		pthread_mutex_unlock(&j->lock);
		return rc;
	}
	j->fetching = 1;
	snprintf(id, sizeof(id), "%s", j->id);
	/* With a copy to show, a 429 is retried once only (budget.c backs off). */
	soft = !force && j->have_job;
	pthread_mutex_unlock(&j->lock);

	memset(&nj, 0, sizeof(nj));
	bf_err_clear(&err);
	rc = bf_vertex_get_ex(c->vx, id, soft ? BF_VX_SOFT_429 : 0, &nj, &err);

	pthread_mutex_lock(&j->lock);
	j->fetching = 0;
	j->fetch_gen++;
	j->fetch_rc = rc;
	j->fetch_err = err;
	if (rc == 0) {
		bf_job_free(&j->job);
		j->job = nj;
		j->have_job = 1;
		j->fetched_ms = bf_now_ms();
		j->confirmed_ms = j->fetched_ms;
		j->want_get = 0;
	} else if (bf_transient(rc) && j->have_job) {
		/* The last state is shown for another refresh interval: the
		 * lookup, open and read of one `cat` must not each wait out
		 * a dead server's deadline. */
		j->fetched_ms = bf_now_ms();
	}
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	outage_note(c->jobs, rc);
	if (rc == -ENOENT) {
		bf_jobs_remove(c, j);
		bf_jobs_invalidate(c);
	}
	if (rc && e)
		*e = err;
	if (bf_transient(rc)) {
		int have;

		pthread_mutex_lock(&j->lock);
		have = j->have_job;
		pthread_mutex_unlock(&j->lock);
		if (have) {
			bf_log_warn("jobs/%s: refresh failed, showing the last "
				    "fetched state: %s (HTTP %ld)",
				    id, err.msg, err.http_status);
			return 0;
		}
	}
	return rc;
}

static int name_cb(void *ud, struct bf_job *job)
{
	const char *name = ud;

	return job->display_name && strcmp(job->display_name, name) == 0;
}

/* 1 when a job displayed as name exists remotely, 0 if not, or -errno. */
static int remote_name_taken(struct bf_ctx *c, const char *name,
			     struct bf_err *e)
{
	char *filter = malloc(strlen(name) * 2 + 32), *p;

	if (!filter)
		return bf_err_set(e, ENOMEM, "out of memory");
	p = filter + sprintf(filter, "display_name=\"");
	for (const char *s = name; *s; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	strcpy(p, "\"");
	{
		int rc = bf_vertex_list(c->vx, filter, NULL, 0, name_cb,
					(void *)name, e);

		free(filter);
		return rc;
	}
}

int bf_jobs_add_draft(struct bf_ctx *c, const char *name,
		      int (*init)(struct bf_mjob *j), struct bf_mjob **out,
		      struct bf_err *e)
{
	struct bf_jobs *t = c->jobs;
	struct bf_mjob *j;
	int rc;

	*out = NULL;
	if (!bf_names_valid(name))
		return bf_err_set(e, EINVAL, "invalid job directory name");
	rc = ensure_listing(c, e);
	if (rc)
		return rc;
	/* The listing may be up to list_ttl old: ask for this exact name. */
	rc = remote_name_taken(c, name, e);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return bf_err_set(e, EEXIST, "a job named %s exists", name);
	j = mjob_new();
	if (!j)
		return bf_err_set(e, ENOMEM, "out of memory");
	j->draft = 1;
	j->local = 1;
	j->name = strdup(name);
	if (!j->name || init(j)) {
		bf_mjob_put(j);
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&t->lock);
	if (bf_hmap_get(t->by_name, name)) {
		pthread_mutex_unlock(&t->lock);
		bf_mjob_put(j);
		return bf_err_set(e, EEXIST, "a job named %s exists", name);
	}
	unretire(t, name);
	if (table_add(t, j) || bf_hmap_put(t->by_name, j->name, j)) {
		if (t->n && t->v[t->n - 1] == j)
			t->n--;
		pthread_mutex_unlock(&t->lock);
		bf_mjob_put(j);
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	*out = bf_mjob_get(j);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void bf_jobs_remove(struct bf_ctx *c, struct bf_mjob *j)
{
	struct bf_jobs *t = c->jobs;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i] == j) {
			table_drop_at(t, i, 1);
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void bf_jobs_accept(struct bf_ctx *c, struct bf_mjob *j, struct bf_job *created)
{
	struct bf_jobs *t = c->jobs;

	pthread_mutex_lock(&t->lock);
	/* A listing that ran while the create was in flight may have added
	 * the new job as an entry of its own: this entry is that job. */
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i] != j && strcmp(t->v[i]->id, created->id) == 0) {
			table_drop_at(t, i, 0);
			break;
		}
	}
	pthread_mutex_lock(&j->lock);
	j->draft = 0;
	j->local = 1;
	j->keep_until_ms = bf_now_ms() + 600 * 1000;
	snprintf(j->id, sizeof(j->id), "%s", created->id);
	bf_job_free(&j->job);
	j->job = *created;
	memset(created, 0, sizeof(*created));
	j->have_job = 1;
	j->fetched_ms = bf_now_ms();
	j->confirmed_ms = j->fetched_ms;
	free(j->submit_err);
	j->submit_err = NULL;
	pthread_mutex_unlock(&j->lock);
	if (j->id[0])
		bf_hmap_put(t->by_id, j->id, j);
	if (rename_all(t))
		bf_log_warn("jobs: out of memory while naming jobs");
	pthread_mutex_unlock(&t->lock);
}

char *bf_mjob_name(struct bf_ctx *c, struct bf_mjob *j)
{
	char *n = NULL;

	pthread_mutex_lock(&c->jobs->lock);
	if (j->name && !j->gone)
		n = strdup(j->name);
	pthread_mutex_unlock(&c->jobs->lock);
	return n;
}
