/* pipe.c - the reader's splice path: a sequential reader's bytes go from
 * the socket into a pipe, and from there (fuse_reply_data) into the
 * reading process, without a copy through user space.
 *
 * Why: every byte through libcurl is copied twice by the kernel (socket to
 * our buffer, our buffer to /dev/fuse), where curl itself copies once;
 * splicing moves the socket's pages into the pipe and the kernel copies
 * once, into the reader's pages (BENCHMARKS.md). Only for plain http://
 * endpoints (bf_http_rawget); TLS bodies must be decrypted in user space.
 *
 * One ranged GET per stream, from the first read to the object's end; the
 * socket's receive buffer (SPLICE_RCVBUF) is the read-ahead, filled by the
 * kernel while no thread of ours runs. It is kernel memory, but it is
 * reserved in the pool's read-ahead budget like a block, so -o readahead
 * caps streams too (32 MiB: eight at once; the others use the blocks). A read
 * is served from the stream only when it starts exactly where the stream is:
 * reads arriving out of order wait a little for the one before them, and
 * anything else (backward, a seek, a stream that failed) goes to the block path
 * of reader.c, which has the retries and the checks. A read either gets all its
 * bytes into the pipe or none is used: a stream that fails midway is closed and
 * the read falls back, so no error of this path reaches users except an
 * interruption.
 *
 * Locking: rs->mu guards the stream; a read that holds the stream (busy)
 * releases rs->mu while the caller drains the pipe. Order: rs->mu, then
 * r->mu (never the reverse).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "gcs/gcs_int.h"
#include "gcs/reader_int.h"

#define PIPE_BYTES (1u << 20)
#define SPLICE_RCVBUF (4 << 20)
#define STALL_MS 20000 /* as the http layer's low_speed_secs */
#define REORDER_MS 50
/* Reads this far ahead of the stream wait for the ones before them: the
 * kernel's read-ahead has several reads in flight (up to max_background,
 * set at INIT). */
#define REORDER_SPAN (16u << 20)
#define BUSY_WAIT_MS 2000
#define MAX_FAILS 3

/* Every field under mu, except that the read holding the stream (busy)
 * keeps pfd[0] to drain while mu is released. */
struct bf_rstream {
	pthread_mutex_t mu;
	pthread_cond_t cv;  /* on mu: busy cleared, pos moved */
	struct bf_rawget g; /* g.fd < 0: no stream */
	size_t pre_off;	    /* bytes of g.pre already used */
	uint64_t pos, end;  /* next byte in the socket; range end */
	int64_t gen;
	int pfd[2];
	size_t pipe_cap;
	int busy;
	int fails;
	int slow;	   /* left for parallel ranges (ahead.c): for good */
	int64_t t_open;	   /* when the stream opened, ms */
	uint64_t off_open; /* where */
	int64_t wait_ms;   /* spent waiting on its socket */
	struct bf_reader_pool *pool; /* set while the budget holds our share */
};

struct bf_rstream *bf_rstream_new(void)
{
	struct bf_rstream *rs = calloc(1, sizeof(*rs));
	pthread_condattr_t ca;

	if (!rs)
		return NULL;
	rs->g.fd = -1;
	rs->pfd[0] = rs->pfd[1] = -1;
	pthread_mutex_init(&rs->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->cv, &ca);
	pthread_condattr_destroy(&ca);
	return rs;
}

static void drop_pipe(struct bf_rstream *rs)
{
	for (int i = 0; i < 2; i++) {
		if (rs->pfd[i] >= 0)
			close(rs->pfd[i]);
		rs->pfd[i] = -1;
	}
}

static void stream_close(struct bf_rstream *rs)
{
	bf_rawget_close(&rs->g);
	rs->pre_off = 0;
	if (rs->pool)
		bf_pool__release(rs->pool, SPLICE_RCVBUF);
	rs->pool = NULL;
}

void bf_rstream_free(struct bf_rstream *rs)
{
	if (!rs)
		return;
	/* A read replied from the pipe may still be in bf_reader_pipe_done:
	 * the kernel can release the file as soon as the reply is in. */
	pthread_mutex_lock(&rs->mu);
	while (rs->busy)
		pthread_cond_wait(&rs->cv, &rs->mu);
	pthread_mutex_unlock(&rs->mu);
	stream_close(rs);
	drop_pipe(rs);
	pthread_mutex_destroy(&rs->mu);
	pthread_cond_destroy(&rs->cv);
	free(rs);
}

