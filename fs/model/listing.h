/* listing.h - the project's jobs as the table shows them (listing.c). */
#ifndef BATCHFS_MODEL_LISTING_H
#define BATCHFS_MODEL_LISTING_H

#include <stddef.h>

#include "batchfs/err.h"

struct bf_ctx;
struct bf_mjob;

/* Fresh-enough listing (TTL), then the entry named name (a reference). */
int bf_listing_lookup(struct bf_ctx *c, const char *name, struct bf_mjob **out,
		      struct bf_err *e);
/* The listing as references and names (caller frees names and puts). */
struct bf_jobref {
	struct bf_mjob *job;
	char *name;
};
int bf_listing_refs(struct bf_ctx *c, struct bf_jobref **out, size_t *n,
		    struct bf_err *e);
void bf_listing_refs_free(struct bf_jobref *v, size_t n);
/* mkdir: a draft named name, -EEXIST when taken; init (draft.c) gives the
 * entry its draft before it is shared. */
int bf_listing_add_draft(struct bf_ctx *c, const char *name,
			 int (*init)(struct bf_mjob *j), struct bf_mjob **out,
			 struct bf_err *e);

#endif
