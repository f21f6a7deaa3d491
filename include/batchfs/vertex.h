/* vertex.h - Vertex AI projects.locations.batchPredictionJobs client.
 *
 * Host from the location (LOC-aiplatform.googleapis.com; aiplatform
 * .googleapis.com for "global"; aiplatform.{us,eu}.rep.googleapis.com for
 * the multi-regions) unless an endpoint URL is given.
 * Create is idempotent: every create carries a client token in
 * labels[BF_TOKEN_LABEL]; when the reply is lost or ambiguous the job is
 * looked up by that label before anything is sent again, so one submit
 * never makes two jobs.
 */
#ifndef BATCHFS_VERTEX_H
#define BATCHFS_VERTEX_H

#include <stddef.h>
#include <stdint.h>

#include "batchfs/err.h"
#include "batchfs/timefmt.h"

/* The client token label. Its key has no '-': in the AIP-160 filter
 * grammar '-' is an operator, and a list filter on labels.batchfs-token
 * may be refused. Jobs made by batchfs earlier carry the old key; their
 * token is still read (struct bf_job.client_token). */
#define BF_TOKEN_LABEL "batchfs_token"
#define BF_TOKEN_LABEL_OLD "batchfs-token"
/* Jobs submitted through a mount's inbox/ carry labels[BF_INBOX_LABEL] =
 * "1", so every mount's outbox/ knows them. */
#define BF_INBOX_LABEL "batchfs_inbox"
/* Vertex allows 64 labels per job; one is the token. */
#define BF_MAX_USER_LABELS 63
/* From its start, how long a bf_vertex_create may make a job: its budget
 * plus the time a job may take to show after the last POST timed out. */
#define BF_VERTEX_CREATE_WINDOW_MS 165000L

enum bf_job_state {
	BF_JOB_UNSPECIFIED = 0,
	BF_JOB_QUEUED = 1,
	BF_JOB_PENDING = 2,
	BF_JOB_RUNNING = 3,
	BF_JOB_SUCCEEDED = 4,
	BF_JOB_FAILED = 5,
	BF_JOB_CANCELLING = 6,
	BF_JOB_CANCELLED = 7,
	BF_JOB_PAUSED = 8,
	BF_JOB_EXPIRED = 9,
	BF_JOB_UPDATING = 10,
	BF_JOB_PARTIALLY_SUCCEEDED = 11,
};
const char *bf_job_state_name(enum bf_job_state s); /* "JOB_STATE_RUNNING" */
enum bf_job_state bf_job_state_parse(const char *name); /* UNSPECIFIED if unknown */
int bf_job_state_terminal(enum bf_job_state s);

/* A BatchPredictionJob, parsed defensively: absent strings are NULL,
 * absent times 0, absent counters 0, "-1" kept as -1. Unknown fields are
 * ignored; the raw reply is kept for job.json. */
struct bf_job {
	char *name;	    /* projects/N/locations/L/batchPredictionJobs/ID */
	char id[24];	    /* decimal job id (last name segment) */
	char *display_name;
	char *model;
	enum bf_job_state state;
	int64_t create_us, start_us, end_us, update_us; /* epoch us, 0 absent */
	int64_t succeeded, failed, incomplete;	       /* completionStats */
	/* completionStats absent (a running job's may be); a counter that
	 * is not a count (incompleteCount -1: unknown) reads as -1. */
	int no_stats;
	int error_code;	    /* google.rpc.Status code (gRPC), 0 none */
	char *error_message;
	char *input_uri;    /* first gcsSource.uris[] or bigquerySource.inputUri */
	char *output_prefix; /* gcsDestination.outputUriPrefix or bq outputUri */
	char *gcs_output_dir; /* outputInfo.gcsOutputDirectory */
	char *bq_output;      /* outputInfo.bigqueryOutputTable or Dataset */
	char *client_token;   /* labels[BF_TOKEN_LABEL] */
	int inbox;	      /* labels[BF_INBOX_LABEL] is "1" */
	char *raw;	      /* the JSON as received, NUL-terminated */
	size_t raw_len;
};
int bf_job_parse(const char *json, size_t len, struct bf_job *out,
		 struct bf_err *e);
