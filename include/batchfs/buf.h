/* buf.h - a growable, NUL-terminated byte buffer with a hard cap. */
#ifndef BATCHFS_BUF_H
#define BATCHFS_BUF_H

#include <stddef.h>

struct bf_buf {
	char *data;  /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;  /* hard limit on len; 0 = no limit */
};

void bf_buf_init(struct bf_buf *b, size_t max);
/* -EFBIG past max, -ENOMEM when allocation fails; b unchanged then. */
int bf_buf_append(struct bf_buf *b, const void *p, size_t n);
int bf_buf_puts(struct bf_buf *b, const char *s);
int bf_buf_printf(struct bf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void bf_buf_reset(struct bf_buf *b); /* len = 0, keeps memory */
char *bf_buf_steal(struct bf_buf *b); /* caller frees; b is reset to empty */
void bf_buf_free(struct bf_buf *b);

#endif
