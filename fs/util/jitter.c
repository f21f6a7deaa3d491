/* jitter.c - the process's one jitter source (jitter.h): xorshift64* per
 * thread, so no lock; each thread's state comes from one process seed
 * (getrandom, else the clock) and a per-thread counter, so no two threads
 * draw the same sequence.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "batchfs/jitter.h"

static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static uint64_t process_seed;
static uint64_t threads; /* __atomic: threads seeded so far */
static __thread uint64_t state;

static void seed_process(void)
{
	struct timespec ts;

	if (getrandom(&process_seed, sizeof(process_seed), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(process_seed))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	process_seed = (uint64_t)ts.tv_sec * 1000000000ULL ^
		       (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
}

/* splitmix64: spreads seed + n into a well-mixed nonzero state. */
static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 0x9e3779b97f4a7c15ULL;
}

static uint64_t next(void)
{
	if (!state) {
		uint64_t n = __atomic_add_fetch(&threads, 1, __ATOMIC_RELAXED);

		pthread_once(&seed_once, seed_process);
		state = mix(process_seed + n * 0x9e3779b97f4a7c15ULL);
	}
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dULL;
}

double bf_jitter01(void)
{
	return (double)(next() >> 11) / 9007199254740992.0; /* 2^53 */
}

int64_t bf_jitter(int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t)(bf_jitter01() * (double)(hi - lo));
}
