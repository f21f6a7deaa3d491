/* fuzz_rfc3339.c - RFC 3339 timestamps of job JSON (bf_parse_rfc3339_us).
 * A parsed time formatted back as UTC with microseconds must parse to the
 * same value. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batchfs/vertex.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, back[64];
	int64_t us, again;
	struct tm tm;
	time_t t;

	fuzz_quiet();
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	us = bf_parse_rfc3339_us(s);
	FUZZ_ASSERT(us == -1 || us >= 0);
	if (us >= 0) {
		t = (time_t)(us / 1000000);
		FUZZ_ASSERT(gmtime_r(&t, &tm) != NULL);
		if (tm.tm_year + 1900 <= 9999) {
			snprintf(back, sizeof(back),
				 "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
				 tm.tm_hour, tm.tm_min, tm.tm_sec,
				 (int)(us % 1000000));
			again = bf_parse_rfc3339_us(back);
			FUZZ_ASSERT(again == us);
		}
	}
	free(s);
	return 0;
}
