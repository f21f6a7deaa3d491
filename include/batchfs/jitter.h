/* jitter.h - the one jitter source: retries, back-offs and pauses spread
 * with it so that many threads or mounts do not act in step. Not for
 * secrets (tokens and request ids use getrandom).
 */
#ifndef BATCHFS_JITTER_H
#define BATCHFS_JITTER_H

#include <stdint.h>

/* A value in [0, 1). Thread-safe: per-thread state, seeded once per
 * process from getrandom and told apart per thread. */
double bf_jitter01(void);

/* An integer in [lo, hi) (lo when hi <= lo). */
int64_t bf_jitter(int64_t lo, int64_t hi);

#endif
