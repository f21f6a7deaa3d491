/* fuzz_rawget_head.c - the status line and headers of a raw GET's reply
 * (bf_http__raw_head, fs/http/rawget.c), which decide whether a body is
 * left in the socket for splicing. Given as an exact-size copy: the parser
 * must stay inside it. */
#include <errno.h>
#include <string.h>

#include "batchfs/http.h"
#include "fuzz.h"
#include "http/http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_rawget g;
	char *buf;
	int rc;

	fuzz_quiet();
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	memset(&g, 0, sizeof(g));
	g.fd = -1;
	g.length = UINT64_MAX;
	g.resp.retry_after_ms = -1;
	rc = bf_http__raw_head(&g, buf, size);
	FUZZ_ASSERT(rc == 0 || rc == -EPROTO);
	if (rc == 0)
		FUZZ_ASSERT(g.resp.status >= 100 && g.resp.status <= 599);
	FUZZ_ASSERT(memchr(g.resp.content_range, '\0',
			   sizeof(g.resp.content_range)));
	FUZZ_ASSERT(memchr(g.resp.generation, '\0', sizeof(g.resp.generation)));
	free(g.resp.location);
	free(buf);
	return 0;
}
