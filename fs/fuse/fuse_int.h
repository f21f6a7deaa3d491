/* fuse_int.h - the FUSE glue's private interfaces: command-line options,
 * the inode table, the open handles, the operations table and the log
 * bridge. */
#ifndef BATCHFS_FUSE_INT_H
#define BATCHFS_FUSE_INT_H

#include <fuse_lowlevel.h>
#include <stdint.h>

#include "batchfs/log.h"
#include "model/model.h"

/* ---- options.c ---- */
struct bf_cli {
	struct bf_model_opts m;
	char *project, *location, *endpoint, *storage_endpoint;
	char *credentials, *token_file, *loglevel, *staging, *state_dir;
	char *uid, *gid, *umask; /* as given; parsed into m */
	char *log_file, *log_format;
	char *pos[3]; /* non-option arguments: [SOURCE] MOUNTPOINT */
	int npos;
	char *cafile, *proxy, *noproxy;
	char *model, *dest; /* inbox/ defaults (-o model=, -o dest=) */
	int no_auth;
	double refresh, list_ttl, attr_timeout, entry_timeout;
	double negative_timeout, final_timeout, deadline;
	double change_deadline; /* fuse layer only: bf_fs.change_deadline */
	unsigned long max_request;
	unsigned long readahead, readahead_window;
	unsigned long results_cache;
	int direct_io;
	int nosplice;
	unsigned read_ahead_kb;
	int page_size;
	double vertex_rpm;
	enum bf_log_level level;
};
/* Consumes batchfs's -o options (and fstab-only ones) from args, applies
 * environment fallbacks and defaults. -1 with a message on stderr. */
int bf_cli_parse(struct fuse_args *args, struct bf_cli *cli);
void bf_cli_help(void);
void bf_cli_free(struct bf_cli *cli);
/* Lets libfuse judge the options left in args (after fuse_parse_cmdline)
 * the way the mount will, without mounting: a mistyped option is reported
 * in one line before any network call. -1 with the message on stderr. */
int bf_cli_check_fuse(const struct fuse_args *args);

/* ---- inode.c ---- */
struct bf_itable;
struct bf_itable *bf_itable_new(void);
void bf_itable_free(struct bf_itable *t);
/* The inode for (parent, name) now standing for node, with one more
 * lookup; 0 when out of memory. */
fuse_ino_t bf_itable_link(struct bf_itable *t, fuse_ino_t parent,
			  const char *name, const struct bf_node *node);
/* A copy of the node of ino (caller clears); -ESTALE if unknown. */
int bf_itable_node(struct bf_itable *t, fuse_ino_t ino, struct bf_node *out);
void bf_itable_forget(struct bf_itable *t, fuse_ino_t ino, uint64_t n);
/* (parent, name) no longer names its inode (unlink, rmdir). */
void bf_itable_unlink(struct bf_itable *t, fuse_ino_t parent, const char *name);
/* The inode at (parent, name) moved to (np, nn) and now stands for node. */
void bf_itable_rename(struct bf_itable *t, fuse_ino_t parent, const char *name,
		      fuse_ino_t np, const char *nn,
		      const struct bf_node *node);

/* ---- handles.c ---- */
/* One open file (fh) or directory snapshot (dir); fi->fh points at it. */
struct bf_handle {
	struct bf_handle *prev, *next; /* the table's, under its lock */
	struct bf_fh *fh;   /* set at open, read-only until release */
	struct bf_dir *dir; /* the same */
	/* READs of this handle share one deadline: rd_* below are guarded
	 * by reqctx.c's rd_lock, but for rd_abort_gen */
	int rd_inflight;
	int64_t rd_opened_ms;	/* when it was opened */
	int64_t rd_progress_ms; /* the clock's start: idle handle or data */
	int64_t rd_fail_until;	/* READs fail at once until then */
	int rd_fail_rc;
	uint64_t rd_abort_gen; /* __atomic: bumped to end READs in flight */
	int rd_abort_rc;       /* why: EINTR or ETIMEDOUT */
};
struct bf_handles;
struct bf_handles *bf_handles_new(void);
/* Tracks an open file or directory: the value for fi->fh, 0 when out of
 * memory (fh and dir stay the caller's then). */
uint64_t bf_handles_add(struct bf_handles *hs, struct bf_fh *fh,
			struct bf_dir *dir);
static inline struct bf_handle *bf_handle(uint64_t v)
{
	return (struct bf_handle *)(uintptr_t)v;
}
/* Stops tracking v (release, or a failed reply); its fh or dir is the
 * caller's to free. */
void bf_handles_del(struct bf_handles *hs, uint64_t v);
/* Releases the handles still open and frees the table; only once the
 * session loop has returned, before ctx is freed. How many were left. */
size_t bf_handles_free(struct bf_handles *hs, struct bf_ctx *ctx);

/* ---- ops.c ---- */
/* Set up by main.c before the session loop and read-only while it runs
 * (the tables have their own locks), but for ra_done. */
struct bf_fs {
	struct bf_ctx *ctx;
	struct fuse_session *se;
	struct bf_itable *it;
	struct bf_handles *hs;
	struct fuse_conn_info_opts *conn_opts;
	double negative_timeout;
	unsigned max_read;    /* the max_read mount option, 0 if none */
	size_t splice_max;    /* splice path wanted for reads up to this */
	char bdi[32];	      /* "MAJ:MIN" of the mount, "" if unknown */
	double deadline;      /* -o deadline: s a request may wait, 0 none */
	double change_deadline; /* the same for submit, ctl, rmdir */
	unsigned max_background; /* kernel's async READs in flight, 0 = its */
	int gated;	      /* workers take places in the network gate */
	unsigned read_ahead_kb; /* to set after INIT, 0 = leave */
	int ra_done;		/* __atomic: read_ahead_kb written */
};
extern const struct fuse_lowlevel_ops bf_ops;

