/* test_validate.c - request.json checks: syntax errors with line:column,
 * missing fields named, displayName defaulted or refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../check.h"
#include "model/validate.h"

#define GOOD_IN                                                                \
	"\"inputConfig\": {\"instancesFormat\": \"jsonl\", \"gcsSource\": "    \
	"{\"uris\": [\"gs://b/in.jsonl\"]}}"
#define GOOD_OUT                                                               \
	"\"outputConfig\": {\"predictionsFormat\": \"jsonl\", "                \
	"\"gcsDestination\": {\"outputUriPrefix\": \"gs://b/out\"}}"
#define MODEL "\"model\": \"publishers/google/models/gemini-2.5-flash\""

static int prep(const char *text, const char *name, char **out,
		struct bf_err *e)
{
	bf_err_clear(e);
	return bf_validate_request(text, strlen(text), name, out, e);
}

static void good(void)
{
	struct bf_err e;
	char *out = NULL;
	cJSON *j;

	CHECK_INT(prep("{" MODEL ", " GOOD_IN ", " GOOD_OUT "}", "job1", &out,
		       &e),
		  0);
	CHECK(out != NULL);
	j = cJSON_Parse(out);
	CHECK_STR(cJSON_GetObjectItem(j, "displayName")->valuestring, "job1");
	cJSON_Delete(j);
	free(out);

	/* Same displayName as the directory: fine. */
	CHECK_INT(prep("{\"displayName\": \"job1\", " MODEL ", " GOOD_IN
		       ", " GOOD_OUT "}",
		       "job1", &out, &e),
		  0);
	free(out);

	/* snake_case spellings are accepted by Google too. */
	CHECK_INT(
		prep("{" MODEL ", \"input_config\": {\"instances_format\": "
		     "\"jsonl\", \"gcs_source\": {\"uris\": [\"gs://b/i\"]}}, "
		     "\"output_config\": {\"predictions_format\": \"jsonl\", "
		     "\"gcs_destination\": {\"output_uri_prefix\": "
		     "\"gs://b/o\"}}}",
		     "j", &out, &e),
		0);
	free(out);

	/* BigQuery in and out. */
	CHECK_INT(prep("{" MODEL ", \"inputConfig\": {\"instancesFormat\": "
		       "\"bigquery\", \"bigquerySource\": {\"inputUri\": "
		       "\"bq://p.d.t\"}}, \"outputConfig\": "
		       "{\"predictionsFormat\": \"bigquery\", "
		       "\"bigqueryDestination\": {\"outputUri\": \"bq://p\"}}}",
		       "j", &out, &e),
		  0);
	free(out);
}

static void syntax(void)
{
	struct bf_err e;
	char *out = NULL;

	CHECK_INT(prep("{\n  \"model\": \"x\",\n  oops\n}", "j", &out, &e),
		  -EINVAL);
	CHECK(out == NULL);
	/* cJSON may point one byte past the culprit: line exact. */
	CHECK(strstr(e.msg, "request.json:3:") != NULL);
	CHECK(strchr(e.msg, '\n') == NULL); /* one line for the error file */
	CHECK(strstr(e.msg, "malformed JSON") != NULL);

	CHECK_INT(prep("{\"model\": \"x\"", "j", &out, &e), -EINVAL);
	CHECK(strstr(e.msg, "request.json:1:") != NULL);
	CHECK(strstr(e.msg, "malformed JSON") != NULL);

	CHECK_INT(prep("{} trailing", "j", &out, &e), -EINVAL);
	CHECK(strstr(e.msg, "request.json:1:4") != NULL);

	CHECK_INT(bf_validate_request("", 0, "j", &out, &e), -EINVAL);
	CHECK_INT(prep("[1, 2]", "j", &out, &e), -EINVAL);
	CHECK(strstr(e.msg, "object") != NULL);
}

static void missing(void)
{
	struct bf_err e;
	char *out = NULL;

	CHECK_INT(prep("{" GOOD_IN ", " GOOD_OUT "}", "j", &out, &e), -EINVAL);
	CHECK(strstr(e.msg, "missing field \"model\"") != NULL);

	CHECK_INT(prep("{" MODEL ", " GOOD_OUT "}", "j", &out, &e), -EINVAL);
	CHECK(strstr(e.msg, "\"inputConfig\"") != NULL);

	CHECK_INT(prep("{" MODEL ", " GOOD_IN "}", "j", &out, &e), -EINVAL);
	CHECK(strstr(e.msg, "\"outputConfig\"") != NULL);

	CHECK_INT(prep("{" MODEL ", \"inputConfig\": {\"gcsSource\": "
		       "{\"uris\": [\"gs://b/i\"]}}, " GOOD_OUT "}",
		       "j", &out, &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "inputConfig.instancesFormat") != NULL);

	CHECK_INT(prep("{" MODEL ", \"inputConfig\": {\"instancesFormat\": "
		       "\"jsonl\", \"gcsSource\": {}}, " GOOD_OUT "}",
		       "j", &out, &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "inputConfig.gcsSource.uris") != NULL);

	CHECK_INT(prep("{" MODEL ", " GOOD_IN ", \"outputConfig\": "
		       "{\"predictionsFormat\": \"jsonl\"}}",
		       "j", &out, &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "outputConfig.gcsDestination") != NULL);

	CHECK_INT(prep("{" MODEL ", " GOOD_IN ", \"outputConfig\": "
		       "{\"predictionsFormat\": \"jsonl\", \"gcsDestination\": "
		       "{}}}",
		       "j", &out, &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "outputUriPrefix") != NULL);
}

static void display_name(void)
{
	struct bf_err e;
	char *out = NULL;

	CHECK_INT(prep("{\"displayName\": \"other\", " MODEL ", " GOOD_IN
		       ", " GOOD_OUT "}",
		       "job1", &out, &e),
		  -EINVAL);
	CHECK(strstr(e.msg, "displayName") != NULL);
	CHECK(strstr(e.msg, "job1") != NULL);
	CHECK_INT(prep("{\"displayName\": 5, " MODEL ", " GOOD_IN ", " GOOD_OUT
		       "}",
		       "job1", &out, &e),
		  -EINVAL);
}

int main(void)
{
	good();
	syntax();
	missing();
	display_name();
	return CHECK_DONE();
}
