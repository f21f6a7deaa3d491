/* kinds.c - the table of node kinds and the model's entry points, which
 * dispatch through it: one row per enum bf_kind says where the kind lives
 * (its fixed name and parent), its natural mode and which functions of the
 * file that owns it answer getattr, lookup, readdir, open, read, write,
 * flush and release. Adding a kind of file is one row here and one file. */
#include "model/kinds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "model/ctl.h"
#include "model/fh.h"
#include "model/files.h"
#include "model/gen.h"
#include "model/inbox.h"
#include "model/jobs.h"
#include "model/model.h"
#include "model/node.h"
#include "model/outbox.h"
#include "model/outtree.h"
#include "model/perm.h"
#include "model/tree.h"
#include "model/wait.h"
#include "model/wftree.h"

#define KIND(k, ...) [k] = {.kind = k, __VA_ARGS__}

/* Generated files: rendered at open, size the rendered length. */
#define GENERATED                                                              \
	.getattr = bf_gen_getattr, .open = bf_gen_open, .read = bf_fh_snap_read

static const struct bf_kind_ops kinds[] = {
	KIND(BF_K_NONE, .name = NULL),
	KIND(BF_K_ROOT, .mode = S_IFDIR | 0755, .getattr = bf_tree_getattr,
	     .lookup = bf_tree_root_lookup),
	KIND(BF_K_README, .name = "README", .parent = BF_K_ROOT,
	     .mode = S_IFREG | 0444, GENERATED, .render = bf_gen_readme),
	KIND(BF_K_JOBS, .name = "jobs", .parent = BF_K_ROOT,
	     .mode = S_IFDIR | 0755, .getattr = bf_tree_getattr,
	     .lookup = bf_tree_jobs_lookup, .readdir = bf_tree_jobs_readdir),
	KIND(BF_K_JOB, .parent = BF_K_JOBS, .mode = S_IFDIR | 0755,
	     .getattr = bf_tree_job_getattr, .lookup = bf_tree_job_lookup,
	     .readdir = bf_tree_job_readdir),
	KIND(BF_K_REQUEST, .name = "request.json", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_DRAFT | BF_KW_JOB,
	     .getattr = bf_files_req_getattr, .open = bf_files_req_open,
	     .read = bf_files_req_read, .write = bf_files_req_write,
	     .flush = bf_files_req_flush, .release = bf_files_release,
	     .truncate = bf_files_req_truncate, .render = bf_files_req_spec,
	     .render_draft = bf_files_req_text, .mode_slot = bf_files_req_mode),
	KIND(BF_K_JOBJSON, .name = "job.json", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_JOB, GENERATED,
	     .render = bf_gen_jobjson),
	KIND(BF_K_STATE, .name = "state", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_DRAFT | BF_KW_JOB,
	     GENERATED, .render = bf_gen_state,
	     .render_draft = bf_gen_state_draft),
	KIND(BF_K_PROGRESS, .name = "progress", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_JOB, GENERATED,
	     .render = bf_gen_progress),
	KIND(BF_K_ERROR, .name = "error", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_DRAFT | BF_KW_JOB,
	     GENERATED, .render = bf_gen_error,
	     .render_draft = bf_gen_error_draft),
	KIND(BF_K_CTL, .name = "ctl", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0200, .where = BF_KW_JOB,
	     .getattr = bf_gen_getattr, .open = bf_ctl_open,
	     .read = bf_fh_snap_read, .write = bf_ctl_write,
	     .truncate = bf_ctl_truncate, .render = bf_ctl_render),
	KIND(BF_K_OUTPUT, .name = "output", .parent = BF_K_JOB,
	     .mode = S_IFDIR | 0555, .where = BF_KW_JOB,
	     .getattr = bf_outtree_getattr, .lookup = bf_outtree_lookup,
	     .readdir = bf_outtree_readdir),
	KIND(BF_K_OUTDIR, .parent = BF_K_OUTPUT, .mode = S_IFDIR | 0555,
	     .getattr = bf_outtree_ent_getattr, .lookup = bf_outtree_lookup,
	     .readdir = bf_outtree_readdir),
	KIND(BF_K_OUTFILE, .parent = BF_K_OUTPUT, .mode = S_IFREG | 0444,
	     .getattr = bf_outtree_ent_getattr, .open = bf_outtree_open,
	     .read = bf_outtree_read, .pipe = bf_outtree_pipe,
	     .fgetattr = bf_outtree_fgetattr),
	KIND(BF_K_BQFILE, .name = "bigquery", .parent = BF_K_OUTPUT,
	     .mode = S_IFREG | 0444, GENERATED, .render = bf_gen_bq),
	KIND(BF_K_TEMP, .parent = BF_K_JOB, .mode = BF_DRAFT_FILE_MODE,
	     .getattr = bf_files_temp_getattr, .open = bf_files_temp_open,
	     .read = bf_files_temp_read, .write = bf_files_temp_write,
	     .truncate = bf_files_temp_truncate,
	     .mode_slot = bf_files_temp_mode),
	KIND(BF_K_INPUT, .name = "input.jsonl", .parent = BF_K_JOB,
	     .mode = BF_DRAFT_FILE_MODE, .where = BF_KW_DRAFT,
	     .getattr = bf_files_input_getattr, .open = bf_files_input_open,
	     .read = bf_files_input_read, .write = bf_files_input_write,
	     .flush = bf_files_input_flush, .release = bf_files_release,
	     .truncate = bf_files_input_truncate,
	     .mode_slot = bf_files_input_mode),
	KIND(BF_K_WAIT, .name = "wait", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_JOB | BF_KW_UNLISTED,
	     .getattr = bf_wait_getattr, .open = bf_wait_open,
	     .read = bf_wait_read),
	KIND(BF_K_RESULTS, .name = "results", .parent = BF_K_JOB,
	     .mode = S_IFDIR | 0555, .where = BF_KW_JOB,
	     .getattr = bf_wftree_results_getattr,
	     .lookup = bf_wftree_results_lookup,
	     .readdir = bf_wftree_results_readdir),
	KIND(BF_K_RESFILE, .parent = BF_K_RESULTS, .mode = S_IFREG | 0444,
	     .getattr = bf_wftree_resfile_getattr,
	     .open = bf_wftree_resfile_open, .read = bf_wftree_resfile_read),
	KIND(BF_K_BYID, .name = "by-id", .parent = BF_K_ROOT,
	     .mode = S_IFDIR | 0555, .getattr = bf_tree_getattr,
	     .lookup = bf_wftree_byid_lookup,
	     .readdir = bf_wftree_byid_readdir),
	KIND(BF_K_LINK, .parent = BF_K_BYID, .mode = S_IFLNK | 0777,
	     .getattr = bf_wftree_link_getattr, .readlink = bf_wftree_readlink),
	KIND(BF_K_INBOX, .name = "inbox", .parent = BF_K_ROOT,
	     .mode = S_IFDIR | 0755, .getattr = bf_inbox_getattr,
	     .lookup = bf_inbox_lookup, .readdir = bf_inbox_readdir),
	KIND(BF_K_INFILE, .parent = BF_K_INBOX, .mode = BF_DRAFT_FILE_MODE,
	     .getattr = bf_inbox_file_getattr, .open = bf_files_input_open,
	     .read = bf_files_input_read, .write = bf_files_input_write,
	     .flush = bf_inbox_file_flush, .release = bf_files_release,
	     .truncate = bf_files_input_truncate,
	     .mode_slot = bf_files_input_mode),
	KIND(BF_K_INERR, .parent = BF_K_INBOX, .mode = S_IFREG | 0444,
	     .getattr = bf_inbox_err_getattr, .open = bf_inbox_err_open,
	     .read = bf_fh_snap_read),
	KIND(BF_K_OUTBOX, .name = "outbox", .parent = BF_K_ROOT,
	     .mode = S_IFDIR | 0555, .getattr = bf_outbox_getattr,
	     .lookup = bf_outbox_lookup, .readdir = bf_outbox_readdir),
	KIND(BF_K_OBXFILE, .parent = BF_K_OUTBOX, .mode = S_IFREG | 0444,
	     .getattr = bf_outbox_file_getattr, .open = bf_outbox_file_open,
	     .read = bf_outbox_file_read),
	KIND(BF_K_OBXERR, .parent = BF_K_OUTBOX, .mode = S_IFREG | 0444,
	     .getattr = bf_outbox_file_getattr, .open = bf_outbox_file_open,
	     .read = bf_outbox_file_read),
	KIND(BF_K_SUCCESS, .name = "_SUCCESS", .parent = BF_K_JOB,
	     .mode = S_IFREG | 0444, .where = BF_KW_JOB, GENERATED,
	     .render = bf_gen_success),
};
#define NKINDS (sizeof(kinds) / sizeof(*kinds))
_Static_assert(NKINDS == BF_K_SUCCESS + 1,
	       "one row per kind, BF_K_SUCCESS last");

