/* files.h - a draft's own files: request.json, input.jsonl and scratch
 * files (files.c): handlers. */
#ifndef BATCHFS_MODEL_FILES_H
#define BATCHFS_MODEL_FILES_H

#include <sys/types.h>

#include "model/model.h"

struct bf_buf;
struct bf_kind_ops;
struct bf_mjob;

/* A scratch file's attributes (also for listing a job's directory). */
int bf_files_temp_attr(struct bf_ctx *c, const struct bf_node *n,
		       struct bf_attr *a, struct bf_err *e);

/* Handlers (kinds.c) */
void bf_files_release(struct bf_ctx *c, struct bf_fh *fh, const char *path);
mode_t *bf_files_req_mode(struct bf_mjob *j, const struct bf_node *n);
mode_t *bf_files_input_mode(struct bf_mjob *j, const struct bf_node *n);
mode_t *bf_files_temp_mode(struct bf_mjob *j, const struct bf_node *n);
int bf_files_req_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			 const struct bf_node *n, struct bf_attr *a,
			 struct bf_err *e);
int bf_files_req_spec(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		      struct bf_err *e);
int bf_files_req_text(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		      struct bf_err *e);
int bf_files_req_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		      struct bf_err *e);
ssize_t bf_files_req_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			  size_t len, uint64_t off, struct bf_rvec *v,
			  struct bf_err *e);
ssize_t bf_files_req_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
			   size_t len, uint64_t off, struct bf_err *e);
int bf_files_req_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
		       struct bf_err *e);
int bf_files_req_truncate(struct bf_ctx *c, const struct bf_node *n,
			  uint64_t size, struct bf_err *e);
int bf_files_temp_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			  const struct bf_node *n, struct bf_attr *a,
			  struct bf_err *e);
int bf_files_temp_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
		       struct bf_err *e);
ssize_t bf_files_temp_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			   size_t len, uint64_t off, struct bf_rvec *v,
			   struct bf_err *e);
ssize_t bf_files_temp_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
			    size_t len, uint64_t off, struct bf_err *e);
int bf_files_temp_truncate(struct bf_ctx *c, const struct bf_node *n,
			   uint64_t size, struct bf_err *e);
int bf_files_input_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e);
int bf_files_input_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
			struct bf_err *e);
ssize_t bf_files_input_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			    size_t len, uint64_t off, struct bf_rvec *v,
			    struct bf_err *e);
ssize_t bf_files_input_write(struct bf_ctx *c, struct bf_fh *fh,
			     const char *buf, size_t len, uint64_t off,
			     struct bf_err *e);
int bf_files_input_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
			 struct bf_err *e);
int bf_files_input_truncate(struct bf_ctx *c, const struct bf_node *n,
			    uint64_t size, struct bf_err *e);

#endif
