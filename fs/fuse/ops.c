/* ops.c - the fuse_lowlevel_ops table: each request maps its inode to a
 * model node, calls the model once, and replies. Blocking calls run with
 * an interrupt check (Ctrl-C gives EINTR); every failure is logged once,
 * with the operation, the path, the HTTP status and the message (op.c,
 * the opening and failure path every handler shares). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "batchfs/http.h"
#include "batchfs/reader.h"
#include "fuse/fuse_int.h"

/* The largest read-ahead libfuse 3.14 handles in one request. */
#define MAX_READAHEAD (1u << 20)
/* statfs's block: what stdio and Python read at once. */
#define STATFS_BLOCK (1u << 20)
/* Longest name in a directory of ours (as the kernel's NAME_MAX). */
#define NAME_MAX_LEN 255

/* ---- operations ---- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct bf_fs *fs = userdata;

	/* The kernel queues read-ahead READs past max_background (12) where
	 * no deadline of ours runs: with more page-cache readers of a hung
	 * server than that, one read(2) waited a deadline per dozen readers
	 * ahead of it. Let as many through as may wait on the network (the
	 * gate); -o max_background still wins. */
	if (fs->max_background) {
		conn->max_background = fs->max_background;
		conn->congestion_threshold = fs->max_background * 3 / 4;
	}
	if (fs->conn_opts)
		fuse_apply_conn_info_opts(fs->conn_opts, conn);
	/* The kernel offers its limit and keeps the minimum: take all of it
	 * up to 1 MiB (the largest request libfuse 3.14 handles). */
	if (conn->max_readahead > MAX_READAHEAD)
		conn->max_readahead = MAX_READAHEAD;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* FLUSH must see all data of request.json: no write-back cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (fs->max_read)
		conn->max_read = fs->max_read;
	if (fs->splice_max && (conn->capable & FUSE_CAP_SPLICE_WRITE))
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	else if (fs->ctx)
		bf_ctx_splice(fs->ctx, 0);
	bf_log_info("mounted: max_readahead %u, max_write %u, max_read %u, "
		    "max_background %u, splice %s",
		    conn->max_readahead, conn->max_write, conn->max_read,
		    conn->max_background,
		    conn->want & FUSE_CAP_SPLICE_WRITE ? "on" : "off");
}

