/* fuzz_vertex_list.c - a batchPredictionJobs.list page. vx_list parses the
 * page inline (fs/vertex/vertex.c), so this walks it the same way: the
 * page object, batchPredictionJobs[] through bf_job_from_cjson (the exposed
 * per-job parser), and nextPageToken. Also the state-name parser. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/vertex.h"
#include "fuzz.h"
#include "vertex/job_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root;
	const cJSON *arr, *it, *next;
	char *buf, *s;

	fuzz_quiet();
	s = fuzz_str(data, size);
	if (s) {
		enum bf_job_state st = bf_job_state_parse(s);

		FUZZ_ASSERT(bf_job_state_parse(bf_job_state_name(st)) == st);
		free(s);
	}
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	root = cJSON_ParseWithLength(buf, size);
	if (!cJSON_IsObject(root))
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(root, "batchPredictionJobs");
	if (!cJSON_IsArray(arr))
		arr = NULL;
	cJSON_ArrayForEach(it, arr)
	{
		struct bf_job job;
		struct bf_err je = {0};
		int rc;

		memset(&job, 0, sizeof(job));
		rc = bf_job_from_cjson(it, NULL, 0, &job, &je);
		FUZZ_ASSERT(rc <= 0);
		if (rc == 0) {
			FUZZ_ASSERT(job.raw && job.raw[job.raw_len] == '\0');
			FUZZ_ASSERT(memchr(job.id, '\0', sizeof(job.id)));
			bf_job_free(&job);
		} else {
			FUZZ_ASSERT(je.err == -rc);
		}
	}
	next = cJSON_GetObjectItemCaseSensitive(root, "nextPageToken");
	if (cJSON_IsString(next))
		FUZZ_ASSERT(next->valuestring != NULL);
out:
	cJSON_Delete(root);
	free(buf);
	return 0;
}
