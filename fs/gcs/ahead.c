/* ahead.c - parallel read-ahead of one sequential reader: how many window
 * loads it keeps in flight, how big they are, which blocks they fill, and
 * when a splice stream is too slow to keep.
 *
 * Why: one TCP stream to Cloud Storage across a WAN is limited by its
 * window and round trip, far below the link. gcloud's sliced downloads and
 * mountpoint-s3's prefetcher run several ranged GETs at once on separate
 * connections; so does this. Each load is one verified ranged GET
 * (read.c) run by a pool worker on its own curl handle, hence its own
 * connection (handles share no connections, and streams speak HTTP/1.1,
 * so ranges are never multiplexed onto one TCP stream).
 *
 * How many: ah.streams loads stay in flight ahead of the consumer, from 2
 * (the consumer's window and one prefetch), doubling after each epoch
 * (EPOCH_MS of landed windows) in which the consumer waited on the network
 * and the delivered rate rose by a quarter; two epochs in a row without
 * such a rise stop the growth. Latency is hidden: the next windows are
 * requested while the consumer still works through the ones before.
 *
 * How big: the detector's window (1 MiB doubling to max_window), but no
 * more than one load moves in LOAD_MS at the rate loads have had, so a
 * slow stream gets smaller windows and more of them in parallel.
 *
 * Memory: a reader holds at most its fair share of the pool's budget
 * (bf_pool__share; -o readahead split among the readers holding blocks;
 * a reader over it frees consumed blocks first), windows shrink to
 * share/streams (not below PAR_WINDOW), and the bytes ahead of the
 * consumer never exceed the share. More streams: smaller windows, never
 * more memory.
 */
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "gcs/gcs_int.h"
#include "gcs/reader_int.h"

#define EPOCH_MS 200
#define LOAD_MS 400
#define PAR_WINDOW (2u << 20)
/* A splice stream is judged after this long: slower than this while the
 * reader waited on its socket, parallel ranges do better. */
#define SPLICE_JUDGE_MS 150
#define SPLICE_MIN_RATE (128.0 * 1048576 / 1000) /* bytes per ms */

void bf_ahead_init(struct bf_reader *r)
{
	memset(&r->ah, 0, sizeof(r->ah));
	r->ah.streams = 2;
}

void bf_ahead_waited(struct bf_reader *r)
{
	r->ah.waited = 1;
}

void bf_ahead_landed(struct bf_reader *r, size_t n, int64_t ms)
{
	int64_t now = bf_now_ms(), dt;
	double rate;

	if (n >= MIN_WINDOW / 4) {
		double lr = (double)n / (double)(ms > 0 ? ms : 1);

		r->ah.load_rate =
			r->ah.load_rate ? (3 * r->ah.load_rate + lr) / 4 : lr;
	}
	if (!r->ah.t0) {
		r->ah.t0 = now;
		r->ah.bytes = 0;
	}
	r->ah.bytes += n;
	dt = now - r->ah.t0;
	if (dt < EPOCH_MS)
		return;
	rate = (double)r->ah.bytes / (double)dt;
	if (r->ah.waited && !r->ah.frozen && r->ah.streams < NBLOCKS) {
		if (rate > r->ah.best * 1.25) {
			r->ah.misses = 0;
			r->ah.streams *= 2;
			if (r->ah.streams > NBLOCKS)
				r->ah.streams = NBLOCKS;
			bf_log_debug(
				"gs://%s/%s: %d loads in flight (%.0f MB/s)",
				r->bucket, r->name, r->ah.streams, rate / 1000);
		} else if (++r->ah.misses >= 3) {
			r->ah.frozen = 1;
			bf_log_debug("gs://%s/%s: %d loads in flight: more did "
				     "not pay (%.0f MB/s)",
				     r->bucket, r->name, r->ah.streams,
				     rate / 1000);
		}
	}
	if (rate > r->ah.best)
		r->ah.best = rate;
	r->ah.t0 = now;
	r->ah.bytes = 0;
	r->ah.waited = 0;
}

int bf_ahead_splice_slow(uint64_t bytes, int64_t ms, int64_t wait_ms)
{
	if (ms < SPLICE_JUDGE_MS || wait_ms * 2 < ms)
		return 0; /* too early, or the consumer set the pace */
	return (double)bytes / (double)ms < SPLICE_MIN_RATE;
}

