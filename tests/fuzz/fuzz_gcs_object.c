/* fuzz_gcs_object.c - a Cloud Storage Object resource (bf_gcs_object_parse,
 * which also runs the GCS RFC 3339 parser on "updated") and gs:// URIs
 * (bf_gcs_parse_uri, fed by request.json and job JSON). */
#include <errno.h>
#include <string.h>

#include "batchfs/gcs.h"
#include "fuzz.h"

static void uri(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *b = NULL, *o = NULL;
	int rc;

	if (!s)
		return;
	rc = bf_gcs_parse_uri(s, &b, &o);
	if (rc == 0) {
		FUZZ_ASSERT(b && o && *b && !strchr(b, '/'));
		/* gs:// + bucket [+ / + object] is the whole input. */
		FUZZ_ASSERT(strncmp(s, "gs://", 5) == 0);
		FUZZ_ASSERT(strncmp(s + 5, b, strlen(b)) == 0);
		FUZZ_ASSERT(strlen(s) ==
			    5 + strlen(b) + (*o || s[5 + strlen(b)] ? 1 : 0) +
				    strlen(o));
	} else {
		FUZZ_ASSERT(!b && !o);
	}
	free(b);
	free(o);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_gcs_object o;
	struct bf_err e = {0};
	char *buf;
	int rc;

	fuzz_quiet();
	uri(data, size);
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	rc = bf_gcs_object_parse(buf, size, &o, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0)
		FUZZ_ASSERT(o.name != NULL);
	else
		FUZZ_ASSERT(e.err == -rc);
	bf_gcs_object_free(&o);
	free(buf);
	return 0;
}
