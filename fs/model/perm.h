/* perm.h - owner, group and modes (perm.c): the one permission rule of
 * the mount. The -o parsers are the model's (model.h). */
#ifndef BATCHFS_MODEL_PERM_H
#define BATCHFS_MODEL_PERM_H

#include <sys/stat.h>

#include "model/model.h"

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

#endif
