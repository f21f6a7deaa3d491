/* ctl.h - a job's ctl file (ctl.c). */
#ifndef BATCHFS_MODEL_CTL_H
#define BATCHFS_MODEL_CTL_H

#include <sys/types.h>

#include "model/model.h"

struct bf_buf;
struct bf_mjob;

/* Keeps, for `error`, why operation op on job j failed (rc < 0, reason in
 * e), or forgets the last failure (rc == 0). Takes j->lock. */
void bf_ctl_note(struct bf_mjob *j, const char *op, int rc,
		 const struct bf_err *e);

/* Handlers (kinds.c) */
int bf_ctl_render(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e);
int bf_ctl_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		struct bf_err *e);
int bf_ctl_truncate(struct bf_ctx *c, const struct bf_node *n, uint64_t size,
		    struct bf_err *e);
ssize_t bf_ctl_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
		     size_t len, uint64_t off, struct bf_err *e);

#endif
