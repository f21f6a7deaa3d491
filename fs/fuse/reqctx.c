/* reqctx.c - what bounds a request while it waits: its deadline (-o
 * deadline), its interrupt, the session's exit, and for READs of an open
 * file the deadline shared by all READs of that handle.
 *
 * Why READs share one: in page-cache mode the kernel answers one read(2)
 * with several READs (read-ahead, sent asynchronously and without
 * FUSE_INTERRUPT), then, when they fail, with one more synchronous READ
 * of the page it needs. A deadline per READ let one read(2) wait several
 * deadlines, one after the other, since the READs of a handle take turns.
 * Here the handle's clock starts when a READ arrives at an idle handle and
 * moves on with every READ answered with data; a READ that times out ends
 * the others in flight, and READs of the same file (any handle: the page
 * cache is the file's, and other readers wait on the pages it failed to
 * fill) that come right after fail at once.
 *
 * Why the caller is looked at: the reader of a page waits on the page,
 * not on the READ, and a signal it handles (Python's KeyboardInterrupt,
 * a shell's trap) does not end that wait; no INTERRUPT comes either. So a
 * READ that waits checks, a few times a second, whether the process that
 * caused it has a signal pending or is gone (/proc/PID/status), and ends
 * with EINTR then; so do the other READs of its handle in flight. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "fuse/fuse_int.h"

#define PROC_CHECK_MS 200
/* After a READ of a file timed out, the READs that were waiting with it
 * fail at once for this long: the kernel's synchronous retry of the same
 * pages, for each reader waiting on them. Files opened later read anew. */
#define FAIL_FAST_MS 500

/* Files whose READ timed out lately: their READs fail until then.
 * Guarded by rd_lock. */
#define FAILED_SLOTS 64
static struct {
	fuse_ino_t ino;
	int64_t at, until;
} failed[FAILED_SLOTS];

struct rq {
	fuse_req_t req;
	fuse_ino_t ino;
	struct bf_fs *fs;
	struct bf_handle *h; /* a READ: the handle whose deadline it shares */
	uint64_t gen;	     /* h->rd_abort_gen when the READ began */
	int64_t dl;	     /* its deadline, 0 for none */
	pid_t pid;
	int64_t next_check_ms;
	int signalled; /* its caller has a signal pending or is gone */
};

static __thread struct rq cur; /* this worker's request: no lock */
/* A leaf: guards failed[] and every handle's rd_* (not rd_abort_gen). */
static pthread_mutex_t rd_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned long long hexfield(const char *line)
{
	return strtoull(line, NULL, 16);
}

/* 1 when pid has an unblocked signal pending or no longer runs. */
static int caller_signalled(pid_t pid)
{
	unsigned long long pnd = 0, blk = 0;
	char path[64], line[256];
	int dead = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT || errno == ESRCH;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "State:", 6) == 0)
			dead = strchr(line + 6, 'Z') || strchr(line + 6, 'X');
		else if (strncmp(line, "SigPnd:", 7) == 0 ||
			 strncmp(line, "ShdPnd:", 7) == 0)
			pnd |= hexfield(line + 7);
		else if (strncmp(line, "SigBlk:", 7) == 0)
			blk = hexfield(line + 7);
	}
	fclose(f);
	return dead || (pnd & ~blk) != 0;
}

static int rq_cancelled(void *ud)
{
	struct rq *x = ud;

	if (fuse_req_interrupted(x->req))
		return 1;
	/* At exit (SIGTERM, unmount) a request waiting on the network is
	 * abandoned too: the session would otherwise wait for it. */
	if (x->fs->se && fuse_session_exited(x->fs->se))
		return 1;
	if (!x->h)
		return 0;
	if (__atomic_load_n(&x->h->rd_abort_gen, __ATOMIC_ACQUIRE) != x->gen)
		return x->h->rd_abort_rc == ETIMEDOUT ? ETIMEDOUT : EINTR;
	if (x->pid > 0 && !x->signalled) {
		int64_t now = bf_now_ms();

		if (now >= x->next_check_ms) {
			x->next_check_ms = now + PROC_CHECK_MS;
			x->signalled = caller_signalled(x->pid);
			if (x->signalled)
				bf_log_debug("read: its reader %d has a "
					     "signal pending or is gone",
					     (int)x->pid);
		}
	}
	return x->signalled;
}

