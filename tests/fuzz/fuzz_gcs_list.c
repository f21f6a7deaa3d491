/* fuzz_gcs_list.c - a Cloud Storage objects.list page. The page parser
 * (list_page in fs/gcs/gcs.c) is static, so this repeats its walk with the
 * exposed per-object parser bf_gcs__object_from_json: items[] objects,
 * prefixes[] strings, nextPageToken. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batchfs/gcs.h"
#include "fuzz.h"
#include "gcs/gcs_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root;
	const cJSON *items, *prefixes, *it;
	char *buf;

	fuzz_quiet();
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	root = cJSON_ParseWithLength(buf, size);
	if (!cJSON_IsObject(root))
		goto out;
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	prefixes = cJSON_GetObjectItemCaseSensitive(root, "prefixes");
	if (!cJSON_IsArray(items))
		items = NULL;
	if (!cJSON_IsArray(prefixes))
		prefixes = NULL;
	cJSON_ArrayForEach(it, items)
	{
		struct bf_gcs_object o;
		struct bf_err e = {0};
		int rc = bf_gcs__object_from_json(it, &o, &e);

		FUZZ_ASSERT(rc <= 0);
		if (rc == 0) {
			FUZZ_ASSERT(o.name && o.name[0]);
			FUZZ_ASSERT(o.generation >= 0 && o.metageneration >= 0);
		}
		bf_gcs_object_free(&o);
	}
	cJSON_ArrayForEach(it, prefixes)
	{
		if (cJSON_IsString(it))
			FUZZ_ASSERT(it->valuestring != NULL);
	}
out:
	cJSON_Delete(root);
	free(buf);
	return 0;
}
