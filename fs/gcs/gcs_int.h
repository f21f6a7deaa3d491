/* gcs_int.h - what gcs.c, upload.c and reader.c share inside fs/gcs. */
#ifndef BATCHFS_GCS_INT_H
#define BATCHFS_GCS_INT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "batchfs/gcs.h"

/* Immutable after bf_gcs_new: shared by all threads without a lock. */
struct bf_gcs {
	struct bf_http *http;
	char *base;   /* "http://host:port", no trailing slash */
	char *api;    /* base + "/storage/v1" */
	char *upload; /* base + "/upload/storage/v1" */
	size_t resumable_threshold;
	size_t chunk_size; /* multiple of 256 KiB */
	unsigned page_size;
};

/* ROOT/b/BUCKET/o/NAME with both parts encoded as one path segment; name
 * NULL gives ROOT/b/BUCKET/o. Caller frees; NULL on ENOMEM. */
char *bf_gcs__object_url(const char *root, const char *bucket,
			 const char *name);

/* The media URL of an object (generation pinned when gen > 0). Caller
 * frees; NULL on ENOMEM. */
char *bf_gcs__media_url(struct bf_gcs *g, const char *bucket,
			const char *name, int64_t gen);

/* asprintf that returns the string (NULL on ENOMEM). */
char *bf_gcs__printf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Decimal digits only, no sign, no overflow; -EINVAL / -ERANGE. */
int bf_gcs__parse_u64(const char *s, uint64_t *out);

/* Fills out from one Object resource; -EIO when it is not usable. */
int bf_gcs__object_from_json(const cJSON *j, struct bf_gcs_object *out,
			     struct bf_err *e);

/* One objects.list reply: items and prefixes to the callbacks, the next
 * page token (NULL on the last page) to *next. */
int bf_gcs__list_page(const char *body, size_t len, bf_gcs_item_cb item_cb,
		      bf_gcs_prefix_cb prefix_cb, void *ud, char **next,
		      struct bf_err *e);

/* Read-ahead windows (reader.c, seq.c): from 1 MiB, doubling to 8 MiB. */
#define MIN_WINDOW (1u << 20)
#define DEFAULT_MAX_WINDOW (8u << 20)

/* upload.c: sleeps ms before asking a resumable session what it kept;
 * 0, or -EINTR (e set) within a slice of the cancel check firing. */
int bf_gcs__upload_pause(long ms, struct bf_err *e);

#endif
