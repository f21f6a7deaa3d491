/* buf.c - growable NUL-terminated byte buffers with a hard cap (buf.h).
 *
 * The cap is what keeps a hostile or broken server from making us allocate
 * without bound: every append checks it before touching memory, and a
 * failed append leaves the buffer exactly as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/buf.h"

void bf_buf_init(struct bf_buf *b, size_t max)
{
	*b = (struct bf_buf){.max = max};
}

/* Makes room for len + need + 1 (the NUL) bytes. */
static int buf_reserve(struct bf_buf *b, size_t need)
{
	size_t want, ncap;
	char *p;

	if (need > SIZE_MAX - b->len - 1)
		return -EFBIG;
	if (b->max && b->len + need > b->max)
		return -EFBIG;
	want = b->len + need + 1;
	if (b->data && want <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2) {
			ncap = want;
			break;
		}
		ncap *= 2;
	}
	/* Never allocate far past the cap just because doubling overshoots. */
	if (b->max && ncap > b->max + 1)
		ncap = b->max + 1 > want ? b->max + 1 : want;
	p = realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	if (!b->data)
		p[0] = '\0';
	b->data = p;
	b->cap = ncap;
	return 0;
}

int bf_buf_append(struct bf_buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int bf_buf_puts(struct bf_buf *b, const char *s)
{
	return bf_buf_append(b, s, strlen(s));
}

int bf_buf_printf(struct bf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	rc = buf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void bf_buf_reset(struct bf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *bf_buf_steal(struct bf_buf *b)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void bf_buf_free(struct bf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
