/* model_int.h - the model's private declarations, shared by its files only:
 * the headers of the files that have one, and the rest. */
#ifndef BATCHFS_MODEL_INT_H
#define BATCHFS_MODEL_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/vertex.h"
#include "model/budget.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/hmap.h"
#include "model/input.h"
#include "model/jobs.h"
#include "model/journal.h"
#include "model/model.h"
#include "model/names.h"
#include "model/outdir.h"
#include "model/refresh.h"
#include "model/resdir.h"
#include "model/validate.h"

/* ---- render.c ---- */
int bf_render_state(const struct bf_job *j, struct bf_buf *b);
int bf_render_progress(const struct bf_job *j, struct bf_buf *b);
int bf_render_error(const struct bf_job *j, struct bf_buf *b);
int bf_render_jobjson(const struct bf_job *j, struct bf_buf *b);
int bf_render_spec(const struct bf_job *j, struct bf_buf *b);
int bf_render_readme(const struct bf_model_opts *o, struct bf_buf *b);
int bf_render_bq(const struct bf_job *j, struct bf_buf *b);

/* ---- waitfile.c ---- */
/* progress with a bar, elapsed time and (running) the time left. */
/* As bf_render_progress_at; rows >= 0 is the number of output rows already
 * exported, shown when the service reports no counts. */
int bf_render_progress_rows(const struct bf_job *j, int64_t now_us,
			    int64_t rows, struct bf_buf *b);
int bf_render_progress_at(const struct bf_job *j, int64_t now_us,
			  struct bf_buf *b);
/* waitq.c */
struct bf_waitq;
struct bf_waitq *bf_waitq_new(void);
void bf_waitq_free(struct bf_waitq *q);
/* files.c, for waitq.c: the job of a `wait` handle not yet answered (a
 * reference), else NULL; and giving such a handle its final state line. */
struct bf_mjob *bf_fh_wait_job(struct bf_fh *fh);
int bf_fh_wait_settle(struct bf_fh *fh, const struct bf_buf *st);
/* waitfile.c: one look at a job someone waits for: 1 when it has finished
 * (its state line in b), 0 when not yet (or the service is slow or down:
 * look again later), -errno (ENOENT: the job is gone). */
int bf_wait_check(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e);
/* Blocks, looking every `refresh`, until bf_wait_check says finished. */
int bf_wait_job(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		struct bf_err *e);

/* ---- wftree.c: input.jsonl, wait, results/, by-id/ ---- */
int bf_wf_kind(enum bf_kind k);
int bf_wf_getattr(struct bf_ctx *c, const struct bf_node *n, struct bf_attr *a,
		  struct bf_err *e);
/* Children of results/ and by-id/: fills out's kind, job and sub. */
int bf_wf_lookup(struct bf_ctx *c, const struct bf_node *parent,
		 const char *name, struct bf_node *out, struct bf_err *e);
int bf_wf_opendir(struct bf_ctx *c, const struct bf_node *n, struct bf_dir *d,
		  size_t *cap, struct bf_err *e);

/* ---- perm.c: owner, group and modes ---- */
/* The mode a node of natural mode `natural` shows: natural & ~umask. */
mode_t bf_perm_mode(const struct bf_model_opts *o, mode_t natural);
/* st's mode, uid and gid for a node of natural mode `natural`. */
void bf_perm_fill(const struct bf_model_opts *o, struct stat *st,
		  mode_t natural);
/* The files a user writes in a draft (request.json, input.jsonl, scratch
 * files) keep the mode chmod gives them, within their natural 0644 and the
 * umask: the mode of one whose stored mode is `stored` (0: none). */
#define BF_DRAFT_FILE_MODE (S_IFREG | 0644)
static inline mode_t bf_perm_draft(mode_t stored)
{
	return stored ? stored : BF_DRAFT_FILE_MODE;
}
/* Whether want may be applied to a node of kind with attributes cur: 0
 * when it asks for nothing the node does not have, 1 when the node keeps
 * modes (settable) and want's mode is within its natural mode and the
 * umask (then store it), else -EPERM. */
int bf_perm_chattr(const struct bf_model_opts *o, enum bf_kind kind,
		   const struct stat *cur, int settable,
		   const struct bf_chattr *want, struct bf_err *e);

/* ---- tree.c ---- */
/* Appends an entry to a directory snapshot (moves *node). */
int bf_dir_add(struct bf_dir *d, size_t *cap, const char *name,
	       struct bf_node *node, const struct bf_attr *a);
void bf_attr_fill(struct bf_ctx *c, struct bf_attr *a, mode_t mode,
		  uint64_t size, int64_t mtime_us, double ttl);
/* Content of a generated file now (fetching the job if due). */
int bf_render_node(struct bf_ctx *c, const struct bf_node *n, struct bf_buf *b,
		   struct bf_err *e);
#define BF_MAX_TMPFILES 64
/* Is name one of the files batchfs generates in a job directory? */
int child_is_reserved(const char *name);

/* files.c: keeps, for `error`, why operation OP on job j failed (rc < 0,
 * reason in e), or forgets the last failure (rc == 0). Takes j->lock. */
void bf_mjob_note_op(struct bf_mjob *j, const char *op, int rc,
		     const struct bf_err *e);

#endif
