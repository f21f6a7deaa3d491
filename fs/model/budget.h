/* budget.h - the mount's Vertex call budget (budget.c). */
#ifndef BATCHFS_MODEL_BUDGET_H
#define BATCHFS_MODEL_BUDGET_H

#include <stdint.h>

struct bf_budget;
struct bf_budget_stats {
	uint64_t calls;	    /* charged: every HTTP attempt to Vertex */
	uint64_t deferred;  /* optional calls held back */
	uint64_t throttled; /* 429s seen */
	double tokens;
	int64_t paused_until_ms;
};
/* per_minute <= 0: unlimited (still counts, still backs off on 429). */
struct bf_budget *bf_budget_new(double per_minute, int64_t now_ms);
void bf_budget_free(struct bf_budget *b);
/* May an optional call go now? (No: the caller serves its cache.) */
int bf_budget_may(struct bf_budget *b, int64_t now_ms);
/* Charges calls made; a 429 pauses optional calls (jittered, doubling). */
void bf_budget_spend(struct bf_budget *b, int calls, long status,
		     int64_t now_ms);
void bf_budget_get_stats(struct bf_budget *b, struct bf_budget_stats *s);

#endif
