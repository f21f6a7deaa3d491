/* fuzz_expand.c - request.json's short form and staging defaults
 * (bf_request_expand), model names (bf_model_name_expand) and the staging
 * option (bf_staging_parse, bf_staging_object). Input: the staging URI up
 * to the first '\n', then the request.json bytes (exact size). An expanded
 * body must be a JSON object. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/results.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct bf_request_defaults d = {.name = "job1", .input_staged = 1};
	struct bf_err e = {0};
	char *staging = NULL, *text, *out = NULL, *m;
	char *bucket = NULL, *prefix = NULL;
	int rc;

	fuzz_quiet();
	if (nl) {
		staging = fuzz_str(data, (size_t)(nl - data));
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
		if (!staging)
			return 0;
		rc = bf_staging_parse(staging, &bucket, &prefix, &e);
		FUZZ_ASSERT(rc <= 0);
		if (rc == 0) {
			char *obj = bf_staging_object(prefix, "job1",
						      "input.jsonl");

			FUZZ_ASSERT(bucket && *bucket && prefix);
			FUZZ_ASSERT(prefix[0] != '/');
			FUZZ_ASSERT(!*prefix ||
				    prefix[strlen(prefix) - 1] != '/');
			FUZZ_ASSERT(obj && obj[0] != '/');
			free(obj);
			d.staging = staging;
		} else {
			FUZZ_ASSERT(!bucket && !prefix);
		}
		free(bucket);
		free(prefix);
		m = bf_model_name_expand(staging);
		FUZZ_ASSERT(m != NULL);
		free(m);
	}
	text = fuzz_dup(data, size);
	if (!text) {
		free(staging);
		return 0;
	}
	rc = bf_request_expand(text, size, &d, &out, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		cJSON *j = cJSON_Parse(out);

		/* A missing model is left to bf_validate_request's check. */
		FUZZ_ASSERT(cJSON_IsObject(j));
		cJSON_Delete(j);
	} else {
		FUZZ_ASSERT(out == NULL && e.err == -rc);
	}
	free(out);
	free(text);
	free(staging);
	return 0;
}
