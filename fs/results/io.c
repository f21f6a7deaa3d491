/* io.c - streaming plumbing of the results layer: lines out of a
 * bf_read_fn with a length cap, a buffered writer, unlinked spool files,
 * and what a row says about itself (key, success, UTF-8). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results_int.h"

/* A line buffer's first size; it doubles up to the line limit. */
#define LINES_FIRST_CAP (64u << 10)

ssize_t bf_read_fd(void *ud, char *buf, size_t len, struct bf_err *e)
{
	int fd = *(int *)ud;
	ssize_t n;

	do {
		n = read(fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return bf_err_set(e, errno, "read: %s", strerror(errno));
	return n;
}

void bf_lines_init(struct bf_lines *l, bf_read_fn rd, void *ud, size_t max)
{
	*l = (struct bf_lines){ .rd = rd, .ud = ud, .max = max };
}

void bf_lines_free(struct bf_lines *l)
{
	free(l->buf);
	l->buf = NULL;
}

static int fill(struct bf_lines *l, struct bf_err *e)
{
	ssize_t n;

	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, l->end - l->start);
		l->end -= l->start;
		l->start = 0;
	}
	if (l->end == l->cap) {
		/* room for max bytes, the '\n' and one more to see that a
		 * line is too long */
		size_t cap = l->cap ? l->cap * 2 : LINES_FIRST_CAP;
		char *p;

		if (cap > l->max + 2)
			cap = l->max + 2;
		if (cap <= l->cap)
			return -EFBIG;
		p = realloc(l->buf, cap);
		if (!p)
			return bf_err_set(e, ENOMEM, "out of memory");
		l->buf = p;
		l->cap = cap;
	}
	n = l->rd(l->ud, l->buf + l->end, l->cap - l->end, e);
	if (n < 0)
		return (int)n;
	if (n == 0)
		l->eof = 1;
	l->end += (size_t)n;
	l->bytes += (uint64_t)n;
	return 0;
}

int bf_lines_next(struct bf_lines *l, char **line, size_t *len,
		  struct bf_err *e)
{
	size_t scanned = 0;

	for (;;) {
		/* No buffer before the first read: NULL + 0 is UB. */
		char *s = l->buf ? l->buf + l->start : NULL;
		size_t avail = l->end - l->start;
		char *nl = avail > scanned ? memchr(s + scanned, '\n',
						    avail - scanned)
					   : NULL;
		int rc;

		if (nl || (l->eof && avail > 0)) {
			size_t n = nl ? (size_t)(nl - s) : avail;

			if (n > l->max)
				goto too_long;
			l->start += nl ? n + 1 : n;
			if (n > 0 && s[n - 1] == '\r')
				n--;
			l->lineno++;
			*line = s;
			*len = n;
			return 1;
		}
		if (l->eof)
			return 0;
		if (avail > l->max)
			goto too_long;
		scanned = avail;
		rc = fill(l, e);
		if (rc == -EFBIG)
			goto too_long;
		if (rc < 0)
			return rc;
	}
too_long:
	return bf_err_set(e, EFBIG, "line %llu: longer than %zu bytes",
			  (unsigned long long)l->lineno + 1, l->max);
}

void bf_wbuf_init(struct bf_wbuf *w, int fd)
{
	w->fd = fd;
	w->n = 0;
	w->total = 0;
}

static int write_all(int fd, const char *p, size_t n, struct bf_err *e)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return bf_err_set(e, errno, "write: %s",
					  strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int bf_wbuf_flush(struct bf_wbuf *w, struct bf_err *e)
{
	int rc = 0;

	if (w->fd >= 0 && w->n)
		rc = write_all(w->fd, w->buf, w->n, e);
	w->n = 0;
	return rc;
}

int bf_wbuf_put(struct bf_wbuf *w, const void *p, size_t n, struct bf_err *e)
{
	int rc;

	w->total += n;
	if (w->fd < 0)
		return 0;
	if (w->n + n > sizeof(w->buf)) {
		rc = bf_wbuf_flush(w, e);
		if (rc < 0)
			return rc;
		if (n >= sizeof(w->buf))
			return write_all(w->fd, p, n, e);
	}
	memcpy(w->buf + w->n, p, n);
	w->n += n;
	return 0;
}

int bf_pread_full(int fd, void *buf, size_t n, uint64_t off,
		  struct bf_err *e)
{
	char *p = buf;

	while (n > 0) {
		ssize_t k = pread(fd, p, n, (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return bf_err_set(e, errno, "spool read: %s",
					  strerror(errno));
		if (k == 0)
			return bf_err_set(e, EIO, "spool read: short file");
		p += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

int bf_spool_open(const char *dir, struct bf_err *e)
{
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	/* file systems without O_TMPFILE */
	if (snprintf(path, sizeof(path), "%s/batchfs-XXXXXX", dir) >=
	    (int)sizeof(path))
		return bf_err_set(e, ENAMETOOLONG, "spool dir name too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return bf_err_set(e, errno, "spool file in %s: %s", dir,
				  strerror(errno));
	unlink(path);
	return fd;
}

int bf_row_key(const cJSON *row, char **key, size_t *klen,
	       const cJSON **item, const char **field)
{
	static const char *const names[] = { "key", "custom_id" };

	for (size_t i = 0; i < 2; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, names[i]);
		char num[64];
		const char *s;

		if (!v)
			continue;
		if (cJSON_IsString(v) && v->valuestring) {
			s = v->valuestring;
		} else if (cJSON_IsNumber(v)) {
			double d = v->valuedouble;

			/* Range first: casting 1e300 to long long is UB. */
			if (d > -9e15 && d < 9e15 && d == (double)(long long)d)
				snprintf(num, sizeof(num), "%lld",
					 (long long)d);
			else
				snprintf(num, sizeof(num), "%.17g", d);
			s = num;
		} else {
			if (field)
				*field = names[i];
			return -EINVAL;
		}
		*klen = strlen(s);
		*key = strdup(s);
		if (!*key)
			return -ENOMEM;
		if (item)
			*item = v;
		if (field)
			*field = names[i];
		return 1;
	}
	return 0;
}

int bf_row_ok(const cJSON *row)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "status");
	const cJSON *rsp = cJSON_GetObjectItemCaseSensitive(row, "response");

	if (st && !cJSON_IsNull(st) &&
	    !(cJSON_IsString(st) && st->valuestring && !*st->valuestring))
		return 0;
	return rsp && !cJSON_IsNull(rsp);
}

int bf_row_succeeded(const char *json, size_t len)
{
	cJSON *row = cJSON_ParseWithLength(json, len);
	int ok = row && cJSON_IsObject(row) && bf_row_ok(row);

	cJSON_Delete(row);
	return ok;
}

int bf_utf8_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		unsigned c = *p, need;
		uint32_t cp;

		if (c < 0x80) {
			if (c == 0)
				return 0;
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if ((size_t)(end - p) <= need)
			return 0;
		for (unsigned i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		p += need + 1;
	}
	return 1;
}
