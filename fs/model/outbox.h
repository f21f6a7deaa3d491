/* outbox.h - outbox/ (outbox.c): the by-input results of the jobs that
 * came through an inbox/, each once it ended and its results are whole. */
#ifndef BATCHFS_MODEL_OUTBOX_H
#define BATCHFS_MODEL_OUTBOX_H

#include <sys/types.h>

#include "model/model.h"

struct bf_kind_ops;
struct bf_outbox;

struct bf_outbox *bf_outbox_new(void);
void bf_outbox_free(struct bf_outbox *ob);
/* unlink(2) in outbox/: hides the entry for the mount's life. */
int bf_outbox_unlink(struct bf_ctx *c, const char *name, struct bf_err *e);

/* Handlers (kinds.c) */
int bf_outbox_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *n, struct bf_attr *a,
		      struct bf_err *e);
int bf_outbox_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		     const struct bf_node *parent, const char *name,
		     const struct bf_kind_ops *fixed, struct bf_node *out,
		     struct bf_err *e);
int bf_outbox_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *n, struct bf_dir *d, size_t *cap,
		      struct bf_err *e);
int bf_outbox_file_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e);
int bf_outbox_file_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
			struct bf_err *e);
ssize_t bf_outbox_file_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			    size_t len, uint64_t off, struct bf_rvec *v,
			    struct bf_err *e);

#endif
