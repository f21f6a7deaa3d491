/* reader.c - per-handle read-ahead over bf_gcs_read_ex.
 *
 * Each reader owns two blocks (buffers reused for its lifetime, sized up to
 * max_window and accounted in the pool). A sequential miss loads a window
 * into a block in the calling thread; then, while the consumer works through
 * the newest block, one worker thread of the pool fills the other block with
 * the next window, so HTTP overlaps the consumer (over loopback, 8 MiB
 * windows + one prefetch + a 512 KiB curl buffer measured best; a WAN
 * gets parallel ranges from ahead.c instead: BENCHMARKS.md). Blocks fill
 * progressively: a read waits only for its own bytes, not the whole window.
 * Random reads, backward reorders that miss, and readers the budget cannot
 * serve use exact-size reads straight into the caller's buffer.
 *
 * Locking: r->mu guards block state; network I/O and memcpy run without it
 * (a block being copied from is pinned, a block being filled is owned by its
 * filler and only bytes below 'filled' are read). p->mu guards the job queue.
 * The two locks are never held together. bf_reader_readv hands out pinned
 * block bytes instead of copying them; they stay pinned until
 * bf_reader_unpin, so the FUSE reply is written from the blocks directly.
 * The sequential detector is in seq.c, the blocks' memory in block.c; the
 * files below this one are listed in reader_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "batchfs/wait.h"
#include "gcs/gcs_int.h"

#include "gcs/reader_int.h"

/* A reader waiting on a block looks at its cancel check this often. */
#define WAIT_SLICE_MS 200

static void stat_add(uint64_t *f, uint64_t n)
{
	bf_pool__stat(f, n);
}

static void *worker_main(void *arg);

