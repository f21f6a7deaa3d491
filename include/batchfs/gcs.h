/* gcs.h - Cloud Storage JSON API client: list, stat, ranged reads pinned to
 * a generation and verified, uploads (simple below a threshold, resumable
 * above, resuming after a failed chunk), delete.
 */
#ifndef BATCHFS_GCS_H
#define BATCHFS_GCS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "batchfs/err.h"

struct bf_http;
struct bf_gcs;

struct bf_gcs_opts {
	/* API root, e.g. "http://127.0.0.1:8080" (STORAGE_EMULATOR_HOST
	 * form, scheme optional: http assumed). NULL = storage.googleapis.com */
	const char *endpoint;
	size_t resumable_threshold; /* 8 MiB */
	size_t chunk_size;	    /* resumable chunk: 8 MiB (multiple of 256 KiB) */
	unsigned list_page_size;    /* maxResults per list page: 0 = 1000 */
};
struct bf_gcs *bf_gcs_new(const struct bf_gcs_opts *o, struct bf_http *http);
/* Whether an endpoint option names plain http (with or without the
 * scheme); NULL is Google's https endpoint. */
int bf_gcs_endpoint_plain(const char *endpoint);
void bf_gcs_free(struct bf_gcs *g);

struct bf_gcs_object {
	char *name;
	uint64_t size;
	int64_t generation;
	int64_t metageneration;
	int64_t updated_us; /* epoch us */
	char *content_type;
	char *md5;	    /* base64 as sent, NULL if absent */
	char *crc32c;
};
void bf_gcs_object_free(struct bf_gcs_object *o);
int bf_gcs_object_parse(const char *json, size_t len,
			struct bf_gcs_object *out, struct bf_err *e);

/* "gs://bucket/obj/path" -> bucket, object (object may be ""). */
int bf_gcs_parse_uri(const char *uri, char **bucket, char **object);

/* Every page. Items and prefixes come in the server's order; cb return
 * nonzero stops with that value. delimiter may be NULL. */
typedef int (*bf_gcs_item_cb)(void *ud, const struct bf_gcs_object *obj);
typedef int (*bf_gcs_prefix_cb)(void *ud, const char *prefix);
int bf_gcs_list(struct bf_gcs *g, const char *bucket, const char *prefix,
		const char *delimiter, bf_gcs_item_cb item_cb,
		bf_gcs_prefix_cb prefix_cb, void *ud, struct bf_err *e);

int bf_gcs_stat(struct bf_gcs *g, const char *bucket, const char *name,
		struct bf_gcs_object *out, struct bf_err *e);

/* Reads [off, off+len) of generation gen (0 = latest) into buf. Returns the
 * number of bytes (short only at end of object, 0 at/after EOF: 416), or
 * -errno. Verifies 206 + Content-Range; a 200 to a range, a wrong range or
 * a short body never yields misplaced bytes: it resumes or fails -EIO.
 * A changed generation gives -ESTALE. */
ssize_t bf_gcs_read(struct bf_gcs *g, const char *bucket, const char *name,
		    int64_t gen, uint64_t off, char *buf, size_t len,
		    struct bf_err *e);

/* Uploads len bytes from memory or fd (data == NULL: read fd from 0).
 * if_generation_match: -1 none, 0 = only if absent. */
int bf_gcs_upload(struct bf_gcs *g, const char *bucket, const char *name,
		  const char *content_type, const char *data, int fd,
		  uint64_t len, int64_t if_generation_match,
		  struct bf_gcs_object *out, struct bf_err *e);

int bf_gcs_delete(struct bf_gcs *g, const char *bucket, const char *name,
		  struct bf_err *e);

/* bf_gcs_read that reports progress: after each piece of body lands in buf,
 * progress(ud, got) runs with got = bytes valid from buf[0] (it only
 * grows, also across resumed attempts). A nonzero return stops the read
 * with -ECANCELED. progress may be NULL. */
typedef int (*bf_gcs_progress_fn)(void *ud, size_t got);
/* flags: BF_GCS_READ_PARALLEL, one of several loads at once, each on its
 * own connection: a small receive buffer (each connection is slow, and
 * buffers of many at once would add up). */
#define BF_GCS_READ_PARALLEL 1
ssize_t bf_gcs_read_ex(struct bf_gcs *g, const char *bucket, const char *name,
		       int64_t gen, uint64_t off, char *buf, size_t len,
		       bf_gcs_progress_fn progress, void *ud, int flags,
		       struct bf_err *e);

/* Pure parsers (exposed for tests).
 * "bytes START-END/TOTAL" (TOTAL may be "*": *total = UINT64_MAX) -> 0;
 * "bytes * /TOTAL" (unsatisfied, no space) -> 1 with *start = *end =
 * UINT64_MAX; anything else -> -EINVAL. */
int bf_gcs_parse_content_range(const char *s, uint64_t *start, uint64_t *end,
			   uint64_t *total);
/* Resumable-upload 308 "Range: bytes=0-N" -> *persisted = N + 1; an empty
 * or absent value -> 0. -EINVAL when malformed or not starting at 0. */
int bf_gcs_parse_upload_range(const char *s, uint64_t *persisted);

#endif
