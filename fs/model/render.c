/* render.c - the text of generated files: state, progress, error, job.json,
 * request.json of an accepted job, output/bigquery and the mount's README.
 * Pure functions of a fetched job; the caller snapshots them at open. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/log.h"
#include "model/model_int.h"

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
		"by-id/ID            a symlink to jobs/NAME\n"
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
