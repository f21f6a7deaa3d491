/* gen.h - generated files (gen.c): text rendered by the kind's render
 * function, attributes from it, a snapshot per open. */
#ifndef BATCHFS_MODEL_GEN_H
#define BATCHFS_MODEL_GEN_H

#include <sys/types.h>

#include "model/model.h"

struct bf_buf;
struct bf_kind_ops;
struct bf_mjob;

/* The text of n now (fetching its job first if due). */
int bf_gen_render(struct bf_ctx *c, const struct bf_kind_ops *k,
		  const struct bf_node *n, struct bf_buf *b, struct bf_err *e);
/* Attributes of a generated file of natural mode `mode`. */
int bf_gen_attr(struct bf_ctx *c, const struct bf_kind_ops *k,
		const struct bf_node *n, mode_t mode, struct bf_attr *a,
		struct bf_err *e);
/* fh's snapshot, and the flags of one. */
int bf_gen_snapshot(struct bf_ctx *c, struct bf_fh *fh, struct bf_err *e);

/* Handlers (kinds.c) */
int bf_gen_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		   const struct bf_node *n, struct bf_attr *a,
		   struct bf_err *e);
int bf_gen_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		struct bf_err *e);
int bf_gen_readme(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e);
int bf_gen_jobjson(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		   struct bf_err *e);
int bf_gen_bq(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
	      struct bf_err *e);
int bf_gen_state(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		 struct bf_err *e);
int bf_gen_state_draft(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		       struct bf_err *e);
int bf_gen_progress(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		    struct bf_err *e);
int bf_gen_error(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		 struct bf_err *e);
/* _SUCCESS: empty, and only when the job SUCCEEDED (else -ENOENT). */
int bf_gen_success(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		   struct bf_err *e);
int bf_gen_error_draft(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		       struct bf_err *e);

#endif
