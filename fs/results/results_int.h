/* results_int.h - helpers shared inside fs/results: a compact string-keyed
 * index, a line reader over bf_read_fn, a buffered fd writer, spool files
 * and the key of a JSONL row. Not part of the public contract. */
#ifndef BATCHFS_RESULTS_INT_H
#define BATCHFS_RESULTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "batchfs/results.h"

/* Nothing in fs/results is shared between threads: each object (join,
 * index, dup finder, line reader, writer) belongs to the one call that
 * made it, so none has a lock. */

/* ---- index: key -> small value, open addressing, keys in one arena ---- */

struct bf_kval {
	uint64_t off;	/* a line number or a spool offset */
	uint32_t len;
	uint32_t flags;
};

struct bf_kset;
struct bf_kset *bf_kset_new(void);
void bf_kset_free(struct bf_kset *s);
/* Finds or inserts key; *v points at its value (zeroed when new, valid
 * until the next put). Returns 1 when inserted, 0 when found, -ENOMEM. */
int bf_kset_put(struct bf_kset *s, const char *key, size_t klen,
		struct bf_kval **v);
struct bf_kval *bf_kset_get(struct bf_kset *s, const char *key, size_t klen);
size_t bf_kset_count(const struct bf_kset *s);
/* Calls fn for every entry; for statistics only. */
void bf_kset_each(struct bf_kset *s, void (*fn)(void *ud, struct bf_kval *v),
		  void *ud);
/* Bytes held (table + arena), for tests of the memory bound. */
size_t bf_kset_bytes(const struct bf_kset *s);

/* ---- dupkeys.c: repeated keys among many lines, bounded memory ---- */
struct bf_dupk;
/* run_records: records sorted in memory at once (0: 1 Mi = 16 MiB). */
struct bf_dupk *bf_dupk_new(size_t run_records);
void bf_dupk_free(struct bf_dupk *d);
/* Notes the key of line (field: 0 "key", 1 "custom_id"). */
int bf_dupk_add(struct bf_dupk *d, int field, const char *key, size_t klen,
		uint64_t line, struct bf_err *e);
/* Once, after the last add: up to max pairs of lines whose key hashes are
 * equal (the first two lines of each such group), smallest second line
 * first; their count or -errno. Keys of a pair may still differ. */
int bf_dupk_pairs(struct bf_dupk *d, uint64_t (*out)[2], size_t max,
		  struct bf_err *e);
/* Most bytes held at once, for tests of the memory bound. */
size_t bf_dupk_bytes(const struct bf_dupk *d);

/* ---- lines ------------------------------------------------------------- */

struct bf_lines {
	bf_read_fn rd;
	void *ud;
	char *buf;
	size_t cap, start, end;
	size_t max;	  /* longest line accepted (without '\n') */
	int eof;
	uint64_t lineno;  /* of the line last returned, 1-based */
	uint64_t bytes;	  /* read so far */
};

void bf_lines_init(struct bf_lines *l, bf_read_fn rd, void *ud, size_t max);
void bf_lines_free(struct bf_lines *l);
/* Next line without its '\n' (and a '\r' before it): 1 with *line and *len
 * valid until the next call, 0 at the end, -EFBIG for a line longer than
 * max (e says which), or the source's -errno. */
int bf_lines_next(struct bf_lines *l, char **line, size_t *len,
		  struct bf_err *e);

/* ---- writer ------------------------------------------------------------ */

#define BF_WBUF_BYTES (64u << 10) /* buffered before each write(2) */

struct bf_wbuf {
	int fd;
	size_t n;
	uint64_t total;
	char buf[BF_WBUF_BYTES];
};

void bf_wbuf_init(struct bf_wbuf *w, int fd);
int bf_wbuf_put(struct bf_wbuf *w, const void *p, size_t n, struct bf_err *e);
int bf_wbuf_flush(struct bf_wbuf *w, struct bf_err *e);

/* pwrite/pread until done (EINTR retried); 0 or -errno. */
int bf_pread_full(int fd, void *buf, size_t n, uint64_t off,
		  struct bf_err *e);

/* ---- rows -------------------------------------------------------------- */

/* The key of a row or input line: "key", else "custom_id". A string is
 * used as is; a number as its decimal text (importers turn "7" into 7).
 * Returns 1 and fills *key (malloc'd, *klen) and *field, 0 when there is
 * none, -EINVAL when the member is another type, -ENOMEM. */
int bf_row_key(const cJSON *row, char **key, size_t *klen,
	       const cJSON **item, const char **field);
/* status absent or "" and a non-null response. */
int bf_row_ok(const cJSON *row);

/* ---- matching rows to lines (match.c) --------------------------------- */

#define BF_FP_LEN 16

/* A key's canonical text in out (cap bytes; returns its length): a
 * numeric-looking key as its numeric text ("000000" -> "0"), as the
 * importer re-types it; anything else as is. */
size_t bf_match_key(const char *key, size_t klen, char *out, size_t cap);
/* A fingerprint of a request's content that survives the echo in an
 * output row: members in any order, null members added, numbers re-typed
 * (1, 1.0 and "1" are one). 1 when made, 0 when req is not an object (or
 * nested too deep), -ENOMEM. */
int bf_match_request(const cJSON *req, unsigned char fp[BF_FP_LEN]);

/* Valid UTF-8 without NUL bytes (overlongs, surrogates refused). */
int bf_utf8_text(const char *s, size_t n);

#endif