const struct bf_kind_ops *bf_kind_ops(enum bf_kind k)
{
	return (size_t)k < NKINDS ? &kinds[k] : &kinds[BF_K_NONE];
}

int bf_kind_is_dir(enum bf_kind k)
{
	return S_ISDIR(bf_kind_ops(k)->mode);
}

enum bf_kind bf_kind_child(enum bf_kind parent, const char *name)
{
	for (size_t i = 1; i < NKINDS; i++)
		if (kinds[i].parent == parent && kinds[i].name &&
		    strcmp(kinds[i].name, name) == 0)
			return kinds[i].kind;
	return BF_K_NONE;
}

/* ---- the tree ---- */

/* The path of kind k's node n below the root: its parents' names, then
 * its own (fixed, the job's, or sub). */
static void path_of(struct bf_ctx *c, enum bf_kind k, const struct bf_node *n,
		    struct bf_buf *b)
{
	const struct bf_kind_ops *o = bf_kind_ops(k);
	char *name = NULL;

	if (k == BF_K_ROOT || k == BF_K_NONE)
		return;
	path_of(c, o->parent, n, b);
	if (b->len)
		bf_buf_puts(b, "/");
	if (o->name) {
		bf_buf_puts(b, o->name);
		return;
	}
	if (k != BF_K_JOB) {
		bf_buf_puts(b, n->sub ? n->sub : "");
		return;
	}
	if (n->job)
		name = bf_mjob_name(c, n->job);
	if (!name && n->job && n->job->id[0])
		name = strdup(n->job->id);
	bf_buf_puts(b, name ? name : "?");
	free(name);
}

