/* validate.h - checks a create body written by the user (validate.c). */
#ifndef BATCHFS_MODEL_VALIDATE_H
#define BATCHFS_MODEL_VALIDATE_H

#include <stddef.h>

#include "batchfs/err.h"

/* Parses and checks a batchPredictionJobs.create body written by the user.
 * On success *out is the JSON to send (displayName defaulted to name).
 * -EINVAL with "request.json:LINE:COL: ..." or "missing field X" in e. */
int bf_validate_request(const char *text, size_t len, const char *name,
			char **out, struct bf_err *e);

#endif
