/* memsrc.h - a bf_read_fn over a string, handing out small pieces so that
 * lines cross read boundaries; and reading a spool fd back. */
#ifndef BATCHFS_TEST_MEMSRC_H
#define BATCHFS_TEST_MEMSRC_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "batchfs/results.h"

struct memsrc {
	const char *p;
	size_t len, off, chunk;
	int fail_at; /* return -EIO once off reaches this (0: never) */
};

static inline ssize_t memsrc_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct memsrc *m = ud;
	size_t n = m->len - m->off;

	if (m->fail_at && m->off >= (size_t)m->fail_at)
		return bf_err_set(e, EIO, "test: read failed");
	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

static inline struct memsrc memsrc_of(const char *s, size_t chunk)
{
	return (struct memsrc){ .p = s, .len = strlen(s), .chunk = chunk };
}

/* Whole content of fd from offset 0, NUL-terminated; caller frees. */
static inline char *slurp(int fd)
{
	size_t cap = 4096, len = 0;
	char *s;
	ssize_t n;

	if (fd < 0)
		return NULL;
	s = malloc(cap);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, s + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			s = realloc(s, cap *= 2);
	}
	s[len] = 0;
	return s;
}

static inline int memfd(void)
{
	return memfd_create("test", 0);
}

#endif
