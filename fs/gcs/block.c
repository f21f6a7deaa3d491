/* block.c - a reader's blocks: their memory, taken from the pool's budget
 * within the reader's fair share (pool.c) and given back, the start of a
 * load into one, where one ends, and where the reader's data ends. Below
 * ahead.c, pipe.c and reader.c, which all use them; r->mu held by every
 * caller, no I/O. */
#include <errno.h>

#include "gcs/gcs_int.h"
#include "gcs/reader_int.h"

int bf_block_ensure_cap(struct bf_reader *r, struct block *b, size_t *win,
			size_t want)
{
	size_t target = *win;
	size_t share = bf_pool__share(r->p, &r->pm);
	size_t others = r->pm.held - b->cap; /* the reader's other blocks */
	size_t floor = want ? want : MIN_WINDOW / 4;

	if (target > b->cap && others + target > share) {
		size_t room = others < share ? share - others : 0;

		target = room > b->cap ? room : b->cap;
		if (target < want)
			target =
				want; /* a read's own bytes: the pool decides */
	}
	while (target > b->cap) {
		if (bf_pool__take(r->p, &r->pm, target - b->cap) == 0) {
			char *d = bf_pool__alloc(target);

			if (!d) {
				bf_pool__give(r->p, &r->pm, target - b->cap);
				return -ENOMEM;
			}
			/* Old contents are not needed: no realloc copy. */
			bf_pool__free(b->data, b->cap);
			b->data = d;
			b->cap = target;
			break;
		}
		target /= 2;
		if (target < floor || target < MIN_WINDOW / 4)
			break;
	}
	if (b->cap < floor || !b->cap)
		return -ENOMEM;
	if (*win > b->cap)
		*win = b->cap;
	return 0;
}

void bf_block_start_load(struct bf_reader *r, struct block *b, uint64_t off,
			 size_t len)
{
	b->st = B_LOADING;
	b->off = off;
	b->len = len;
	b->filled = 0;
	b->cancel = 0;
	b->err = 0;
	b->gen = r->gen;
	b->epoch++;
}

uint64_t bf_block_end(const struct block *b)
{
	return b->off + (b->st == B_LOADING ? b->len : b->filled);
}

uint64_t bf_block_data_end(const struct bf_reader *r)
{
	return r->size < r->eof_at ? r->size : r->eof_at;
}

void bf_block_free(struct bf_reader *r, struct block *b)
{
	bf_pool__free(b->data, b->cap);
	bf_pool__give(r->p, &r->pm, b->cap);
	b->data = NULL;
	b->cap = 0;
	b->st = B_EMPTY;
	b->filled = b->len = 0;
}

void bf_block_drop_idle(struct bf_reader *r)
{
	for (int i = 0; i < NBLOCKS; i++) {
		struct block *b = &r->b[i];

		if (b->st == B_LOADING || b->pins || !b->cap)
			continue;
		bf_block_free(r, b);
	}
}
