/* inbox.h - inbox/, the hot folder (inbox.c): NAME.jsonl dropped there is
 * submitted as job NAME with the mount's -o model; a refused file leaves
 * NAME.error. */
#ifndef BATCHFS_MODEL_INBOX_H
#define BATCHFS_MODEL_INBOX_H

#include <sys/types.h>

#include "model/model.h"

struct bf_kind_ops;
struct bf_inbox;

struct bf_inbox *bf_inbox_new(void);
void bf_inbox_free(struct bf_inbox *ib);

/* create(2) of inbox/name: makes the draft jobs/NAME whose input.jsonl
 * receives the bytes; out is the node to open (ns.c opens it). */
int bf_inbox_create(struct bf_ctx *c, const char *name, struct bf_node *out,
		    struct bf_err *e);
/* unlink(2) in inbox/: NAME.error forgets the message; NAME.jsonl, still
 * being written, drops its draft. */
int bf_inbox_unlink(struct bf_ctx *c, const char *name, struct bf_err *e);

/* Handlers (kinds.c) */
int bf_inbox_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		     const struct bf_node *n, struct bf_attr *a,
		     struct bf_err *e);
int bf_inbox_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		    const struct bf_node *parent, const char *name,
		    const struct bf_kind_ops *fixed, struct bf_node *out,
		    struct bf_err *e);
int bf_inbox_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
		     const struct bf_node *n, struct bf_dir *d, size_t *cap,
		     struct bf_err *e);
int bf_inbox_file_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			  const struct bf_node *n, struct bf_attr *a,
			  struct bf_err *e);
int bf_inbox_file_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
			struct bf_err *e);
int bf_inbox_err_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			 const struct bf_node *n, struct bf_attr *a,
			 struct bf_err *e);
int bf_inbox_err_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		      struct bf_err *e);

#endif
