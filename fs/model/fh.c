/* fh.c - open files: making and freeing the handle every kind shares, and
 * reading a snapshot taken at open. What a handle does is its kind's
 * (kinds.c). */
#include <stdlib.h>
#include <string.h>

#include "batchfs/reader.h"
#include "model/model_int.h"

struct bf_fh *bf_fh_new(const struct bf_kind_ops *k, const struct bf_node *n)
{
	struct bf_fh *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return NULL;
	fh->k = k;
	if (bf_node_copy(&fh->node, n)) {
		free(fh);
		return NULL;
	}
	bf_buf_init(&fh->snap, 0);
	pthread_mutex_init(&fh->lock, NULL);
	return fh;
}

void bf_fh_free(struct bf_fh *fh)
{
	if (fh->r)
		bf_reader_close(fh->r);
	bf_resset_put(fh->rs);
	free(fh->bucket);
	free(fh->obj);
	bf_buf_free(&fh->snap);
	bf_node_clear(&fh->node);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
}

unsigned bf_fh_flags(const struct bf_fh *fh)
{
	return fh->flags;
}

ssize_t bf_fh_buf_read(const struct bf_buf *b, char *buf, size_t len,
		       uint64_t off)
{
	size_t n;

	if (off >= b->len)
		return 0;
	n = b->len - off;
	if (n > len)
		n = len;
	memcpy(buf, b->data + off, n);
	return (ssize_t)n;
}

ssize_t bf_fh_snap_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			size_t len, uint64_t off, struct bf_rvec *v,
			struct bf_err *e)
{
	(void)c;
	(void)v;
	(void)e;
	return bf_fh_buf_read(&fh->snap, buf, len, off);
}
