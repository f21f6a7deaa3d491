/* job.c - the BatchPredictionJob resource: JobState names, RFC 3339 times
 * and the defensive JSON-to-struct parser behind every Vertex reply.
 *
 * The server is trusted to be Google, not to be well-formed: a field of the
 * wrong type is treated as absent, a counter that is not a clean int64 is
 * "unknown" (-1), and only an unusable name (no decimal job id) makes the
 * whole job unparsable, because everything above keys jobs by that id.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/err.h"
#include "batchfs/vertex.h"
#include "vertex/job_int.h"

static const char *const state_names[] = {
	[BF_JOB_UNSPECIFIED] = "JOB_STATE_UNSPECIFIED",
	[BF_JOB_QUEUED] = "JOB_STATE_QUEUED",
	[BF_JOB_PENDING] = "JOB_STATE_PENDING",
	[BF_JOB_RUNNING] = "JOB_STATE_RUNNING",
	[BF_JOB_SUCCEEDED] = "JOB_STATE_SUCCEEDED",
	[BF_JOB_FAILED] = "JOB_STATE_FAILED",
	[BF_JOB_CANCELLING] = "JOB_STATE_CANCELLING",
	[BF_JOB_CANCELLED] = "JOB_STATE_CANCELLED",
	[BF_JOB_PAUSED] = "JOB_STATE_PAUSED",
	[BF_JOB_EXPIRED] = "JOB_STATE_EXPIRED",
	[BF_JOB_UPDATING] = "JOB_STATE_UPDATING",
	[BF_JOB_PARTIALLY_SUCCEEDED] = "JOB_STATE_PARTIALLY_SUCCEEDED",
};
#define N_STATES (sizeof(state_names) / sizeof(state_names[0]))

const char *bf_job_state_name(enum bf_job_state s)
{
	if ((unsigned)s >= N_STATES)
		return state_names[BF_JOB_UNSPECIFIED];
	return state_names[s];
}

enum bf_job_state bf_job_state_parse(const char *name)
{
	if (!name)
		return BF_JOB_UNSPECIFIED;
	for (size_t i = 0; i < N_STATES; i++)
		if (strcmp(name, state_names[i]) == 0)
			return (enum bf_job_state)i;
	return BF_JOB_UNSPECIFIED;
}

int bf_job_state_terminal(enum bf_job_state s)
{
	switch (s) {
	case BF_JOB_SUCCEEDED:
	case BF_JOB_FAILED:
	case BF_JOB_CANCELLED:
	case BF_JOB_EXPIRED:
	case BF_JOB_PARTIALLY_SUCCEEDED:
		return 1;
	default:
		return 0;
	}
}

/* ---- JSON helpers ------------------------------------------------------ */

static const cJSON *obj_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key)
				 : NULL;
}

static const char *str_get(const cJSON *o, const char *key)
{
	const cJSON *it = obj_get(o, key);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Copies a string field; absent or wrong type leaves *dst NULL. */
static int dup_str(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

/* int64 counters: absent/wrong type 0; a clean decimal (string or integral
 * number) its value; anything negative, overflowing or garbled -1. */
static int64_t i64_get(const cJSON *o, const char *key)
{
	const cJSON *it = obj_get(o, key);

	if (cJSON_IsString(it)) {
		const char *s = it->valuestring;
		char *end;
		long long v;

		if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
			return -1;
		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || *end || v < 0)
			return -1;
		return v;
	}
	if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (!isfinite(d) || d < 0 || d >= 9.2e18 || d != floor(d))
			return -1;
		return (int64_t)d;
	}
	return 0;
}

static int64_t time_get(const cJSON *o, const char *key)
{
	const char *s = str_get(o, key);
	int64_t t = s ? bf_parse_rfc3339_us(s) : 0;

	return t < 0 ? 0 : t;
}

