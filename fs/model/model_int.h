/* model_int.h - the model's private structures, shared by its files only. */
#ifndef BATCHFS_MODEL_INT_H
#define BATCHFS_MODEL_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/vertex.h"
#include "model/model.h"

struct bf_http;
struct bf_auth;
struct bf_gcs;
struct bf_reader_pool;

/* ---- hmap.c: string -> pointer map ---- */
struct bf_hmap;
struct bf_hmap *bf_hmap_new(void);
void bf_hmap_free(struct bf_hmap *m);
void *bf_hmap_get(const struct bf_hmap *m, const char *key);
int bf_hmap_put(struct bf_hmap *m, const char *key, void *val); /* replaces */
void bf_hmap_del(struct bf_hmap *m, const char *key);
void bf_hmap_clear(struct bf_hmap *m);

/* ---- names.c ---- */
#define BF_NAME_MAX 255
/* displayName -> safe directory name base, at most max bytes (UTF-8 kept
 * whole). Caller frees. */
char *bf_name_sanitize(const char *display, size_t max);
struct bf_name_in {
	const char *display; /* job displayName (may be NULL) */
	int64_t create_us;
	const char *id;	   /* decimal id; "" for drafts */
	const char *fixed; /* non-NULL: this name is already held (drafts) */
	char *out;	   /* result, caller frees */
};
/* Assigns unique directory names: fixed names first, then per sanitized
 * name the oldest job keeps NAME and the others get NAME~ID. */
int bf_names_assign(struct bf_name_in *v, size_t n);
/* One path segment of an object name -> a safe file name; identity for
 * ordinary names, otherwise sanitized plus "~" and a 32-bit hash of the
 * original (names that already end like that are mapped too), so the
 * mapping is stable and distinct names stay distinct unless their hashes
 * collide (outdir.c settles that). Caller frees. */
char *bf_objname_map(const char *seg, size_t len);
/* Is this a name mkdir may create (no '/', not . or .., <= 255, no ctl)? */
int bf_name_valid(const char *name);

/* ---- validate.c ---- */
/* Parses and checks a batchPredictionJobs.create body written by the user.
 * On success *out is the JSON to send (displayName defaulted to name).
 * -EINVAL with "request.json:LINE:COL: ..." or "missing field X" in e. */
int bf_request_prepare(const char *text, size_t len, const char *name,
		       char **out, struct bf_err *e);

/* ---- render.c ---- */
int bf_render_state(const struct bf_job *j, struct bf_buf *b);
int bf_render_progress(const struct bf_job *j, struct bf_buf *b);
int bf_render_error(const struct bf_job *j, struct bf_buf *b);
int bf_render_jobjson(const struct bf_job *j, struct bf_buf *b);
int bf_render_spec(const struct bf_job *j, struct bf_buf *b);
int bf_render_readme(const struct bf_model_opts *o, struct bf_buf *b);
int bf_render_bq(const struct bf_job *j, struct bf_buf *b);

/* ---- staging.c: a draft's input.jsonl ---- */
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

/* ---- journal.c: creates in flight, on disk ---- */
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

/* ---- drafts ---- */
struct bf_tmpfile {
	char *name;
	struct bf_buf data;
	int64_t mtime_us;
	mode_t mode; /* set by chmod (perm.c), 0: the natural one */
	struct bf_tmpfile *next;
};
struct bf_draft {
	struct bf_buf req; /* request.json as written */
	int64_t req_mtime_us;
	struct bf_tmpfile *tmp; /* scratch files (editors, install) */
	char token[64];		/* client token, one per draft */
	int sent;		/* a create may have reached the server */
	int64_t sent_until_ms;	/* wall clock: its job may appear until */
	int req_absent;		/* request.json unlinked or renamed away */
	mode_t req_mode;	/* request.json's, set by chmod; 0: natural */
	struct bf_input in;	/* input.jsonl (-o staging) */
	pthread_mutex_t submit_lock;
};

