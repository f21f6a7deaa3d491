/* wait.h - the one way a thread waits: sleeps and condition/mutex waits cut
 * into slices, each slice ending with a look at the calling thread's cancel
 * check (bf_cancelled, http.h), so Ctrl-C, a request's deadline or a
 * shutdown ends any wait within one slice.
 *
 * These live in fs/http (wait.c, beside the per-thread cancel check and
 * request deadline they watch, declared in http.h with the monotonic clock
 * bf_now_ms), not in fs/util, which is below http. Everything that waits
 * on a cancellable thread (http, auth, vertex, gcs, model, fuse) is at or
 * above http.
 *
 * Results: 0, or -EINTR / -ETIMEDOUT (bf_cancel_errno: the check fired, or
 * the request's deadline passed), or -ETIMEDOUT when a wait's own deadline
 * passed (bf_cond_wait_until).
 */
#ifndef BATCHFS_WAIT_H
#define BATCHFS_WAIT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* The usual slice: short enough that an interrupt feels immediate, long
 * enough that an idle waiter costs nothing. */
#define BF_WAIT_SLICE_MS 100

/* ts = now + ms on clock clk (the clock of the condition variable it will
 * be given to: CLOCK_REALTIME unless set with pthread_condattr_setclock). */
void bf_timespec_in(struct timespec *ts, clockid_t clk, int64_t ms);

/* Sleeps ms in slices of at most slice_ms. 0 when slept out, or the
 * negative cancel errno as soon as a slice ends with the check fired (also
 * before the first one). */
int bf_sleep_ms_cancellable(long ms, long slice_ms);

/* mu held. Waits on cond at most slice_ms (cond uses clock clk); 0 when
 * woken or the slice ended (the caller re-checks its predicate), the
 * negative cancel errno when the check fired before or after. */
int bf_cond_wait_slice(pthread_cond_t *cond, pthread_mutex_t *mu, clockid_t clk,
		       long slice_ms);

/* Like bf_cond_wait_slice, but never past deadline_ms (bf_now_ms; 0 for
 * none): -ETIMEDOUT once it has passed, without waiting. */
int bf_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, clockid_t clk,
		       int64_t deadline_ms, long slice_ms);

/* Locks mu, trying for slice_ms at a time; 0 (locked) or the negative
 * cancel errno (not locked). */
int bf_mutex_lock_slices(pthread_mutex_t *mu, long slice_ms);

#endif
