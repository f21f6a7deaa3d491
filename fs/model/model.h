/* model.h - the FUSE-free tree of batchfs: jobs, drafts, generated files and
 * output objects, addressed by typed nodes.
 *
 * The FUSE glue maps inodes to struct bf_node values and each request to one
 * call here. Everything that knows about jobs lives behind this header.
 *
 * Lock order (never held across network I/O, except a draft's submit lock,
 * which only serialises submits of that one draft):
 *   jobs table lock -> job entry lock -> output cache lock.
 */
#ifndef BATCHFS_MODEL_H
#define BATCHFS_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "batchfs/err.h"

struct bf_ctx;
struct bf_mjob;
struct bf_fh;

/* Options of one mount; strings are borrowed for the mount's lifetime. */
struct bf_model_opts {
	const char *project;
	const char *location;	      /* default "us-central1" */
	const char *endpoint;	      /* Vertex base URL; NULL = Google */
	const char *storage_endpoint; /* GCS base URL; NULL = Google */
	const char *credentials;      /* credentials file; NULL = ADC */
	const char *credentials_origin; /* "GOOGLE_APPLICATION_CREDENTIALS"
					   or NULL (the option) */
	const char *token_file;	      /* fixed bearer token file */
	const char *staging;	      /* gs://BUCKET/PREFIX for input.jsonl */
	const char *model;	      /* inbox/ jobs' model; NULL: no inbox/ */
	const char *dest;	      /* inbox/ jobs' gs:// output, or NULL */
	const char *state_dir;	      /* creates in flight; NULL: none */
	const char *cafile;	      /* extra trusted CAs (PEM), or NULL */
	const char *cafile_from;      /* "-o cafile", "CURL_CA_BUNDLE", ... */
	const char *proxy;	      /* -o proxy=URL, or NULL (environment) */
	const char *noproxy;	      /* -o noproxy=HOSTS, or NULL */
	int no_auth;		      /* send no Authorization header */
	double refresh;		      /* s between re-fetches of a live job */
	double list_ttl;	      /* s a jobs/ listing stays fresh */
	double attr_timeout;	      /* s, live nodes */
	double entry_timeout;	      /* s, root and jobs/ */
	double negative_timeout;      /* s, names that do not exist */
	double final_timeout;	      /* s, nodes of finished jobs */
	double deadline; /* s a request waits on the network at most: 60 */
	size_t max_request;	 /* cap on request.json and drafts' files */
	size_t readahead_max;	 /* global read-ahead memory cap */
	size_t readahead_window; /* per-reader window cap */
	/* Result sets kept computed: this many with files (4 descriptors
	 * each), small ones in memory up to this many x 512 KiB. */
	size_t results_cache;
	int direct_io;		 /* output objects: direct I/O, no page cache */
	size_t splice_max;	 /* splice path for reads up to this; 0 off */
	int page_size; /* list page size (0: 100 jobs, 1000 objects) */
	double vertex_rpm; /* Vertex calls a minute at most; <= 0: no limit */
	uid_t uid;     /* owner of every node (-o uid) */
	gid_t gid;     /* group of every node (-o gid) */
	mode_t umask;  /* taken from every natural mode (-o umask) */
};
void bf_model_opts_default(struct bf_model_opts *o);
/* -o uid=, gid= (decimal ids) and umask= (octal, at most 0777) strictly
 * parsed: 0, or -1 when s is not one. */
int bf_perm_parse_uid(const char *s, uid_t *out);
int bf_perm_parse_gid(const char *s, gid_t *out);
int bf_perm_parse_umask(const char *s, mode_t *out);

