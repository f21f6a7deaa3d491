/* ctx.c - the mount context, the model's composition root: options, the
 * HTTP/auth/Vertex/GCS clients, the read-ahead pool, and the model's
 * parts (job table, budget, refresher, journal, wait queue), made and
 * wired together here; the mount-time check. Nothing in the model calls
 * back into this file. */
#include "model/ctx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batchfs/auth.h"
#include "batchfs/err.h"
#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "batchfs/vertex.h"
#include "model/budget.h"
#include "model/clock.h"
#include "model/jobs.h"
#include "model/inbox.h"
#include "model/journal.h"
#include "model/model.h"
#include "model/outbox.h"
#include "model/refresh.h"
#include "model/waitq.h"

/* Defaults of the options whose unit is bytes. */
#define DEFAULT_MAX_REQUEST (4u << 20)	    /* request.json, scratch files */
#define DEFAULT_READAHEAD_MAX (32u << 20)   /* per reader */
#define DEFAULT_READAHEAD_WINDOW (8u << 20) /* one ranged GET */
/* 256 descriptors, 32 MiB of small sets */
#define DEFAULT_RESULTS_CACHE 64

void bf_model_opts_default(struct bf_model_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->location = "us-central1";
	o->refresh = 5;
	o->list_ttl = 10;
	o->attr_timeout = 1;
	o->entry_timeout = 1;
	o->negative_timeout = 1;
	o->final_timeout = 3600;
	o->deadline = 60;
	o->max_request = DEFAULT_MAX_REQUEST;
	/* 4 streaming readers stay within ~64 MiB; 8 MiB ranges already
	 * reach the loopback ceiling (BENCHMARKS.md, Method). */
	o->readahead_max = DEFAULT_READAHEAD_MAX;
	o->readahead_window = DEFAULT_READAHEAD_WINDOW;
	o->results_cache = DEFAULT_RESULTS_CACHE;
	o->page_size = 0;
	/* A fifth of Google's 600 a minute per project and region, which
	 * every client of the project shares. */
	o->vertex_rpm = 120;
	o->uid = getuid();
	o->gid = getgid();
}

/* Every Vertex call is charged to the budget (the client's meter). */
static void meter(void *ud, int attempts, long status)
{
	bf_budget_spend(ud, attempts, status, bf_now_ms());
}

const struct bf_model_opts *bf_ctx_opts(const struct bf_ctx *c)
{
	return &c->o;
}

void bf_ctx_splice(struct bf_ctx *c, size_t max)
{
	bf_reader_pool_set_splice(c->pool, max);
}

void bf_ctx_shutdown(struct bf_ctx *c)
{
	__atomic_store_n(&c->shutdown, 1, __ATOMIC_RELEASE);
}

int bf_ctx_new(const struct bf_model_opts *o, struct bf_ctx **out,
	       struct bf_err *e)
{
	struct bf_http_opts ho;
	struct bf_auth_opts ao;
	struct bf_token_source ts;
	struct bf_vertex_opts vo;
	struct bf_gcs_opts go;
	struct bf_ctx *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return bf_err_set(e, ENOMEM, "out of memory");
	c->o = *o;
	c->start_us = bf_clock_wall_us();
	c->page_size = o->page_size ? o->page_size : 100;

