/* test_budget.c - the Vertex call budget: the bucket's rate and burst,
 * debt from calls that were not asked, and the back-off after a 429. */
#include "../check.h"
#include "model/budget.h"

/* Optional calls granted over [0, ms), one attempt each, every step ms. */
static int run(struct bf_budget *b, int64_t t0, int64_t ms, int64_t step)
{
	int n = 0;

	for (int64_t t = t0; t < t0 + ms; t += step) {
		if (bf_budget_may(b, t)) {
			bf_budget_spend(b, 1, 200, t);
			n++;
		}
	}
	return n;
}

int main(void)
{
	struct bf_budget *b = bf_budget_new(120, 0);
	struct bf_budget_stats st;
	int n;

	/* 120 a minute, burst of 20 (ten seconds' worth): asking every 10 ms
	 * for ten minutes gets 20 + 1200 at most. */
	n = run(b, 0, 600000, 10);
	CHECK(n >= 1200 && n <= 1221);
	bf_budget_get_stats(b, &st);
	CHECK_INT(st.calls, n);
	CHECK(st.deferred > 0);

	/* A quiet spell refills the burst, not more. */
	n = run(b, 700000, 1000, 10);
	CHECK(n >= 20 && n <= 22);

	/* Calls that were not asked (a submit, a first fetch) put it in debt:
	 * 60 calls at once, with 20 tokens in the bucket, hold refreshes
	 * back until 41 have come in again (20.5 s). */
	bf_budget_spend(b, 60, 200, 800000);
	CHECK(!bf_budget_may(b, 800000));
	CHECK(!bf_budget_may(b, 820000));
	CHECK(bf_budget_may(b, 820600));
	bf_budget_free(b);

	/* A 429 pauses optional calls 1-2 s, then 2-4 s, 4-8 s, ... up to
	 * 64 s; a success starts over. Tokens do not help meanwhile. */
	b = bf_budget_new(6000, 0);
	bf_budget_spend(b, 1, 429, 1000);
	CHECK(!bf_budget_may(b, 1999));
	CHECK(bf_budget_may(b, 3001));
	bf_budget_spend(b, 1, 429, 10000);
	CHECK(!bf_budget_may(b, 11999));
	CHECK(bf_budget_may(b, 14001));
	for (int i = 0; i < 10; i++)
		bf_budget_spend(b, 1, 429, 20000);
	CHECK(!bf_budget_may(b, 20000 + 31999));
	CHECK(bf_budget_may(b, 20000 + 64001));
	bf_budget_spend(b, 1, 200, 90000);
	bf_budget_spend(b, 1, 429, 90000);
	CHECK(bf_budget_may(b, 92001));
	bf_budget_get_stats(b, &st);
	CHECK_INT(st.throttled, 13);
	bf_budget_free(b);

	/* No limit: every call may go, and is still counted. */
	b = bf_budget_new(0, 0);
	CHECK_INT(run(b, 0, 1000, 1), 1000);
	bf_budget_spend(b, 1, 429, 5000);
	CHECK(!bf_budget_may(b, 5500));
	bf_budget_free(b);
	return CHECK_DONE();
}
