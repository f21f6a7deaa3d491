/* waitfile.c - time in a job's files: `wait`, whose read blocks until the
 * job has finished (polling every `refresh` seconds, for as long as the
 * reader wants: a signal ends it with EINTR), and the bar, elapsed time and
 * estimate of `progress`. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batchfs/http.h"
#include "batchfs/wait.h"
#include "model/model_int.h"

static void dur(char *out, size_t n, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, n, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(out, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, n, "%" PRId64 "h%02" PRId64 "m", s / 3600,
			 s / 60 % 60);
	else
		snprintf(out, n, "%" PRId64 "d%02" PRId64 "h", s / 86400,
			 s / 3600 % 24);
}

static int64_t clamp(int64_t v)
{
	return v < 0 ? 0 : v > ((int64_t)1 << 50) ? (int64_t)1 << 50 : v;
}

/* Counts the service did not report: no completionStats while the job
 * runs, or a counter of -1 (unknown). A total guessed from them would show
 * a bogus percentage and estimate. */
static int counts_unknown(const struct bf_job *j)
{
	int live = !bf_job_state_terminal(j->state) &&
		   j->state != BF_JOB_PENDING && j->state != BF_JOB_QUEUED &&
		   j->state != BF_JOB_UNSPECIFIED;

	return (live && j->no_stats) || j->succeeded < 0 || j->failed < 0 ||
	       j->incomplete < 0;
}

static int unknown_counts(const struct bf_job *j, int64_t t0, int64_t t1,
			  int64_t rows, struct bf_buf *b)
{
	char el[32];
	int rc;

	rc = bf_buf_printf(b, "%s counts not reported",
			   bf_job_state_name(j->state));
	if (rc == 0 && !j->no_stats && j->succeeded >= 0 && j->failed >= 0)
		rc = bf_buf_printf(b, " succeeded=%" PRId64 " failed=%" PRId64,
				   clamp(j->succeeded), clamp(j->failed));
	if (rc == 0 && rows >= 0)
		rc = bf_buf_printf(b, " exported=%" PRId64, clamp(rows));
	if (rc == 0 && t0 > 0 && t1 >= t0) {
		dur(el, sizeof(el), (t1 - t0) / 1000000);
		rc = bf_buf_printf(b, " elapsed=%s", el);
	}
	return rc ? rc : bf_buf_puts(b, "\n");
}

int bf_render_progress_at(const struct bf_job *j, int64_t now_us,
			  struct bf_buf *b)
{
	return bf_render_progress_rows(j, now_us, -1, b);
}

int bf_render_progress_rows(const struct bf_job *j, int64_t now_us,
			    int64_t rows, struct bf_buf *b)
{
	int64_t ok = clamp(j->succeeded), bad = clamp(j->failed);
	int64_t done = ok + bad, total = done + clamp(j->incomplete);
	int64_t t0 = j->start_us ? j->start_us : j->create_us;
	/* endTime may be set only for some final states: updateTime is
	 * when a finished job last changed, so its end. */
	int64_t tend = j->end_us ? j->end_us : j->update_us;
	int64_t t1 = bf_job_state_terminal(j->state) && tend ? tend : now_us;
	int pct = total > 0 ? (int)(done * 100 / total) : 0;
	char bar[21], el[32], eta[32] = "";
	int rc, fill;

	if (counts_unknown(j))
		return unknown_counts(j, t0, t1, rows, b);
	if (total == 0 && j->state == BF_JOB_SUCCEEDED)
		pct = 100;
	fill = pct / 5;
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	rc = bf_buf_printf(b,
			   "%s %" PRId64 "/%" PRId64 " %d%% succeeded=%" PRId64
			   " failed=%" PRId64 " incomplete=%" PRId64 " [%s]",
			   bf_job_state_name(j->state), done, total, pct, ok,
			   bad, j->incomplete, bar);
	if (rc == 0 && t0 > 0 && t1 >= t0) {
		dur(el, sizeof(el), (t1 - t0) / 1000000);
		rc = bf_buf_printf(b, " elapsed=%s", el);
	}
	/* The rate so far, while rows are being processed. */
	if (rc == 0 && j->state == BF_JOB_RUNNING && j->start_us > 0 &&
	    done > 0 && total > done && now_us > j->start_us) {
		double per = (double)(now_us - j->start_us) / 1e6 / (double)done;

		dur(eta, sizeof(eta), (int64_t)(per * (double)(total - done) +
						0.5));
		rc = bf_buf_printf(b, " eta=%s", eta);
	}
	return rc ? rc : bf_buf_puts(b, "\n");
}

/* Sleeps up to s seconds in short steps; -EINTR when the caller was
 * interrupted, -ESHUTDOWN when the mount goes away. */
#define NAP_SLICE_MS 50
static int nap(struct bf_ctx *c, double s)
{
	int64_t end = bf_now_ms() + (int64_t)(s * 1000);

	do {
		if (bf_cancelled())
			return -EINTR;
		if (__atomic_load_n(&c->shutdown, __ATOMIC_ACQUIRE))
			return -ESHUTDOWN;
		if (bf_sleep_ms_cancellable(NAP_SLICE_MS, NAP_SLICE_MS))
			return -EINTR;
	} while (bf_now_ms() < end);
	return 0;
}

int bf_wait_check(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e)
{
	int rc = bf_mjob_fresh(c, j, 0, e), done = 0;

	/* The service being slow or down is no reason to give up a wait the
	 * user asked for; the next look tries again. */
	if (rc && !bf_transient(rc))
		return rc;
	pthread_mutex_lock(&j->lock);
	if (j->gone) {
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
		done = 1;
	} else if (j->have_job && bf_job_state_terminal(j->job.state)) {
		rc = bf_render_state(&j->job, b);
		done = 1;
	}
	pthread_mutex_unlock(&j->lock);
	return done ? (rc ? rc : 1) : 0;
}

int bf_wait_job(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		struct bf_err *e)
{
	double ivl = c->o.refresh > 0.1 ? c->o.refresh : 0.1;
	int rc;

	for (;;) {
		rc = bf_wait_check(c, j, b, e);
		if (rc)
			return rc < 0 ? rc : 0;
		rc = nap(c, ivl);
		if (rc)
			return bf_err_set(e, -rc, rc == -EINTR ? "interrupted"
							       : "unmounting");
	}
}
