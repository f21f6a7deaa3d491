/* draft.c - drafts made by mkdir: their request.json and scratch files,
 * and submission. One client token per draft, generated once, so that a
 * retry after an ambiguous failure finds the job the first try made instead
 * of creating a second one. The outcome is recorded in the entry before the
 * caller (close, rename) returns. */
#include "model/draft.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/jobs.h"
#include "model/journal.h"
#include "model/listing.h"
#include "model/validate.h"

static struct bf_draft *draft_new(void)
{
	struct bf_draft *d = calloc(1, sizeof(*d));
	unsigned char rnd[16];
	int n = 0;

	if (!d)
		return NULL;
	bf_buf_init(&d->req, 0);
	d->in.fd = -1;
	pthread_mutex_init(&d->submit_lock, NULL);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* Still unique enough for one mount: time and address. */
		uint64_t x = (uint64_t)bf_clock_wall_us() ^ (uintptr_t)d;

		memcpy(rnd, &x, 8);
		memcpy(rnd + 8, &x, 8);
	}
	n = snprintf(d->token, sizeof(d->token), "bf-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		n += snprintf(d->token + n, sizeof(d->token) - n, "%02x",
			      rnd[i]);
	return d;
}

static void draft_free(void *p)
{
	struct bf_draft *d = p;
	struct bf_tmpfile *t, *nx;

	if (!d)
		return;
	for (t = d->tmp; t; t = nx) {
		nx = t->next;
		bf_buf_free(&t->data);
		free(t->name);
		free(t);
	}
	bf_buf_free(&d->req);
	bf_input_free(&d->in);
	free(d->inbox);
	pthread_mutex_destroy(&d->submit_lock);
	free(d);
}

/* The entry is not shared yet: no lock needed. */
static int draft_init(struct bf_mjob *j)
{
	j->d = draft_new();
	if (!j->d)
		return -ENOMEM;
	if (bf_mjob_attach(j, j->d, draft_free)) {
		draft_free(j->d);
		j->d = NULL;
		return -ENOMEM;
	}
	return 0;
}

int bf_draft_add(struct bf_ctx *c, const char *name, struct bf_mjob **out,
		 struct bf_err *e)
{
	return bf_listing_add_draft(c, name, draft_init, out, e);
}

struct bf_tmpfile *bf_draft_tmp_find(struct bf_draft *d, const char *name)
{
	struct bf_tmpfile *t;

	for (t = d ? d->tmp : NULL; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

struct find_tok {
	const char *token;
	struct bf_job job;
	int found;
};

static int find_tok_cb(void *ud, struct bf_job *job)
{
	struct find_tok *f = ud;

	if (!job->client_token || strcmp(job->client_token, f->token) != 0)
		return 0;
	if (f->found && f->job.create_us <= job->create_us)
		return 0;
	if (f->found)
		bf_job_free(&f->job);
	f->job = *job;
	memset(job, 0, sizeof(*job));
	f->found = 1;
	return 0;
}

/* The job an earlier attempt of this draft made, if any. */
static int find_by_token(struct bf_ctx *c, const char *token,
			 struct bf_job *out, struct bf_err *e)
{
	struct find_tok f = {.token = token};
	char filter[128];
	int rc;

	snprintf(filter, sizeof(filter), "labels.%s=\"%s\"", BF_TOKEN_LABEL,
		 token);
	rc = bf_vertex_list(c->vx, filter, NULL, 0, find_tok_cb, &f, e);
	if (rc) {
		if (f.found)
			bf_job_free(&f.job);
		return rc;
	}
	if (!f.found)
		return -ENOENT;
	*out = f.job;
	return 0;
}

/* Looks the job of token up once a second until until_ms (wall clock),
 * while a create that carried it may still make one: 0 and *out when
 * found, -ENOENT when none appeared by then, else -errno (-ETIMEDOUT past
 * the request's deadline, -EINTR, or the lookup's), "... while WHAT". */
static int await_token(struct bf_ctx *c, const char *token, int64_t until_ms,
		       const char *what, struct bf_job *out, struct bf_err *e)
{
	int rc;

	for (;;) {
		rc = find_by_token(c, token, out, e);
		if (rc != -ENOENT)
			return rc;
		if ((int64_t)(bf_clock_wall_us() / 1000) >= until_ms)
			return -ENOENT;
		rc = bf_sleep_ms_cancellable(1000, BF_WAIT_SLICE_MS);
		if (rc)
			return bf_err_set(e, -rc, "%s while %s",
					  rc == -ETIMEDOUT ? "past the deadline"
							   : "interrupted",
					  what);
	}
}

/* Settles what an earlier mount's creates of this name, cut short by a
 * crash, left in the journal: each token is looked up until its create
 * can no longer make a job. 0 and *out: that create made a job of this
 * very request, which this draft adopts; 1: none did, send ours; -EEXIST:
 * it made a job of another request; -errno: cannot tell. */
static int resolve_journal(struct bf_ctx *c, struct bf_draft *d,
			   const char *name, const char *hash,
			   struct bf_job *out, struct bf_err *e)
{
	struct bf_jentry v[8];
	int n = bf_journal_find(c->journal, name, v, 8), rc;
	char what[BF_NAME_MAX + 64];

	snprintf(what, sizeof(what), "waiting for an earlier create of %s",
		 name);
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i].token, d->token) == 0)
			continue; /* this draft's own, handled by d->sent */
		bf_log_info("jobs/%s: an earlier create (%s=%s) may still "
			    "make a job; looking it up",
			    name, BF_TOKEN_LABEL, v[i].token);
		rc = await_token(c, v[i].token, v[i].deadline_ms, what, out, e);
		if (rc && rc != -ENOENT)
			return rc;
		bf_journal_drop(c->journal, v[i].token);
		if (rc == -ENOENT) {
			bf_log_info("jobs/%s: the earlier create made no job",
				    name);
			continue;
		}
		if (strcmp(v[i].hash, hash) == 0) {
			bf_log_info("jobs/%s: adopting job %s, made by an "
				    "earlier mount's create of this request",
				    name, out->id);
			return 0;
		}
		rc = bf_err_set(e, EEXIST,
				"an earlier mount's create made job "
				"%s named %s from another request",
				out->id, name);
		bf_job_free(out);
		return rc;
	}
	return 1;
}

