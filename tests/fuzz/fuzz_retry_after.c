/* fuzz_retry_after.c - the Retry-After header (bf_parse_retry_after):
 * delta-seconds or an HTTP date. The clock is 2023-11-14 unless the input
 * starts with 0xff and four bytes of another one. */
#include <errno.h>
#include <string.h>

#include "batchfs/http.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	long now = 1700000000, ms;
	char *s;

	fuzz_quiet();
	if (size >= 5 && data[0] == 0xff) {
		/* 0xff + 4 bytes: any plausible clock, 1970 .. ~2514. */
		now = (long)((uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
			     (uint32_t)data[3] << 8 | data[4]) *
		      4L;
		data += 5;
		size -= 5;
	}
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	ms = bf_parse_retry_after(s, now);
	FUZZ_ASSERT(ms == -1 || ms >= 0);
	/* Same value, same answer (strptime keeps no state). */
	FUZZ_ASSERT(bf_parse_retry_after(s, now) == ms);
	free(s);
	return 0;
}
