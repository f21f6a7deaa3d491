/* jsonscan.h - reading a list reply one element at a time.
 *
 * A list page is one JSON object whose big member is an array (jobs,
 * objects). Parsing it whole costs about five times its size in cJSON
 * nodes; scanning it parses one member or one array element at a time, so
 * memory stays at the size of the largest element. */
#ifndef BATCHFS_JSONSCAN_H
#define BATCHFS_JSONSCAN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "batchfs/err.h"

/* One element of the streamed array `key`; the item is freed after. */
typedef int (*bf_json_elem_cb)(void *ud, const char *key, const cJSON *elem);
/* Any other member (also `key` when its value is not an array). */
typedef int (*bf_json_member_cb)(void *ud, const char *key, const cJSON *value);

struct bf_json_scan {
	const char *const *arrays; /* member names streamed, NULL-terminated */
	size_t max_elems;	   /* per array; more is EIO (0: no limit) */
	bf_json_elem_cb elem;
	bf_json_member_cb member;
	void *ud;
};

/* Scans the object in body[0..len). Only the first occurrence of a member
 * name reaches the callbacks (as cJSON_GetObjectItem would see it); later
 * ones are checked for syntax and dropped. Text after the object other
 * than whitespace (or a NUL) is an error. Returns 0, a callback's non-zero
 * value, or -EIO/-ENOMEM with e filled. */
int bf_json_scan(const char *body, size_t len, const struct bf_json_scan *s,
		 struct bf_err *e);

#endif
