/* budget.c - the mount's budget of Vertex AI calls: a token bucket that
 * every call made to the service is charged to (retries included, through
 * the Vertex client's meter), and that optional calls (refreshes the cache
 * can stand in for) ask before they go. A 429 from the service pauses the
 * optional calls for a jittered, doubling interval.
 *
 * Calls the user asked for (submit, cancel, rmdir, ctl refresh, a first
 * fetch with nothing cached) are charged but never held back, so the bucket
 * may go into debt; optional calls then wait until it is positive again.
 * Over any span of T minutes the mount makes at most rate*T + burst
 * optional-call-starting decisions' worth of calls, plus what concurrent
 * callers already in flight add (at most one call each). */
#include "model/budget.h"

#include <pthread.h>
#include <stdlib.h>

#include "batchfs/http.h"
#include "batchfs/jitter.h"

/* A 429 pauses optional calls for a jittered interval from 2 s, doubling
 * with each further 429, up to 64 s. */
#define PAUSE_INITIAL_MS 2000
#define PAUSE_CAP_MS 64000

/* Every field but the first three is guarded by lock. */
struct bf_budget {
	pthread_mutex_t
		lock;  /* immutable after creation, as are the next two */
	double per_ms; /* refill rate; 0: unlimited */
	double burst;  /* bucket size */
	double tokens;
	int64_t last_ms; /* last refill */
	int64_t paused_until_ms;
	int pause_step;
	struct bf_budget_stats st;
};

struct bf_budget *bf_budget_new(double per_minute, int64_t now_ms)
{
	struct bf_budget *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	if (per_minute > 0) {
		b->per_ms = per_minute / 60000.0;
		/* Ten seconds' worth: a burst of refreshes after a quiet
		 * spell, never a minute's quota at once. */
		b->burst = per_minute / 6.0 < 1 ? 1 : per_minute / 6.0;
		b->tokens = b->burst;
	}
	b->last_ms = now_ms;
	return b;
}

void bf_budget_free(struct bf_budget *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Lock held. */
static void refill(struct bf_budget *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
}

int bf_budget_may(struct bf_budget *b, int64_t now_ms)
{
	int ok;

	if (!b)
		return 1;
	pthread_mutex_lock(&b->lock);
	if (now_ms < b->paused_until_ms) {
		ok = 0;
	} else if (b->per_ms <= 0) {
		ok = 1;
	} else {
		refill(b, now_ms);
		ok = b->tokens >= 1.0;
	}
	if (!ok)
		b->st.deferred++;
	pthread_mutex_unlock(&b->lock);
	return ok;
}

void bf_budget_spend(struct bf_budget *b, int calls, long status,
		     int64_t now_ms)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	if (b->per_ms > 0) {
		refill(b, now_ms);
		b->tokens -= calls;
		/* Debt is bounded: a long outage of refills must not hold
		 * refreshes back for more than a minute. */
		if (b->tokens < -60000.0 * b->per_ms)
			b->tokens = -60000.0 * b->per_ms;
	}
	b->st.calls += (uint64_t)(calls > 0 ? calls : 0);
	if (status == 429) {
		long d = PAUSE_INITIAL_MS;

		for (int i = 0; i < b->pause_step && d < PAUSE_CAP_MS; i++)
			d *= 2;
		if (d > PAUSE_CAP_MS)
			d = PAUSE_CAP_MS;
		if (b->pause_step < 16)
			b->pause_step++;
		/* Half fixed, half jitter: never zero, and mounts that were
		 * throttled together do not come back together. */
		b->paused_until_ms = now_ms + d / 2 +
				     (int64_t)(bf_jitter01() * (double)(d / 2));
		if (b->tokens > 0)
			b->tokens = 0;
		b->st.throttled++;
	} else if (status >= 200 && status < 300) {
		b->pause_step = 0;
	}
	pthread_mutex_unlock(&b->lock);
}

void bf_budget_get_stats(struct bf_budget *b, struct bf_budget_stats *s)
{
	pthread_mutex_lock(&b->lock);
	*s = b->st;
	s->tokens = b->tokens;
	s->paused_until_ms = b->paused_until_ms;
	pthread_mutex_unlock(&b->lock);
}
