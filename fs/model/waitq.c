/* waitq.c - reads of `wait` that park instead of holding a worker.
 *
 * A read of a job's `wait` before the job has finished is parked here and
 * answered later through its callback, so a hundred `cat wait` hold no
 * FUSE thread and Ctrl-C works even with -s. One thread (started at the
 * first park) re-fetches the parked jobs every `refresh` seconds, one
 * request per job however many readers wait on it, and answers each read
 * when its job is final, when it is cancelled, or when the mount stops.
 *
 * A parked read is held until armed: the FUSE glue registers its interrupt
 * callback in between, and a reply before that would free the request
 * under it. Cancellation also cuts a fetch in progress short, so Ctrl-C
 * does not wait out a slow server. */
#include "model/waitq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "model/ctx.h"
#include "model/jobs.h"
#include "model/model.h"
#include "model/wait.h"

/* A parked read. On the queue, every field but the constants (id, fh, j,
 * size, off, reply, ud) is guarded by the queue's lock; once taken off it
 * belongs to the thread that answers it. */
struct waiter {
	int64_t id;
	struct bf_fh *fh;
	struct bf_mjob *j; /* a reference */
	size_t size;
	uint64_t off;
	bf_wait_reply reply;
	void *ud;
	int armed, cancelled; /* q->lock */
	int rc;		      /* set when answered: 0 or -errno (q->lock) */
	struct waiter *next;  /* q->lock */
};

struct bf_waitq {
	/* Guards everything below; a leaf (taken by the interrupt callback
	 * under libfuse's request lock, so nothing is called holding it). */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* wakes the poller: a park armed, a stop */
	pthread_t thread;
	int started, stop;
	int closing; /* bf_waitq_close: no new parks, all cancelled */
	int64_t next_id;
	int ncancel; /* cancelled, not yet answered: cuts fetches short */
	struct waiter *head;
};

struct bf_waitq *bf_waitq_new(void)
{
	struct bf_waitq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	q->next_id = 1;
	return q;
}

/* Answers w (already off the list) and frees it: with the final state
 * line st when w->rc is 0. No lock held. */
static void answer(struct bf_ctx *c, struct waiter *w, const struct bf_buf *st)
{
	char buf[512];
	ssize_t n = w->rc;
	struct bf_err e;

	if (n == 0)
		n = bf_wait_settle(w->fh, st);
	if (n == 0) {
		bf_err_clear(&e);
		n = bf_wait_read(c, w->fh, buf,
				 w->size < sizeof(buf) ? w->size : sizeof(buf),
				 w->off, NULL, &e);
	}
	if (n < 0)
		w->reply(w->ud, (int)n, NULL, 0);
	else
		w->reply(w->ud, 0, buf, (size_t)n);
	bf_mjob_put(w->j);
	free(w);
}

/* Moves the waiters that match to *out. q->lock held. */
static void take(struct bf_waitq *q, struct waiter **out,
		 int (*match)(struct waiter *, void *), void *arg)
{
	struct waiter **pp = &q->head;

	while (*pp) {
		struct waiter *w = *pp;

		if (w->armed && match(w, arg)) {
			*pp = w->next;
			if (w->cancelled)
				q->ncancel--;
			w->next = *out;
			*out = w;
		} else {
			pp = &w->next;
		}
	}
}

static int is_cancelled(struct waiter *w, void *arg)
{
	(void)arg;
	return w->cancelled;
}

static int any(struct waiter *w, void *arg)
{
	(void)w;
	(void)arg;
	return 1;
}

static void answer_all(struct bf_ctx *c, struct waiter *list,
		       const struct bf_buf *st)
{
	while (list) {
		struct waiter *nx = list->next;

		answer(c, list, st);
		list = nx;
	}
}

/* The poll thread's network calls end early once a read is cancelled. */
static int poll_cancelled(void *ud)
{
	struct bf_waitq *q = ud;

	return __atomic_load_n(&q->ncancel, __ATOMIC_ACQUIRE) > 0 ||
	       __atomic_load_n(&q->stop, __ATOMIC_ACQUIRE);
}

/* 1 when the job's readers can be answered (rc set; the state line in st
 * when 0), 0 to keep waiting. */
static int settle(struct bf_ctx *c, struct bf_mjob *j, int *rc,
		  struct bf_buf *st)
{
	struct bf_err e;
	int r;

	bf_err_clear(&e);
	r = bf_wait_check(c, j, st, &e);
	if (r == 0 || r == -EINTR)
		return 0; /* not yet, or cut short by a cancel: next round */
	if (r < 0)
		bf_log_warn("wait: job %s: %s", j->id, e.msg);
	*rc = r < 0 ? r : 0;
	return 1;
}

static int same_job(struct waiter *w, void *arg)
{
	return w->j == arg;
}

