/* tree.h - the root, jobs/ and a job's directory (tree.c): handlers. */
#ifndef BATCHFS_MODEL_TREE_H
#define BATCHFS_MODEL_TREE_H

#include "model/model.h"

struct bf_kind_ops;

int bf_tree_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		    const struct bf_node *n, struct bf_attr *a,
		    struct bf_err *e);
int bf_tree_root_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *parent, const char *name,
			const struct bf_kind_ops *fixed, struct bf_node *out,
			struct bf_err *e);
int bf_tree_jobs_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *parent, const char *name,
			const struct bf_kind_ops *fixed, struct bf_node *out,
			struct bf_err *e);
int bf_tree_jobs_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			 const struct bf_node *n, struct bf_dir *d, size_t *cap,
			 struct bf_err *e);
int bf_tree_job_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *n, struct bf_attr *a,
			struct bf_err *e);
int bf_tree_job_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *parent, const char *name,
		       const struct bf_kind_ops *fixed, struct bf_node *out,
		       struct bf_err *e);
int bf_tree_job_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
			const struct bf_node *p, struct bf_dir *d, size_t *cap,
			struct bf_err *e);

#endif
