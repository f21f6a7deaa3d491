/* reader_int.h - the reader's state, shared by the read-ahead's files;
 * not public. Files, top to bottom (each calls only the ones below it):
 * reader.c (readers, loads, the worker threads), pipe.c (the splice
 * path), ahead.c (parallel read-ahead plans), block.c (a reader's blocks),
 * pool.c (the memory budget) and seq.c (the detector). */
#ifndef BATCHFS_READER_INT_H
#define BATCHFS_READER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "batchfs/err.h"
#include "batchfs/reader.h"

/* Blocks per reader: up to this many windows in flight or waiting. */
#define NBLOCKS 16
/* Loader threads per mount (each one transfer at a time). */
#define MAX_WORKERS 16

/* A prefetch: load block bi of r. Owned by the queue (p->mu) until a
 * worker takes it. */
struct job {
	struct bf_reader *r;
	int bi;
	struct job *next;
};

struct bf_reader_pool {
	size_t max_bytes, max_window; /* immutable after creation */
	size_t used;		      /* __atomic */
	unsigned holders;	      /* readers holding blocks; __atomic */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* on mu: a job queued, or stop */
	struct job *head, *tail;	/* mu */
	int nthreads, idle, stop;	/* mu */
	pthread_t threads[MAX_WORKERS]; /* mu (joined after stop) */
	struct bf_reader_stats st;	/* __atomic fields */
	/* largest read for the splice path; 0 = off; __atomic */
	size_t splice_max;
};

/* A reader's part in the budget: what its blocks hold, and whether it
 * counts in the fair share (it holds memory, or asked for some). */
struct bf_pool_member {
	size_t held; /* the owning reader's mu */
	int in;	     /* the owning reader's mu */
};

enum bstate { B_EMPTY, B_LOADING, B_READY };

/* Every field under the reader's mu. A LOADING block's bytes from 'filled'
 * on belong to its filler, which writes them without the lock; a pinned
 * block's data stays put while readers copy out without the lock. */
struct block {
	char *data;
	size_t cap;
	uint64_t off;
	size_t len;    /* asked for; becomes what arrived when READY */
	size_t filled; /* valid bytes from data[0] */
	enum bstate st;
	int pins; /* readers copying out without the lock */
	int cancel;
	unsigned epoch; /* bumped at each load start */
	int err;	/* last load's failure, positive errno */
	struct bf_err e;
	int64_t gen;
};

struct bf_reader {
	/* Immutable after bf_reader_open. */
	struct bf_reader_pool *p;
	struct bf_gcs *g;
	char *bucket, *name;
	struct bf_rstream *rs; /* the splice path's state, or NULL */

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* on mu: a block filled, unpinned or freed */
	int64_t gen;
	uint64_t size, eof_at; /* eof_at: where a fill found the end */
	struct bf_seq seq;
	struct block b[NBLOCKS];
	struct bf_pool_member pm; /* bytes reserved in the pool (pm.held) */
	int busy;		  /* prefetch jobs queued or running */
	int closing;   /* set under mu, also read with __atomic without it */
	int streaming; /* the splice stream serves; no prefetch */
	/* ahead.c: how many loads to keep in flight, and whether more paid. */
	struct {
		int streams;	  /* target loads in flight */
		int frozen;	  /* growing stopped paying */
		int misses;	  /* epochs in a row that did not pay */
		int waited;	  /* the consumer waited on the network */
		uint64_t bytes;	  /* landed this epoch */
		int64_t t0;	  /* epoch start, ms */
		double best;	  /* best rate so far, bytes/ms */
		double load_rate; /* of one load, bytes/ms (0: not yet) */
	} ah;
};

/* pool.c. The pool's byte budget, shared by blocks and streams' receive
 * buffers: 0 or -ENOMEM. Atomics only: callable under any lock. */
int bf_pool__reserve(struct bf_reader_pool *p, size_t n);
void bf_pool__release(struct bf_reader_pool *p, size_t n);
int bf_pool__take(struct bf_reader_pool *p, struct bf_pool_member *m, size_t n);
void bf_pool__give(struct bf_reader_pool *p, struct bf_pool_member *m,
		   size_t n);
void bf_pool__join(struct bf_reader_pool *p, struct bf_pool_member *m);
void bf_pool__leave(struct bf_reader_pool *p, struct bf_pool_member *m);
/* What one member may hold: the budget split evenly among the members. */
size_t bf_pool__share(const struct bf_reader_pool *p,
		      const struct bf_pool_member *m);
void bf_pool__stat(uint64_t *f, uint64_t n);
/* A block's memory (mapped; NULL on failure) and its release. */
char *bf_pool__alloc(size_t n);
void bf_pool__free(char *d, size_t n);
void bf_pool__stat_max(uint64_t *f, uint64_t v);

/* block.c, r->mu held by all. */
/* Makes b hold at least *win bytes (at least want), within the budget and
 * the reader's fair share of it; shrinks *win when only a smaller buffer
 * fits. want 0: a prefetch, kept strictly within the share and never
 * smaller than MIN_WINDOW / 4. b idle. */
int bf_block_ensure_cap(struct bf_reader *r, struct block *b, size_t *win,
			size_t want);
/* Marks b LOADING [off, off + len) of the reader's generation. */
void bf_block_start_load(struct bf_reader *r, struct block *b, uint64_t off,
			 size_t len);
/* Where a block's data ends (or will end once its load completes). */
uint64_t bf_block_end(const struct block *b);
/* Where the reader's data ends: its size, or where a fill found the end. */
uint64_t bf_block_data_end(const struct bf_reader *r);
/* Frees b's memory (idle, unpinned) and gives it back to the pool. */
void bf_block_free(struct bf_reader *r, struct block *b);
/* Frees the blocks no one uses (the splice stream needs none). */
void bf_block_drop_idle(struct bf_reader *r);

/* ahead.c: parallel read-ahead. The plan is a list of jobs (linked by
 * next) to enqueue after unlocking. r->mu held by all but none. */
void bf_ahead_init(struct bf_reader *r);
struct job *bf_ahead_plan(struct bf_reader *r);
void bf_ahead_waited(struct bf_reader *r);
/* The size of a load at the consumer (a miss): as a prefetch now. */
size_t bf_ahead_window(struct bf_reader *r);
/* A load of n bytes landed after ms. */
void bf_ahead_landed(struct bf_reader *r, size_t n, int64_t ms);
/* Whether a splice stream that moved `bytes` in `ms`, `wait_ms` of them
 * waiting on its socket, is slow enough that parallel ranges serve the
 * reader better (a per-connection limit, as over a WAN). */
int bf_ahead_splice_slow(uint64_t bytes, int64_t ms, int64_t wait_ms);

/* pipe.c: the splice stream of one reader (NULL when the pool has none). */
struct bf_rstream *bf_rstream_new(void);
void bf_rstream_free(struct bf_rstream *rs);

#endif
