/* outtree.h - a job's output/ as nodes and open objects (outtree.c):
 * handlers. */
#ifndef BATCHFS_MODEL_OUTTREE_H
#define BATCHFS_MODEL_OUTTREE_H

#include <sys/types.h>

#include "model/model.h"

struct bf_kind_ops;

int bf_outtree_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *n, struct bf_attr *a,
		       struct bf_err *e);
int bf_outtree_ent_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e);
int bf_outtree_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *parent, const char *name,
		      const struct bf_kind_ops *fixed, struct bf_node *out,
		      struct bf_err *e);
int bf_outtree_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *p, struct bf_dir *d, size_t *cap,
		       struct bf_err *e);
int bf_outtree_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		    struct bf_err *e);
ssize_t bf_outtree_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			size_t len, uint64_t off, struct bf_rvec *v,
			struct bf_err *e);
ssize_t bf_outtree_pipe(struct bf_fh *fh, size_t len, uint64_t off,
			struct bf_rpipe *t, struct bf_err *e);
int bf_outtree_fgetattr(struct bf_ctx *c, struct bf_fh *fh, struct bf_attr *a,
			struct bf_err *e);

#endif
