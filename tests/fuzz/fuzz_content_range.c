/* fuzz_content_range.c - Content-Range of ranged GETs
 * (bf_gcs_parse_content_range) and the Range reply of resumable uploads
 * (bf_gcs_parse_upload_range). Whatever parses must be self-consistent, since
 * the reader trusts it to place bytes. */
#include <errno.h>
#include <string.h>

#include "batchfs/gcs.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t a = 7, b = 7, t = 7, p = 7;
	char *s;
	int rc;

	fuzz_quiet();
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	rc = bf_gcs_parse_content_range(s, &a, &b, &t);
	FUZZ_ASSERT(rc == 0 || rc == 1 || rc == -EINVAL || rc == -ERANGE);
	if (rc == 0) {
		FUZZ_ASSERT(a <= b);
		FUZZ_ASSERT(t == UINT64_MAX || b < t);
	} else if (rc == 1) {
		FUZZ_ASSERT(a == UINT64_MAX && b == UINT64_MAX);
		FUZZ_ASSERT(t != UINT64_MAX || strchr(s, '*'));
	} else {
		FUZZ_ASSERT(a == 7 && b == 7 && t == 7);
	}
	rc = bf_gcs_parse_upload_range(s, &p);
	FUZZ_ASSERT(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	if (rc == 0)
		FUZZ_ASSERT(p >= 1 || strspn(s, " \t") == strlen(s));
	free(s);
	return 0;
}
