/* pool.c - the read-ahead memory budget (-o readahead) that every reader's
 * blocks (block.c) and splice streams (pipe.c) draw from, its fair share
 * per reader, the blocks' memory, and the pool's statistics. The bottom of
 * the read-ahead's files. No threads, no I/O: atomics only, so any file
 * above may call it under its own locks. */
#include <errno.h>
#include <sys/mman.h>

#include "gcs/reader_int.h"

void bf_pool__stat(uint64_t *f, uint64_t n)
{
	__atomic_add_fetch(f, n, __ATOMIC_RELAXED);
}

void bf_pool__stat_max(uint64_t *f, uint64_t v)
{
	uint64_t cur = __atomic_load_n(f, __ATOMIC_RELAXED);

	while (v > cur &&
	       !__atomic_compare_exchange_n(f, &cur, v, 1, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

int bf_pool__reserve(struct bf_reader_pool *p, size_t n)
{
	size_t cur = __atomic_load_n(&p->used, __ATOMIC_RELAXED);

	do {
		if (cur > p->max_bytes || n > p->max_bytes - cur) {
			bf_pool__stat(&p->st.budget_denied, 1);
			return -ENOMEM;
		}
	} while (!__atomic_compare_exchange_n(&p->used, &cur, cur + n, 1,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	bf_pool__stat_max(&p->st.used_max, cur + n);
	return 0;
}

void bf_pool__release(struct bf_reader_pool *p, size_t n)
{
	__atomic_sub_fetch(&p->used, n, __ATOMIC_RELAXED);
}

void bf_pool__join(struct bf_reader_pool *p, struct bf_pool_member *m)
{
	if (!m->in) {
		m->in = 1;
		__atomic_add_fetch(&p->holders, 1, __ATOMIC_RELAXED);
	}
}

void bf_pool__leave(struct bf_reader_pool *p, struct bf_pool_member *m)
{
	if (m->in) {
		m->in = 0;
		__atomic_sub_fetch(&p->holders, 1, __ATOMIC_RELAXED);
	}
}

int bf_pool__take(struct bf_reader_pool *p, struct bf_pool_member *m, size_t n)
{
	/* Asking makes a member even when refused: the others' share
	 * shrinks, so they give memory back for this one. */
	bf_pool__join(p, m);
	if (bf_pool__reserve(p, n))
		return -ENOMEM;
	m->held += n;
	return 0;
}

void bf_pool__give(struct bf_reader_pool *p, struct bf_pool_member *m, size_t n)
{
	if (!n)
		return;
	bf_pool__release(p, n);
	m->held -= n;
	if (!m->held)
		bf_pool__leave(p, m);
}

size_t bf_pool__share(const struct bf_reader_pool *p,
		      const struct bf_pool_member *m)
{
	unsigned n = __atomic_load_n(&p->holders, __ATOMIC_RELAXED);

	if (!m->in)
		n++; /* the asker is about to become one */
	return p->max_bytes / (n ? n : 1);
}

size_t bf_reader_pool_used(const struct bf_reader_pool *p)
{
	return __atomic_load_n(&p->used, __ATOMIC_RELAXED);
}

void bf_reader_pool_stats(struct bf_reader_pool *p, struct bf_reader_stats *s)
{
	s->window_fetches =
		__atomic_load_n(&p->st.window_fetches, __ATOMIC_RELAXED);
	s->prefetches = __atomic_load_n(&p->st.prefetches, __ATOMIC_RELAXED);
	s->direct_reads =
		__atomic_load_n(&p->st.direct_reads, __ATOMIC_RELAXED);
	s->buffered_bytes =
		__atomic_load_n(&p->st.buffered_bytes, __ATOMIC_RELAXED);
	s->budget_denied =
		__atomic_load_n(&p->st.budget_denied, __ATOMIC_RELAXED);
	s->spliced_bytes =
		__atomic_load_n(&p->st.spliced_bytes, __ATOMIC_RELAXED);
	s->loads_max = __atomic_load_n(&p->st.loads_max, __ATOMIC_RELAXED);
	s->splice_slow = __atomic_load_n(&p->st.splice_slow, __ATOMIC_RELAXED);
	s->used_max = __atomic_load_n(&p->st.used_max, __ATOMIC_RELAXED);
}

/* Blocks are mapped, not malloc'd: freed, they leave the process at once
 * (glibc would keep them in a per-thread arena once its mmap threshold
 * has grown), so the daemon's RSS follows the budget. */
char *bf_pool__alloc(size_t n)
{
	void *d = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return d == MAP_FAILED ? NULL : d;
}

void bf_pool__free(char *d, size_t n)
{
	if (d)
		munmap(d, n);
}
