/* kinds.h - the table of node kinds (kinds.c): one row per enum bf_kind
 * with its name, place, natural mode and handlers. The handlers live in
 * the file that owns the kind and get their row, so they never call back
 * into the table. A new kind of file is one row here and one file. */
#ifndef BATCHFS_MODEL_KINDS_H
#define BATCHFS_MODEL_KINDS_H

#include <sys/types.h>

#include "model/model.h"

struct bf_buf;
struct bf_mjob;

/* Where a kind with a fixed name shows in a job's directory, and how. */
enum {
	BF_KW_DRAFT = 1,    /* in a draft's directory */
	BF_KW_JOB = 2,	    /* in an accepted job's directory */
	BF_KW_UNLISTED = 4, /* found by name, left out of readdir */
	BF_KW_OWNLIST = 8,  /* listed by its parent's readdir, not the table */
};

/* A row: constant, so read by every thread without a lock. Handlers are
 * called with no lock held, except where said (render, mode_slot). */
struct bf_kind_ops {
	enum bf_kind kind;
	const char *name; /* its fixed name in parent; NULL: named by sub */
	enum bf_kind parent;
	mode_t mode;	/* natural mode (before -o umask): S_IFDIR, ... */
	unsigned where; /* BF_KW_*, for kinds with a fixed name */

	int (*getattr)(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *n, struct bf_attr *a,
		       struct bf_err *e);
	/* Directories. lookup fills out's kind, job and sub (not the
	 * attributes); fixed is the row of the kind named name under this
	 * one, NULL when none. readdir adds the children the table does not
	 * name (it lists the others first). */
	int (*lookup)(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *parent, const char *name,
		      const struct bf_kind_ops *fixed, struct bf_node *out,
		      struct bf_err *e);
	int (*readdir)(struct bf_ctx *c, const struct bf_kind_ops *k,
		       const struct bf_node *n, struct bf_dir *d, size_t *cap,
		       struct bf_err *e);
	/* Files. open sets up fh (made for the node, fh->writer set); flags
	 * are open(2)'s. read's v is NULL unless the caller can send bytes
	 * held by read-ahead (bf_fh_readv). */
	int (*open)(struct bf_ctx *c, struct bf_fh *fh, int flags,
		    struct bf_err *e);
	ssize_t (*read)(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			size_t len, uint64_t off, struct bf_rvec *v,
			struct bf_err *e);
	ssize_t (*pipe)(struct bf_fh *fh, size_t len, uint64_t off,
			struct bf_rpipe *t, struct bf_err *e);
	ssize_t (*write)(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
			 size_t len, uint64_t off, struct bf_err *e);
	int (*flush)(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
		     struct bf_err *e);
	/* fstat through the handle; NULL: getattr of its node. */
	int (*fgetattr)(struct bf_ctx *c, struct bf_fh *fh, struct bf_attr *a,
			struct bf_err *e);
	/* Before the handle is freed (it only logs; path: the node's). */
	void (*release)(struct bf_ctx *c, struct bf_fh *fh, const char *path);
	int (*truncate)(struct bf_ctx *c, const struct bf_node *n,
			uint64_t size, struct bf_err *e);
	int (*readlink)(struct bf_ctx *c, const struct bf_node *n, char **out,
			struct bf_err *e);
	/* Generated files: the text of a job's (j->lock held), of a draft's
	 * (NULL: not in a draft), or with j NULL of a file of no job. */
	int (*render)(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		      struct bf_err *e);
	int (*render_draft)(struct bf_ctx *c, struct bf_mjob *j,
			    struct bf_buf *b, struct bf_err *e);
	/* A draft's own files: where chmod's mode is kept (j->lock held);
	 * NULL when n is not one now. */
	mode_t *(*mode_slot)(struct bf_mjob *j, const struct bf_node *n);
};

/* The row of kind k (BF_K_NONE's for a kind out of range). */
const struct bf_kind_ops *bf_kind_ops(enum bf_kind k);
/* The kind named name in a directory of kind parent, BF_K_NONE if none. */
enum bf_kind bf_kind_child(enum bf_kind parent, const char *name);

#endif
