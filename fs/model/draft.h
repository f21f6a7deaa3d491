/* draft.h - drafts made by mkdir and their submission (draft.c). */
#ifndef BATCHFS_MODEL_DRAFT_H
#define BATCHFS_MODEL_DRAFT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "model/input.h"

struct bf_ctx;
struct bf_mjob;

/* A scratch file of a draft; all of it guarded by the entry's lock. */
struct bf_tmpfile {
	char *name;
	struct bf_buf data;
	int64_t mtime_us;
	mode_t mode; /* set by chmod (perm.c), 0: the natural one */
	struct bf_tmpfile *next;
};
/* A draft (struct bf_mjob's d). "lock": the entry's lock. */
struct bf_draft {
	struct bf_buf req;	/* request.json as written (lock) */
	int64_t req_mtime_us;	/* (lock) */
	struct bf_tmpfile *tmp; /* scratch files: editors, install (lock) */
	char token[64];		/* client token, one per draft (immutable) */
	int sent;	/* a create may have reached the server (submit_lock) */
	int64_t sent_until_ms; /* wall clock: its job may appear until (submit_lock) */
	int req_absent; /* request.json unlinked or renamed away (lock) */
	mode_t req_mode; /* request.json's, set by chmod; 0: natural (lock) */
	struct bf_input in; /* input.jsonl, -o staging (lock) */
	/* "NAME.jsonl" when made by inbox/NAME.jsonl (inbox.c): its bytes go
	 * to input.jsonl and messages name it; NULL: mkdir's (lock) */
	char *inbox;
	/* Serialises submits and staging of this draft; held across the
	 * network, taken before the entry's lock. Immutable after creation. */
	pthread_mutex_t submit_lock;
};

/* mkdir: a draft entry named name (as bf_listing_add_draft). */
int bf_draft_add(struct bf_ctx *c, const char *name, struct bf_mjob **out,
		 struct bf_err *e);
/* Submits text as the draft's create body; records the outcome in j before
 * returning. */
int bf_draft_submit(struct bf_ctx *c, struct bf_mjob *j, const char *text,
		    size_t len, struct bf_err *e);
struct bf_tmpfile *bf_draft_tmp_find(struct bf_draft *d, const char *name);

#endif
