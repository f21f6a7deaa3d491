/* test_render.c - generated file contents: one line for state and
 * progress, "CODE: message" errors, raw job.json, the spec view. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../check.h"
#include "batchfs/buf.h"
#include "batchfs/vertex.h"
#include "model/model.h"
#include "model/render.h"

static const char *render(int (*fn)(const struct bf_job *, struct bf_buf *),
			  const struct bf_job *j, struct bf_buf *b)
{
	bf_buf_reset(b);
	if (fn(j, b) != 0)
		return "(failed)";
	return b->data ? b->data : "";
}

static void running(void)
{
	struct bf_job j;
	struct bf_buf b;

	memset(&j, 0, sizeof(j));
	bf_buf_init(&b, 0);
	j.state = BF_JOB_RUNNING;
	j.succeeded = 3;
	j.failed = 1;
	j.incomplete = 6;
	CHECK_STR(render(bf_render_state, &j, &b), "JOB_STATE_RUNNING\n");
	CHECK_STR(render(bf_render_progress, &j, &b),
		  "JOB_STATE_RUNNING 4/10 40% succeeded=3 failed=1 "
		  "incomplete=6\n");
	CHECK_STR(render(bf_render_error, &j, &b), "");
	j.incomplete = -1; /* unknown: shown as is, not counted */
	CHECK_STR(render(bf_render_progress, &j, &b),
		  "JOB_STATE_RUNNING 4/4 100% succeeded=3 failed=1 "
		  "incomplete=-1\n");
	memset(&j, 0, sizeof(j));
	j.state = BF_JOB_PENDING;
	CHECK_STR(render(bf_render_progress, &j, &b),
		  "JOB_STATE_PENDING 0/0 0% succeeded=0 failed=0 "
		  "incomplete=0\n");
	bf_buf_free(&b);
}

static void failed(void)
{
	struct bf_job j;
	struct bf_buf b;

	memset(&j, 0, sizeof(j));
	bf_buf_init(&b, 0);
	j.state = BF_JOB_CANCELLED;
	j.error_code = 1;
	j.error_message = "CANCELED";
	CHECK_STR(render(bf_render_error, &j, &b), "CANCELLED: CANCELED\n");
	j.error_code = 9;
	j.error_message = "input missing";
	CHECK_STR(render(bf_render_error, &j, &b),
		  "FAILED_PRECONDITION: input missing\n");
	bf_buf_free(&b);
}

static void json_views(void)
{
	static const char raw[] =
		"{\"name\":\"projects/1/locations/l/batchPredictionJobs/5\","
		"\"displayName\":\"d\",\"model\":\"m\",\"state\":"
		"\"JOB_STATE_SUCCEEDED\",\"inputConfig\":{\"instancesFormat\":"
		"\"jsonl\"},\"outputConfig\":{\"predictionsFormat\":\"jsonl\"},"
		"\"labels\":{\"batchfs-token\":\"bf-1\"}}";
	struct bf_job j;
	struct bf_buf b;
	cJSON *spec;

	memset(&j, 0, sizeof(j));
	bf_buf_init(&b, 0);
	j.raw = (char *)raw;
	j.raw_len = strlen(raw);
	CHECK(strncmp(render(bf_render_jobjson, &j, &b), raw, strlen(raw)) ==
	      0);
	CHECK_INT(b.len, strlen(raw) + 1);
	spec = cJSON_Parse(render(bf_render_spec, &j, &b));
	CHECK(spec != NULL);
	CHECK(cJSON_GetObjectItem(spec, "displayName") != NULL);
	CHECK(cJSON_GetObjectItem(spec, "inputConfig") != NULL);
	CHECK(cJSON_GetObjectItem(spec, "state") == NULL);
	CHECK(cJSON_GetObjectItem(spec, "name") == NULL);
	cJSON_Delete(spec);
	bf_buf_free(&b);
}

static void bigquery(void)
{
	struct bf_job j;
	struct bf_buf b;

	memset(&j, 0, sizeof(j));
	bf_buf_init(&b, 0);
	j.output_prefix = "bq://p";
	CHECK_STR(render(bf_render_bq, &j, &b), "bq://p\n");
	j.bq_output = "bq://p.gen_ai_batch_prediction.predictions_1";
	CHECK_STR(render(bf_render_bq, &j, &b),
		  "bq://p.gen_ai_batch_prediction.predictions_1\n");
	bf_buf_free(&b);
}

static void readme(void)
{
	struct bf_model_opts o;
	struct bf_buf b;

	bf_model_opts_default(&o);
	o.project = "p1";
	bf_buf_init(&b, 0);
	CHECK_INT(bf_render_readme(&o, &b), 0);
	CHECK(strstr(b.data, "p1") != NULL);
	CHECK(strstr(b.data, "do not outlive the mount") != NULL);
	bf_buf_free(&b);
}

int main(void)
{
	running();
	failed();
	json_views();
	bigquery();
	readme();
	return CHECK_DONE();
}
