/* fuzz_vertex_list.c - a batchPredictionJobs.list page (vx_list_page, the
 * page parser behind vx_list): every job through bf_job_from_cjson,
 * skipped or fatal (strict), the callback's own stop, and nextPageToken
 * (a repeated token is an error). Also the state-name parser. First byte:
 * bit 0 strict, bit 1 a previous token "abc", bits 2-4 the callback stops
 * at that job (0: never). */
#include <errno.h>
#include <string.h>

#include "batchfs/vertex.h"
#include "fuzz.h"
#include "vertex/vertex_int.h"

struct seen {
	int n, stop_at;
};

static int on_job(void *ud, struct bf_job *job)
{
	struct seen *s = ud;

	FUZZ_ASSERT(job->raw && job->raw[job->raw_len] == '\0');
	FUZZ_ASSERT(memchr(job->id, '\0', sizeof(job->id)));
	FUZZ_ASSERT(strlen(bf_job_state_name(job->state)) > 0);
	return ++s->n == s->stop_at ? -ECANCELED : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen seen = {0};
	struct bf_err e = {0};
	char *buf, *s, *next = NULL;
	int flags, rc;

	fuzz_quiet();
	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	s = fuzz_str(data, size);
	if (s) {
		enum bf_job_state st = bf_job_state_parse(s);

		FUZZ_ASSERT(bf_job_state_parse(bf_job_state_name(st)) == st);
		free(s);
	}
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	seen.stop_at = (flags >> 2) & 7;
	rc = vx_list_page(buf, size, flags & 1, flags & 2 ? "abc" : NULL,
			  on_job, &seen, &next, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0 && next) {
		FUZZ_ASSERT(*next);
		if (flags & 2)
			FUZZ_ASSERT(strcmp(next, "abc") != 0);
	}
	if (rc)
		FUZZ_ASSERT((rc == -ECANCELED || e.err == -rc) && !next);
	free(next);
	free(buf);
	return 0;
}
