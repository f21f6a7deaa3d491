/* wait.h - a job's `wait` file (wait.c). */
#ifndef BATCHFS_MODEL_WAIT_H
#define BATCHFS_MODEL_WAIT_H

#include <sys/types.h>

#include "model/model.h"

struct bf_buf;
struct bf_kind_ops;
struct bf_mjob;

/* One look at a job someone waits for: 1 when it has finished (its state
 * line in b), 0 when not yet (or the service is slow or down: look again
 * later), -errno (ENOENT: the job is gone). */
int bf_wait_check(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e);
/* Blocks, looking every `refresh`, until bf_wait_check says finished. */
int bf_wait_job(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		struct bf_err *e);
/* For waitq.c: the job of a `wait` handle not yet answered (a reference),
 * else NULL; and giving such a handle its final state line. */
struct bf_mjob *bf_wait_fh_job(struct bf_fh *fh);
int bf_wait_settle(struct bf_fh *fh, const struct bf_buf *st);

/* Handlers (kinds.c) */
int bf_wait_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		    const struct bf_node *n, struct bf_attr *a,
		    struct bf_err *e);
int bf_wait_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		 struct bf_err *e);
ssize_t bf_wait_read(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		     uint64_t off, struct bf_rvec *v, struct bf_err *e);

#endif
