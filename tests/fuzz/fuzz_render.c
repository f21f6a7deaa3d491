/* fuzz_render.c - what a server's job JSON becomes in the tree: parse
 * (bf_job_parse), then every generated file (state, progress, error,
 * job.json, request spec, bigquery). Bounded output, no crash or UB. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/vertex.h"
#include "model/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int (*const render[])(const struct bf_job *, struct bf_buf *) = {
		bf_render_state,   bf_render_progress, bf_render_error,
		bf_render_jobjson, bf_render_spec,     bf_render_bq,
	};
	struct bf_job j;
	struct bf_err e = {0};
	char *buf;

	fuzz_quiet();
	buf = fuzz_dup(data, size);
	if (!buf)
		return 0;
	memset(&j, 0, sizeof(j));
	if (bf_job_parse(buf, size, &j, &e) == 0) {
		for (size_t i = 0; i < sizeof(render) / sizeof(*render); i++) {
			struct bf_buf b;

			bf_buf_init(&b, 4 << 20);
			FUZZ_ASSERT(render[i](&j, &b) <= 0);
			FUZZ_ASSERT(!b.data || b.data[b.len] == '\0');
			bf_buf_free(&b);
		}
	}
	bf_job_free(&j);
	free(buf);
	return 0;
}