/* ---- output cache (outdir.c) ---- */
struct bf_outent {
	char *name; /* file name shown */
	char *obj;  /* full object name, or the prefix for dirs */
	int is_dir;
	int mapped; /* name is not the object's own (bf_objname_map) */
	uint64_t size;
	int64_t gen;
	int64_t updated_us;
};
struct bf_outlist {
	int refs;
	char *sub; /* "" for output/ itself */
	int64_t fetched_ms;
	int final; /* fetched while the job was terminal: kept for good */
	size_t n;
	struct bf_outent *v;
};
struct bf_outcache;
struct bf_outcache *bf_outcache_new(void);
void bf_outcache_free(struct bf_outcache *oc);
/* Forget every listing (ctl refresh). */
void bf_outcache_expire(struct bf_outcache *oc);
void bf_outlist_put(struct bf_outlist *l);
const struct bf_outent *bf_outlist_find(const struct bf_outlist *l,
					const char *name);

/* ---- job entries and the table (jobs.c) ---- */
struct bf_mjob {
	int refs; /* atomic */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char id[24]; /* "" while a draft */
	char *name;  /* directory name (table lock) */
	int draft;   /* not accepted yet */
	int gone;    /* deleted or vanished */
	int local;   /* created through this mount */
	int submitting;
	struct bf_job job; /* last fetched, valid when have_job */
	int have_job;
	int64_t fetched_ms;   /* last refresh, or last failed one (see below) */
	int64_t confirmed_ms; /* last time the service sent this job */
	int want_get;	      /* missing from a list of unfinished jobs */
	int fetching;
	/* Why the last submission failed (draft), or the last ctl command
	 * or rmdir (job); shown in `error`; NULL when it succeeded. */
	char *submit_err;
	struct bf_draft *d;
	struct bf_outcache *out;
	int64_t ctime_us;      /* directory times for drafts */
	uint64_t seen;	       /* listing pass that last saw it */
	int64_t keep_until_ms; /* local jobs survive listings until then */
	int listed;	       /* a listing showed it (table lock) */
	int verify;	       /* local, unlisted: GET it (table lock) */
	uint64_t fetch_gen;
	int fetch_rc;
	struct bf_err fetch_err;
	struct bf_rescache *res; /* results/, made on first use */
};

struct bf_jobs;
struct bf_jobs *bf_jobs_new(void);
void bf_jobs_free(struct bf_jobs *t);

struct bf_mjob *bf_mjob_get(struct bf_mjob *j);
void bf_mjob_put(struct bf_mjob *j);

/* Fresh-enough listing (TTL), then the entry named name (a reference). */
int bf_jobs_lookup(struct bf_ctx *c, const char *name, struct bf_mjob **out,
		   struct bf_err *e);
/* The listing as references and names (caller frees names and puts). */
struct bf_jobref {
	struct bf_mjob *job;
	char *name;
};
int bf_jobs_list(struct bf_ctx *c, struct bf_jobref **out, size_t *n,
		 struct bf_err *e);
void bf_jobrefs_free(struct bf_jobref *v, size_t n);
/* Makes the cached job fresh enough (refresh interval; terminal: never
 * again; force: now). Single flight per job. */
int bf_mjob_fresh(struct bf_ctx *c, struct bf_mjob *j, int force,
		  struct bf_err *e);
/* mkdir: a draft named name, -EEXIST when taken. */
int bf_jobs_add_draft(struct bf_ctx *c, const char *name, struct bf_mjob **out,
		      struct bf_err *e);
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

