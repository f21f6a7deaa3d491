/* jobs.h - the job table and its entries (jobs.c). */
#ifndef BATCHFS_MODEL_JOBS_H
#define BATCHFS_MODEL_JOBS_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "batchfs/err.h"
#include "batchfs/vertex.h"

struct bf_ctx;
struct bf_draft;
struct bf_outcache;
struct bf_rescache;

#define BF_MJOB_HOOKS 4
/* A job directory: a job of the listing or a draft of this mount. Each
 * field says what guards it: "table" is the jobs table lock, "lock" this
 * entry's lock; "both": changed under both, read under either. */
struct bf_mjob {
	int refs;	      /* atomic */
	pthread_mutex_t lock; /* immutable after creation */
	pthread_cond_t cond;  /* a fetch landed (lock) */
	char id[24];	      /* "" while a draft (both) */
	char *name;	      /* directory name (table) */
	int draft;	      /* not accepted yet (both) */
	int gone;	      /* deleted or vanished (lock) */
	int local;	      /* created through this mount (both) */
	int submitting;	      /* a submit is in flight (lock) */
	struct bf_job job;    /* last fetched, valid when have_job (lock) */
	int have_job;	      /* (lock) */
	int64_t fetched_ms;   /* last refresh, or last failed one (lock) */
	int64_t confirmed_ms; /* last time the service sent this job (lock) */
	int want_get; /* missing from a list of unfinished jobs (lock) */
	int fetching; /* a get is in flight (lock) */
	/* Why the last submission failed (draft), or the last ctl command
	 * or rmdir (job); shown in `error`; NULL when it succeeded (lock). */
	char *submit_err;
	/* draft.c's: set before the entry is shared, then immutable (its
	 * fields: see struct bf_draft). */
	struct bf_draft *d;
	struct bf_outcache *out; /* outdir.c's: made on first use (lock) */
	int64_t ctime_us;	 /* directory times (immutable) */
	uint64_t seen;		 /* listing pass that last saw it (table) */
	int64_t keep_until_ms;	 /* local jobs outlive listings until (both) */
	int listed;		 /* a listing showed it (table) */
	int verify;		 /* local, unlisted: GET it (table) */
	uint64_t fetch_gen;	 /* bumped when a fetch lands (lock) */
	int fetch_rc;		 /* its outcome, for its waiters (lock) */
	struct bf_err fetch_err; /* (lock) */
	struct bf_rescache *res; /* resdir.c's: made on first use (lock) */
	/* How the state above is freed, attached by its owner
	 * (bf_mjob_attach): the last bf_mjob_put calls them (lock, or
	 * before the entry is shared). */
	struct {
		void *p;
		void (*free)(void *p);
	} hooks[BF_MJOB_HOOKS];
	int nhooks;
};
/* Hangs state another file owns on j, freed with it by free_fn (j->lock
 * held, or j not shared yet); -ENOMEM when all BF_MJOB_HOOKS are taken. */
int bf_mjob_attach(struct bf_mjob *j, void *p, void (*free_fn)(void *));

/* The table. Every field but the first two and plan is guarded by lock;
 * the listing's fields (listed_ms .. last_err) are listing.c's. */
struct bf_jobs {
	pthread_mutex_t lock; /* immutable after creation */
	pthread_cond_t cond;  /* a listing pass ended */
	struct bf_mjob **v;   /* the entries, one reference each */
	size_t n, cap;
	struct bf_hmap *by_name, *by_id;
	/* Names that a job of this mount's listing had and lost (it was
	 * deleted): not given to another job while the mount lives. */
	char **retired;
	size_t nretired, capretired;
	int64_t listed_ms; /* 0: never listed or invalidated */
	int have_listing;  /* one pass succeeded at least once */
	int listing;	   /* a pass is in flight */
	uint64_t pass;	   /* bumped by every pass that landed */
	int last_rc;	   /* the last pass's outcome, for its waiters */
	struct bf_err last_err;
	int64_t outage_ms; /* a listing or job fetch last timed out then */
	/* Asked before a due refresh (refresh.c's, set by ctx.c before the
	 * mount serves; immutable after); NULL: go. */
	int (*plan)(struct bf_ctx *c, struct bf_mjob *j);
};

