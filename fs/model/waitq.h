/* waitq.h - parked reads of `wait` (waitq.c); the park, arm and cancel
 * calls are the model's (model.h). */
#ifndef BATCHFS_MODEL_WAITQ_H
#define BATCHFS_MODEL_WAITQ_H

struct bf_waitq;
struct bf_waitq *bf_waitq_new(void);
void bf_waitq_free(struct bf_waitq *q);

#endif