/* ---- budget.c: the mount's Vertex call budget ---- */
struct bf_budget;
struct bf_budget_stats {
	uint64_t calls;	    /* charged: every HTTP attempt to Vertex */
	uint64_t deferred;  /* optional calls held back */
	uint64_t throttled; /* 429s seen */
	double tokens;
	int64_t paused_until_ms;
};
/* per_minute <= 0: unlimited (still counts, still backs off on 429). */
struct bf_budget *bf_budget_new(double per_minute, int64_t now_ms);
void bf_budget_free(struct bf_budget *b);
/* May an optional call go now? (No: the caller serves its cache.) */
int bf_budget_may(struct bf_budget *b, int64_t now_ms);
/* Charges calls made; a 429 pauses optional calls (jittered, doubling). */
void bf_budget_spend(struct bf_budget *b, int calls, long status,
		     int64_t now_ms);
void bf_budget_get_stats(struct bf_budget *b, struct bf_budget_stats *s);

/* ---- refresh.c: refreshing running jobs under the budget ---- */
struct bf_refresher;
struct bf_refresh_stats {
	uint64_t lists;	 /* lists of unfinished jobs */
	uint64_t listed; /* jobs they returned */
	uint64_t gets;	 /* due jobs left to a get of their own */
};
struct bf_refresher *bf_refresher_new(void);
void bf_refresher_free(struct bf_refresher *r);
void bf_refresher_get_stats(struct bf_refresher *r,
			    struct bf_refresh_stats *s);
enum { BF_PLAN_GO, BF_PLAN_STALE };
/* Before a non-forced refresh of j: BF_PLAN_STALE to serve the cache as
 * it is; BF_PLAN_GO to go on (j may have been refreshed by a list). */
int bf_refresh_plan(struct bf_ctx *c, struct bf_mjob *j);

/* ---- draft.c ---- */
struct bf_draft *bf_draft_new(void);
void bf_draft_free(struct bf_draft *d);
/* Submits text as the draft's create body; records the outcome in j before
 * returning. */
int bf_draft_submit(struct bf_ctx *c, struct bf_mjob *j, const char *text,
		    size_t len, struct bf_err *e);
struct bf_tmpfile *bf_draft_tmp_find(struct bf_draft *d, const char *name);

/* ---- outdir.c ---- */
/* The listing of output-relative directory sub (a reference). */
int bf_out_list(struct bf_ctx *c, struct bf_mjob *j, const char *sub,
		struct bf_outlist **out, struct bf_err *e);
/* Latest generation and size of an object (growing files). */
int bf_out_stat(struct bf_ctx *c, struct bf_mjob *j, const char *obj,
		uint64_t *size, int64_t *gen, int64_t *updated_us,
		struct bf_err *e);
/* Bucket of the job's output directory (caller frees), NULL if none. */
char *bf_out_bucket(struct bf_mjob *j);

/* ---- ctx ---- */
struct bf_ctx {
	struct bf_model_opts o;
	struct bf_http *http;
	struct bf_auth *auth;
	struct bf_vertex *vx;
	struct bf_gcs *gcs;
	struct bf_reader_pool *pool;
	struct bf_jobs *jobs;
	struct bf_waitq *waitq;
	struct bf_journal *journal; /* NULL: no state_dir */
	struct bf_budget *budget;
	struct bf_refresher *refresher;
	int shutdown;
	int64_t start_us;
	int page_size;
};

int64_t bf_wall_us(void);
/* A failure worth hiding behind cached data (the service is down or slow),
 * unlike a refusal (EACCES) or an interruption. */
static inline int bf_transient(int rc)
{
	return rc == -EIO || rc == -ETIMEDOUT || rc == -EAGAIN;
}
/* Waits on cond with a short timeout, so a cancelled caller (bf_cancelled)
 * gets -EINTR, or -ETIMEDOUT past its request's deadline, instead of
 * waiting on another thread's network call. */
int bf_cond_wait_cancellable(pthread_cond_t *cond, pthread_mutex_t *lock);
/* pthread_mutex_lock that gives up like bf_cond_wait_cancellable: for
 * locks held across network I/O (an open file's reads take turns). */
int bf_mutex_lock_cancellable(pthread_mutex_t *lock);
/* Is the job (with its cached state) finished for good? */
int bf_mjob_terminal(struct bf_mjob *j); /* j->lock held */

