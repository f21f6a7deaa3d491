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
 * the others in flight, and READs that come right after fail at once.
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
#include "fuse/fuse_int.h"

#define PROC_CHECK_MS 200
/* After a READ of a handle timed out, its next READs fail at once for
 * this long: the kernel's synchronous retry of the same pages. */
#define FAIL_FAST_MS 2000

struct rq {
	fuse_req_t req;
	struct bf_fs *fs;
	struct bf_handle *h; /* a READ: the handle whose deadline it shares */
	uint64_t gen;	     /* h->rd_abort_gen when the READ began */
	pid_t pid;
	int64_t next_check_ms;
	int signalled; /* its caller has a signal pending or is gone */
};

static __thread struct rq cur;
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
		return 1;
	if (x->pid > 0 && !x->signalled) {
		int64_t now = bf_now_ms();

		if (now >= x->next_check_ms) {
			x->next_check_ms = now + PROC_CHECK_MS;
			x->signalled = caller_signalled(x->pid);
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

void bf_rq_begin(fuse_req_t req, int with_deadline)
{
	struct bf_fs *fs = fuse_req_userdata(req);

	memset(&cur, 0, sizeof(cur));
	cur.req = req;
	cur.fs = fs;
	fuse_req_interrupt_func(req, on_interrupt, NULL);
	bf_cancel_set(rq_cancelled, &cur);
	bf_req_limits(with_deadline ? deadline_from(fs->deadline) : 0,
		      fs->gated);
}

int bf_rq_begin_read(fuse_req_t req, struct bf_handle *h)
{
	struct bf_fs *fs = fuse_req_userdata(req);
	int64_t now = bf_now_ms(), dl = 0;
	int rc = 0;

	bf_rq_begin(req, 0);
	pthread_mutex_lock(&rd_lock);
	if (h->rd_fail_until > now) {
		rc = h->rd_fail_rc;
	} else {
		if (h->rd_inflight++ == 0 || h->rd_progress_ms == 0)
			h->rd_progress_ms = now;
		if (fs->deadline > 0)
			dl = h->rd_progress_ms + (int64_t)(fs->deadline * 1000);
		cur.h = h;
		cur.gen = h->rd_abort_gen;
	}
	pthread_mutex_unlock(&rd_lock);
	if (rc)
		return rc;
	cur.pid = fuse_req_ctx(req)->pid;
	bf_req_limits(dl, fs->gated);
	return 0;
}

void bf_rq_end(int rc)
{
	struct bf_handle *h = cur.h;

	if (h) {
		int64_t now = bf_now_ms();

		pthread_mutex_lock(&rd_lock);
		h->rd_inflight--;
		if (rc >= 0) {
			if (now > h->rd_progress_ms)
				h->rd_progress_ms = now;
		} else if (rc == -ETIMEDOUT || rc == -EINTR) {
			/* The READs in flight of this handle stop too. */
			__atomic_add_fetch(&h->rd_abort_gen, 1,
					   __ATOMIC_RELEASE);
			if (rc == -ETIMEDOUT) {
				h->rd_fail_until = now + FAIL_FAST_MS;
				h->rd_fail_rc = rc;
			}
		}
		if (h->rd_inflight == 0)
			h->rd_progress_ms = 0;
		pthread_mutex_unlock(&rd_lock);
	}
	memset(&cur, 0, sizeof(cur));
	bf_cancel_set(NULL, NULL);
}
