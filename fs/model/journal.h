/* journal.h - creates in flight, on disk (journal.c). */
#ifndef BATCHFS_MODEL_JOURNAL_H
#define BATCHFS_MODEL_JOURNAL_H

#include <stdint.h>

#include "batchfs/err.h"
#include "model/names.h"

struct bf_journal;
struct bf_jentry {
	char name[BF_NAME_MAX + 1]; /* the job directory */
	char token[64];		    /* client token label */
	char hash[65];		    /* sha256 of the create body, hex */
	int64_t deadline_ms;	    /* wall clock: no job appears after */
};
/* The journal of project+location+endpoint below state_dir (made 0700);
 * NULL when state_dir is unset or unusable (logged). */
struct bf_journal *bf_journal_open(const char *state_dir, const char *project,
				   const char *location, const char *endpoint);
void bf_journal_free(struct bf_journal *jn);
const char *bf_journal_dir(const struct bf_journal *jn);
void bf_journal_hash(const char *body, char out[65]);
/* Writes en atomically and durably (tmp, fsync, rename, fsync dir). */
int bf_journal_put(struct bf_journal *jn, const struct bf_jentry *en,
		   struct bf_err *e);
void bf_journal_drop(struct bf_journal *jn, const char *token);
/* Up to max entries for directory name; their count. */
int bf_journal_find(struct bf_journal *jn, const char *name,
		    struct bf_jentry *out, size_t max);

#endif