/* The window of the next load: the detector's, no more than one load
 * moves in LOAD_MS at the rate loads have had (a slow stream gets small
 * windows and more company, not a long wait), and at most share/streams
 * once loads run in parallel. */
static size_t window(struct bf_reader *r, size_t share)
{
	size_t win = bf_seq_take_window(&r->seq);
	size_t per = share / (size_t)r->ah.streams;

	if (r->ah.load_rate > 0) {
		double cap = r->ah.load_rate * LOAD_MS;

		if (cap < MIN_WINDOW)
			cap = MIN_WINDOW;
		if ((double)win > cap)
			win = (size_t)cap & ~(size_t)0xffff;
	}

	if (r->ah.streams > 2) {
		if (per < PAR_WINDOW)
			per = PAR_WINDOW;
		if (win > per)
			win = per;
	}
	return win;
}

size_t bf_ahead_window(struct bf_reader *r)
{
	return window(r, bf_pool__share(r->p, &r->pm));
}

/* Whether the consumer is done with b's bytes. */
static int consumed(const struct bf_reader *r, const struct block *b)
{
	return b->st == B_READY && bf_block_end(b) <= r->seq.next;
}

/* An idle block to load into: empty or consumed, one with memory first. */
static struct block *free_block(struct bf_reader *r)
{
	struct block *best = NULL;

	for (int i = 0; i < NBLOCKS; i++) {
		struct block *b = &r->b[i];

		if (b->pins || (b->st != B_EMPTY && !consumed(r, b)))
			continue;
		if (!best || b->cap > best->cap)
			best = b;
	}
	return best;
}

/* Gives back idle blocks while the reader holds more than its share (more
 * readers arrived since it took them). */
static void trim(struct bf_reader *r, size_t share)
{
	for (int i = 0; i < NBLOCKS && r->pm.held > share; i++) {
		struct block *b = &r->b[i];

		if (b->pins || !b->cap || (b->st != B_EMPTY && !consumed(r, b)))
			continue;
		bf_block_free(r, b);
	}
}

struct job *bf_ahead_plan(struct bf_reader *r)
{
	struct job *list = NULL, **tail = &list;
	struct block *top = NULL;
	uint64_t end = bf_block_data_end(r);
	size_t share;
	int loading = 0, joined = 0;

	if (r->closing || r->streaming || !r->p->max_bytes)
		return NULL;
	share = bf_pool__share(r->p, &r->pm);
	trim(r, share);
	for (int i = 0; i < NBLOCKS; i++) {
		struct block *b = &r->b[i];

		if (b->st == B_EMPTY)
			continue;
		loading += b->st == B_LOADING;
		if (!top || bf_block_end(b) > bf_block_end(top))
			top = b;
		/* The chain must reach the consumer: one block holds (or
		 * ends at) the furthest byte read. */
		if (b->off <= r->seq.next && r->seq.next <= bf_block_end(b))
			joined = 1;
	}
	if (!top || !joined)
		return NULL;
	while (loading < r->ah.streams) {
		uint64_t start = bf_block_end(top);
		struct block *b;
		struct job *j;
		size_t win;

		if (start >= end || start - r->seq.next >= share)
			break;
		b = free_block(r);
		if (!b)
			break;
		win = window(r, share);
		if (win > share - (start - r->seq.next))
			win = share - (size_t)(start - r->seq.next);
		if (win > end - start)
			win = (size_t)(end - start);
		if (b->cap > 2 * win && b->cap > MIN_WINDOW) {
			/* Windows shrank as streams grew: a big buffer
			 * would hold memory that smaller loads can use. */
			bf_block_free(r, b);
		}
		if (bf_block_ensure_cap(r, b, &win, 0))
			break;
		j = malloc(sizeof(*j));
		if (!j)
			break;
		bf_block_start_load(r, b, start, win);
		r->busy++;
		j->r = r;
		j->bi = (int)(b - r->b);
		j->next = NULL;
		*tail = j;
		tail = &j->next;
		loading++;
		top = b;
	}
	bf_pool__stat_max(&r->p->st.loads_max, (uint64_t)loading);
	return list;
}
