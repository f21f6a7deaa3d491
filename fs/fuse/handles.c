/* handles.c - the open file and directory handles the kernel holds. Each
 * open's fi->fh is one entry of a list, so the handles the kernel never
 * released (unmounted while files were open) are freed when the daemon
 * exits instead of leaking. */
#include <pthread.h>
#include <stdlib.h>

#include "batchfs/http.h"
#include "fuse/fuse_int.h"

struct bf_handles {
	pthread_mutex_t lock;  /* a leaf: guards the list links only */
	struct bf_handle head; /* sentinel of a circular list; lock */
};

struct bf_handles *bf_handles_new(void)
{
	struct bf_handles *hs = calloc(1, sizeof(*hs));

	if (!hs)
		return NULL;
	pthread_mutex_init(&hs->lock, NULL);
	hs->head.prev = &hs->head;
	hs->head.next = &hs->head;
	return hs;
}

uint64_t bf_handles_add(struct bf_handles *hs, struct bf_fh *fh,
			struct bf_dir *dir)
{
	struct bf_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return 0;
	h->fh = fh;
	h->dir = dir;
	h->rd_opened_ms = bf_now_ms();
	pthread_mutex_lock(&hs->lock);
	h->prev = &hs->head;
	h->next = hs->head.next;
	h->next->prev = h;
	hs->head.next = h;
	pthread_mutex_unlock(&hs->lock);
	return (uint64_t)(uintptr_t)h;
}

void bf_handles_del(struct bf_handles *hs, uint64_t v)
{
	struct bf_handle *h = bf_handle(v);

	if (!h)
		return;
	pthread_mutex_lock(&hs->lock);
	h->prev->next = h->next;
	h->next->prev = h->prev;
	pthread_mutex_unlock(&hs->lock);
	free(h);
}

size_t bf_handles_free(struct bf_handles *hs, struct bf_ctx *ctx)
{
	struct bf_handle *h, *nx;
	size_t n = 0;

	if (!hs)
		return 0;
	/* No worker is left: the list is ours without the lock. */
	for (h = hs->head.next; h != &hs->head; h = nx) {
		nx = h->next;
		if (h->fh)
			bf_fh_release(ctx, h->fh);
		bf_dir_free(h->dir);
		free(h);
		n++;
	}
	pthread_mutex_destroy(&hs->lock);
	free(hs);
	return n;
}
