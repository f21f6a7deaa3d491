/* src.h - a bf_read_fn over the fuzz input that hands out pieces of a size
 * taken from the input itself, so lines cross read boundaries anywhere. */
#ifndef BATCHFS_FUZZ_SRC_H
#define BATCHFS_FUZZ_SRC_H

#include <string.h>
#include <sys/types.h>

#include "batchfs/results.h"

struct fuzz_src {
	const char *p;
	size_t len, off, chunk;
};

static inline ssize_t fuzz_src_read(void *ud, char *buf, size_t len,
				    struct bf_err *e)
{
	struct fuzz_src *s = ud;
	size_t n = s->len - s->off;

	(void)e;
	if (n > len)
		n = len;
	if (s->chunk && n > s->chunk)
		n = s->chunk;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

#endif
