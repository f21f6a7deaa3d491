/* resdir.h - results/: the result sets of a job (resdir.c). */
#ifndef BATCHFS_MODEL_RESDIR_H
#define BATCHFS_MODEL_RESDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batchfs/err.h"

struct bf_ctx;
struct bf_mjob;

struct bf_resset;
struct bf_rescache;
/* Distinct output rows seen by the last results/ computation; -1 when
 * none was made. Lock-free (a counter), for progress. */
int64_t bf_resdir_rows_seen(struct bf_rescache *rc);
/* The job's current result set (a reference; bf_resset_put). */
int bf_resdir_get(struct bf_ctx *c, struct bf_mjob *j, struct bf_resset **out,
		  struct bf_err *e);
void bf_resset_put(struct bf_resset *s);
int bf_resset_final(const struct bf_resset *s);
int64_t bf_resset_mtime(const struct bf_resset *s);
/* 0 and the size when the set has that file, -ENOENT otherwise. */
int bf_resset_file(const struct bf_resset *s, const char *name, uint64_t *size);
/* Its file names (at most 5), README first when there is one. */
size_t bf_resset_names(const struct bf_resset *s, const char **v);
ssize_t bf_resset_read(const struct bf_resset *s, const char *name, char *buf,
		       size_t len, uint64_t off, struct bf_err *e);

#endif
