/* fuzz_join.c - joining a job's output rows (from the server: untrusted)
 * back to the input lines (bf_join_add_output, bf_join_finish) and the row
 * success test (bf_row_succeeded). Input: records separated by 0xfe; the
 * last record is the input.jsonl, the others are output files, alternately
 * incremental and final. The result files must agree with the stats. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "batchfs/results.h"
#include "fuzz.h"
#include "src.h"

#define MAX_OUT 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *rec[MAX_OUT + 1];
	size_t rlen[MAX_OUT + 1], nrec = 0, i = 0;
	struct bf_join_opts o = {.max_line = 4096};
	struct bf_join_files f;
	struct bf_join_stats st;
	struct bf_join *j = NULL;
	struct bf_err e = {0};
	char *buf;
	int rc;

	fuzz_quiet();
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	while (nrec <= MAX_OUT) {
		const uint8_t *sep = memchr(data + i, 0xfe, size - i);
		size_t len = sep ? (size_t)(sep - (data + i)) : size - i;

		rec[nrec] = (const uint8_t *)buf + i;
		rlen[nrec++] = len;
		if (!sep)
			break;
		i += len + 1;
	}
	bf_row_succeeded((const char *)rec[0], rlen[0]);
	rc = bf_join_new(&o, &j, &e);
	FUZZ_ASSERT(rc == 0);
	for (size_t r = 0; r + 1 < nrec; r++) {
		struct fuzz_src s = {.p = (const char *)rec[r],
				     .len = rlen[r],
				     .chunk = 1 + (rlen[r] % 97)};

		rc = bf_join_add_output(j, fuzz_src_read, &s, (int)(r & 1), &e);
		FUZZ_ASSERT(rc <= 0);
		if (rc)
			goto out;
	}
	{
		struct fuzz_src in = {.p = (const char *)rec[nrec - 1],
				      .len = rlen[nrec - 1],
				      .chunk = 61};

		memset(&st, 0, sizeof(st));
		rc = bf_join_finish(j, fuzz_src_read, &in, &f, &st, &e);
	}
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		FUZZ_ASSERT(f.succeeded >= 0 && f.failed >= 0);
		FUZZ_ASSERT(lseek(f.succeeded, 0, SEEK_END) ==
			    (off_t)f.succeeded_size);
		FUZZ_ASSERT(lseek(f.failed, 0, SEEK_END) ==
			    (off_t)f.failed_size);
		if (st.keys == BF_JOIN_KEYED) {
			FUZZ_ASSERT(f.by_input >= 0 && f.retry >= 0);
			FUZZ_ASSERT(st.incomplete <= st.inputs);
		} else {
			FUZZ_ASSERT(f.by_input < 0 && f.retry < 0);
		}
		bf_join_files_close(&f);
	}
out:
	bf_join_free(j);
	free(buf);
	return 0;
}
