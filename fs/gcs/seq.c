/* seq.c - the sequential-access detector of the read-ahead reader
 * (batchfs/reader.h): pure, no I/O and no locks, tested on its own. */
#include <string.h>

#include "batchfs/reader.h"
#include "gcs/gcs_int.h"

void bf_seq_init(struct bf_seq *s, size_t min_window, size_t max_window)
{
	memset(s, 0, sizeof(*s));
	s->min_window = min_window ? min_window : MIN_WINDOW;
	s->max_window = max_window ? max_window : DEFAULT_MAX_WINDOW;
	if (s->max_window < s->min_window)
		s->max_window = s->min_window;
	s->window = s->min_window;
}

int bf_seq_near(const struct bf_seq *s, uint64_t off, uint64_t ahead)
{
	return off + BF_SEQ_BACK >= s->next && off <= s->next + ahead;
}

int bf_seq_access(struct bf_seq *s, uint64_t off, size_t len)
{
	uint64_t end = off + len;
	int hit;

	if (!s->started) {
		s->started = 1;
		hit = off < s->min_window;
	} else {
		hit = bf_seq_near(s, off, s->max_window);
	}
	if (hit) {
		s->streak++;
		if (end > s->next)
			s->next = end;
	} else {
		/* Only a forward jump restarts the window: a read far
		 * behind is a late worker or a re-read, and what follows
		 * it is as sequential as before. */
		if (off >= s->next)
			s->window = s->min_window;
		s->streak = 0;
		s->next = end;
	}
	return hit;
}

void bf_seq_held(struct bf_seq *s, uint64_t off, size_t len)
{
	s->started = 1;
	s->streak++;
	if (off + len > s->next)
		s->next = off + len;
}

size_t bf_seq_take_window(struct bf_seq *s)
{
	size_t w = s->window;

	if (s->window < s->max_window) {
		s->window *= 2;
		if (s->window > s->max_window)
			s->window = s->max_window;
	}
	return w;
}
