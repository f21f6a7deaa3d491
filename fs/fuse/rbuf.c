/* rbuf.c - one read buffer per worker thread, so a read needs no large
 * allocation per request; a key destructor frees it when libfuse retires
 * the thread. */
#include <pthread.h>
#include <stdlib.h>

#include "fuse/fuse_int.h"

/* One per worker thread (thread-specific data): no lock. */
struct rbuf {
	char *p;
	size_t cap;
};
static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;

static void rbuf_free(void *v)
{
	struct rbuf *b = v;

	free(b->p);
	free(b);
}

static void rbuf_init(void)
{
	pthread_key_create(&rbuf_key, rbuf_free);
}

char *bf_rbuf_get(size_t size)
{
	struct rbuf *b;

	pthread_once(&rbuf_once, rbuf_init);
	b = pthread_getspecific(rbuf_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(rbuf_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (size > b->cap) {
		char *p = realloc(b->p, size);

		if (!p)
			return NULL;
		b->p = p;
		b->cap = size;
	}
	return b->p;
}
