/* reader_int.h - the reader's state, shared by reader.c (read-ahead
 * blocks) and pipe.c (the splice path); not public. */
#ifndef BATCHFS_READER_INT_H
#define BATCHFS_READER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "batchfs/err.h"
#include "batchfs/reader.h"

#define NBLOCKS 2
#define MAX_WORKERS 4

struct job {
	struct bf_reader *r;
	int bi;
	struct job *next;
};

struct bf_reader_pool {
	size_t max_bytes, max_window;
	size_t used; /* __atomic */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	int nthreads, idle, stop;
	pthread_t threads[MAX_WORKERS];
	struct bf_reader_stats st; /* __atomic fields */
	size_t splice_max; /* largest read for the splice path; 0 = off */
};

enum bstate { B_EMPTY, B_LOADING, B_READY };

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
	struct bf_reader_pool *p;
	struct bf_gcs *g;
	char *bucket, *name;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t gen;
	uint64_t size, eof_at; /* eof_at: where a fill found the end */
	struct bf_seq seq;
	struct block b[NBLOCKS];
	size_t held; /* bytes reserved in the pool */
	int busy;    /* prefetch jobs queued or running */
	int closing;
	int streaming;	       /* the splice stream serves; no prefetch */
	struct bf_rstream *rs; /* the splice path's state, or NULL */
};

/* The pool's byte budget, shared by blocks and streams' receive buffers:
 * 0 or -ENOMEM. */
int bf_reader__reserve(struct bf_reader_pool *p, size_t n);
void bf_reader__release(struct bf_reader_pool *p, size_t n);
/* Frees the blocks no one uses (the stream needs none). r->mu held. */
void bf_reader__drop_blocks(struct bf_reader *r);
uint64_t bf_reader__data_end(const struct bf_reader *r);
/* pipe.c: the splice stream of one reader (NULL when the pool has none). */
struct bf_rstream *bf_rstream_new(void);
void bf_rstream_free(struct bf_rstream *rs);

#endif
