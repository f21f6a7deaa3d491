/* wait.c - the calling thread's cancel check and request limits (http.h:
 * bf_cancel_set, bf_req_limits), and the sliced, cancellable waits of
 * wait.h: every sleep and every wait on another thread goes through here,
 * so each one ends within a slice of its thread's cancel check firing.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "batchfs/http.h"
#include "batchfs/wait.h"

#include "http_int.h"

#define NS_PER_S 1000000000L

/* ---- the per-thread cancel check and request limits ------------------- */

static __thread bf_cancel_fn cancel_fn;
static __thread void *cancel_ud;
static __thread int64_t req_deadline; /* 0: none */
static __thread int req_gated;

void bf_cancel_set(bf_cancel_fn fn, void *ud)
{
	cancel_fn = fn;
	cancel_ud = fn ? ud : NULL;
	if (!fn) {
		req_deadline = 0;
		req_gated = 0;
	}
}

void bf_req_limits(int64_t deadline_ms, int gated)
{
	req_deadline = deadline_ms;
	req_gated = gated;
}

int64_t bf_req_deadline(void)
{
	return req_deadline;
}

static int interrupted(void)
{
	return cancel_fn && cancel_fn(cancel_ud) != 0;
}

int bf_cancelled(void)
{
	return interrupted() || (req_deadline && bf_now_ms() >= req_deadline);
}

int bf_cancel_errno(void)
{
	int r = cancel_fn ? cancel_fn(cancel_ud) : 0;

	if (r)
		return r == ETIMEDOUT ? ETIMEDOUT : EINTR;
	return req_deadline && bf_now_ms() >= req_deadline ? ETIMEDOUT : 0;
}

int bf__req_gated(void)
{
	return req_gated;
}

/* ---- sliced waits ------------------------------------------------------ */

void bf_timespec_in(struct timespec *ts, clockid_t clk, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	clock_gettime(clk, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= NS_PER_S) {
		ts->tv_sec++;
		ts->tv_nsec -= NS_PER_S;
	}
}

static int cancel_rc(void)
{
	return bf_cancelled() ? -bf_cancel_errno() : 0;
}

int bf_sleep_ms_cancellable(long ms, long slice_ms)
{
	int64_t end = bf_now_ms() + (ms > 0 ? ms : 0);
	int rc;

	if (slice_ms <= 0)
		slice_ms = BF_WAIT_SLICE_MS;
	while ((rc = cancel_rc()) == 0) {
		int64_t left = end - bf_now_ms();
		long s = left < slice_ms ? (long)left : slice_ms;
		struct timespec ts;

		if (left <= 0)
			return 0;
		ts.tv_sec = s / 1000;
		ts.tv_nsec = (s % 1000) * 1000000L;
		/* A signal only shortens the slice; the loop re-checks. */
		nanosleep(&ts, NULL);
	}
	return rc;
}

int bf_cond_wait_slice(pthread_cond_t *cond, pthread_mutex_t *mu, clockid_t clk,
		       long slice_ms)
{
	struct timespec ts;
	int rc = cancel_rc();

	if (rc)
		return rc;
	bf_timespec_in(&ts, clk, slice_ms > 0 ? slice_ms : BF_WAIT_SLICE_MS);
	pthread_cond_timedwait(cond, mu, &ts);
	return cancel_rc();
}

int bf_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, clockid_t clk,
		       int64_t deadline_ms, long slice_ms)
{
	int64_t left;

	if (slice_ms <= 0)
		slice_ms = BF_WAIT_SLICE_MS;
	if (deadline_ms) {
		left = deadline_ms - bf_now_ms();
		if (left <= 0) {
			int rc = cancel_rc();

			return rc ? rc : -ETIMEDOUT;
		}
		if (left < slice_ms)
			slice_ms = (long)left;
	}
	return bf_cond_wait_slice(cond, mu, clk, slice_ms);
}

int bf_mutex_lock_slices(pthread_mutex_t *mu, long slice_ms)
{
	for (;;) {
		struct timespec ts;

		/* pthread_mutex_timedlock measures CLOCK_REALTIME. */
		bf_timespec_in(&ts, CLOCK_REALTIME,
			       slice_ms > 0 ? slice_ms : BF_WAIT_SLICE_MS);
		if (pthread_mutex_timedlock(mu, &ts) == 0)
			return 0;
		if (bf_cancelled())
			return -bf_cancel_errno();
	}
}