	bf_http_opts_default(&ho);
	if (o->deadline > 0) {
		/* No call outlives the deadline a request may wait. */
		ho.op_budget_ms = (long)(o->deadline * 1000);
		if (ho.request_timeout_ms > ho.op_budget_ms)
			ho.request_timeout_ms = ho.op_budget_ms;
		if (ho.connect_timeout_ms > ho.op_budget_ms)
			ho.connect_timeout_ms = ho.op_budget_ms;
	}
	c->http = bf_http_new(&ho);
	if (!c->http) {
		rc = bf_err_set(e, ENOMEM, "cannot set up HTTP (libcurl)");
		goto fail;
	}
	rc = bf_http_set_cafile(c->http, o->cafile,
				o->cafile_from ? o->cafile_from : "-o cafile",
				e);
	if (rc)
		goto fail;
	if (bf_http_set_proxy(c->http, o->proxy, o->noproxy) != 0) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	memset(&ao, 0, sizeof(ao));
	if (o->no_auth)
		ao.mode = BF_AUTH_NONE;
	else if (o->token_file)
		ao.mode = BF_AUTH_TOKEN;
	else
		ao.mode = BF_AUTH_ADC;
	ao.credentials_file = o->credentials;
	ao.credentials_origin = o->credentials_origin;
	ao.token_file = o->token_file;
	ao.refresh_margin_s = 225;
	rc = bf_auth_new(&ao, c->http, &c->auth, e);
	if (rc)
		goto fail;
	bf_auth_token_source(c->auth, &ts);
	bf_http_set_token_source(c->http, &ts);
	if (!c->o.project || !*c->o.project) {
		const char *from = NULL;

		c->o.project = bf_auth_find_project(c->auth, &from);
		if (c->o.project)
			bf_log_info("project %s from %s", c->o.project, from);
	}
	if (!c->o.project || !*c->o.project) {
		rc = bf_err_set(e, EINVAL,
				"no project: pass -o project=PROJECT_ID or set "
				"GOOGLE_CLOUD_PROJECT (the credential names "
				"none, nor does gcloud's active "
				"configuration)");
		goto fail;
	}
	memset(&vo, 0, sizeof(vo));
	vo.endpoint = o->endpoint;
	vo.project = c->o.project;
	vo.location = o->location;
	vo.api_version = "v1";
	c->vx = bf_vertex_new(&vo, c->http);
	memset(&go, 0, sizeof(go));
	go.endpoint = o->storage_endpoint;
	go.list_page_size = (unsigned)o->page_size;
	c->gcs = bf_gcs_new(&go, c->http);
	c->pool = bf_reader_pool_new(o->readahead_max, o->readahead_window);
	if (c->pool)
		bf_reader_pool_set_splice(c->pool, o->splice_max);
	c->jobs = bf_jobs_new();
	c->waitq = bf_waitq_new();
	c->budget = bf_budget_new(o->vertex_rpm, bf_now_ms());
	c->refresher = bf_refresher_new();
	c->inbox = bf_inbox_new();
	c->outbox = bf_outbox_new();
	if (c->jobs)
		bf_jobs_set_plan(c->jobs, bf_refresh_plan);
	if (c->vx && c->budget)
		bf_vertex_set_meter(c->vx, meter, c->budget);
	if (!c->vx || !c->gcs || !c->pool || !c->jobs || !c->waitq ||
	    !c->budget || !c->refresher || !c->inbox || !c->outbox) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto fail;
	}
	c->journal = bf_journal_open(o->state_dir, c->o.project, o->location,
				     o->endpoint);
	*out = c;
	return 0;
fail:
	bf_ctx_free(c);
	return rc;
}

void bf_ctx_free(struct bf_ctx *c)
{
	if (!c)
		return;
	bf_waitq_stop(c);
	bf_waitq_free(c->waitq);
	bf_jobs_free(c->jobs);
	bf_journal_free(c->journal);
	if (c->pool && c->http) {
		struct bf_reader_stats rs;
		struct bf_http_stats hs;

		/* Where the bytes went, for users and tests (info level). */
		bf_reader_pool_stats(c->pool, &rs);
		bf_http_get_stats(c->http, &hs);
		bf_log_info("totals: output reads: %" PRIu64
			    " bytes spliced, %" PRIu64
			    " from read-ahead blocks (%" PRIu64
			    " window fetches), %" PRIu64
			    " exact reads; http: %" PRIu64 " requests, %" PRIu64
			    " connections",
			    rs.spliced_bytes, rs.buffered_bytes,
			    rs.window_fetches, rs.direct_reads, hs.requests,
			    hs.connects);
	}
	if (c->budget && c->refresher) {
		struct bf_budget_stats bs;
		struct bf_refresh_stats fs;

		bf_budget_get_stats(c->budget, &bs);
		bf_refresher_get_stats(c->refresher, &fs);
		bf_log_info("totals: vertex: %" PRIu64 " calls, %" PRIu64
			    " refreshes served from the cache (budget), %" PRIu64
			    " answered 429; %" PRIu64
			    " lists of unfinished jobs (%" PRIu64
			    " jobs), %" PRIu64 " gets of due jobs",
			    bs.calls, bs.deferred, bs.throttled, fs.lists,
			    fs.listed, fs.gets);
	}
	bf_refresher_free(c->refresher);
	bf_inbox_free(c->inbox);
	bf_outbox_free(c->outbox);
	bf_budget_free(c->budget);
	bf_reader_pool_free(c->pool);
	bf_gcs_free(c->gcs);
	bf_vertex_free(c->vx);
	if (c->http)
		bf_http_set_token_source(c->http, NULL);
	bf_auth_free(c->auth);
	bf_http_free(c->http);
	free(c);
}

static int stop_cb(void *ud, struct bf_job *job)
{
	(void)ud;
	(void)job;
	return 1;
}

int bf_ctx_check(struct bf_ctx *c, struct bf_err *e)
{
	int rc = bf_vertex_list(c->vx, NULL, NULL, 1, stop_cb, NULL, e);

	return rc > 0 ? 0 : rc;
}