enum bf_kind {
	BF_K_NONE = 0,
	BF_K_ROOT,
	BF_K_README,
	BF_K_JOBS,
	BF_K_JOB,      /* jobs/NAME: a draft or a job */
	BF_K_REQUEST,  /* jobs/NAME/request.json */
	BF_K_JOBJSON,  /* jobs/NAME/job.json */
	BF_K_STATE,    /* jobs/NAME/state */
	BF_K_PROGRESS, /* jobs/NAME/progress */
	BF_K_ERROR,    /* jobs/NAME/error */
	BF_K_CTL,      /* jobs/NAME/ctl */
	BF_K_OUTPUT,   /* jobs/NAME/output */
	BF_K_OUTDIR,   /* a prefix below output/ (sub = relative path) */
	BF_K_OUTFILE,  /* an object below output/ (sub = relative path) */
	BF_K_BQFILE,   /* output/bigquery: names the BigQuery table */
	BF_K_TEMP,     /* a scratch file in a draft (sub = its name) */
	BF_K_INPUT,    /* jobs/NAME/input.jsonl of a draft (-o staging) */
	BF_K_WAIT,     /* jobs/NAME/wait: blocks until the job finished */
	BF_K_RESULTS,  /* jobs/NAME/results */
	BF_K_RESFILE,  /* a file in results/ (sub = its name) */
	BF_K_BYID,     /* by-id */
	BF_K_LINK,     /* by-id/ID, a symlink to ../jobs/NAME (sub = ID) */
	BF_K_INBOX,    /* inbox/ (-o model and -o staging) */
	BF_K_INFILE,   /* inbox/NAME.jsonl being written (sub = its name) */
	BF_K_INERR,    /* inbox/NAME.error: why it was refused (sub) */
	BF_K_OUTBOX,   /* outbox/ */
	BF_K_OBXFILE,  /* outbox/NAME.jsonl: by-input.jsonl (sub) */
	BF_K_OBXERR,   /* outbox/NAME.error (sub) */
	BF_K_SUCCESS,  /* jobs/NAME/_SUCCESS: the job SUCCEEDED */
};

/* A node: what an inode stands for. job holds a reference. */
struct bf_node {
	enum bf_kind kind;
	struct bf_mjob *job;
	char *sub;
};
/* Is a node of kind k a directory (its open file is a snapshot of
 * entries, not a struct bf_fh)? */
int bf_kind_is_dir(enum bf_kind k);
void bf_node_clear(struct bf_node *n);
int bf_node_copy(struct bf_node *dst, const struct bf_node *src);
/* Same node (kind, job, sub)? */
int bf_node_same(const struct bf_node *a, const struct bf_node *b);
/* "jobs/NAME/output/x" for logs. */
void bf_node_path(struct bf_ctx *c, const struct bf_node *n, char *out,
		  size_t len);

/* Attributes plus how long the kernel may keep them (entry and attr). */
struct bf_attr {
	struct stat st;
	double ttl;
};

/* The mount context: clients, caches, options. */
int bf_ctx_new(const struct bf_model_opts *o, struct bf_ctx **out,
	       struct bf_err *e);
void bf_ctx_free(struct bf_ctx *c);
/* One cheap authenticated call (list with pageSize=1): proves the
 * credential, the project and the endpoint work. */
int bf_ctx_check(struct bf_ctx *c, struct bf_err *e);
const struct bf_model_opts *bf_ctx_opts(const struct bf_ctx *c);
/* Stops background work; requests after this fail fast with -ESHUTDOWN. */
void bf_ctx_shutdown(struct bf_ctx *c);
/* Turns the splice path of output reads on (reads up to max bytes) or
 * off (0), e.g. when the kernel cannot take spliced replies. */
void bf_ctx_splice(struct bf_ctx *c, size_t max);

/* Tree operations. parent/node are borrowed; out nodes are the caller's
 * (bf_node_clear). All return 0 or -errno and fill e. */
int bf_model_lookup(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, struct bf_node *out, struct bf_attr *a,
		    struct bf_err *e);
int bf_model_getattr(struct bf_ctx *c, const struct bf_node *n,
		     struct bf_attr *a, struct bf_err *e);

struct bf_dirent {
	char *name;
	struct bf_node node;
	struct bf_attr attr;
};
struct bf_dir {
	size_t n;
	struct bf_dirent *v;
};
/* A snapshot of the directory (without . and ..), attributes included, so
 * readdirplus costs no request per entry. */
int bf_model_opendir(struct bf_ctx *c, const struct bf_node *n,
		     struct bf_dir **out, struct bf_err *e);
void bf_dir_free(struct bf_dir *d);

int bf_model_mkdir(struct bf_ctx *c, const struct bf_node *parent,
		   const char *name, struct bf_node *out, struct bf_attr *a,
		   struct bf_err *e);
int bf_model_rmdir(struct bf_ctx *c, const struct bf_node *parent,
		   const char *name, struct bf_err *e);
int bf_model_unlink(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, struct bf_err *e);
int bf_model_rename(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, const struct bf_node *newparent,
		    const char *newname, unsigned int flags, struct bf_err *e);
int bf_model_truncate(struct bf_ctx *c, const struct bf_node *n, uint64_t size,
		      struct bf_err *e);
/* chmod and chown (ns.c, by perm.c's rule): owner, group and modes follow
 * from the mount's options, so a change is -EPERM; asking for what the node
 * already has is 0. */
