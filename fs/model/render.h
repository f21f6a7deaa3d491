/* render.h - the text of generated files (render.c): pure functions of a
 * fetched job. */
#ifndef BATCHFS_MODEL_RENDER_H
#define BATCHFS_MODEL_RENDER_H

#include <stdint.h>

#include "batchfs/buf.h"
#include "batchfs/vertex.h"
#include "model/model.h"

int bf_render_state(const struct bf_job *j, struct bf_buf *b);
int bf_render_progress(const struct bf_job *j, struct bf_buf *b);
int bf_render_error(const struct bf_job *j, struct bf_buf *b);
int bf_render_jobjson(const struct bf_job *j, struct bf_buf *b);
int bf_render_spec(const struct bf_job *j, struct bf_buf *b);
int bf_render_readme(const struct bf_model_opts *o, struct bf_buf *b);
int bf_render_bq(const struct bf_job *j, struct bf_buf *b);
/* progress with a bar, elapsed time and (running) the time left; rows >=
 * 0 is the number of output rows already exported, shown when the service
 * reports no counts. */
int bf_render_progress_rows(const struct bf_job *j, int64_t now_us,
			    int64_t rows, struct bf_buf *b);
int bf_render_progress_at(const struct bf_job *j, int64_t now_us,
			  struct bf_buf *b);

#endif