size_t bf_reader_splice_probe(void)
{
	int p[2];
	int sz;

	if (pipe2(p, O_CLOEXEC) != 0)
		return 0;
	sz = fcntl(p[0], F_SETPIPE_SZ, PIPE_BYTES);
	close(p[0]);
	close(p[1]);
	/* Half the pipe: room for the header page and for socket buffers
	 * that fill a pipe slot only in part. libfuse's own pipe of the
	 * reply must hold it too, which it can below 1 MiB less 3 pages. */
	return sz >= (int)PIPE_BYTES ? PIPE_BYTES / 2 : 0;
}

void bf_reader_pool_set_splice(struct bf_reader_pool *p, size_t max_len)
{
	__atomic_store_n(&p->splice_max, max_len, __ATOMIC_RELAXED);
}

/* One ranged GET from off to end, checked like read.c checks a 206. */
static int stream_open(struct bf_reader *r, struct bf_rstream *rs, uint64_t off,
		       uint64_t end, int64_t gen, struct bf_err *e)
{
	char range[80];
	const char *hdrs[] = {range, NULL};
	char *url = bf_gcs__media_url(r->g, r->bucket, r->name, gen);
	uint64_t a, b, t, g;
	int rc;

	if (!url)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (bf_pool__reserve(r->p, SPLICE_RCVBUF)) {
		free(url);
		return bf_err_set(e, ENOBUFS, "read-ahead budget in use");
	}
	rs->pool = r->p;
	snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, off,
		 end - 1);
	rc = bf_http_rawget(r->g->http, url, hdrs, SPLICE_RCVBUF, &rs->g, e);
	free(url);
	if (rc)
		goto fail;
	if (rs->g.resp.status != 206 ||
	    bf_gcs_parse_content_range(rs->g.resp.content_range, &a, &b, &t) ||
	    a != off || b < a ||
	    (rs->g.length != UINT64_MAX && rs->g.length != b - a + 1)) {
		rc = bf_err_set(e, EIO, "stream: HTTP %ld, Content-Range '%s'",
				rs->g.resp.status, rs->g.resp.content_range);
		goto fail;
	}
	if (gen > 0 && rs->g.resp.generation[0] &&
	    (bf_gcs__parse_u64(rs->g.resp.generation, &g) ||
	     (int64_t)g != gen)) {
		rc = bf_err_set(e, ESTALE, "stream: another generation");
		goto fail;
	}
	bf_log_debug("gs://%s/%s: splice stream from %" PRIu64, r->bucket,
		     r->name, off);
	rs->pos = off;
	rs->end = b + 1;
	rs->gen = gen;
	rs->pre_off = 0;
	rs->t_open = bf_now_ms();
	rs->off_open = off;
	rs->wait_ms = 0;
	return 0;
fail:
	stream_close(rs);
	return rc;
}

static int pipe_ready(struct bf_rstream *rs, size_t len)
{
	int sz;

	if (rs->pfd[0] < 0) {
		if (pipe2(rs->pfd, O_CLOEXEC | O_NONBLOCK) != 0)
			return -errno;
		sz = fcntl(rs->pfd[0], F_SETPIPE_SZ, PIPE_BYTES);
		if (sz < 0)
			sz = fcntl(rs->pfd[0], F_GETPIPE_SZ);
		rs->pipe_cap = sz > 0 ? (size_t)sz : 0;
	}
	return len <= rs->pipe_cap / 2 ? 0 : -EMSGSIZE;
}

static int stop_check(struct bf_reader *r)
{
	if (bf_cancelled())
		return -EINTR;
	if (__atomic_load_n(&r->closing, __ATOMIC_ACQUIRE))
		return -EBADF;
	return 0;
}