struct bf_jobs *bf_jobs_new(void);
/* The table's primitives for listing.c (t->lock held). */
struct bf_mjob *bf_mjob__new(void);
int bf_jobs__add(struct bf_jobs *t, struct bf_mjob *j);
/* Drops entry i; keep_name: its name is not given to another job. */
void bf_jobs__drop_at(struct bf_jobs *t, size_t i, int keep_name);
/* mkdir of a retired name: this mount's own doing, so it may have it. */
void bf_jobs__unretire(struct bf_jobs *t, const char *name);
/* Names the entries that have none yet (a name never changes meaning). */
int bf_jobs__rename(struct bf_jobs *t);

void bf_jobs_free(struct bf_jobs *t);

struct bf_mjob *bf_mjob_get(struct bf_mjob *j);
void bf_mjob_put(struct bf_mjob *j);

/* Makes the cached job fresh enough (refresh interval; terminal: never
 * again; force: now). Single flight per job. */
int bf_mjob_fresh(struct bf_ctx *c, struct bf_mjob *j, int force,
		  struct bf_err *e);
enum { BF_PLAN_GO, BF_PLAN_STALE };
/* Sets what a due, non-forced refresh asks first (refresh.c's plan):
 * BF_PLAN_STALE to serve the cache as it is, BF_PLAN_GO to go on. */
void bf_jobs_set_plan(struct bf_jobs *t,
		      int (*plan)(struct bf_ctx *c, struct bf_mjob *j));
/* Drops the entry from the table (rmdir, deleted job). */
void bf_jobs_remove(struct bf_ctx *c, struct bf_mjob *j);
/* A draft's create succeeded: the entry becomes the job (moves *created). */
void bf_jobs_accept(struct bf_ctx *c, struct bf_mjob *j,
		    struct bf_job *created);
/* Current directory name of j (caller frees), NULL when gone. */
char *bf_mjob_name(struct bf_ctx *c, struct bf_mjob *j);
/* Marks the listing stale so the next access lists again. */
void bf_jobs_invalidate(struct bf_ctx *c);
/* Notes that a call timed out (rc -ETIMEDOUT): for one refresh interval
 * requests with a cached copy show it without asking again. */
void bf_jobs_outage(struct bf_ctx *c, int rc);
/* The entry of job id (a reference), NULL if none. */
struct bf_mjob *bf_jobs_find_id(struct bf_ctx *c, const char *id);
/* Calls fn on every entry, table lock held (fn may take entry locks). */
void bf_jobs_foreach(struct bf_ctx *c, void (*fn)(void *ud, struct bf_mjob *j),
		     void *ud);
/* A copy of the job from a list: taken (moved) unless a fetch is in flight
 * or the cache is newer. */
void bf_mjob_offer(struct bf_mjob *j, struct bf_job *nj, int64_t now_ms);
/* Milliseconds the shown copy of a running job has not been confirmed by
 * the service beyond the refresh interval; 0 when fresh (j->lock held). */
int64_t bf_mjob_stale_ms(struct bf_ctx *c, struct bf_mjob *j);

/* Jobs a list call hands out, taken in order (list callbacks). */
struct bf_jobvec {
	struct bf_job *v;
	size_t n, cap;
};
/* Moves *job to the end of v (job is left zeroed); -ENOMEM. */
int bf_jobvec_take(struct bf_jobvec *v, struct bf_job *job);
void bf_jobvec_free(struct bf_jobvec *v);

/* A failure worth hiding behind cached data (the service is down or slow),
 * unlike a refusal (EACCES) or an interruption. */
static inline int bf_transient(int rc)
{
	return rc == -EIO || rc == -ETIMEDOUT || rc == -EAGAIN;
}
/* Is the job (with its cached state) finished for good? */
int bf_mjob_terminal(struct bf_mjob *j); /* j->lock held */

#endif
