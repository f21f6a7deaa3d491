/* ctx.h - the mount context (ctx.c), which every part of the model gets. */
#ifndef BATCHFS_MODEL_CTX_H
#define BATCHFS_MODEL_CTX_H

#include <stdint.h>

#include "model/model.h"

struct bf_http;
struct bf_auth;
struct bf_vertex;
struct bf_gcs;
struct bf_reader_pool;
struct bf_jobs;
struct bf_waitq;
struct bf_journal;
struct bf_budget;
struct bf_refresher;
struct bf_inbox;
struct bf_outbox;

/* Immutable after bf_ctx_new but for shutdown; each part has its own
 * locks. */
struct bf_ctx {
	struct bf_model_opts o;
	struct bf_http *http;
	struct bf_auth *auth;
	struct bf_vertex *vx;
	struct bf_gcs *gcs;
	struct bf_reader_pool *pool;
	struct bf_jobs *jobs;
	struct bf_waitq *waitq;
	struct bf_journal *journal; /* NULL: no state_dir */
	struct bf_budget *budget;
	struct bf_refresher *refresher;
	struct bf_inbox *inbox;	  /* has its own lock */
	struct bf_outbox *outbox; /* has its own lock */
	int shutdown; /* atomic */
	int64_t start_us;
	int page_size;
};

#endif
