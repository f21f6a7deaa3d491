/* reader.h - sequential read-ahead over bf_gcs_read for one open object.
 *
 * A reader detects sequential access and fetches windows that grow from
 * 1 MiB to max_window ahead of the reader, several ranged GETs at once on
 * separate connections, more of them while that raises throughput; random
 * access falls back to exact-size ranges. All readers share one pool whose
 * byte budget caps read-ahead memory (each reader at most its fair share);
 * when the pool is exhausted reads are served synchronously without
 * buffering.
 */
#ifndef BATCHFS_READER_H
#define BATCHFS_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "batchfs/err.h"

struct bf_gcs;
struct bf_reader_pool;
struct bf_reader;

struct bf_reader_pool *bf_reader_pool_new(size_t max_bytes, size_t max_window);
void bf_reader_pool_free(struct bf_reader_pool *p);
size_t bf_reader_pool_used(const struct bf_reader_pool *p);

struct bf_reader *bf_reader_open(struct bf_reader_pool *p, struct bf_gcs *g,
				 const char *bucket, const char *name,
				 int64_t generation, uint64_t size);
/* Returns bytes read (0 at EOF) or -errno; never misplaced bytes. */
ssize_t bf_reader_read(struct bf_reader *r, char *buf, size_t len,
		       uint64_t off, struct bf_err *e);
/* The same without copying what read-ahead holds: the bytes are described
 * by v->iov (pointers into pinned read-ahead blocks, or into buf for what
 * was fetched directly), in order, v->n of them. The caller hands them on
 * (e.g. fuse_reply_iov) and then must call bf_reader_unpin(v), even after
 * an error; the reader is not closed before. v NULL: bf_reader_read. */
#define BF_RVEC_MAX 8
struct bf_rvec {
	struct bf_reader *r;
	int n;
	struct iovec iov[BF_RVEC_MAX];
	void *pin[BF_RVEC_MAX]; /* the block each iov points into, or NULL */
};
ssize_t bf_reader_readv(struct bf_reader *r, char *buf, size_t len,
			uint64_t off, struct bf_rvec *v, struct bf_err *e);
void bf_reader_unpin(struct bf_rvec *v);
/* The splice path (fs/gcs/pipe.c). When the pool allows it and the read
 * continues a sequential stream, puts exactly the bytes at off (len,
 * clipped at the end of the object) into a pipe: returns their count and
 * t->fd, the pipe's read end, which the caller drains (fuse_reply_data with
 * FUSE_BUF_IS_FD) before calling bf_reader_pipe_done(t) whatever happened.
 * Returns 0 when the caller must read through bf_reader_readv instead
 * (not sequential, not allowed, the stream failed: never an error), or
 * -EINTR. */
struct bf_rpipe {
	struct bf_reader *r;
	int fd;
	size_t len;
	uint64_t off;
};
ssize_t bf_reader_pipe(struct bf_reader *r, uint64_t off, size_t len,
		       struct bf_rpipe *t, struct bf_err *e);
void bf_reader_pipe_done(struct bf_rpipe *t);
/* The largest read the splice path can carry here (0: none: pipes cannot
 * be made large enough). Call once at start. */
size_t bf_reader_splice_probe(void);
/* Allows the splice path for reads up to max_len (0 turns it off). The
 * caller checks that the endpoint is plain http:// and that its reply
 * path takes pipes. Readers opened before keep their state. */
void bf_reader_pool_set_splice(struct bf_reader_pool *p, size_t max_len);

/* The object grew (append-only export): follow the new generation. */
void bf_reader_update(struct bf_reader *r, int64_t generation, uint64_t size);
void bf_reader_close(struct bf_reader *r);

/* The sequential detector, pure (exposed for tests). A read continues the
 * stream when it starts no more than BF_SEQ_BACK before the furthest byte
 * read so far (kernel readahead arrives slightly out of order) and no more
 * than max_window past it; the first read counts when it starts within the
 * first window. The window starts at min_window and doubles each time one
 * is taken, up to max_window; a forward seek resets it (a read far behind
 * does not: with many workers on one stream it is a late one). */
#define BF_SEQ_BACK (1u << 20)
struct bf_seq {
	uint64_t next;	   /* furthest byte read + 1 */
	unsigned streak;   /* sequential reads in a row */
	int started;
	size_t window, min_window, max_window;
};
void bf_seq_init(struct bf_seq *s, size_t min_window, size_t max_window);
/* Whether off is near the stream: no more than BF_SEQ_BACK before the
 * furthest byte read, no more than ahead past it. Records nothing. */
int bf_seq_near(const struct bf_seq *s, uint64_t off, uint64_t ahead);
/* Records a read; returns 1 when it is sequential. */
int bf_seq_access(struct bf_seq *s, uint64_t off, size_t len);
/* Records a read the reader already holds bytes for (a worker that fell
 * further behind than BF_SEQ_BACK): in the stream, whatever its distance. */
void bf_seq_held(struct bf_seq *s, uint64_t off, size_t len);
/* The size of the next window to fetch; doubles the one after. */
size_t bf_seq_take_window(struct bf_seq *s);

/* Pool statistics (for tests and benchmarks). */
struct bf_reader_stats {
	uint64_t window_fetches;   /* block fills (demand + prefetch) */
	uint64_t prefetches;	   /* of which run by the worker threads */
	uint64_t direct_reads;	   /* exact-size reads without buffering */
	uint64_t buffered_bytes;   /* bytes served from blocks */
	uint64_t budget_denied;	   /* block growth refused by max_bytes */
	uint64_t spliced_bytes;	   /* bytes handed out by the splice path */
	uint64_t loads_max;	   /* most window loads of one reader at once */
	uint64_t splice_slow;	   /* splice streams left for parallel ranges */
	uint64_t used_max;	   /* most of the budget in use at once */
};
void bf_reader_pool_stats(struct bf_reader_pool *p, struct bf_reader_stats *s);

#endif
