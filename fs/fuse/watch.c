/* watch.c - notices a lazy unmount (umount -l, fusermount3 -uz).
 *
 * After a lazy unmount the mount is gone from the namespace but the
 * connection lives on while files stay open, so the session loop does not
 * end and a parked read of `wait` would go on waiting for its job. One
 * thread watches /proc/self/mountinfo (poll() reports every change of the
 * mount table) and, once the mount's device is no longer listed, ends the
 * parked reads with EINTR, as an unmount does. Their readers then close
 * their files, and the kernel ends the connection when the last one goes. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "fuse/fuse_int.h"

/* How often the table is read again when no change wakes us. */
#define WATCH_POLL_MS 500

struct bf_watch {
	struct bf_fs *fs; /* set before the thread starts, read-only after */
	pthread_t thread;
	int stop; /* __atomic: set by bf_watch_stop, read by the thread */
};

/* The thread's cancel check: bf_watch_stop ends its sleep. */
static int watch_stopped(void *ud)
{
	struct bf_watch *w = ud;

	return __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) ? EINTR : 0;
}

/* 1 while a mount of device dev ("MAJ:MIN") is listed, 0 when not, -1 if
 * the table cannot be read. */
static int dev_listed(const char *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!f)
		return -1;
	while (!found && getline(&line, &cap, f) > 0) {
		char id[32];

		if (sscanf(line, "%*s %*s %31s", id) == 1 &&
		    strcmp(id, dev) == 0)
			found = 1;
	}
	free(line);
	fclose(f);
	return found;
}

static void *watch_main(void *arg)
{
	struct bf_watch *w = arg;
	int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

	bf_cancel_set(watch_stopped, w);
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = {.fd = fd, .events = POLLPRI};

		/* A change wakes us at once; the timeout covers kernels
		 * without mount table events. */
		if (fd >= 0)
			poll(&p, 1, WATCH_POLL_MS);
		else
			bf_sleep_ms_cancellable(WATCH_POLL_MS,
						BF_WAIT_SLICE_MS);
		if (dev_listed(w->fs->bdi) == 0) {
			size_t n = bf_waitq_close(w->fs->ctx);

			bf_log_info("the mount was detached (lazy unmount): "
				    "%zu waiting read%s ended",
				    n, n == 1 ? "" : "s");
			break;
		}
	}
	if (fd >= 0)
		close(fd);
	bf_cancel_set(NULL, NULL);
	return NULL;
}

struct bf_watch *bf_watch_start(struct bf_fs *fs)
{
	struct bf_watch *w;

	if (!fs->bdi[0] || !fs->ctx)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fs = fs;
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

void bf_watch_stop(struct bf_watch *w)
{
	if (!w)
		return;
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
	free(w);
}
