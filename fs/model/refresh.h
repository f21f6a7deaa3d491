/* refresh.h - refreshing running jobs under the budget (refresh.c). */
#ifndef BATCHFS_MODEL_REFRESH_H
#define BATCHFS_MODEL_REFRESH_H

#include <stdint.h>

struct bf_ctx;
struct bf_mjob;

struct bf_refresher;
struct bf_refresh_stats {
	uint64_t lists;	 /* lists of unfinished jobs */
	uint64_t listed; /* jobs they returned */
	uint64_t gets;	 /* due jobs left to a get of their own */
};
struct bf_refresher *bf_refresher_new(void);
void bf_refresher_free(struct bf_refresher *r);
void bf_refresher_get_stats(struct bf_refresher *r, struct bf_refresh_stats *s);
/* Before a non-forced refresh of j: BF_PLAN_STALE to serve the cache as
 * it is; BF_PLAN_GO to go on (j may have been refreshed by a list). */
int bf_refresh_plan(struct bf_ctx *c, struct bf_mjob *j);

#endif
