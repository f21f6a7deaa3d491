/* render.c - the text of generated files: state, progress (with its bar,
 * elapsed time and estimate), error, job.json, request.json of an accepted
 * job, output/bigquery and the mount's README.
 * Pure functions of a fetched job; the caller snapshots them at open. */
#include "model/render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/log.h"
#include "batchfs/vertex.h"
#include "model/model.h"

int bf_render_state(const struct bf_job *j, struct bf_buf *b)
{
	return bf_buf_printf(b, "%s\n", bf_job_state_name(j->state));
}

/* Counters come from the server as any int64: clamped so the sums and
 * the percentage below cannot overflow. */
static int64_t count(int64_t v)
{
	return v < 0 ? 0 : v > ((int64_t)1 << 50) ? (int64_t)1 << 50 : v;
}

int bf_render_progress(const struct bf_job *j, struct bf_buf *b)
{
	int64_t ok = count(j->succeeded);
	int64_t bad = count(j->failed);
	int64_t inc = count(j->incomplete);
	int64_t done = ok + bad, total = done + inc;
	int pct = total > 0 ? (int)(done * 100 / total) : 0;

	if (total == 0 && bf_job_state_terminal(j->state) &&
	    j->state == BF_JOB_SUCCEEDED)
		pct = 100;
	return bf_buf_printf(b,
			     "%s %" PRId64 "/%" PRId64
			     " %d%% succeeded=%" PRId64 " failed=%" PRId64
			     " incomplete=%" PRId64 "\n",
			     bf_job_state_name(j->state), done, total, pct, ok,
			     bad, j->incomplete);
}

int bf_render_error(const struct bf_job *j, struct bf_buf *b)
{
	char msg[1024];

	if (!j->error_code && !(j->error_message && *j->error_message))
		return 0;
	snprintf(msg, sizeof(msg), "%s",
		 j->error_message ? j->error_message : "");
	bf_redact(msg);
	return bf_buf_printf(b, "%s: %s\n", bf_grpc_name(j->error_code), msg);
}

int bf_render_jobjson(const struct bf_job *j, struct bf_buf *b)
{
	int rc;

	if (!j->raw)
		return bf_buf_puts(b, "{}\n");
	rc = bf_buf_append(b, j->raw, j->raw_len);
	if (!rc && (j->raw_len == 0 || j->raw[j->raw_len - 1] != '\n'))
		rc = bf_buf_puts(b, "\n");
	return rc;
}

/* The fields of a BatchPredictionJob a create body may carry. */
static const char *const spec_fields[] = {
	"displayName",
	"model",
	"unmanagedContainerModel",
	"inputConfig",
	"instanceConfig",
	"modelParameters",
	"outputConfig",
	"dedicatedResources",
	"serviceAccount",
	"manualBatchTuningParameters",
	"generateExplanation",
	"explanationSpec",
	"labels",
	"encryptionSpec",
	"disableContainerLogging",
};

int bf_render_spec(const struct bf_job *j, struct bf_buf *b)
{
	cJSON *raw = j->raw ? cJSON_ParseWithLength(j->raw, j->raw_len) : NULL;
	cJSON *spec = cJSON_CreateObject();
	char *txt = NULL;
	int rc = -ENOMEM;

	if (!spec)
		goto out;
	for (size_t i = 0;
	     raw && i < sizeof(spec_fields) / sizeof(*spec_fields); i++) {
		cJSON *v =
			cJSON_GetObjectItemCaseSensitive(raw, spec_fields[i]);

		if (v)
			cJSON_AddItemToObject(spec, spec_fields[i],
					      cJSON_Duplicate(v, 1));
	}
	txt = cJSON_Print(spec);
	if (!txt)
		goto out;
	rc = bf_buf_printf(b, "%s\n", txt);
out:
	free(txt);
	cJSON_Delete(spec);
	cJSON_Delete(raw);
	return rc;
}

int bf_render_bq(const struct bf_job *j, struct bf_buf *b)
{
	const char *t = j->bq_output ? j->bq_output : j->output_prefix;

	return bf_buf_printf(b, "%s\n", t ? t : "");
}

