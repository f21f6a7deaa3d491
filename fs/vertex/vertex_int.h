/* vertex_int.h - fs/vertex internals shared by vertex.c and create.c. */
#ifndef BATCHFS_VERTEX_INT_H
#define BATCHFS_VERTEX_INT_H

#include "batchfs/http.h"
#include "batchfs/vertex.h"

/* Read-only after bf_vertex_new: safe to share between threads. */
struct bf_vertex {
	struct bf_http *http;
	char *base; /* scheme://host[:port], no trailing slash */
	char *root; /* base/v1 */
	char *coll; /* root/projects/P/locations/L/batchPredictionJobs */
	bf_vertex_meter_fn meter; /* set before the client is shared */
	void *meter_ud;
};

/* Sleeps in short slices; -EINTR once the thread's cancel check fires. */
int vx_sleep_ms(long ms);
/* Client tokens: 1..63 of [a-z0-9_-] (a label value). */
int vx_valid_token(const char *s);
/* One HTTP exchange with an explicit budget (0 = the HTTP default); a
 * non-2xx final status that http lets through is -EIO. */
int vx_call(struct bf_vertex *v, const char *method, const char *url,
	    const char *body, enum bf_retry retry, long budget_ms,
	    struct bf_http_resp *resp, struct bf_err *e);
/* Every page of a list. strict: a job that does not parse fails the call
 * (reconciliation must not miss one) instead of being skipped. */
int vx_list_page(const char *body, size_t len, int strict,
		 const char *prev_token, bf_job_cb cb, void *ud, char **next,
		 struct bf_err *e);
int vx_list(struct bf_vertex *v, const char *filter, const char *read_mask,
	    int page_size, int strict, enum bf_retry retry, bf_job_cb cb,
	    void *ud, struct bf_err *e);

#endif
