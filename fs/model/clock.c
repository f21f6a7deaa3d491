/* clock.c - the wall clock, and waits on other threads that give up when
 * the request is cancelled or past its deadline (bf_cancelled), so no
 * worker waits out another one's network call. The bottom of the model:
 * it calls nothing in it. */
#include "model/clock.h"

#include <errno.h>
#include <time.h>

#include "batchfs/http.h"

int64_t bf_clock_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int bf_clock_cond_wait(pthread_cond_t *cond, pthread_mutex_t *lock)
{
	struct timespec ts;

	if (bf_cancelled())
		return -bf_cancel_errno();
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 100 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cond, lock, &ts);
	return bf_cancelled() ? -bf_cancel_errno() : 0;
}

int bf_clock_mutex_lock(pthread_mutex_t *lock)
{
	for (;;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_mutex_timedlock(lock, &ts) == 0)
			return 0;
		if (bf_cancelled())
			return -bf_cancel_errno();
	}
}
