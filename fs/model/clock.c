/* clock.c - the wall clock, and waits on other threads that give up when
 * the request is cancelled or past its deadline (bf_cancelled), so no
 * worker waits out another one's network call. The bottom of the model:
 * it calls nothing in it. */
#include "model/clock.h"

#include <errno.h>
#include <time.h>

#include "batchfs/http.h"
#include "batchfs/wait.h"

int64_t bf_clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int bf_clock_cond_wait(pthread_cond_t *cond, pthread_mutex_t *lock)
{
	return bf_cond_wait_slice(cond, lock, CLOCK_REALTIME, BF_WAIT_SLICE_MS);
}

int bf_clock_mutex_lock(pthread_mutex_t *lock)
{
	return bf_mutex_lock_slices(lock, BF_WAIT_SLICE_MS);
}