static void on_interrupt(fuse_req_t req, void *data)
{
	/* fuse_req_interrupted() now reports it; the core polls that. */
	(void)req;
	(void)data;
}

static int64_t deadline_from(double s)
{
	return s > 0 ? bf_now_ms() + (int64_t)(s * 1000) : 0;
}

void bf_rq_begin(fuse_req_t req, int kind)
{
	struct bf_fs *fs = fuse_req_userdata(req);

	memset(&cur, 0, sizeof(cur));
	cur.req = req;
	cur.fs = fs;
	fuse_req_interrupt_func(req, on_interrupt, NULL);
	bf_cancel_set(rq_cancelled, &cur);
	bf_req_limits(kind == BF_RQ_READ     ? deadline_from(fs->deadline)
		      : kind == BF_RQ_CHANGE ? deadline_from(fs->change_deadline)
					     : 0,
		      fs->gated);
}

/* rd_lock held: did a READ of ino time out lately, while h was open? */
static int ino_failed(fuse_ino_t ino, const struct bf_handle *h, int64_t now)
{
	for (int i = 0; i < FAILED_SLOTS; i++)
		if (failed[i].ino == ino && failed[i].until > now &&
		    failed[i].at >= h->rd_opened_ms)
			return 1;
	return 0;
}

/* rd_lock held: the slot of ino, else the one that expires first. */
static void ino_fail(fuse_ino_t ino, int64_t at, int64_t until)
{
	int k = 0;

	for (int i = 0; i < FAILED_SLOTS; i++) {
		if (failed[i].ino == ino) {
			k = i;
			break;
		}
		if (failed[i].until < failed[k].until)
			k = i;
	}
	failed[k].ino = ino;
	failed[k].at = at;
	failed[k].until = until;
}

int bf_rq_begin_read(fuse_req_t req, fuse_ino_t ino, struct bf_handle *h)
{
	struct bf_fs *fs = fuse_req_userdata(req);
	int64_t now = bf_now_ms(), dl = 0;
	int rc = 0;

	bf_rq_begin(req, BF_RQ_NONE);
	pthread_mutex_lock(&rd_lock);
	if (h->rd_fail_until > now) {
		rc = h->rd_fail_rc;
	} else if (ino_failed(ino, h, now)) {
		rc = -ETIMEDOUT;
	} else {
		if (h->rd_inflight++ == 0 || h->rd_progress_ms == 0)
			h->rd_progress_ms = now;
		if (fs->deadline > 0)
			dl = h->rd_progress_ms + (int64_t)(fs->deadline * 1000);
		cur.h = h;
		cur.ino = ino;
		cur.gen = h->rd_abort_gen;
		cur.dl = dl;
	}
	pthread_mutex_unlock(&rd_lock);
	if (rc)
		return rc;
	cur.pid = fuse_req_ctx(req)->pid;
	bf_req_limits(dl, fs->gated);
	return 0;
}

int bf_rq_end(int rc)
{
	struct bf_handle *h = cur.h;

	if (h) {
		int64_t now = bf_now_ms();
		/* A READ that ends past its deadline timed out, whatever
		 * stopped it first (another READ of the handle ending). */
		int late = rc < 0 && cur.dl && now >= cur.dl &&
			   !fuse_req_interrupted(cur.req) && !cur.signalled;

		if (late)
			rc = -ETIMEDOUT;
		pthread_mutex_lock(&rd_lock);
		h->rd_inflight--;
		if (rc >= 0) {
			if (now > h->rd_progress_ms)
				h->rd_progress_ms = now;
		} else if (rc == -ETIMEDOUT || rc == -EINTR) {
			/* The READs in flight of this handle stop too. */
			h->rd_abort_rc = -rc;
			__atomic_add_fetch(&h->rd_abort_gen, 1,
					   __ATOMIC_RELEASE);
			if (rc == -ETIMEDOUT) {
				h->rd_fail_until = now + FAIL_FAST_MS;
				h->rd_fail_rc = rc;
				ino_fail(cur.ino, now, now + FAIL_FAST_MS);
			}
		}
		if (h->rd_inflight == 0)
			h->rd_progress_ms = 0;
		pthread_mutex_unlock(&rd_lock);
	}
	memset(&cur, 0, sizeof(cur));
	bf_cancel_set(NULL, NULL);
	return rc;
}