/* Whether a failed create may still have made a job. */
static int outcome_unknown(int rc, const struct bf_err *e)
{
	if (e->http_status >= 400 && e->http_status <= 499 &&
	    e->http_status != 408 && e->http_status != 429)
		return 0;
	return rc == -EIO || rc == -ETIMEDOUT || rc == -EAGAIN ||
	       rc == -EINTR || rc == -ECANCELED;
}

static void record_failure(struct bf_mjob *j, const struct bf_err *e)
{
	char line[700], *s;

	bf_err_format(e, line, sizeof(line));
	bf_redact(line);
	if (asprintf(&s, "submit failed: %s\n", line) < 0)
		s = NULL;
	pthread_mutex_lock(&j->lock);
	free(j->submit_err);
	j->submit_err = s;
	pthread_mutex_unlock(&j->lock);
}

int bf_draft_submit(struct bf_ctx *c, struct bf_mjob *j, const char *text,
		    size_t len, struct bf_err *e)
{
	struct bf_draft *d = j->d;
	struct bf_job job;
	char *name = NULL, *body = NULL, *expanded = NULL;
	char hash[65];
	size_t explen = 0;
	int rc;

	memset(&job, 0, sizeof(job));
	if (!d)
		return bf_err_set(e, EACCES, "not a draft");
	pthread_mutex_lock(&d->submit_lock);
	pthread_mutex_lock(&j->lock);
	if (!j->draft || j->gone) {
		int gone = j->gone;

		pthread_mutex_unlock(&j->lock);
		pthread_mutex_unlock(&d->submit_lock);
		return bf_err_set(e, gone ? ENOENT : EACCES,
				  gone ? "the draft was removed"
				       : "the job was already submitted");
	}
	j->submitting = 1;
	pthread_mutex_unlock(&j->lock);

	name = bf_mjob_name(c, j);
	if (!name) {
		rc = bf_err_set(e, ENOENT, "the draft was removed");
		goto out;
	}
	rc = bf_input_expand_request(c, j, name, text, len, &expanded, &explen,
				     e);
	if (rc)
		goto out;
	rc = bf_validate_request(expanded, explen, name, &body, e);
	if (rc)
		goto out;
	bf_journal_hash(body, hash);
	if (!d->sent && c->journal) {
		rc = resolve_journal(c, d, name, hash, &job, e);
		if (rc == 0)
			goto accepted;
		if (rc < 0)
			goto out;
	}
	if (d->sent) {
		/* An earlier attempt may have created the job even though
		 * it reported a failure: never send a second create. Its
		 * POST, held by a hung server, may still make the job until
		 * its window ends (an attempt cut short by -o
		 * change_deadline ends long before), so look until then. */
		rc = await_token(c, d->token, d->sent_until_ms,
				 "the earlier attempt's create may still "
				 "make the job",
				 &job, e);
		if (rc == 0) {
			bf_log_info("jobs/%s: found job %s made by an "
				    "earlier attempt",
				    name, job.id);
			goto accepted;
		}
		if (rc != -ENOENT)
			goto out;
		bf_err_clear(e);
	}
	d->sent = 1;
	d->sent_until_ms =
		bf_clock_wall_us() / 1000 + BF_VERTEX_CREATE_WINDOW_MS;
	if (c->journal) {
		struct bf_jentry en = {0};
		struct bf_err je;

		snprintf(en.name, sizeof(en.name), "%s", name);
		snprintf(en.token, sizeof(en.token), "%s", d->token);
		memcpy(en.hash, hash, sizeof(en.hash));
		en.deadline_ms = d->sent_until_ms;
		bf_err_clear(&je);
		/* Journalled is what makes a crash now safe; without it the
		 * create still goes out, as before the journal existed. */
		if (bf_journal_put(c->journal, &en, &je))
			bf_log_warn("jobs/%s: create not journalled: %s", name,
				    je.msg);
	}
	rc = bf_vertex_create(c->vx, body, d->token, &job, e);
	if (rc && !outcome_unknown(rc, e))
		bf_journal_drop(c->journal, d->token);
	/* Only a POST left without a reply may still be at the server; a
	 * reply (5xx, a rejection) settled the last one, and bf_vertex_create
	 * waited out the earlier ones. */
	if (rc && (!outcome_unknown(rc, e) || e->http_status != 0))
		d->sent_until_ms = 0;
	if (rc)
		goto out;
accepted:
	bf_journal_drop(c->journal, d->token);
	bf_log_info("jobs/%s: submitted as job %s", name, job.id);
	bf_jobs_accept(c, j, &job);
	/* The spec of the job is read back from the job from now on. */
	pthread_mutex_lock(&j->lock);
	bf_buf_free(&d->req);
	bf_input_free(&d->in); /* the staged copy is the job's input now */
	pthread_mutex_unlock(&j->lock);
out:
	if (rc)
		record_failure(j, e);
	pthread_mutex_lock(&j->lock);
	j->submitting = 0;
	pthread_mutex_unlock(&j->lock);
	pthread_mutex_unlock(&d->submit_lock);
	bf_job_free(&job);
	free(expanded);
	free(body);
	free(name);
	return rc;
}
