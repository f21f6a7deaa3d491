/* job_int.h - fs/vertex internals shared by job.c, vertex.c and create.c. */
#ifndef BATCHFS_VERTEX_JOB_INT_H
#define BATCHFS_VERTEX_JOB_INT_H

#include <cjson/cJSON.h>

#include "batchfs/vertex.h"

/* Largest job JSON we keep (raw) or accept; beyond it -EFBIG. */
#define BF_JOB_MAX_RAW (1u << 20)

/* Fills out from an already parsed object. raw (len raw_len) is the text
 * to keep; when NULL the object is printed to produce it. */
int bf_job_from_cjson(const cJSON *obj, const char *raw, size_t raw_len,
		      struct bf_job *out, struct bf_err *e);

#endif
