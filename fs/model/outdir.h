/* outdir.h - output/: the job's output listings (outdir.c). */
#ifndef BATCHFS_MODEL_OUTDIR_H
#define BATCHFS_MODEL_OUTDIR_H

#include <stdint.h>

#include "batchfs/err.h"

struct bf_ctx;
struct bf_mjob;

struct bf_outent {
	char *name; /* file name shown */
	char *obj;  /* full object name, or the prefix for dirs */
	int is_dir;
	int mapped; /* name is not the object's own (bf_names_objname) */
	uint64_t size;
	int64_t gen;
	int64_t updated_us;
};
/* A listing: immutable once published, but for refs. */
struct bf_outlist {
	int refs;  /* atomic */
	char *sub; /* "" for output/ itself */
	int64_t fetched_ms;
	int final; /* fetched while the job was terminal: kept for good */
	size_t n;
	struct bf_outent *v;
};
struct bf_outcache;
/* Forget every listing of job j (ctl refresh). */
void bf_outdir_expire(struct bf_mjob *j);
void bf_outlist_put(struct bf_outlist *l);
const struct bf_outent *bf_outlist_find(const struct bf_outlist *l,
					const char *name);

/* The listing of output-relative directory sub (a reference). */
int bf_outdir_list(struct bf_ctx *c, struct bf_mjob *j, const char *sub,
		   struct bf_outlist **out, struct bf_err *e);
/* Latest generation and size of an object (growing files). */
int bf_outdir_stat(struct bf_ctx *c, struct bf_mjob *j, const char *obj,
		   uint64_t *size, int64_t *gen, int64_t *updated_us,
		   struct bf_err *e);
/* The listing entry of output-relative path sub ("a/b": entry "b" of the
 * listing of "a"), with that listing (a reference); -ENOENT if none. */
int bf_outdir_entry(struct bf_ctx *c, struct bf_mjob *j, const char *sub,
		    struct bf_outlist **l, const struct bf_outent **ent,
		    struct bf_err *e);
/* Bucket of the job's output directory (caller frees), NULL if none. */
char *bf_outdir_bucket(struct bf_mjob *j);

#endif