static void op_destroy(void *userdata)
{
	struct bf_fs *fs = userdata;

	if (fs->ctx) {
		bf_ctx_shutdown(fs->ctx);
		/* Parked reads reply through the session: before it goes. */
		bf_waitq_stop(fs->ctx);
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct bf_op o;
	struct bf_node n;
	struct bf_attr a;
	int rc;

	if (bf_op_begin(&o, req, parent, BF_RQ_READ))
		return;
	rc = bf_model_lookup(o.fs->ctx, &o.n, name, &n, &a, &o.e);
	if (rc == -ENOENT && o.fs->negative_timeout > 0) {
		struct fuse_entry_param ep = {
			.ino = 0,
			.entry_timeout = o.fs->negative_timeout,
		};

		bf_op_end();
		fuse_reply_entry(req, &ep);
	} else if (rc) {
		bf_op_fail(&o, "lookup", name, rc);
	} else {
		bf_op_end();
		bf_op_reply_entry(req, parent, name, &n, &a);
		bf_node_clear(&n);
	}
	bf_op_done(&o);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	bf_itable_forget(bf_op_fs(req)->it, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		bf_itable_forget(bf_op_fs(req)->it, forgets[i].ino,
				 forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct bf_op o;
	struct bf_attr a;
	int rc;

	if (bf_op_begin(&o, req, ino, BF_RQ_READ))
		return;
	if (bf_op_has_fh(&o.n, fi))
		rc = bf_fh_getattr(o.fs->ctx, bf_op_fh(fi), &a, &o.e);
	else
		rc = bf_model_getattr(o.fs->ctx, &o.n, &a, &o.e);
	if (rc) {
		bf_op_fail(&o, "getattr", NULL, rc);
	} else {
		bf_op_end();
		a.st.st_ino = ino;
		fuse_reply_attr(req, &a.st, a.ttl);
	}
	bf_op_done(&o);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct bf_op o;
	struct bf_attr a;
	struct bf_chattr ch;
	int rc = 0;

	if (bf_op_begin(&o, req, ino, BF_RQ_READ))
		return;
	/* chmod, chown: the model decides (EPERM unless nothing changes). */
	ch.set = (to_set & FUSE_SET_ATTR_MODE ? BF_CHATTR_MODE : 0) |
		 (to_set & FUSE_SET_ATTR_UID ? BF_CHATTR_UID : 0) |
		 (to_set & FUSE_SET_ATTR_GID ? BF_CHATTR_GID : 0);
	ch.mode = attr->st_mode;
	ch.uid = attr->st_uid;
	ch.gid = attr->st_gid;
	if (ch.set)
		rc = bf_model_chattr(o.fs->ctx, &o.n, &ch, &o.e);
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = bf_model_truncate(o.fs->ctx, &o.n, (uint64_t)attr->st_size,
				       &o.e);
	/* Times are generated: accepted and ignored, so touch and editors
	 * do not fail. */
	if (rc == 0) {
		if (bf_op_has_fh(&o.n, fi))
			rc = bf_fh_getattr(o.fs->ctx, bf_op_fh(fi), &a, &o.e);
		else
			rc = bf_model_getattr(o.fs->ctx, &o.n, &a, &o.e);
	}
	if (rc) {
		bf_op_fail(&o, "setattr", NULL, rc);
	} else {
		bf_op_end();
		a.st.st_ino = ino;
		fuse_reply_attr(req, &a.st, a.ttl);
	}
	bf_op_done(&o);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct bf_op o;
	struct bf_dir *d;
	int rc;

	if (bf_op_begin(&o, req, ino, BF_RQ_READ))
		return;
	/* One snapshot per open: offsets stay valid across readdir calls. */
	rc = bf_model_opendir(o.fs->ctx, &o.n, &d, &o.e);
	if (rc) {
		bf_op_fail(&o, "opendir", NULL, rc);
	} else {
		bf_op_end();
		fi->fh = bf_handles_add(o.fs->hs, NULL, d);
		if (!fi->fh) {
			bf_dir_free(d);
			fuse_reply_err(req, ENOMEM);
		} else if (fuse_reply_open(req, fi) != 0) {
			bf_handles_del(o.fs->hs, fi->fh);
			bf_dir_free(d);
		}
	}
	bf_op_done(&o);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	const struct bf_dir *d = bf_handle(fi->fh)->dir;
	char *buf = malloc(size ? size : 1);
	size_t pos = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (off_t i = off; i < (off_t)d->n + 2; i++) {
		const char *name;
		struct fuse_entry_param ep;
		size_t need;
		fuse_ino_t eino = 0;

		memset(&ep, 0, sizeof(ep));
		if (i < 2) {
			name = i == 0 ? "." : "..";
			ep.attr.st_mode = S_IFDIR;
			ep.attr.st_ino = i == 0 ? ino : FUSE_ROOT_ID;
		} else {
			const struct bf_dirent *de = &d->v[i - 2];

			name = de->name;
			if (plus) {
				eino = bf_itable_link(bf_op_fs(req)->it, ino,
						      name, &de->node);
				if (!eino)
					break;
				bf_op_fill_entry(&ep, eino, &de->attr);
			} else {
				ep.attr.st_mode = de->attr.st.st_mode;
				ep.attr.st_ino = (ino_t)(i + 0x100000);
			}
		}
		if (plus)
			need = fuse_add_direntry_plus(
				req, buf + pos, size - pos, name, &ep, i + 1);
		else
			need = fuse_add_direntry(req, buf + pos, size - pos,
						 name, &ep.attr, i + 1);
		if (need > size - pos) {
			if (eino)
				bf_itable_forget(bf_op_fs(req)->it, eino, 1);
			break;
		}
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct bf_handle *h = bf_handle(fi->fh);

	(void)ino;
	if (h) {
		bf_dir_free(h->dir);
		bf_handles_del(bf_op_fs(req)->hs, fi->fh);
	}
	fuse_reply_err(req, 0);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct bf_op o;
	char *target = NULL;
	int rc;

	if (bf_op_begin(&o, req, ino, BF_RQ_READ))
		return;
	rc = bf_model_readlink(o.fs->ctx, &o.n, &target, &o.e);
	if (rc)
		bf_op_fail(&o, "readlink", NULL, rc);
	else {
		bf_op_end();
		fuse_reply_readlink(req, target);
	}
	free(target);
	bf_op_done(&o);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_op o;
	struct bf_fh *fh;
	int rc;

	if (bf_op_begin(&o, req, ino, BF_RQ_READ))
		return;
	/* Only writers can submit: readers skip the /proc lookup. */
	rc = bf_model_open(o.fs->ctx, &o.n, fi->flags,
			   (fi->flags & O_ACCMODE) == O_RDONLY
				   ? fuse_req_ctx(req)->pid
				   : bf_op_caller_tgid(req),
			   &fh, &o.e);
	if (rc) {
		bf_op_fail(&o, "open", NULL, rc);
	} else {
		bf_op_end();
		if (bf_op_apply_fh_flags(req, fi, fh) != 0) {
			bf_fh_release(o.fs->ctx, fh);
			fuse_reply_err(req, ENOMEM);
		} else if (fuse_reply_open(req, fi) != 0) {
			bf_op_drop_fh(req, fi);
		}
	}
	bf_op_done(&o);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct bf_op o;
	struct bf_node n;
	struct bf_attr a;
	struct bf_fh *fh;
	int rc;

	if (bf_op_begin(&o, req, parent, BF_RQ_CHANGE))
		return;
	rc = bf_model_create(o.fs->ctx, &o.n, name, fi->flags,
			     bf_op_caller_tgid(req), &n, &a, &fh, &o.e);
	if (rc == 0)
		bf_model_created(o.fs->ctx, &n, mode, &a);
	if (rc) {
		bf_op_fail(&o, "create", name, rc);
	} else {
		struct fuse_entry_param ep;
		fuse_ino_t ino = bf_itable_link(o.fs->it, parent, name, &n);

		bf_op_end();
		if (!ino || bf_op_apply_fh_flags(req, fi, fh) != 0) {
			if (ino)
				bf_itable_forget(o.fs->it, ino, 1);
			bf_fh_release(o.fs->ctx, fh);
			fuse_reply_err(req, ENOMEM);
		} else {
			bf_op_fill_entry(&ep, ino, &a);
			if (fuse_reply_create(req, &ep, fi) != 0) {
				bf_itable_forget(o.fs->it, ino, 1);
				bf_op_drop_fh(req, fi);
			}
		}
		bf_node_clear(&n);
	}
	bf_op_done(&o);
}

/* Output bytes straight from the socket through a pipe (fs/gcs/pipe.c):
 * 1 when the request was answered, 0 to read as usual. */
static int read_spliced(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(0);
	struct bf_rpipe t;
	struct bf_err e;
	ssize_t n;

	bf_err_clear(&e);
	n = bf_fh_pipe(bf_op_fh(fi), size, (uint64_t)off, &t, &e);
	if (n < 0) {
		bf_op_fail_ino(req, ino, "read", (int)n, &e);
		return 1;
	}
	if (n == 0)
		return 0;
	bf_op_end();
	bv.buf[0].size = (size_t)n;
	bv.buf[0].flags = FUSE_BUF_IS_FD;
	bv.buf[0].fd = t.fd;
	fuse_reply_data(req, &bv, 0);
	bf_reader_pipe_done(&t);
	return 1;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct bf_err e;
	struct bf_rvec v;
	char *rbuf;
	ssize_t n;
	int rc;

	rc = bf_fuse_park_read(req, bf_op_fh(fi), size, off);
	if (rc == 0)
		return; /* a `wait`: answered when the job has finished */
	if (rc == -ESHUTDOWN) {
		/* Unmounting (or detached): a reader that retries the EINTR
		 * its wait got must not block again. */
		fuse_reply_err(req, ENOTCONN);
		return;
	}
	bf_err_clear(&e);
	rc = bf_rq_begin_read(req, ino, bf_handle(fi->fh));
	if (rc) {
		bf_err_set(&e, -rc,
			   "an earlier read of this open file timed out");
		bf_op_fail_ino(req, ino, "read", rc, &e);
		return;
	}
	if (read_spliced(req, ino, size, off, fi))
		return;
	rbuf = bf_rbuf_get(size ? size : 1);
	if (!rbuf) {
		bf_op_end();
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Read-ahead bytes go to the kernel from the blocks themselves: one
	 * copy per byte fewer than through rbuf. */
	n = bf_fh_readv(bf_op_fs(req)->ctx, bf_op_fh(fi), rbuf, size,
			(uint64_t)off, &v, &e);
	if (n < 0) {
		bf_reader_unpin(&v);
		bf_op_fail_ino(req, ino, "read", (int)n, &e);
		return;
	}
	bf_op_end();
	if (v.n)
		fuse_reply_iov(req, v.iov, v.n);
	else
		fuse_reply_buf(req, rbuf, (size_t)n);
	bf_reader_unpin(&v);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct bf_op o;
	ssize_t n;

	bf_op_begin_fh(&o, req, BF_RQ_CHANGE);
	n = bf_fh_write(o.fs->ctx, bf_op_fh(fi), buf, size, (uint64_t)off,
			&o.e);
	if (n < 0) {
		bf_op_fail_ino(req, ino, "write", (int)n, &o.e);
		return;
	}
	bf_op_end();
	fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bf_op o;
	int rc;

	bf_op_begin_fh(&o, req, BF_RQ_CHANGE);
	rc = bf_fh_flush(o.fs->ctx, bf_op_fh(fi), bf_op_caller_tgid(req), &o.e);
	if (rc) {
		bf_op_fail_ino(req, ino, "close", rc, &o.e);
		return;
	}
	bf_op_end();
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	bf_op_drop_fh(req, fi);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	/* Nothing is written back lazily; request.json submits on close. */
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct bf_op o;
	struct bf_node n;
	struct bf_attr a;
	int rc;

	(void)mode;
	if (bf_op_begin(&o, req, parent, BF_RQ_READ))
		return;
	rc = bf_model_mkdir(o.fs->ctx, &o.n, name, &n, &a, &o.e);
	if (rc) {
		bf_op_fail(&o, "mkdir", name, rc);
	} else {
		bf_op_end();
		bf_op_reply_entry(req, parent, name, &n, &a);
		bf_node_clear(&n);
	}
	bf_op_done(&o);
}

/* Symlinks, hard links and device nodes are never made here. EPERM, as
 * the tree's other refusals; ENOSYS would be remembered by the kernel. */
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		    const char *name)
{
	(void)ino;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EPERM);
}

/* rmdir and unlink: one model call, then the kernel's name goes too. */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
			 const char *op,
			 int (*model_rm)(struct bf_ctx *,
					 const struct bf_node *, const char *,
					 struct bf_err *))
{
	struct bf_op o;
	int rc;

	if (bf_op_begin(&o, req, parent, BF_RQ_CHANGE))
		return;
	rc = model_rm(o.fs->ctx, &o.n, name, &o.e);
	if (rc) {
		bf_op_fail(&o, op, name, rc);
	} else {
		bf_op_end();
		bf_itable_unlink(o.fs->it, parent, name);
		fuse_reply_err(req, 0);
	}
	bf_op_done(&o);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, "rmdir", bf_model_rmdir);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, "unlink", bf_model_unlink);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct bf_op o;
	struct bf_node np, n;
	struct bf_attr a;
	int rc;

	if (bf_op_node(&o, req, parent))
		return;
	if (bf_op_get_node(req, newparent, &np)) {
		bf_op_done(&o);
		return;
	}
	bf_op_start(&o, BF_RQ_CHANGE);
	rc = bf_model_rename(o.fs->ctx, &o.n, name, &np, newname, flags, &o.e);
	if (rc) {
		bf_op_fail(&o, "rename", name, rc);
	} else {
		struct bf_err ign;

		bf_err_clear(&ign);
		if (bf_model_lookup(o.fs->ctx, &np, newname, &n, &a, &ign) ==
		    0) {
			bf_itable_rename(o.fs->it, parent, name, newparent,
					 newname, &n);
			bf_node_clear(&n);
		} else {
			bf_itable_unlink(o.fs->it, parent, name);
			bf_itable_unlink(o.fs->it, newparent, newname);
		}
		bf_op_end();
		fuse_reply_err(req, 0);
	}
	bf_op_done(&o);
	bf_node_clear(&np);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = STATFS_BLOCK;
	sv.f_frsize = STATFS_BLOCK;
	sv.f_namemax = NAME_MAX_LEN;
	fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops bf_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.setattr = op_setattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.mkdir = op_mkdir,
	.rmdir = op_rmdir,
	.unlink = op_unlink,
	.rename = op_rename,
	.statfs = op_statfs,
	.symlink = op_symlink,
	.link = op_link,
	.mknod = op_mknod,
	/* No getxattr/listxattr: ENOSYS once and the kernel stops asking. */
};
