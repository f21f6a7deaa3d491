/* fh.h - an open file (fh.c): the handle every kind's open, read, write
 * and release work on. Its kind's row of the table (kinds.h) says which. */
#ifndef BATCHFS_MODEL_FH_H
#define BATCHFS_MODEL_FH_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "batchfs/buf.h"
#include "model/model.h"

struct bf_kind_ops;
struct bf_reader;
struct bf_resset;

struct bf_fh {
	const struct bf_kind_ops *k; /* its kind's row; set at open */
	int writer;		     /* opened for writing */
	unsigned flags;		     /* BF_FH_*, set by the kind's open */
	struct bf_node node;
	/* The text read: a generated file's snapshot at open, or `wait`'s
	 * state line once settled (lock). */
	struct bf_buf snap;
	/* Serialises the READs of an output object (held across its network
	 * I/O) and guards the output-object fields below, `waited` and, for
	 * `wait`, snap. */
	pthread_mutex_t lock;
	/* An output object (outtree.c) */
	struct bf_reader *r;
	char *bucket, *obj;
	int64_t gen;	    /* lock */
	uint64_t size;	    /* lock */
	int64_t updated_us; /* lock */
	int growing;	    /* set at open */
	int64_t stat_ms;    /* lock */
	/* A file of results/: the result set this open reads (set at open) */
	struct bf_resset *rs;
	int waited; /* `wait`: snap holds the final state line (lock) */
	/* Writers of a draft's files: only the worker of the request that
	 * runs on the handle touches them (the kernel orders a handle's
	 * write, flush and release). */
	pid_t opener;
	int wrote;
	int submitted;
};

/* A handle on a copy of n for kind row k; NULL: out of memory. */
struct bf_fh *bf_fh_new(const struct bf_kind_ops *k, const struct bf_node *n);
void bf_fh_free(struct bf_fh *fh);
/* Copies what of b lies at off into buf: bytes copied (0 at the end). */
ssize_t bf_fh_buf_read(const struct bf_buf *b, char *buf, size_t len,
		       uint64_t off);
/* Reads of a snapshot taken at open. */
ssize_t bf_fh_snap_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			size_t len, uint64_t off, struct bf_rvec *v,
			struct bf_err *e);

#endif
