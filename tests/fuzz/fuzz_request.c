/* fuzz_request.c - request.json validation (bf_validate_request): bytes a
 * user wrote into jobs/NAME/request.json. Input: the directory name up to
 * the first '\n' (only names mkdir accepts), then the file's bytes as an
 * exact-size buffer (a write(2) payload is not NUL-terminated). Accepted
 * text must come out as a JSON object whose displayName is the name. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "model/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char *name, *text, *out = NULL;
	struct bf_err e = {0};
	size_t nlen;
	int rc;

	fuzz_quiet();
	nlen = nl ? (size_t)(nl - data) : 0;
	name = nl ? fuzz_str(data, nlen) : strdup("job1");
	if (!name)
		return 0;
	if (!bf_names_valid(name)) {
		free(name);
		return 0;
	}
	if (nl) {
		data += nlen + 1;
		size -= nlen + 1;
	}
	text = fuzz_dup(data, size);
	if (!text) {
		free(name);
		return 0;
	}
	rc = bf_validate_request(text, size, name, &out, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		cJSON *j = cJSON_Parse(out);
		const cJSON *dn;

		FUZZ_ASSERT(cJSON_IsObject(j));
		dn = cJSON_GetObjectItemCaseSensitive(j, "displayName");
		if (!dn)
			dn = cJSON_GetObjectItemCaseSensitive(j,
							      "display_name");
		FUZZ_ASSERT(cJSON_IsString(dn) &&
			    strcmp(dn->valuestring, name) == 0);
		cJSON_Delete(j);
	} else {
		FUZZ_ASSERT(out == NULL);
		FUZZ_ASSERT(e.err == -rc && e.msg[0]);
		FUZZ_ASSERT(memchr(e.msg, '\0', sizeof(e.msg)));
	}
	free(out);
	free(text);
	free(name);
	return 0;
}