void bf_job_free(struct bf_job *j);
int bf_job_dup(const struct bf_job *src, struct bf_job *dst);

struct bf_http;
struct bf_vertex;

struct bf_vertex_opts {
	const char *endpoint;	 /* base URL, e.g. http://127.0.0.1:8080; NULL = Google */
	const char *project;
	const char *location;	 /* "us-central1", "global", ... */
	const char *api_version; /* "v1" */
};
/* NULL when the options cannot form a URL. The client is read-only after
 * this, so one instance serves every thread at once. Budgets: get/list/
 * cancel per the http opts; create at most 4 POSTs within 150 s; delete
 * waits for its Operation up to 60 s. */
struct bf_vertex *bf_vertex_new(const struct bf_vertex_opts *o,
				struct bf_http *http);
void bf_vertex_free(struct bf_vertex *v);
/* The base URL in use, for messages. */
const char *bf_vertex_base(const struct bf_vertex *v);

/* body_json: a BatchPredictionJob create body. client_token: [a-z0-9-]
 * up to 63 chars. On success *out is the created job. */
int bf_vertex_create(struct bf_vertex *v, const char *body_json,
		     const char *client_token, struct bf_job *out,
		     struct bf_err *e);
int bf_vertex_get(struct bf_vertex *v, const char *id, struct bf_job *out,
		  struct bf_err *e);

/* Every page. cb borrows the job (freed after it returns unless the callback
 * moved its fields out and zeroed them); nonzero return stops with that
 * value. filter/read_mask may be NULL; page_size 0 = server default. */
typedef int (*bf_job_cb)(void *ud, struct bf_job *job);
int bf_vertex_list(struct bf_vertex *v, const char *filter,
		   const char *read_mask, int page_size, bf_job_cb cb, void *ud,
		   struct bf_err *e);

/* Variants for callers that keep a request budget of their own and have a
 * cached answer to show meanwhile: with BF_VX_SOFT_429 a 429 is retried
 * once, after a jittered wait of at most 5 s, then returned (-EAGAIN)
 * instead of being retried for the whole budget. */
#define BF_VX_SOFT_429 0x1
int bf_vertex_get_ex(struct bf_vertex *v, const char *id, int flags,
		     struct bf_job *out, struct bf_err *e);
int bf_vertex_list_ex(struct bf_vertex *v, const char *filter,
		      const char *read_mask, int page_size, int flags,
		      bf_job_cb cb, void *ud, struct bf_err *e);

/* Every exchange with the service is reported to meter: attempts made
 * (retries included) and the final HTTP status (0 if none arrived). Set it
 * before the client is shared; it runs on the calling thread. */
typedef void (*bf_vertex_meter_fn)(void *ud, int attempts, long status);
void bf_vertex_set_meter(struct bf_vertex *v, bf_vertex_meter_fn fn, void *ud);

/* The job labelled labels[BF_TOKEN_LABEL] = client_token (the oldest if
 * several), found with list. -ENOENT when there is none. For callers that
 * were interrupted mid-create and must not submit again blindly. */
int bf_vertex_find_by_token(struct bf_vertex *v, const char *client_token,
			    struct bf_job *out, struct bf_err *e);

/* Cancel: 0 once accepted, also when a retried cancel finds the job already
 * terminal (e->msg then says so, e->err stays 0). Delete: 0 once the job is
 * gone (waits for the Operation, bounded). A 404 on a retried delete counts
 * as done. */
int bf_vertex_cancel(struct bf_vertex *v, const char *id, struct bf_err *e);
int bf_vertex_delete(struct bf_vertex *v, const char *id, struct bf_err *e);

#endif