/* ---- op.c ---- */
/* One request on its worker: the mount, the node its inode names, the
 * cause of a failure. Requests that look things up or read wait at most
 * -o deadline (BF_RQ_READ); those that change things (submit, cancel,
 * delete) keep their own budgets, cut to -o change_deadline when it is set
 * (BF_RQ_CHANGE). */
struct bf_op {
	fuse_req_t req;
	struct bf_fs *fs;
	struct bf_node n; /* the inode's node; bf_op_done clears it */
	struct bf_err e;
};

struct bf_fs *bf_op_fs(fuse_req_t req);
struct bf_fh *bf_op_fh(struct fuse_file_info *fi);
/* The node ino names, and a clear cause. 0, or -1 when the request was
 * answered already (no such inode). */
int bf_op_node(struct bf_op *o, fuse_req_t req, fuse_ino_t ino);
/* The request's cancel check and deadline (BF_RQ_*), until bf_op_end or
 * bf_op_fail. */
void bf_op_start(struct bf_op *o, int limits);
/* The opening of a handler on an inode: bf_op_node, then bf_op_start. */
int bf_op_begin(struct bf_op *o, fuse_req_t req, fuse_ino_t ino, int limits);
/* The same for a handler on an open file, which names no node. */
void bf_op_begin_fh(struct bf_op *o, fuse_req_t req, int limits);
/* Answers with rc (logged once: the op, the node's path plus name). */
void bf_op_fail(struct bf_op *o, const char *what, const char *name, int rc);
void bf_op_done(struct bf_op *o);
/* Ends the cancel check and deadline; must run before a reply (which
 * frees the request). */
void bf_op_end(void);
/* bf_op_fail for a request on an open file, named by its inode. */
void bf_op_fail_ino(fuse_req_t req, fuse_ino_t ino, const char *op, int rc,
		    const struct bf_err *e);
/* The inode's node; -1 when answered already (no such inode). */
int bf_op_get_node(fuse_req_t req, fuse_ino_t ino, struct bf_node *n);
/* The caller's process (thread group). */
pid_t bf_op_caller_tgid(fuse_req_t req);
void bf_op_fill_entry(struct fuse_entry_param *ep, fuse_ino_t ino,
		      const struct bf_attr *a);
/* Links name under parent to node and replies with the entry. */
void bf_op_reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
		       const struct bf_node *node, const struct bf_attr *a);
/* Tracks fh as fi->fh with its flags; -1 (fh still the caller's) when out
 * of memory. */
int bf_op_apply_fh_flags(fuse_req_t req, struct fuse_file_info *fi,
			 struct bf_fh *fh);
/* Stops tracking fi's file and releases it. */
void bf_op_drop_fh(fuse_req_t req, struct fuse_file_info *fi);
/* Does fi carry one of our file handles for n (not a directory's)? */
int bf_op_has_fh(const struct bf_node *n, struct fuse_file_info *fi);

/* ---- reqctx.c ---- */
/* Before a request calls the core: its interrupt and cancel check, and
 * its deadline: -o deadline from now (BF_RQ_READ), -o change_deadline
 * (BF_RQ_CHANGE), or none. */
enum { BF_RQ_NONE, BF_RQ_READ, BF_RQ_CHANGE };
void bf_rq_begin(fuse_req_t req, int kind);
/* The same for a READ of h (of file ino), whose READs share one deadline:
 * 0, or -errno when READs of h or ino fail at once now (one just timed
 * out). */
int bf_rq_begin_read(fuse_req_t req, fuse_ino_t ino, struct bf_handle *h);
/* After the core returned rc, before the reply: the errno to reply (a
 * READ stopped past its deadline timed out). */
int bf_rq_end(int rc);

/* ---- rbuf.c ---- */
/* This thread's read buffer, grown to at least size; NULL without memory. */
char *bf_rbuf_get(size_t size);

/* ---- park.c ---- */
/* Hands a read of a `wait` handle whose job has not finished to the wait
 * queue, which replies later: 0 (the request belongs to it now), or
 * -errno and the caller reads as usual (-EINVAL: nothing to wait for). */
int bf_fuse_park_read(fuse_req_t req, struct bf_fh *fh, size_t size,
		      off_t off);

/* ---- bdi.c ---- */
/* The "MAJ:MIN" of the mount at mountpoint (absolute), or -ENOENT. */
int bf_bdi_find(const char *mountpoint, char *dev, size_t n);
/* Writes the device's read_ahead_kb; logs when it cannot. */
void bf_bdi_set_readahead(const char *dev, unsigned kb);

/* ---- watch.c ---- */
/* Watches for a lazy unmount of fs (by fs->bdi), which ends parked reads
 * of `wait` with EINTR; NULL when it cannot watch. */
struct bf_watch;
struct bf_watch *bf_watch_start(struct bf_fs *fs);
void bf_watch_stop(struct bf_watch *w);

/* ---- log.c ---- */
/* Routes libfuse's own messages through bf_log. */
void bf_fuse_log_bridge(void);

#endif
