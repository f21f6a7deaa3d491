/* wftree.h - results/, its files and by-id/ (wftree.c): handlers. */
#ifndef BATCHFS_MODEL_WFTREE_H
#define BATCHFS_MODEL_WFTREE_H

#include <sys/types.h>

#include "model/model.h"

struct bf_kind_ops;

int bf_wftree_readlink(struct bf_ctx *c, const struct bf_node *n, char **out,
		       struct bf_err *e);
int bf_wftree_resfile_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			      const struct bf_node *n, struct bf_attr *a,
			      struct bf_err *e);
int bf_wftree_link_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e);
int bf_wftree_results_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			      const struct bf_node *n, struct bf_attr *a,
			      struct bf_err *e);
int bf_wftree_byid_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			  const struct bf_node *parent, const char *name,
			  const struct bf_kind_ops *fixed, struct bf_node *out,
			  struct bf_err *e);
int bf_wftree_results_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			     const struct bf_node *parent, const char *name,
			     const struct bf_kind_ops *fixed,
			     struct bf_node *out, struct bf_err *e);
int bf_wftree_byid_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *p, struct bf_dir *d,
			   size_t *cap, struct bf_err *e);
int bf_wftree_results_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			      const struct bf_node *p, struct bf_dir *d,
			      size_t *cap, struct bf_err *e);
int bf_wftree_resfile_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
			   struct bf_err *e);
ssize_t bf_wftree_resfile_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			       size_t len, uint64_t off, struct bf_rvec *v,
			       struct bf_err *e);

#endif
