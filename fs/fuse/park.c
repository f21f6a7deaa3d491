/* park.c - reads that wait for a job without holding a worker thread.
 * The request goes to the model's wait queue (model/waitq.c), which
 * replies later from its own thread; an INTERRUPT cancels it (EINTR). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "batchfs/log.h"
#include "fuse/fuse_int.h"

static void park_reply(void *ud, int rc, const char *data, size_t len)
{
	fuse_req_t req = ud;

	if (rc < 0) {
		if (rc != -EINTR)
			bf_log_warn("read of wait: %s", strerror(-rc));
		fuse_reply_err(req, -rc);
	} else {
		fuse_reply_buf(req, data, len);
	}
}

/* libfuse may call this from inside fuse_req_interrupt_func, or from the
 * thread that reads the INTERRUPT; the id, not a pointer, keeps it safe
 * after the read was answered. */
static void park_interrupt(fuse_req_t req, void *data)
{
	struct bf_fs *fs = fuse_req_userdata(req);

	bf_wait_cancel(fs->ctx, (int64_t)(intptr_t)data);
}

int bf_fuse_park_read(fuse_req_t req, struct bf_fh *fh, size_t size, off_t off)
{
	struct bf_fs *fs = fuse_req_userdata(req);
	int64_t id;

	if (off < 0)
		return -EINVAL;
	id = bf_wait_park(fs->ctx, fh, size, (uint64_t)off, park_reply, req);
	if (id < 0)
		return (int)id;
	fuse_req_interrupt_func(req, park_interrupt, (void *)(intptr_t)id);
	bf_wait_arm(fs->ctx, id);
	return 0;
}
