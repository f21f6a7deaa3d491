/* input.h - a draft's input.jsonl (input.c). */
#ifndef BATCHFS_MODEL_INPUT_H
#define BATCHFS_MODEL_INPUT_H

#include <stdint.h>
#include <sys/types.h>

#include "batchfs/err.h"

struct bf_ctx;
struct bf_mjob;

/* A draft's input.jsonl: every field guarded by the entry's lock. */
struct bf_input {
	int fd; /* unlinked temporary file, -1 when none */
	uint64_t len;
	int64_t mtime_us;
	int present;  /* created and not unlinked */
	int staged;   /* checked, keyed and uploaded as it is now */
	uint64_t gen; /* bumped by every change */
	char *uri;    /* gs:// of the staged copy */
	mode_t mode;  /* set by chmod (perm.c), 0: the natural one */
};
void bf_input_free(struct bf_input *in);
/* j->lock held: */
int bf_input_open_write(struct bf_ctx *c, struct bf_mjob *j, int trunc,
			struct bf_err *e);
int bf_input_truncate(struct bf_mjob *j, uint64_t size, struct bf_err *e);
void bf_input_unlink(struct bf_mjob *j);
/* j->lock not held: */
ssize_t bf_input_read(struct bf_mjob *j, char *buf, size_t len, uint64_t off,
		      struct bf_err *e);
ssize_t bf_input_write(struct bf_mjob *j, const char *buf, size_t len,
		       uint64_t off, struct bf_err *e);
int bf_input_stage(struct bf_ctx *c, struct bf_mjob *j, struct bf_err *e);
int bf_input_expand_request(struct bf_ctx *c, struct bf_mjob *j,
			    const char *name, const char *text, size_t len,
			    char **out, size_t *outlen, struct bf_err *e);

#endif