enum { BF_CHATTR_MODE = 1, BF_CHATTR_UID = 2, BF_CHATTR_GID = 4 };
struct bf_chattr {
	int set; /* BF_CHATTR_* */
	mode_t mode;
	uid_t uid;
	gid_t gid;
};
int bf_model_chattr(struct bf_ctx *c, const struct bf_node *n,
		    const struct bf_chattr *want, struct bf_err *e);
/* A draft file n just made by create(2) with mode (the caller's umask
 * applied): keeps what of it lies within 0644 & ~umask; a's mode follows. */
void bf_model_created(struct bf_ctx *c, const struct bf_node *n, mode_t mode,
		      struct bf_attr *a);
/* Target of a symlink node (by-id/ID -> "../jobs/NAME"); caller frees. */
int bf_model_readlink(struct bf_ctx *c, const struct bf_node *n, char **out,
		      struct bf_err *e);

/* Open files. flags are open(2) flags; opener_tgid identifies the process
 * whose flush may submit. */
enum {
	BF_FH_DIRECT_IO = 1,
	BF_FH_KEEP_CACHE = 2,
	BF_FH_NOFLUSH = 4,
};
int bf_model_open(struct bf_ctx *c, const struct bf_node *n, int flags,
		  pid_t opener_tgid, struct bf_fh **out, struct bf_err *e);
int bf_model_create(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, int flags, pid_t opener_tgid,
		    struct bf_node *out, struct bf_attr *a, struct bf_fh **fh,
		    struct bf_err *e);
unsigned bf_fh_flags(const struct bf_fh *fh);
ssize_t bf_fh_read(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		   uint64_t off, struct bf_err *e);
/* The same, but an output object's bytes held by read-ahead are described
 * in v instead of copied into buf (see bf_reader_readv): the caller sends
 * v->iov when v->n > 0 (else buf), then calls bf_reader_unpin(v). */
struct bf_rvec;
ssize_t bf_fh_readv(struct bf_ctx *c, struct bf_fh *fh, char *buf, size_t len,
		    uint64_t off, struct bf_rvec *v, struct bf_err *e);
/* An output object's bytes through a pipe (bf_reader_pipe): > 0, the
 * caller drains t->fd then calls bf_reader_pipe_done(t); 0, use
 * bf_fh_readv; -EINTR. */
struct bf_rpipe;
ssize_t bf_fh_pipe(struct bf_fh *fh, size_t len, uint64_t off,
		   struct bf_rpipe *t, struct bf_err *e);
ssize_t bf_fh_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
		    size_t len, uint64_t off, struct bf_err *e);
/* close(2) of one descriptor; submits when tgid is the opener's and the
 * handle wrote to request.json. */
int bf_fh_flush(struct bf_ctx *c, struct bf_fh *fh, pid_t tgid,
		struct bf_err *e);
/* Attributes seen through an open handle (fstat): fresh size for growing
 * objects. */
int bf_fh_getattr(struct bf_ctx *c, struct bf_fh *fh, struct bf_attr *a,
		  struct bf_err *e);
/* Last close: a fallback that only logs. */
void bf_fh_release(struct bf_ctx *c, struct bf_fh *fh);

/* Reads of `wait` (waitq.c). A read of a job's `wait` before the job has
 * finished does not block a thread: bf_wait_park() parks it and returns
 * an id (> 0), or -EINVAL when the handle can be read at once with
 * bf_fh_read. The answer comes later, from another thread, through
 * reply(ud, 0, data, len) or reply(ud, -errno, NULL, 0), exactly once.
 * Nothing is answered before bf_wait_arm(); bf_wait_cancel() answers
 * -EINTR. Both are no-ops for an id already answered. */
typedef void (*bf_wait_reply)(void *ud, int rc, const char *data,
			      size_t len);
int64_t bf_wait_park(struct bf_ctx *c, struct bf_fh *fh, size_t size,
		     uint64_t off, bf_wait_reply reply, void *ud);
void bf_wait_arm(struct bf_ctx *c, int64_t id);
void bf_wait_cancel(struct bf_ctx *c, int64_t id);
/* Answers every parked read with -EINTR and stops the poll thread; no
 * park succeeds after. Returns how many were answered. */
size_t bf_waitq_stop(struct bf_ctx *c);
/* While requests still run (a lazy unmount): every parked read is
 * cancelled (EINTR, answered by the poller once armed) and new ones are
 * refused (-ESHUTDOWN). How many were parked. */
size_t bf_waitq_close(struct bf_ctx *c);

#endif
