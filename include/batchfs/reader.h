/* reader.h - sequential read-ahead over bf_gcs_read for one open object.
 *
 * A reader detects sequential access and fetches windows that grow from
 * 1 MiB to max_window, from one streaming ranged GET where it can; random
 * access falls back to exact-size ranges. All readers share one pool whose
 * byte budget caps read-ahead memory; when the pool is exhausted reads are
 * served synchronously without buffering.
 */
#ifndef BATCHFS_READER_H
#define BATCHFS_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
/* The object grew (append-only export): follow the new generation. */
void bf_reader_update(struct bf_reader *r, int64_t generation, uint64_t size);
void bf_reader_close(struct bf_reader *r);

#endif