/* Puts the stream's next len bytes into the empty pipe. */
static int fill(struct bf_reader *r, struct bf_rstream *rs, size_t len)
{
	size_t have = 0, pre = rs->g.pre_len - rs->pre_off;
	int64_t last = bf_now_ms();
	int spins = 0;

	if (pre) {
		ssize_t k = write(rs->pfd[1], rs->g.pre + rs->pre_off,
				  pre < len ? pre : len);

		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		rs->pre_off += (size_t)k;
		have = (size_t)k;
	}
	while (have < len) {
		ssize_t k = splice(rs->g.fd, NULL, rs->pfd[1], NULL, len - have,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		struct pollfd p = {.fd = rs->g.fd, .events = POLLIN};
		int64_t t0;
		int rc;

		if (k > 0) {
			have += (size_t)k;
			last = bf_now_ms();
			spins = 0;
			continue;
		}
		if (k == 0)
			return -EPIPE; /* the server closed early */
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = stop_check(r);
		if (rc)
			return rc;
		if (bf_now_ms() - last > STALL_MS)
			return -ETIMEDOUT;
		t0 = bf_now_ms();
		rc = poll(&p, 1, 100);
		rs->wait_ms += bf_now_ms() - t0;
		/* Readable yet nothing moved, again and again: the pipe is
		 * full of part-filled slots. */
		if (rc > 0 && ++spins > 1000)
			return -ENOBUFS;
	}
	return 0;
}

/* Whether off continues the stream as the read-ahead detector sees it,
 * without recording the access. */
static int sequential(const struct bf_seq *s, uint64_t off)
{
	/* The kernel's first read-ahead burst arrives in any order. */
	if (!s->started)
		return off < REORDER_SPAN;
	return s->streak >= 1 && bf_seq_near(s, off, s->max_window);
}

/* rs->mu held. Waits while another read holds the stream, and a little
 * for the reads before off when they arrived after it. */
static int wait_turn(struct bf_reader *r, struct bf_rstream *rs, uint64_t off)
{
	int64_t now = bf_now_ms();
	int64_t busy_until = now + BUSY_WAIT_MS;
	int64_t reorder_until = now + REORDER_MS;

	/* stop_check, at the top of each turn, says why a wait ended. */
	for (;;) {
		int rc = stop_check(r);

		if (rc)
			return rc;
		if (rs->busy) {
			if (bf_now_ms() >= busy_until)
				return -EBUSY;
			bf_cond_wait_until(&rs->cv, &rs->mu, CLOCK_MONOTONIC,
					   busy_until, BF_WAIT_SLICE_MS);
			continue;
		}
		if (rs->g.fd >= 0 && off > rs->pos &&
		    off - rs->pos <= REORDER_SPAN &&
		    bf_now_ms() < reorder_until) {
			bf_cond_wait_until(&rs->cv, &rs->mu, CLOCK_MONOTONIC,
					   reorder_until, BF_WAIT_SLICE_MS);
			continue;
		}
		return 0;
	}
}

ssize_t bf_reader_pipe(struct bf_reader *r, uint64_t off, size_t len,
		       struct bf_rpipe *t, struct bf_err *e)
{
	struct bf_rstream *rs = r->rs;
	size_t max = __atomic_load_n(&r->p->splice_max, __ATOMIC_RELAXED);
	uint64_t end;
	int64_t gen;
	int rc, seq;

	bf_err_clear(e);
	t->r = NULL;
	t->fd = -1;
	t->len = 0;
	if (!rs || !max || len > max)
		return 0;
	pthread_mutex_lock(&r->mu);
	end = bf_block_data_end(r);
	gen = r->gen;
	/* While the stream serves, reads near it are its own, whatever the
	 * detector made of the burst that started it. */
	seq = !r->closing &&
	      (sequential(&r->seq, off) ||
	       (r->streaming && bf_seq_near(&r->seq, off, REORDER_SPAN)));
	pthread_mutex_unlock(&r->mu);
	if (!seq || off >= end)
		return 0;
	if (len > end - off)
		len = (size_t)(end - off);
	/* Small reads too (libfuse copies those out of the pipe): the page
	 * cache asks for a page or two now and then, and sending them to the
	 * block path would leave the stream behind, waiting for them. */

	pthread_mutex_lock(&rs->mu);
	rc = wait_turn(r, rs, off);
	if (rc) {
		pthread_mutex_unlock(&rs->mu);
		if (rc == -EINTR)
			return bf_err_set(e, EINTR, "read interrupted");
		return 0;
	}
	if (rs->g.fd >= 0 &&
	    (off != rs->pos || gen != rs->gen || off + len > rs->end)) {
		if (off < rs->pos && gen == rs->gen) {
			/* A straggler behind the stream: the block path. */
			pthread_mutex_unlock(&rs->mu);
			return 0;
		}
		bf_log_debug("gs://%s/%s: splice stream at %" PRIu64
			     " left for a read at %" PRIu64,
			     r->bucket, r->name, rs->pos, off);
		stream_close(rs);
		pthread_mutex_lock(&r->mu);
		seq = sequential(&r->seq, off);
		if (!seq)
			r->streaming = 0; /* a seek: no new stream for it */
		pthread_mutex_unlock(&r->mu);
		if (!seq) {
			pthread_mutex_unlock(&rs->mu);
			return 0;
		}
	}
	if (rs->g.fd >= 0 &&
	    bf_ahead_splice_slow(rs->pos - rs->off_open,
				 bf_now_ms() - rs->t_open, rs->wait_ms)) {
		/* One connection that the network holds back (a WAN):
		 * the block path's parallel ranges do better. */
		bf_log_debug("gs://%s/%s: splice stream slow, parallel ranges "
			     "from %" PRIu64,
			     r->bucket, r->name, off);
		stream_close(rs);
		rs->slow = 1;
		__atomic_add_fetch(&r->p->st.splice_slow, 1, __ATOMIC_RELAXED);
	}
	if (rs->g.fd < 0) {
		if (rs->slow || rs->fails >= MAX_FAILS)
			goto fallback;
		rc = stream_open(r, rs, off, end, gen, e);
		if (rc == -ENOBUFS) {
			bf_err_clear(e); /* not the stream's fault */
			goto fallback;
		}
		if (rc)
			goto failed;
	}
	rc = pipe_ready(rs, len);
	if (rc == 0)
		rc = fill(r, rs, len);
	if (rc) {
		bf_err_set(e, -rc, "stream at %" PRIu64 ": %s", off,
			   strerror(-rc));
		goto failed;
	}
	rs->busy = 1;
	t->r = r;
	t->fd = rs->pfd[0];
	t->len = len;
	t->off = off;
	pthread_mutex_lock(&r->mu);
	bf_seq_access(&r->seq, off, len);
	if (!r->streaming) {
		r->streaming = 1;
		bf_block_drop_idle(r);
	}
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_unlock(&rs->mu);
	__atomic_add_fetch(&r->p->st.spliced_bytes, len, __ATOMIC_RELAXED);
	bf_http_count_in(r->g->http, len);
	return (ssize_t)len;

failed:
	/* A pipe holding part of a read is useless: start it anew. */
	stream_close(rs);
	drop_pipe(rs);
	if (rc == -EINTR) {
		pthread_mutex_unlock(&rs->mu);
		return bf_err_set(e, EINTR, "read interrupted");
	}
	rs->fails++;
	bf_log_debug("gs://%s/%s: splice stream failed (%s), reading through "
		     "the block path",
		     r->bucket, r->name, e->msg);
	bf_err_clear(e);
fallback:
	pthread_mutex_lock(&r->mu);
	r->streaming = 0;
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_unlock(&rs->mu);
	return 0;
}

void bf_reader_pipe_done(struct bf_rpipe *t)
{
	struct bf_rstream *rs;
	int left = 0;

	if (!t || !t->r)
		return;
	rs = t->r->rs;
	pthread_mutex_lock(&rs->mu);
	/* The bytes left the socket either way; when the reply failed
	 * before taking them from the pipe, they are dropped with it. */
	if (ioctl(rs->pfd[0], FIONREAD, &left) != 0 || left != 0)
		drop_pipe(rs);
	rs->pos = t->off + t->len;
	rs->fails = 0;
	rs->busy = 0;
	t->r = NULL;
	pthread_cond_broadcast(&rs->cv);
	/* From here the reader may be closed and freed (bf_rstream_free). */
	pthread_mutex_unlock(&rs->mu);
}
