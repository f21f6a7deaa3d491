/* fuzz_job.c - Vertex batchPredictionJob JSON (bf_job_parse): any reply
 * body must give 0 with a consistent struct or -errno, never a crash or
 * leak; a parsed job must survive bf_job_dup. */
#include <errno.h>
#include <string.h>

#include "batchfs/vertex.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_job j, d;
	struct bf_err e = {0};
	char *buf;
	int rc;

	fuzz_quiet();
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	memset(&j, 0, sizeof(j));
	rc = bf_job_parse(buf, size, &j, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		FUZZ_ASSERT(memchr(j.id, '\0', sizeof(j.id)));
		FUZZ_ASSERT(j.raw && j.raw[j.raw_len] == '\0');
		FUZZ_ASSERT(strlen(bf_job_state_name(j.state)) > 0);
		memset(&d, 0, sizeof(d));
		if (bf_job_dup(&j, &d) == 0) {
			FUZZ_ASSERT(strcmp(d.id, j.id) == 0);
			FUZZ_ASSERT(d.state == j.state);
			bf_job_free(&d);
		}
	} else {
		FUZZ_ASSERT(e.err == -rc);
		FUZZ_ASSERT(memchr(e.msg, '\0', sizeof(e.msg)));
	}
	bf_job_free(&j);
	free(buf);
	return 0;
}