/* ---- resdir.c: results/ ---- */
enum { BF_RF_OK, BF_RF_BAD, BF_RF_BY, BF_RF_RETRY, BF_RF_N };
struct bf_resset;
struct bf_rescache;
void bf_rescache_free(struct bf_rescache *rc);
/* Distinct output rows seen by the last results/ computation; -1 when
 * none was made. Lock-free (a counter), for progress. */
int64_t bf_results_rows_seen(struct bf_rescache *rc);
/* The job's current result set (a reference; bf_resset_put). */
int bf_results_get(struct bf_ctx *c, struct bf_mjob *j, struct bf_resset **out,
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

/* ---- waitfile.c ---- */
/* progress with a bar, elapsed time and (running) the time left. */
/* As bf_render_progress_at; rows >= 0 is the number of output rows already
 * exported, shown when the service reports no counts. */
int bf_render_progress_rows(const struct bf_job *j, int64_t now_us,
			    int64_t rows, struct bf_buf *b);
int bf_render_progress_at(const struct bf_job *j, int64_t now_us,
			  struct bf_buf *b);
/* waitq.c */
struct bf_waitq;
struct bf_waitq *bf_waitq_new(void);
void bf_waitq_free(struct bf_waitq *q);
/* files.c, for waitq.c: the job of a `wait` handle not yet answered (a
 * reference), else NULL; and giving such a handle its final state line. */
struct bf_mjob *bf_fh_wait_job(struct bf_fh *fh);
int bf_fh_wait_settle(struct bf_fh *fh, const struct bf_buf *st);
/* waitfile.c: one look at a job someone waits for: 1 when it has finished
 * (its state line in b), 0 when not yet (or the service is slow or down:
 * look again later), -errno (ENOENT: the job is gone). */
int bf_wait_check(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e);
/* Blocks, looking every `refresh`, until bf_wait_check says finished. */
int bf_wait_job(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		struct bf_err *e);

/* ---- wftree.c: input.jsonl, wait, results/, by-id/ ---- */
int bf_wf_kind(enum bf_kind k);
int bf_wf_getattr(struct bf_ctx *c, const struct bf_node *n, struct bf_attr *a,
		  struct bf_err *e);
/* Children of results/ and by-id/: fills out's kind, job and sub. */
int bf_wf_lookup(struct bf_ctx *c, const struct bf_node *parent,
		 const char *name, struct bf_node *out, struct bf_err *e);
int bf_wf_opendir(struct bf_ctx *c, const struct bf_node *n, struct bf_dir *d,
		  size_t *cap, struct bf_err *e);

/* ---- perm.c: owner, group and modes ---- */
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

/* ---- tree.c ---- */
/* Appends an entry to a directory snapshot (moves *node). */
int bf_dir_add(struct bf_dir *d, size_t *cap, const char *name,
	       struct bf_node *node, const struct bf_attr *a);
void bf_attr_fill(struct bf_ctx *c, struct bf_attr *a, mode_t mode,
		  uint64_t size, int64_t mtime_us, double ttl);
/* Content of a generated file now (fetching the job if due). */
int bf_render_node(struct bf_ctx *c, const struct bf_node *n, struct bf_buf *b,
		   struct bf_err *e);
/* Output-relative path helpers: "a/b" -> parent "a", name "b". */
int bf_out_entry(struct bf_ctx *c, struct bf_mjob *j, const char *sub,
		 struct bf_outlist **l, const struct bf_outent **ent,
		 struct bf_err *e);
#define BF_MAX_TMPFILES 64
/* Is name one of the files batchfs generates in a job directory? */
int child_is_reserved(const char *name);

/* files.c: keeps, for `error`, why operation OP on job j failed (rc < 0,
 * reason in e), or forgets the last failure (rc == 0). Takes j->lock. */
void bf_mjob_note_op(struct bf_mjob *j, const char *op, int rc,
		     const struct bf_err *e);

#endif