void bf_node_path(struct bf_ctx *c, const struct bf_node *n, char *out,
		  size_t len)
{
	struct bf_buf b;

	bf_buf_init(&b, 0);
	path_of(c, n->kind, n, &b);
	snprintf(out, len, "%s",
		 n->kind == BF_K_ROOT ? "/"
		 : b.data	      ? b.data
				      : "?");
	bf_buf_free(&b);
}

int bf_model_getattr(struct bf_ctx *c, const struct bf_node *n,
		     struct bf_attr *a, struct bf_err *e)
{
	const struct bf_kind_ops *k = bf_kind_ops(n->kind);

	if (!k->getattr)
		return bf_err_set(e, ENOENT, "unknown node");
	return k->getattr(c, k, n, a, e);
}

int bf_model_lookup(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, struct bf_node *out, struct bf_attr *a,
		    struct bf_err *e)
{
	const struct bf_kind_ops *k = bf_kind_ops(parent->kind);
	enum bf_kind fixed = bf_kind_child(parent->kind, name);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!k->lookup)
		return bf_err_set(e, ENOTDIR, "not a directory");
	rc = k->lookup(c, k, parent, name, fixed ? bf_kind_ops(fixed) : NULL,
		       out, e);
	if (rc) {
		bf_node_clear(out);
		return rc;
	}
	rc = bf_model_getattr(c, out, a, e);
	if (rc)
		bf_node_clear(out);
	return rc;
}

/* The children the table names under n, in its order: those that exist. */
static int list_fixed(struct bf_ctx *c, const struct bf_node *n,
		      struct bf_dir *d, size_t *cap, struct bf_err *e)
{
	int rc = 0;

	for (size_t i = 1; i < NKINDS && rc == 0; i++) {
		const struct bf_kind_ops *ch = &kinds[i];
		struct bf_node node;
		struct bf_attr a;

		if (ch->parent != n->kind || !ch->name ||
		    (ch->where & BF_KW_UNLISTED))
			continue;
		rc = bf_model_lookup(c, n, ch->name, &node, &a, e);
		if (rc == -ENOENT) {
			/* not here now (a draft's, renamed away, ...) */
			bf_err_clear(e);
			rc = 0;
			continue;
		}
		if (rc == 0 && node.kind == ch->kind) {
			rc = bf_node_dir_add(d, cap, ch->name, &node, &a);
			if (rc)
				rc = bf_err_set(e, -rc, "out of memory");
		}
		bf_node_clear(&node);
	}
	return rc;
}