static void *poll_main(void *arg)
{
	struct bf_ctx *c = arg;
	struct bf_waitq *q = c->waitq;
	double ivl = c->o.refresh > 0.1 ? c->o.refresh : 0.1;

	bf_cancel_set(poll_cancelled, q);
	pthread_mutex_lock(&q->lock);
	while (!q->stop) {
		struct waiter *done = NULL, *w;
		struct bf_mjob *few[64], **jobs = few;
		size_t nj = 0, nw = 0;
		struct timespec until;

		take(q, &done, is_cancelled, NULL);
		for (w = done; w; w = w->next)
			w->rc = -EINTR;
		/* Each parked job once per round, however many wait on it. */
		for (w = q->head; w; w = w->next)
			nw++;
		if (nw > 64 && !(jobs = malloc(nw * sizeof(*jobs)))) {
			jobs = few; /* the first 64 this round */
			nw = 64;
		}
		for (w = q->head; w && nj < (nw > 64 ? nw : 64); w = w->next) {
			size_t k;

			if (!w->armed || w->cancelled)
				continue;
			for (k = 0; k < nj && jobs[k] != w->j; k++)
				;
			if (k == nj)
				jobs[nj++] = bf_mjob_get(w->j);
		}
		pthread_mutex_unlock(&q->lock);
		answer_all(c, done, NULL);
		done = NULL;
		for (size_t k = 0; k < nj; k++) {
			struct bf_buf st;
			int rc = 0;

			bf_buf_init(&st, 0);
			if (!poll_cancelled(q) &&
			    settle(c, jobs[k], &rc, &st)) {
				struct waiter *mine = NULL;

				pthread_mutex_lock(&q->lock);
				take(q, &mine, same_job, jobs[k]);
				pthread_mutex_unlock(&q->lock);
				for (w = mine; w; w = w->next)
					w->rc = w->cancelled ? -EINTR : rc;
				answer_all(c, mine, &st);
			}
			bf_buf_free(&st);
			bf_mjob_put(jobs[k]);
		}
		if (jobs != few)
			free(jobs);
		pthread_mutex_lock(&q->lock);
		if (q->stop || q->ncancel > 0)
			continue;
		bf_timespec_in(&until, CLOCK_MONOTONIC, (int64_t)(ivl * 1000));
		pthread_cond_timedwait(&q->cond, &q->lock, &until);
	}
	pthread_mutex_unlock(&q->lock);
	bf_cancel_set(NULL, NULL);
	return NULL;
}

int64_t bf_wait_park(struct bf_ctx *c, struct bf_fh *fh, size_t size,
		     uint64_t off, bf_wait_reply reply, void *ud)
{
	struct bf_waitq *q = c->waitq;
	struct bf_mjob *j = bf_wait_fh_job(fh);
	struct waiter *w;
	int64_t id;

	if (!j)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w) {
		bf_mjob_put(j);
		return -ENOMEM;
	}
	w->fh = fh;
	w->j = j;
	w->size = size;
	w->off = off;
	w->reply = reply;
	w->ud = ud;
	pthread_mutex_lock(&q->lock);
	if (q->stop || q->closing) {
		pthread_mutex_unlock(&q->lock);
		bf_mjob_put(j);
		free(w);
		return -ESHUTDOWN;
	}
	if (!q->started) {
		if (pthread_create(&q->thread, NULL, poll_main, c) != 0) {
			pthread_mutex_unlock(&q->lock);
			bf_mjob_put(j);
			free(w);
			return -EAGAIN;
		}
		q->started = 1;
	}
	id = w->id = q->next_id++;
	w->next = q->head;
	q->head = w;
	pthread_mutex_unlock(&q->lock);
	return id;
}

static struct waiter *find(struct bf_waitq *q, int64_t id)
{
	struct waiter *w;

	for (w = q->head; w && w->id != id; w = w->next)
		;
	return w;
}

void bf_wait_arm(struct bf_ctx *c, int64_t id)
{
	struct bf_waitq *q = c->waitq;
	struct waiter *w;

	pthread_mutex_lock(&q->lock);
	if ((w = find(q, id)) != NULL) {
		w->armed = 1;
		pthread_cond_signal(&q->cond); /* a first look right away */
	}
	pthread_mutex_unlock(&q->lock);
}

void bf_wait_cancel(struct bf_ctx *c, int64_t id)
{
	struct bf_waitq *q = c->waitq;
	struct waiter *w;

	pthread_mutex_lock(&q->lock);
	if ((w = find(q, id)) != NULL && !w->cancelled) {
		w->cancelled = 1;
		__atomic_add_fetch(&q->ncancel, 1, __ATOMIC_RELEASE);
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
}

size_t bf_waitq_close(struct bf_ctx *c)
{
	struct bf_waitq *q = c->waitq;
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	q->closing = 1;
	for (struct waiter *w = q->head; w; w = w->next) {
		if (!w->cancelled) {
			w->cancelled = 1;
			__atomic_add_fetch(&q->ncancel, 1, __ATOMIC_RELEASE);
		}
		n++;
	}
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t bf_waitq_stop(struct bf_ctx *c)
{
	struct bf_waitq *q = c ? c->waitq : NULL;
	struct waiter *left = NULL;
	size_t n = 0;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	__atomic_store_n(&q->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->started)
		pthread_join(q->thread, NULL);
	q->started = 0;
	pthread_mutex_lock(&q->lock);
	for (struct waiter *w = q->head; w; w = w->next)
		w->armed = 1; /* the glue armed or gave up on each by now */
	take(q, &left, any, NULL);
	pthread_mutex_unlock(&q->lock);
	for (struct waiter *w = left; w; w = w->next) {
		w->rc = -EINTR;
		n++;
	}
	answer_all(c, left, NULL);
	return n;
}

void bf_waitq_free(struct bf_waitq *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}