/* The id is the last segment of name and must be 1..20 decimal digits. */
static int id_from_name(const char *name, char id[24])
{
	const char *slash = strrchr(name, '/');
	const char *seg = slash ? slash + 1 : name;
	size_t n = strlen(seg);

	if (n == 0 || n > 20 || strspn(seg, "0123456789") != n)
		return -1;
	memcpy(id, seg, n + 1);
	return 0;
}

/* ---- the parser -------------------------------------------------------- */

void bf_job_free(struct bf_job *j)
{
	if (!j)
		return;
	free(j->name);
	free(j->display_name);
	free(j->model);
	free(j->error_message);
	free(j->input_uri);
	free(j->output_prefix);
	free(j->gcs_output_dir);
	free(j->bq_output);
	free(j->client_token);
	free(j->raw);
	*j = (struct bf_job){0};
}

static int fill_locations(const cJSON *obj, struct bf_job *j)
{
	const cJSON *in = obj_get(obj, "inputConfig");
	const cJSON *outc = obj_get(obj, "outputConfig");
	const cJSON *info = obj_get(obj, "outputInfo");
	const cJSON *uris = obj_get(obj_get(in, "gcsSource"), "uris");
	const char *s = NULL;
	int rc;

	if (cJSON_IsArray(uris) && cJSON_IsString(cJSON_GetArrayItem(uris, 0)))
		s = cJSON_GetArrayItem(uris, 0)->valuestring;
	if (!s)
		s = str_get(obj_get(in, "bigquerySource"), "inputUri");
	if ((rc = dup_str(&j->input_uri, s)))
		return rc;

	s = str_get(obj_get(outc, "gcsDestination"), "outputUriPrefix");
	if (!s)
		s = str_get(obj_get(outc, "bigqueryDestination"), "outputUri");
	if ((rc = dup_str(&j->output_prefix, s)))
		return rc;

	if ((rc = dup_str(&j->gcs_output_dir,
			  str_get(info, "gcsOutputDirectory"))))
		return rc;

	const char *ds = str_get(info, "bigqueryOutputDataset");
	const char *tb = str_get(info, "bigqueryOutputTable");

	if (ds && tb) {
		/* "bq://p.d" + "predictions_x" -> "bq://p.d.predictions_x" */
		if (asprintf(&j->bq_output, "%s.%s", ds, tb) < 0) {
			j->bq_output = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	return dup_str(&j->bq_output, ds ? ds : tb);
}

int bf_job_from_cjson(const cJSON *obj, const char *raw, size_t raw_len,
		      struct bf_job *out, struct bf_err *e)
{
	struct bf_job j = {0};
	const char *name;
	int rc = -ENOMEM;

	*out = (struct bf_job){0};
	if (!cJSON_IsObject(obj))
		return bf_err_set(e, EIO,
				  "BatchPredictionJob is not an object");
	name = str_get(obj, "name");
	if (!name)
		return bf_err_set(e, EIO, "BatchPredictionJob without a name");
	if (id_from_name(name, j.id))
		return bf_err_set(e, EIO,
				  "BatchPredictionJob name without a numeric "
				  "id: %.200s",
				  name);

	if (raw) {
		if (raw_len > BF_JOB_MAX_RAW)
			return bf_err_set(e, EFBIG, "job JSON over 1 MiB");
		j.raw = malloc(raw_len + 1);
		if (!j.raw)
			goto nomem;
		memcpy(j.raw, raw, raw_len);
		j.raw[raw_len] = '\0';
		j.raw_len = raw_len;
	} else {
		j.raw = cJSON_PrintUnformatted(obj);
		if (!j.raw)
			goto nomem;
		j.raw_len = strlen(j.raw);
		if (j.raw_len > BF_JOB_MAX_RAW) {
			bf_job_free(&j);
			return bf_err_set(e, EFBIG, "job JSON over 1 MiB");
		}
	}

	if (dup_str(&j.name, name) ||
	    dup_str(&j.display_name, str_get(obj, "displayName")) ||
	    dup_str(&j.model, str_get(obj, "model")))
		goto nomem;
	j.state = bf_job_state_parse(str_get(obj, "state"));
	j.create_us = time_get(obj, "createTime");
	j.start_us = time_get(obj, "startTime");
	j.end_us = time_get(obj, "endTime");
	j.update_us = time_get(obj, "updateTime");

	const cJSON *st = obj_get(obj, "completionStats");

	j.no_stats = !cJSON_IsObject(st);
	j.succeeded = i64_get(st, "successfulCount");
	j.failed = i64_get(st, "failedCount");
	j.incomplete = i64_get(st, "incompleteCount");

	const cJSON *err = obj_get(obj, "error");
	const cJSON *code = obj_get(err, "code");

	if (cJSON_IsNumber(code) && code->valuedouble >= -2147483648.0 &&
	    code->valuedouble <= 2147483647.0)
		j.error_code = (int)code->valuedouble;
	if (dup_str(&j.error_message, str_get(err, "message")))
		goto nomem;
	if ((rc = fill_locations(obj, &j)))
		goto nomem;
	{
		const cJSON *labels = obj_get(obj, "labels");
		const char *tok = str_get(labels, BF_TOKEN_LABEL);

		if (!tok)
			tok = str_get(labels, BF_TOKEN_LABEL_OLD);
		if (dup_str(&j.client_token, tok))
			goto nomem;
		tok = str_get(labels, BF_INBOX_LABEL);
		j.inbox = tok && strcmp(tok, "1") == 0;
	}
	*out = j;
	return 0;
nomem:
	bf_job_free(&j);
	return bf_err_set(e, ENOMEM, "out of memory parsing a job");
}

int bf_job_parse(const char *json, size_t len, struct bf_job *out,
		 struct bf_err *e)
{
	const char *end = NULL;
	cJSON *root;
	char *copy;
	int rc;

	*out = (struct bf_job){0};
	if (!json)
		return bf_err_set(e, EIO, "empty BatchPredictionJob reply");
	if (len > BF_JOB_MAX_RAW)
		return bf_err_set(e, EFBIG,
				  "job JSON of %zu bytes is over 1 MiB", len);
	if (memchr(json, '\0', len))
		return bf_err_set(e, EIO, "job JSON contains a NUL byte");
	/* cJSON wants the terminator inside the length to reject trailing
	 * garbage; its nesting limit (CJSON_NESTING_LIMIT) bounds recursion. */
	copy = malloc(len + 1);
	if (!copy)
		return bf_err_set(e, ENOMEM, "out of memory parsing a job");
	memcpy(copy, json, len);
	copy[len] = '\0';
	root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
	if (!root) {
		free(copy);
		return bf_err_set(e, EIO, "malformed BatchPredictionJob JSON");
	}
	rc = bf_job_from_cjson(root, json, len, out, e);
	cJSON_Delete(root);
	free(copy);
	return rc;
}

int bf_job_dup(const struct bf_job *src, struct bf_job *dst)
{
	struct bf_job j = *src;

	j.name = j.display_name = j.model = j.error_message = NULL;
	j.input_uri = j.output_prefix = j.gcs_output_dir = NULL;
	j.bq_output = j.client_token = j.raw = NULL;
	*dst = (struct bf_job){0};
	if (dup_str(&j.name, src->name) ||
	    dup_str(&j.display_name, src->display_name) ||
	    dup_str(&j.model, src->model) ||
	    dup_str(&j.error_message, src->error_message) ||
	    dup_str(&j.input_uri, src->input_uri) ||
	    dup_str(&j.output_prefix, src->output_prefix) ||
	    dup_str(&j.gcs_output_dir, src->gcs_output_dir) ||
	    dup_str(&j.bq_output, src->bq_output) ||
	    dup_str(&j.client_token, src->client_token))
		goto nomem;
	if (src->raw) {
		j.raw = malloc(src->raw_len + 1);
		if (!j.raw)
			goto nomem;
		memcpy(j.raw, src->raw, src->raw_len);
		j.raw[src->raw_len] = '\0';
	}
	*dst = j;
	return 0;
nomem:
	bf_job_free(&j);
	return -ENOMEM;
}