struct bf_reader_pool *bf_reader_pool_new(size_t max_bytes, size_t max_window)
{
	struct bf_reader_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->max_bytes = max_bytes;
	p->max_window = max_window ? max_window : DEFAULT_MAX_WINDOW;
	if (p->max_window < MIN_WINDOW)
		p->max_window = MIN_WINDOW;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

void bf_reader_pool_free(struct bf_reader_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	/* Readers must be closed first; a leftover job would be a bug. */
	while (p->head) {
		struct job *j = p->head;

		p->head = j->next;
		free(j);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

/* ---- filling a block --------------------------------------------------- */

static void enqueue(struct bf_reader_pool *p, struct job *list);

struct fillctx {
	struct bf_reader *r;
	struct block *b;
};

static int fill_progress(void *ud, size_t got)
{
	struct fillctx *c = ud;
	int stop;

	pthread_mutex_lock(&c->r->mu);
	c->b->filled = got;
	stop = c->b->cancel || c->r->closing;
	pthread_cond_broadcast(&c->r->cv);
	pthread_mutex_unlock(&c->r->mu);
	return stop;
}

/* b is LOADING and owned by the caller; called without r->mu. Returns the
 * load's result (0 or -errno, e filled). */
static int fill_block(struct bf_reader *r, struct block *b, struct bf_err *e)
{
	struct fillctx c = {.r = r, .b = b};
	struct bf_err le;
	struct job *next = NULL;
	uint64_t off;
	size_t len;
	int64_t gen;
	ssize_t n;
	int rc = 0, parallel;
	int64_t t0;

	pthread_mutex_lock(&r->mu);
	off = b->off;
	len = b->len;
	gen = b->gen;
	parallel = r->ah.streams > 2;
	pthread_mutex_unlock(&r->mu);
	stat_add(&r->p->st.window_fetches, 1);
	t0 = bf_now_ms();
	n = bf_gcs_read_ex(r->g, r->bucket, r->name, gen, off, b->data, len,
			   fill_progress, &c,
			   parallel ? BF_GCS_READ_PARALLEL : 0, &le);
	pthread_mutex_lock(&r->mu);
	if (n >= 0) {
		b->filled = (size_t)n;
		b->len = (size_t)n;
		b->st = B_READY;
		b->err = 0;
		if ((size_t)n < len && gen == r->gen &&
		    off + (uint64_t)n < r->eof_at)
			r->eof_at = off + (uint64_t)n;
		bf_ahead_landed(r, (size_t)n, bf_now_ms() - t0);
		/* Chain the next windows in the same critical section: a
		 * consumer that already took this block's last bytes must
		 * find the next load started, not a miss. */
		if (r->seq.streak)
			next = bf_ahead_plan(r);
	} else {
		b->st = B_EMPTY;
		b->filled = 0;
		b->len = 0;
		b->err = (int)-n;
		b->e = le;
		rc = (int)n;
		if (e)
			*e = le;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (next)
		enqueue(r->p, next);
	return rc;
}

static struct block *find_block(struct bf_reader *r, uint64_t pos)
{
	for (int i = 0; i < NBLOCKS; i++) {
		struct block *b = &r->b[i];

		if (b->st == B_READY && pos >= b->off &&
		    pos < b->off + b->filled)
			return b;
		if (b->st == B_LOADING && pos >= b->off &&
		    pos < b->off + b->len)
			return b;
	}
	return NULL;
}

/* A load still running that ends exactly at pos. */
static int ends_at(const struct bf_reader *r, uint64_t pos)
{
	for (int i = 0; i < NBLOCKS; i++)
		if (r->b[i].st == B_LOADING && r->b[i].off + r->b[i].len == pos)
			return 1;
	return 0;
}

/* An idle block to load into: one with memory, empty or else the one
 * ending lowest; a block without memory last (the budget may be spent). */
static struct block *pick_block(struct bf_reader *r)
{
	struct block *best = NULL, *bare = NULL;

	for (int i = 0; i < NBLOCKS; i++) {
		struct block *b = &r->b[i];

		if (b->st == B_LOADING || b->pins)
			continue;
		if (!b->cap) {
			bare = bare ? bare : b;
			continue;
		}
		if (b->st == B_EMPTY)
			return b;
		if (!best || b->off + b->filled < best->off + best->filled)
			best = b;
	}
	return best ? best : bare;
}

/* ---- prefetch ---------------------------------------------------------- */

/* Queues a list of jobs (linked by next) and wakes a worker for each,
 * starting threads while none is idle. */
static void enqueue(struct bf_reader_pool *p, struct job *list)
{
	int idle;

	pthread_mutex_lock(&p->mu);
	idle = p->idle; /* each one woken takes one job */
	while (list) {
		struct job *j = list;

		list = j->next;
		j->next = NULL;
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		if (idle > 0)
			idle--;
		else if (p->nthreads < MAX_WORKERS &&
			 pthread_create(&p->threads[p->nthreads], NULL,
					worker_main, p) == 0)
			p->nthreads++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

static int fill_cancelled(void *ud)
{
	struct bf_reader *r = ud;

	return __atomic_load_n(&r->closing, __ATOMIC_ACQUIRE);
}

static void *worker_main(void *arg)
{
	struct bf_reader_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j;

		while (!p->head && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->cv, &p->mu);
			p->idle--;
		}
		if (p->stop)
			break;
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);

		struct bf_reader *r = j->r;
		struct block *b = &r->b[j->bi];
		int cancel;

		free(j);
		pthread_mutex_lock(&r->mu);
		cancel = b->cancel || r->closing;
		if (cancel) {
			b->st = B_EMPTY;
			b->filled = b->len = 0;
		}
		pthread_mutex_unlock(&r->mu);
		if (!cancel) {
			stat_add(&p->st.prefetches, 1);
			/* A stalled transfer ends within a second of close
			 * (curl's progress callback polls this), so closing
			 * a reader, as at exit, never waits out a deadline. */
			bf_cancel_set(fill_cancelled, r);
			fill_block(r, b, NULL);
			bf_cancel_set(NULL, NULL);
		}
		pthread_mutex_lock(&r->mu);
		r->busy--;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		/* r may be freed from here on (close waits for busy == 0). */
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* ---- readers ----------------------------------------------------------- */

struct bf_reader *bf_reader_open(struct bf_reader_pool *p, struct bf_gcs *g,
				 const char *bucket, const char *name,
				 int64_t generation, uint64_t size)
{
	struct bf_reader *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r)
		return NULL;
	r->bucket = strdup(bucket);
	r->name = strdup(name);
	if (!r->bucket || !r->name) {
		free(r->bucket);
		free(r->name);
		free(r);
		return NULL;
	}
	r->p = p;
	r->g = g;
	r->gen = generation;
	r->size = size;
	r->eof_at = UINT64_MAX;
	bf_seq_init(&r->seq, MIN_WINDOW, p->max_window);
	bf_ahead_init(r);
	if (__atomic_load_n(&p->splice_max, __ATOMIC_RELAXED))
		r->rs = bf_rstream_new(); /* NULL: no splice path, no harm */
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

void bf_reader_update(struct bf_reader *r, int64_t generation, uint64_t size)
{
	pthread_mutex_lock(&r->mu);
	/* Append-only growth: bytes already in blocks are a prefix of the
	 * new generation, so they stay; only the end moves. */
	r->gen = generation;
	r->size = size;
	r->eof_at = UINT64_MAX;
	pthread_mutex_unlock(&r->mu);
}

/* Waits a little on r->cv; -EINTR when the caller's cancel check fires,
 * -ETIMEDOUT past its request's deadline (with e set either way). */
static int wait_a_bit(struct bf_reader *r, struct bf_err *e)
{
	int rc = bf_cond_wait_slice(&r->cv, &r->mu, CLOCK_MONOTONIC,
				    WAIT_SLICE_MS);

	if (!rc)
		return 0;
	return bf_err_set(e, -rc,
			  rc == -ETIMEDOUT ? "the read's deadline passed"
					   : "read interrupted");
}

/* Adds a piece to v, merging it with the last one when both are in buf
 * and contiguous. Blocks are pinned only while a slot stays free after
 * them, and pieces of buf then follow on, so there is always room. */
static int rvec_add(struct bf_rvec *v, char *p, size_t n, struct block *b)
{
	struct iovec *last = v->n ? &v->iov[v->n - 1] : NULL;

	if (last && !b && !v->pin[v->n - 1] &&
	    (char *)last->iov_base + last->iov_len == p) {
		last->iov_len += n;
		return 0;
	}
	if (v->n == BF_RVEC_MAX)
		return -EIO; /* cannot happen, see above */
	v->iov[v->n].iov_base = p;
	v->iov[v->n].iov_len = n;
	v->pin[v->n] = b;
	v->n++;
	return 0;
}

/* r->mu held. */
static void unpin_locked(struct bf_rvec *v)
{
	for (int i = 0; i < v->n; i++)
		if (v->pin[i])
			((struct block *)v->pin[i])->pins--;
	v->n = 0;
	pthread_cond_broadcast(&v->r->cv); /* bf_reader_close waits on pins */
}

void bf_reader_unpin(struct bf_rvec *v)
{
	struct bf_reader *r = v ? v->r : NULL;

	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	unpin_locked(v);
	pthread_mutex_unlock(&r->mu);
}

static ssize_t read_impl(struct bf_reader *r, char *buf, size_t len,
			 uint64_t off, struct bf_rvec *v, struct bf_err *e);

ssize_t bf_reader_read(struct bf_reader *r, char *buf, size_t len, uint64_t off,
		       struct bf_err *e)
{
	return read_impl(r, buf, len, off, NULL, e);
}

ssize_t bf_reader_readv(struct bf_reader *r, char *buf, size_t len,
			uint64_t off, struct bf_rvec *v, struct bf_err *e)
{
	if (v) {
		v->r = r;
		v->n = 0;
	}
	return read_impl(r, buf, len, off, v, e);
}

static ssize_t read_impl(struct bf_reader *r, char *buf, size_t len,
			 uint64_t off, struct bf_rvec *v, struct bf_err *e)
{
	struct job *pf = NULL;
	uint64_t front, end;
	size_t done = 0;
	ssize_t rc = 0;
	int seq, stale_retries = 0;

	bf_err_clear(e);
	pthread_mutex_lock(&r->mu);
	if (r->closing) {
		rc = bf_err_set(e, EBADF, "reader is closing");
		goto out;
	}
	end = bf_block_data_end(r);
	if (off >= end || !len)
		goto out;
	if (len > end - off)
		len = (size_t)(end - off);
	front = r->seq.next;
	if (r->seq.streak && find_block(r, off)) {
		/* Many workers on one stream: a late one reads bytes of
		 * a window already held; that is no seek. */
		bf_seq_held(&r->seq, off, len);
		seq = 1;
	} else {
		seq = bf_seq_access(&r->seq, off, len);
	}

	while (done < len) {
		uint64_t pos = off + done;
		size_t want = len - done;
		struct block *b;

		end = bf_block_data_end(r);
		if (pos >= end)
			break;
		if (want > end - pos)
			want = (size_t)(end - pos);
		b = find_block(r, pos);
		if (b && b->st == B_LOADING && pos >= b->off + b->filled) {
			unsigned ep = b->epoch;

			if (seq)
				bf_ahead_waited(r);
			if ((rc = wait_a_bit(r, e)) != 0)
				goto out;
			if (b->epoch == ep && b->st == B_EMPTY && b->err) {
				/* A load of the generation we left behind
				 * (bf_reader_update) may fail: load again. */
				if (b->gen != r->gen && stale_retries++ < 3)
					continue;
				rc = -b->err;
				if (e)
					*e = b->e;
				goto out;
			}
			continue;
		}
		if (b) {
			size_t n = b->off + b->filled - pos;

			if (n > want)
				n = want;
			if (v && v->n < BF_RVEC_MAX - 1) {
				/* Pinned until the caller has sent it. The
				 * last slot is kept for bytes copied to buf,
				 * so a read is never cut short. */
				b->pins++;
				rvec_add(v, b->data + (pos - b->off), n, b);
				stat_add(&r->p->st.buffered_bytes, n);
				done += n;
				continue;
			}
			if (v && rvec_add(v, buf + done, n, NULL)) {
				rc = bf_err_set(e, EIO, "read vector full");
				goto out;
			}
			b->pins++;
			pthread_mutex_unlock(&r->mu);
			memcpy(buf + done, b->data + (pos - b->off), n);
			stat_add(&r->p->st.buffered_bytes, n);
			pthread_mutex_lock(&r->mu);
			b->pins--;
			done += n;
			continue;
		}
		if (seq && ends_at(r, pos)) {
			/* The load ending here is about to chain the next
			 * window; wait for it rather than load our own. */
			bf_ahead_waited(r);
			if ((rc = wait_a_bit(r, e)) != 0)
				goto out;
			continue;
		}
		/* A miss. Forward sequential misses load a window; the rest
		 * (random, a backward reorder, no budget) read exactly. */
		if (seq && pos >= front && r->p->max_bytes &&
		    want <= r->p->max_window && (b = pick_block(r))) {
			size_t win = bf_ahead_window(r);

			if (win < want)
				win = want;
			if (win > end - pos)
				win = (size_t)(end - pos);
			bf_ahead_waited(r);
			if (bf_block_ensure_cap(r, b, &win, want) == 0) {
				struct job *more;

				bf_block_start_load(r, b, pos, win);
				/* The windows after ours start now, in
				 * parallel, not after ours has landed. */
				more = bf_ahead_plan(r);
				pthread_mutex_unlock(&r->mu);
				if (more)
					enqueue(r->p, more);
				rc = fill_block(r, b, e);
				pthread_mutex_lock(&r->mu);
				if (rc && b->gen != r->gen &&
				    stale_retries++ < 3) {
					bf_err_clear(e);
					continue;
				}
				if (rc)
					goto out;
				front = pos; /* our own window now */
				continue;
			}
		}
		{
			int64_t gen = r->gen;
			ssize_t n;

			pthread_mutex_unlock(&r->mu);
			stat_add(&r->p->st.direct_reads, 1);
			n = bf_gcs_read(r->g, r->bucket, r->name, gen, pos,
					buf + done, want, e);
			pthread_mutex_lock(&r->mu);
			if (v && n > 0 &&
			    rvec_add(v, buf + done, (size_t)n, NULL)) {
				rc = bf_err_set(e, EIO, "read vector full");
				goto out;
			}
			if (n < 0 && gen != r->gen && stale_retries++ < 3) {
				bf_err_clear(e);
				continue;
			}
			if (n < 0) {
				rc = n;
				goto out;
			}
			done += (size_t)n;
			if ((size_t)n < want) {
				if (gen == r->gen &&
				    pos + (uint64_t)n < r->eof_at)
					r->eof_at = pos + (uint64_t)n;
				break;
			}
		}
	}
	rc = (ssize_t)done;
	if (seq)
		pf = bf_ahead_plan(r);
out:
	if (rc < 0 && v)
		unpin_locked(v);
	pthread_mutex_unlock(&r->mu);
	if (pf)
		enqueue(r->p, pf);
	return rc;
}

void bf_reader_close(struct bf_reader *r)
{
	struct bf_reader_pool *p;
	struct job **pp, *dead = NULL;
	int removed = 0;

	if (!r)
		return;
	p = r->p;
	pthread_mutex_lock(&r->mu);
	__atomic_store_n(&r->closing, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NBLOCKS; i++)
		if (r->b[i].st == B_LOADING)
			r->b[i].cancel = 1;
	pthread_mutex_unlock(&r->mu);

	pthread_mutex_lock(&p->mu);
	p->tail = NULL;
	for (pp = &p->head; *pp;) {
		struct job *j = *pp;

		if (j->r == r) {
			*pp = j->next;
			j->next = dead;
			dead = j;
			removed++;
		} else {
			p->tail = j;
			pp = &j->next;
		}
	}
	pthread_mutex_unlock(&p->mu);

	pthread_mutex_lock(&r->mu);
	while (dead) {
		struct job *j = dead;

		dead = j->next;
		r->b[j->bi].st = B_EMPTY;
		free(j);
	}
	r->busy -= removed;
	for (;;) {
		int loading = 0;

		for (int i = 0; i < NBLOCKS; i++)
			loading |= r->b[i].st == B_LOADING || r->b[i].pins;
		if (!r->busy && !loading)
			break;
		pthread_cond_wait(&r->cv, &r->mu);
	}
	pthread_mutex_unlock(&r->mu);

	for (int i = 0; i < NBLOCKS; i++)
		bf_pool__free(r->b[i].data, r->b[i].cap);
	bf_pool__give(p, &r->pm, r->pm.held);
	bf_pool__leave(p, &r->pm);
	bf_rstream_free(r->rs);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->bucket);
	free(r->name);
	free(r);
}
