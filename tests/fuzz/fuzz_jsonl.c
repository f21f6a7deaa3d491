/* fuzz_jsonl.c - input.jsonl checking and keying (bf_jsonl_normalize): a
 * user's file of any bytes, read in pieces of any size, with small caps on
 * the line and file size so the limits run too. The keyed output, when
 * accepted, must itself be accepted again with every line keyed and the
 * same number of lines. First byte: piece size and caps. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "batchfs/results.h"
#include "fuzz.h"
#include "src.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_jsonl_opts o = {0};
	struct bf_jsonl_stats st = {0}, st2 = {0};
	struct bf_err e = {0};
	struct fuzz_src s;
	char *buf, *out = NULL;
	int fd, rc;
	off_t n;

	fuzz_quiet();
	if (size < 1)
		return 0;
	s = (struct fuzz_src){.chunk = (data[0] & 15) * 7 + 1};
	if (data[0] & 0x10)
		o.max_line = 64 + (data[0] >> 5) * 40;
	if (data[0] & 0x20)
		o.max_bytes = 512;
	data++;
	size--;
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	s.p = buf;
	s.len = size;
	fd = memfd_create("fuzz-jsonl", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0);
	rc = bf_jsonl_normalize(fuzz_src_read, &s, fd, &o, &st, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc < 0) {
		FUZZ_ASSERT(e.err == -rc && e.msg[0]);
		goto out;
	}
	FUZZ_ASSERT(st.keyed + st.assigned == st.lines);
	n = lseek(fd, 0, SEEK_END);
	FUZZ_ASSERT(n >= 0 && (uint64_t)n == st.bytes_out);
	out = malloc((size_t)n + 1);
	FUZZ_ASSERT(out && pread(fd, out, (size_t)n, 0) == n);
	/* Normalized text is a fixed point: accepted, nothing assigned. */
	s = (struct fuzz_src){.p = out, .len = (size_t)n, .chunk = 4096};
	o.max_line = 0;
	o.max_bytes = 0;
	rc = bf_jsonl_normalize(fuzz_src_read, &s, -1, &o, &st2, &e);
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(st2.lines == st.lines && st2.assigned == 0);
out:
	free(out);
	close(fd);
	free(buf);
	return 0;
}
