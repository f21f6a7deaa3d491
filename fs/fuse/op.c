/* op.c - what every handler of ops.c shares: the opening (the node an
 * inode names, the request's cancel check and deadline), the one place a
 * failure is logged (operation, path, errno, HTTP status and message) and
 * answered, entry replies and the open-file handle bookkeeping. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse/fuse_int.h"

struct bf_fs *bf_op_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- interruption and deadlines (reqctx.c) ---- */

/* Ends the request's cancel check and deadline (op_begin starts them).
 * Must run before the reply: the request is freed by it. */
void bf_op_end(void)
{
	bf_rq_end(0);
}

/* ---- errors ---- */

static int quiet(const char *op, int rc)
{
	/* Expected answers, not failures. */
	return rc == -ENOENT &&
	       (strcmp(op, "lookup") == 0 || strcmp(op, "getattr") == 0);
}

static void fail(fuse_req_t req, const char *op, const struct bf_node *n,
		 const char *name, int rc, const struct bf_err *e)
{
	char path[768];

	if (rc >= 0)
		rc = -EIO;
	rc = bf_rq_end(rc);
	if (!quiet(op, rc)) {
		bf_node_path(bf_op_fs(req)->ctx, n, path, sizeof(path));
		if (name) {
			size_t l = strlen(path);

			snprintf(path + l, sizeof(path) - l, "%s%s",
				 strcmp(path, "/") == 0 ? "" : "/", name);
		}
		if (e && e->http_status)
			bf_log_warn("%s %s: %s (HTTP %ld %s: %s)", op, path,
				    strerror(-rc), e->http_status, e->status,
				    e->msg);
		else
			bf_log_warn("%s %s: %s%s%s", op, path, strerror(-rc),
				    e && e->msg[0] ? ": " : "",
				    e ? e->msg : "");
	}
	fuse_reply_err(req, -rc);
}

/* fail() for a request on an open file, named by its inode. */
void bf_op_fail_ino(fuse_req_t req, fuse_ino_t ino, const char *op, int rc,
		    const struct bf_err *e)
{
	struct bf_node nd;

	if (bf_itable_node(bf_op_fs(req)->it, ino, &nd) != 0)
		memset(&nd, 0, sizeof(nd));
	fail(req, op, &nd, NULL, rc, e);
	bf_node_clear(&nd);
}

int bf_op_get_node(fuse_req_t req, fuse_ino_t ino, struct bf_node *n)
{
	struct bf_fs *fs = bf_op_fs(req);
	int rc;

	/* The first request after INIT (whose reply would undo it). */
	if (!__atomic_load_n(&fs->ra_done, __ATOMIC_RELAXED) &&
	    !__atomic_exchange_n(&fs->ra_done, 1, __ATOMIC_RELAXED))
		bf_bdi_set_readahead(fs->bdi, fs->read_ahead_kb);
	rc = bf_itable_node(fs->it, ino, n);

	if (rc) {
		fuse_reply_err(req, -rc);
		return -1;
	}
	return 0;
}

/* The process (thread group) of the caller; flush compares it with the
 * opener's so threads of one process count as that process. */
pid_t bf_op_caller_tgid(fuse_req_t req)
{
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	char path[64], line[128];
	pid_t tgid = fc->pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)fc->pid);
	f = fopen(path, "re");
	if (!f)
		return tgid;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Tgid:", 5) == 0) {
			tgid = (pid_t)atoi(line + 5);
			break;
		}
	}
	fclose(f);
	return tgid;
}

void bf_op_fill_entry(struct fuse_entry_param *ep, fuse_ino_t ino,
		      const struct bf_attr *a)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = ino;
	ep->attr = a->st;
	ep->attr.st_ino = ino;
	ep->attr_timeout = a->ttl;
	ep->entry_timeout = a->ttl;
}

void bf_op_reply_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
		       const struct bf_node *node, const struct bf_attr *a)
{
	struct fuse_entry_param ep;
	fuse_ino_t ino = bf_itable_link(bf_op_fs(req)->it, parent, name, node);

	if (!ino) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	bf_op_fill_entry(&ep, ino, a);
	if (fuse_reply_entry(req, &ep) != 0)
		bf_itable_forget(bf_op_fs(req)->it, ino, 1);
}

/* Tracks fh as fi->fh; -1 (fh still the caller's) when out of memory. */
int bf_op_apply_fh_flags(fuse_req_t req, struct fuse_file_info *fi,
			 struct bf_fh *fh)
{
	unsigned f = bf_fh_flags(fh);

	fi->fh = bf_handles_add(bf_op_fs(req)->hs, fh, NULL);
	if (!fi->fh)
		return -1;
	fi->direct_io = !!(f & BF_FH_DIRECT_IO);
	fi->keep_cache = !!(f & BF_FH_KEEP_CACHE);
	fi->noflush = !!(f & BF_FH_NOFLUSH);
	return 0;
}

struct bf_fh *bf_op_fh(struct fuse_file_info *fi)
{
	return bf_handle(fi->fh)->fh;
}

/* Stops tracking fi's file and releases it: on RELEASE, or when the open
 * reply failed (the kernel will not release that handle). */
void bf_op_drop_fh(fuse_req_t req, struct fuse_file_info *fi)
{
	struct bf_fh *fh = bf_op_fh(fi);

	bf_handles_del(bf_op_fs(req)->hs, fi->fh);
	bf_fh_release(bf_op_fs(req)->ctx, fh);
}

/* Does fi carry one of our file handles for n? Directories carry a
 * directory snapshot instead (futimens on a directory fd sends it). */
int bf_op_has_fh(const struct bf_node *n, struct fuse_file_info *fi)
{
	return !bf_kind_is_dir(n->kind) && fi && fi->fh;
}

/* ---- the opening every handler shares ---- */

/* The node ino names, and a clear cause. 0, or -1 when the request was
 * answered already (no such inode). */
int bf_op_node(struct bf_op *o, fuse_req_t req, fuse_ino_t ino)
{
	o->req = req;
	o->fs = bf_op_fs(req);
	if (bf_op_get_node(req, ino, &o->n))
		return -1;
	bf_err_clear(&o->e);
	return 0;
}

/* The request's cancel check and deadline, until bf_op_end() or op_fail. */
void bf_op_start(struct bf_op *o, int limits)
{
	bf_rq_begin(o->req, limits);
}

/* The opening of a handler on an inode: op_node, then op_start. */
int bf_op_begin(struct bf_op *o, fuse_req_t req, fuse_ino_t ino, int limits)
{
	if (bf_op_node(o, req, ino))
		return -1;
	bf_op_start(o, limits);
	return 0;
}

/* The same for a handler on an open file, which names no node. */
void bf_op_begin_fh(struct bf_op *o, fuse_req_t req, int limits)
{
	o->req = req;
	o->fs = bf_op_fs(req);
	memset(&o->n, 0, sizeof(o->n));
	bf_err_clear(&o->e);
	bf_rq_begin(req, limits);
}

/* Answers with rc, logged with the op, the node's path plus name. */
void bf_op_fail(struct bf_op *o, const char *what, const char *name, int rc)
{
	fail(o->req, what, &o->n, name, rc, &o->e);
}

void bf_op_done(struct bf_op *o)
{
	bf_node_clear(&o->n);
}
