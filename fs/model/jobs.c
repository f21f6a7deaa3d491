/* jobs.c - the job table: this mount's entries (the jobs of the last
 * listing, which listing.c folds in, and the drafts), their directory
 * names, and each job's cached BatchPredictionJob (re-fetched at most every
 * `refresh` seconds while unfinished, kept for good once terminal; per-job
 * fetches are single flight). Whether a due refresh happens, and by a list
 * or a get, is the plan's call (the hook ctx.c sets to refresh.c's, under
 * the budget). State other files keep per job is theirs to make; the entry
 * frees it through the hooks they attach, knowing none of them. */
#include "model/jobs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/hmap.h"
#include "model/names.h"

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

struct bf_mjob *bf_mjob__new(void)
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

int bf_jobs__add(struct bf_jobs *t, struct bf_mjob *j)
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
void bf_jobs__unretire(struct bf_jobs *t, const char *name)
{
	for (size_t i = 0; i < t->nretired; i++) {
		if (strcmp(t->retired[i], name) == 0) {
			free(t->retired[i]);
			t->retired[i] = t->retired[--t->nretired];
			return;
		}
	}
}

void bf_jobs__drop_at(struct bf_jobs *t, size_t i, int keep_name)
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
int bf_jobs__rename(struct bf_jobs *t)
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

int bf_jobvec_take(struct bf_jobvec *v, struct bf_job *job)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct bf_job *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = *job;
	memset(job, 0, sizeof(*job)); /* moved out */
	return 0;
}

void bf_jobvec_free(struct bf_jobvec *v)
{
	for (size_t i = 0; i < v->n; i++)
		bf_job_free(&v->v[i]);
	free(v->v);
	memset(v, 0, sizeof(*v));
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
	/* With a copy to show, a 429 is retried once: budget.c backs off. */
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

void bf_jobs_remove(struct bf_ctx *c, struct bf_mjob *j)
{
	struct bf_jobs *t = c->jobs;

	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i] == j) {
			bf_jobs__drop_at(t, i, 1);
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
			bf_jobs__drop_at(t, i, 0);
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
	if (bf_jobs__rename(t))
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
