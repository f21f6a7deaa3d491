/* listing.c - the project's jobs as the table shows them: one paging list
 * pass at a time (single flight, waiters hold a place in the network gate),
 * folded into the table (jobs.c) when complete and redone after list_ttl;
 * lookups and readdir through it; mkdir's check that a name is free, which
 * asks the service for that exact name since the listing may be old. */
#include "model/listing.h"

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

static int collect_cb(void *ud, struct bf_job *job)
{
	return bf_jobvec_take(ud, job);
}

/* Folds one complete listing into the table; table lock held. */
static void merge(struct bf_jobs *t, struct bf_jobvec *cl)
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
			j = bf_mjob__new();
			if (!j)
				continue;
			snprintf(j->id, sizeof(j->id), "%s", nj->id);
			if (bf_jobs__add(t, j) ||
			    bf_hmap_put(t->by_id, j->id, j)) {
				bf_mjob_put(j);
				continue;
			}
		}
		j->seen = pass;
		j->listed = 1;
		bf_mjob_offer(j, nj, now);
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
		bf_jobs__drop_at(t, i, 1);
	}
	if (bf_jobs__rename(t))
		bf_log_warn("jobs: out of memory while naming jobs");
}

static int list_pass(struct bf_ctx *c, int have, struct bf_err *e)
{
	struct bf_jobs *t = c->jobs;
	struct bf_jobvec cl = {0};
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
		merge(t, &cl);
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
	bf_jobvec_free(&cl);
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

int bf_listing_lookup(struct bf_ctx *c, const char *name, struct bf_mjob **out,
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

int bf_listing_refs(struct bf_ctx *c, struct bf_jobref **out, size_t *n,
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

void bf_listing_refs_free(struct bf_jobref *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		bf_mjob_put(v[i].job);
	}
	free(v);
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

int bf_listing_add_draft(struct bf_ctx *c, const char *name,
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
	j = bf_mjob__new();
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
	bf_jobs__unretire(t, name);
	if (bf_jobs__add(t, j) || bf_hmap_put(t->by_name, j->name, j)) {
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