int bf_render_readme(const struct bf_model_opts *o, struct bf_buf *b)
{
	return bf_buf_printf(
		b,
		"batchfs %s: Vertex AI batch prediction jobs of project %s in "
		"%s.\n"
		"\n"
		"jobs/               every batch prediction job, one directory "
		"each\n"
		"  NAME/             the job's displayName ('/' and control "
		"characters\n"
		"                    shown as '_'; later jobs sharing a name "
		"show as NAME~ID)\n"
		"    request.json    the job's spec (read-only once accepted)\n"
		"    job.json        the BatchPredictionJob as last fetched\n"
		"    state           one line, e.g. JOB_STATE_RUNNING\n"
		"    progress        state done/total percent succeeded= "
		"failed= incomplete=\n"
		"                    [bar] elapsed= and, while running, eta=\n"
		"    wait            a read blocks until the job finished, "
		"then gives its state\n"
		"    error           \"CODE: message\", or why a submission "
		"failed; empty if none\n"
		"    ctl             write \"cancel\" or \"refresh\"\n"
		"    output/         the objects in outputInfo."
		"gcsOutputDirectory\n"
		"    results/        output rows matched to input lines:\n"
		"      succeeded.jsonl, failed.jsonl   the rows, split by "
		"status\n"
		"      by-input.jsonl  line N answers input line N "
		"({\"status\": \"incomplete\"} if none)\n"
		"      retry.jsonl     input lines of failed and incomplete "
		"rows, for a new draft\n"
		"    _SUCCESS        empty; only once the job SUCCEEDED\n"
		"by-id/ID            a symlink to jobs/NAME\n"
		"inbox/              with -o model= and -o staging=: "
		"NAME.jsonl written here\n"
		"                    is submitted as jobs/NAME on close "
		"(NAME.error: refused)\n"
		"outbox/             NAME.jsonl (by-input.jsonl) of each "
		"inbox job once it ended\n"
		"\n"
		"Submit a job:\n"
		"  mkdir jobs/NAME\n"
		"  cp my-request.json jobs/NAME/request.json   # close() "
		"returns the submit result\n"
		"  cat jobs/NAME/state; cat jobs/NAME/error\n"
		"request.json is a batchPredictionJobs.create body, or the "
		"short form\n"
		"  {\"model\": \"gemini-2.5-flash\", \"src\": \"gs://...\", "
		"\"dest\": \"gs://...\"}\n"
		"displayName defaults to NAME.\n"
		"%s"
		"A failed submission leaves the draft for another try; see "
		"jobs/NAME/error.\n"
		"\n"
		"Drafts (directories made with mkdir and not submitted yet) "
		"live only in this\n"
		"mount's memory: they do not outlive the mount and other "
		"machines do not see them.\n"
		"\n"
		"Delete a finished job: rmdir jobs/NAME (EBUSY while it runs). "
		"Cancel: echo cancel > jobs/NAME/ctl\n"
		"Files of running jobs are re-fetched at most every %gs; the "
		"jobs/ listing every %gs.\n"
		"See SEMANTICS.md in the batchfs sources for the full "
		"contract and the errno table.\n",
		BATCHFS_VERSION, o->project ? o->project : "?",
		o->location ? o->location : "?",
		o->staging ? "With staging (this mount: -o staging), write "
			     "input.jsonl into the draft first\n(checked, "
			     "keyed and uploaded on close); request.json may "
			     "then be just\n{\"model\": \"gemini-2.5-flash\"}"
			     ".\n"
			   : "Mount with -o staging=gs://BUCKET/PREFIX to "
			     "write input.jsonl into drafts.\n",
		o->refresh, o->list_ttl);
}

/* ---- progress with a bar, elapsed time and (running) the time left ---- */

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
		double per =
			(double)(now_us - j->start_us) / 1e6 / (double)done;

		dur(eta, sizeof(eta),
		    (int64_t)(per * (double)(total - done) + 0.5));
		rc = bf_buf_printf(b, " eta=%s", eta);
	}
	return rc ? rc : bf_buf_puts(b, "\n");
}
