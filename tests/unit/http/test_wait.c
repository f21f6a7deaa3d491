/* test_wait.c - the sliced waits of wait.h end within one slice of the
 * cancel check firing (or the request's deadline passing), and the jitter
 * source stays in range and differs between threads.
 *
 * The cancel check here fires at a set time (fire_at), so no test thread
 * sleeps to trigger it; the bounds allow one slice plus scheduling slack
 * on a loaded machine.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "../check.h"
#include "batchfs/http.h"
#include "batchfs/jitter.h"
#include "batchfs/wait.h"

#define SLICE 50
#define SLACK 250 /* scheduling on a shared 2-core machine */

static int64_t fire_at;
static int fire_errno = EINTR;

static int fires(void *ud)
{
	(void)ud;
	return bf_now_ms() >= fire_at ? fire_errno : 0;
}

static void arm(int64_t in_ms, int err)
{
	fire_at = bf_now_ms() + in_ms;
	fire_errno = err;
	bf_cancel_set(fires, NULL);
}

static void test_sleep(void)
{
	int64_t t0 = bf_now_ms(), dt;

	/* Nothing set: sleeps it out. */
	bf_cancel_set(NULL, NULL);
	CHECK_INT(bf_sleep_ms_cancellable(30, SLICE), 0);
	CHECK(bf_now_ms() - t0 >= 30);
	CHECK_INT(bf_sleep_ms_cancellable(0, SLICE), 0);

	/* A 10 s sleep ends within one slice of the check firing. */
	arm(120, EINTR);
	t0 = bf_now_ms();
	CHECK_INT(bf_sleep_ms_cancellable(10000, SLICE), -EINTR);
	dt = bf_now_ms() - t0;
	CHECK(dt >= 120);
	CHECK(dt <= 120 + SLICE + SLACK);

	/* Fired already: no sleep at all. */
	arm(0, EINTR);
	t0 = bf_now_ms();
	CHECK_INT(bf_sleep_ms_cancellable(10000, SLICE), -EINTR);
	CHECK(bf_now_ms() - t0 <= SLACK);

	/* A check that says ETIMEDOUT, and the request's own deadline. */
	arm(50, ETIMEDOUT);
	CHECK_INT(bf_sleep_ms_cancellable(10000, SLICE), -ETIMEDOUT);
	arm(1000000, EINTR);
	bf_req_limits(bf_now_ms() + 80, 0);
	t0 = bf_now_ms();
	CHECK_INT(bf_sleep_ms_cancellable(10000, SLICE), -ETIMEDOUT);
	CHECK(bf_now_ms() - t0 <= 80 + SLICE + SLACK);
	bf_cancel_set(NULL, NULL);
}

static void test_cond(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int64_t t0, dt, until;
	int rc;

	/* Nobody signals: each slice returns 0 until the check fires. */
	pthread_mutex_lock(&mu);
	arm(120, EINTR);
	t0 = bf_now_ms();
	while ((rc = bf_cond_wait_slice(&cv, &mu, CLOCK_REALTIME, SLICE)) == 0)
		;
	dt = bf_now_ms() - t0;
	CHECK_INT(rc, -EINTR);
	CHECK(dt >= 120 && dt <= 120 + SLICE + SLACK);

	/* A wait's own deadline: -ETIMEDOUT, never a slice past it. */
	bf_cancel_set(NULL, NULL);
	until = bf_now_ms() + 70;
	t0 = bf_now_ms();
	while ((rc = bf_cond_wait_until(&cv, &mu, CLOCK_REALTIME, until,
					1000)) == 0)
		;
	dt = bf_now_ms() - t0;
	CHECK_INT(rc, -ETIMEDOUT);
	CHECK(dt >= 70 && dt <= 70 + SLACK);
	CHECK_INT(bf_cond_wait_until(&cv, &mu, CLOCK_REALTIME, until, SLICE),
		  -ETIMEDOUT);

	/* Cancelled past the deadline: the cancel errno wins. */
	arm(0, EINTR);
	CHECK_INT(bf_cond_wait_until(&cv, &mu, CLOCK_REALTIME, until, SLICE),
		  -EINTR);
	bf_cancel_set(NULL, NULL);
	pthread_mutex_unlock(&mu);
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int holding, release;

static void *holder(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&held);
	pthread_mutex_lock(&gate);
	holding = 1;
	pthread_cond_broadcast(&gate_cv);
	while (!release)
		pthread_cond_wait(&gate_cv, &gate);
	pthread_mutex_unlock(&gate);
	pthread_mutex_unlock(&held);
	return NULL;
}

static void test_mutex(void)
{
	pthread_t t;
	int64_t t0, dt;

	CHECK_INT(bf_mutex_lock_slices(&held, SLICE), 0);
	pthread_mutex_unlock(&held);

	pthread_create(&t, NULL, holder, NULL);
	pthread_mutex_lock(&gate);
	while (!holding)
		pthread_cond_wait(&gate_cv, &gate);
	pthread_mutex_unlock(&gate);

	arm(120, EINTR);
	t0 = bf_now_ms();
	CHECK_INT(bf_mutex_lock_slices(&held, SLICE), -EINTR);
	dt = bf_now_ms() - t0;
	CHECK(dt >= 120 && dt <= 120 + SLICE + SLACK);
	bf_cancel_set(NULL, NULL);

	pthread_mutex_lock(&gate);
	release = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate);
	CHECK_INT(bf_mutex_lock_slices(&held, SLICE), 0);
	pthread_mutex_unlock(&held);
	pthread_join(t, NULL);
}

static void test_timespec(void)
{
	struct timespec a, b;

	bf_timespec_in(&a, CLOCK_MONOTONIC, 1999);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(a.tv_nsec >= 0 && a.tv_nsec < 1000000000L);
	CHECK(a.tv_sec - b.tv_sec >= 1 && a.tv_sec - b.tv_sec <= 2);
	bf_timespec_in(&a, CLOCK_MONOTONIC, -5); /* never in the past */
	CHECK(a.tv_sec > b.tv_sec ||
	      (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec));
}

#define DRAWS 4000

static void *draw(void *arg)
{
	double *out = arg;

	for (int i = 0; i < 8; i++)
		out[i] = bf_jitter01();
	return NULL;
}

static void test_jitter(void)
{
	double mine[8], theirs[8];
	pthread_t t;
	int low = 0, high = 0, in_range = 1, same = 1;

	for (int i = 0; i < DRAWS; i++) {
		double r = bf_jitter01();
		int64_t v = bf_jitter(100, 200);

		in_range &= r >= 0.0 && r < 1.0 && v >= 100 && v < 200;
		low += r < 0.5;
		high += r >= 0.5;
	}
	CHECK(in_range);
	/* Both halves are used: not a constant, not stuck. */
	CHECK(low > DRAWS / 4 && high > DRAWS / 4);
	CHECK_INT(bf_jitter(7, 7), 7);
	CHECK_INT(bf_jitter(7, 3), 7);

	/* Two threads do not draw the same sequence. */
	pthread_create(&t, NULL, draw, mine);
	pthread_join(t, NULL);
	pthread_create(&t, NULL, draw, theirs);
	pthread_join(t, NULL);
	for (int i = 0; i < 8; i++)
		same &= mine[i] == theirs[i];
	CHECK(!same);
}

int main(void)
{
	test_sleep();
	test_cond();
	test_mutex();
	test_timespec();
	test_jitter();
	return CHECK_DONE();
}
