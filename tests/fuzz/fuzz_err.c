/* fuzz_err.c - Google's error envelope (bf_err_from_reply) and RetryInfo
 * (bf_err_retry_delay_ms) from any error body. The first two bytes pick the
 * HTTP status; the rest is the body, as an exact-size buffer. */
#include <errno.h>
#include <string.h>

#include "batchfs/err.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_err e;
	long status, delay;
	char *body, line[700];
	int rc;

	fuzz_quiet();
	if (size < 2)
		return 0;
	status = (long)((data[0] << 8 | data[1]) % 700);
	data += 2;
	size -= 2;
	body = fuzz_dup(data, size);
	if (!body)
		return 0;
	memset(&e, 0x5a, sizeof(e)); /* the parser must not trust e's content */
	rc = bf_err_from_reply(&e, status, body, size);
	FUZZ_ASSERT(rc <= 0);
	FUZZ_ASSERT(memchr(e.msg, '\0', sizeof(e.msg)));
	FUZZ_ASSERT(memchr(e.status, '\0', sizeof(e.status)));
	bf_err_format(&e, line, sizeof(line));
	FUZZ_ASSERT(memchr(line, '\0', sizeof(line)));
	bf_err_format(&e, line, 8); /* truncation */
	rc = bf_err_from_reply(NULL, status, body, size);
	FUZZ_ASSERT(rc <= 0);
	delay = bf_err_retry_delay_ms(body, size);
	FUZZ_ASSERT(delay >= -1);
	bf_errno_from_http(status, e.status);
	free(body);
	return 0;
}
