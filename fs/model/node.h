/* node.h - node, attribute and directory-snapshot basics (node.c): the
 * bottom of the tree's files; it calls nothing above it. */
#ifndef BATCHFS_MODEL_NODE_H
#define BATCHFS_MODEL_NODE_H

#include "model/model.h"

struct bf_ctx;
struct bf_mjob;

/* a's attributes for natural mode `mode` (owner, group and umask of the
 * mount applied); mtime_us <= 0: the mount's start. */
void bf_node_attr(struct bf_ctx *c, struct bf_attr *a, mode_t mode,
		  uint64_t size, int64_t mtime_us, double ttl);
/* Appends an entry to a directory snapshot (moves *node); 0 or -ENOMEM. */
int bf_node_dir_add(struct bf_dir *d, size_t *cap, const char *name,
		    struct bf_node *node, const struct bf_attr *a);
/* "a/b" from a ("" or NULL: just b) and b; caller frees, NULL: no memory. */
char *bf_node_join(const char *a, const char *b);
/* Cache lifetime and mtime of the nodes of job j (j->lock held). */
double bf_node_ttl(struct bf_ctx *c, struct bf_mjob *j);
int64_t bf_node_mtime(struct bf_mjob *j);

#endif
