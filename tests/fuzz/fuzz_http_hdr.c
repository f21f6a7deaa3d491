/* fuzz_http_hdr.c - reply header lines as libcurl hands them over
 * (bf_http_hdr_parse), split on '\n' and given with exact lengths; the
 * captured Content-Range and Range values then go through the GCS range
 * parsers, as the reader and the uploader do. */
#include <errno.h>
#include <string.h>

#include "batchfs/gcs.h"
#include "fuzz.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_http_resp r;
	uint64_t a, b, t, p;
	char *buf;
	size_t i = 0;

	fuzz_quiet();
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	memset(&r, 0, sizeof(r));
	bf_http_hdr_reset(&r);
	while (i < size) {
		const char *nl = memchr(buf + i, '\n', size - i);
		size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : size - i;
		/* A line of its own, so ASan sees any read beyond it. */
		char *line = fuzz_dup((const uint8_t *)buf + i, len);

		if (!line)
			break;
		bf_http_hdr_parse(&r, line, len);
		free(line);
		i += len;
	}
	FUZZ_ASSERT(memchr(r.content_range, '\0', sizeof(r.content_range)));
	FUZZ_ASSERT(memchr(r.range, '\0', sizeof(r.range)));
	FUZZ_ASSERT(memchr(r.generation, '\0', sizeof(r.generation)));
	FUZZ_ASSERT(r.retry_after_ms >= -1);
	for (const char *g = r.generation; *g; g++)
		FUZZ_ASSERT(*g >= '0' && *g <= '9');
	bf_gcs_parse_content_range(r.content_range, &a, &b, &t);
	bf_gcs_parse_upload_range(r.range, &p);
	bf_http_hdr_reset(&r);
	FUZZ_ASSERT(r.location == NULL);
	free(buf);
	return 0;
}