int bf_model_opendir(struct bf_ctx *c, const struct bf_node *n,
		     struct bf_dir **out, struct bf_err *e)
{
	const struct bf_kind_ops *k = bf_kind_ops(n->kind);
	struct bf_dir *d;
	size_t cap = 0;
	int rc;

	*out = NULL;
	if (!S_ISDIR(k->mode) || !k->lookup)
		return bf_err_set(e, ENOTDIR, "not a directory");
	d = calloc(1, sizeof(*d));
	if (!d)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = list_fixed(c, n, d, &cap, e);
	if (rc == 0 && k->readdir)
		rc = k->readdir(c, k, n, d, &cap, e);
	if (rc) {
		bf_dir_free(d);
		return rc < 0 ? rc : -ENOMEM;
	}
	*out = d;
	return 0;
}

int bf_model_readlink(struct bf_ctx *c, const struct bf_node *n, char **out,
		      struct bf_err *e)
{
	const struct bf_kind_ops *k = bf_kind_ops(n->kind);

	*out = NULL;
	if (!k->readlink || !n->job)
		return bf_err_set(e, EINVAL, "not a symbolic link");
	return k->readlink(c, n, out, e);
}

int bf_model_truncate(struct bf_ctx *c, const struct bf_node *n, uint64_t size,
		      struct bf_err *e)
{
	const struct bf_kind_ops *k = bf_kind_ops(n->kind);

	if (S_ISDIR(k->mode))
		return bf_err_set(e, EISDIR, "is a directory");
	if (!k->truncate)
		return bf_err_set(e, EACCES, "read-only file");
	return k->truncate(c, n, size, e);
}

/* ---- open files ---- */

int bf_model_open(struct bf_ctx *c, const struct bf_node *n, int flags,
		  pid_t opener_tgid, struct bf_fh **out, struct bf_err *e)
{
	const struct bf_kind_ops *k = bf_kind_ops(n->kind);
	struct bf_fh *fh;
	int rc;

	*out = NULL;
	if (S_ISDIR(k->mode))
		return bf_err_set(e, EISDIR, "is a directory");
	if (!k->open)
		return bf_err_set(e, ENOENT, "unknown node");
	fh = bf_fh_new(k, n);
	if (!fh)
		return bf_err_set(e, ENOMEM, "out of memory");
	fh->writer = (flags & O_ACCMODE) != O_RDONLY;
	fh->opener = opener_tgid;
	rc = k->open(c, fh, flags, e);
	if (rc) {
		bf_fh_free(fh);
		return rc;
	}
	*out = fh;
	return 0;
}

ssize_t bf_fh_read(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		   uint64_t off, struct bf_err *e)
{
	return fh->k->read(c, fh, buf, len, off, NULL, e);
}

ssize_t bf_fh_readv(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		    uint64_t off, struct bf_rvec *v, struct bf_err *e)
{
	v->r = NULL;
	v->n = 0;
	return fh->k->read(c, fh, buf, len, off, v, e);
}

ssize_t bf_fh_pipe(struct bf_fh *fh, size_t len, uint64_t off,
		   struct bf_rpipe *t, struct bf_err *e)
{
	t->r = NULL;
	return fh->k->pipe ? fh->k->pipe(fh, len, off, t, e) : 0;
}

ssize_t bf_fh_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
		    size_t len, uint64_t off, struct bf_err *e)
{
	if (!fh->writer || !fh->k->write)
		return bf_err_set(e, EBADF, "not open for writing");
	return fh->k->write(c, fh, buf, len, off, e);
}

int bf_fh_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
		struct bf_err *e)
{
	if (!fh->writer || !fh->k->flush)
		return 0;
	return fh->k->flush(c, fh, tgid, e);
}

int bf_fh_getattr(struct bf_ctx *c, struct bf_fh *fh, struct bf_attr *a,
		  struct bf_err *e)
{
	if (fh->k->fgetattr)
		return fh->k->fgetattr(c, fh, a, e);
	return bf_model_getattr(c, &fh->node, a, e);
}

void bf_fh_release(struct bf_ctx *c, struct bf_fh *fh)
{
	if (fh->k->release) {
		char path[512];

		bf_node_path(c, &fh->node, path, sizeof(path));
		fh->k->release(c, fh, path);
	}
	bf_fh_free(fh);
}
