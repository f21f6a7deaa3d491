/* test_progress.c - progress with its bar, elapsed time and estimate. */
#include <stdint.h>
#include <string.h>

#include "../check.h"
#include "batchfs/buf.h"
#include "batchfs/vertex.h"
#include "model/render.h"

#define S 1000000LL /* us per second */

static const char *at(const struct bf_job *j, int64_t now, struct bf_buf *b)
{
	bf_buf_reset(b);
	if (bf_render_progress_at(j, now, b) != 0)
		return "(failed)";
	return b->data ? b->data : "";
}

int main(void)
{
	struct bf_job j;
	struct bf_buf b;

	bf_buf_init(&b, 0);
	memset(&j, 0, sizeof(j));
	j.state = BF_JOB_PENDING;
	CHECK_STR(at(&j, 0, &b), "JOB_STATE_PENDING 0/0 0% succeeded=0 "
				 "failed=0 incomplete=0 [....................]\n");
	j.create_us = 1000 * S;
	CHECK_STR(at(&j, 1042 * S, &b),
		  "JOB_STATE_PENDING 0/0 0% succeeded=0 failed=0 incomplete=0 "
		  "[....................] elapsed=42s\n");

	/* running: 40% done in 100 s -> 150 s left */
	j.state = BF_JOB_RUNNING;
	j.start_us = 1100 * S;
	j.succeeded = 3;
	j.failed = 1;
	j.incomplete = 6;
	CHECK_STR(at(&j, 1200 * S, &b),
		  "JOB_STATE_RUNNING 4/10 40% succeeded=3 failed=1 "
		  "incomplete=6 [########............] elapsed=1m40s "
		  "eta=2m30s\n");
	/* nothing done yet: no estimate */
	j.succeeded = j.failed = 0;
	j.incomplete = 10;
	CHECK_STR(at(&j, 1200 * S, &b),
		  "JOB_STATE_RUNNING 0/10 0% succeeded=0 failed=0 "
		  "incomplete=10 [....................] elapsed=1m40s\n");
	/* hours and days */
	j.succeeded = 1;
	j.incomplete = 9;
	CHECK_STR(at(&j, 1100 * S + 7300 * S, &b),
		  "JOB_STATE_RUNNING 1/10 10% succeeded=1 failed=0 "
		  "incomplete=9 [##..................] elapsed=2h01m "
		  "eta=18h15m\n");
	CHECK_STR(at(&j, 1100 * S + 100000 * S, &b),
		  "JOB_STATE_RUNNING 1/10 10% succeeded=1 failed=0 "
		  "incomplete=9 [##..................] elapsed=1d03h "
		  "eta=10d10h\n");

	/* finished: elapsed stops at the end, no estimate */
	j.state = BF_JOB_SUCCEEDED;
	j.succeeded = 10;
	j.incomplete = 0;
	j.end_us = 1190 * S;
	CHECK_STR(at(&j, 5000 * S, &b),
		  "JOB_STATE_SUCCEEDED 10/10 100% succeeded=10 failed=0 "
		  "incomplete=0 [####################] elapsed=1m30s\n");
	/* endTime absent on a finished job: elapsed stops at updateTime */
	j.end_us = 0;
	j.update_us = 1160 * S;
	CHECK(strstr(at(&j, 5000 * S, &b), " elapsed=1m00s\n") != NULL);
	/* unknown counters (-1): no bogus 100% or estimate */
	j.state = BF_JOB_RUNNING;
	j.incomplete = -1;
	CHECK_STR(at(&j, 1200 * S, &b),
		  "JOB_STATE_RUNNING counts not reported succeeded=10 "
		  "failed=0 elapsed=1m40s\n");
	/* no completionStats while running */
	j.incomplete = 0;
	j.no_stats = 1;
	CHECK_STR(at(&j, 1200 * S, &b),
		  "JOB_STATE_RUNNING counts not reported elapsed=1m40s\n");
	/* the rows results/ already read, when known */
	bf_buf_reset(&b);
	CHECK_INT(bf_render_progress_rows(&j, 1200 * S, 7, &b), 0);
	CHECK_STR(b.data, "JOB_STATE_RUNNING counts not reported exported=7 "
			  "elapsed=1m40s\n");
	bf_buf_free(&b);
	return CHECK_DONE();
}
