/* clock.h - the wall clock and cancellable waits (clock.c). */
#ifndef BATCHFS_MODEL_CLOCK_H
#define BATCHFS_MODEL_CLOCK_H

#include <pthread.h>
#include <stdint.h>

/* Microseconds since the epoch (CLOCK_REALTIME). */
int64_t bf_clock_wall_us(void);
/* Waits on cond with a short timeout, so a cancelled caller (bf_cancelled)
 * gets -EINTR, or -ETIMEDOUT past its request's deadline, instead of
 * waiting on another thread's network call. */
int bf_clock_cond_wait(pthread_cond_t *cond, pthread_mutex_t *lock);
/* pthread_mutex_lock that gives up like bf_clock_cond_wait: for locks held
 * across network I/O (an open file's reads take turns). */
int bf_clock_mutex_lock(pthread_mutex_t *lock);

#endif
