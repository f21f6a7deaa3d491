/* test_jsonl_memory.c - checking input.jsonl holds memory bounded by
 * neither its size nor its line count: 4M short lines without keys (each
 * gets one) must grow the peak RSS by far less than a per-line index would
 * (75 bytes a line before: ~300 MiB), and a repeat on the last line is
 * still found. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../check.h"
#include "batchfs/results.h"

#define N 4000000L

struct gen {
	long i, n;
	char line[128];
	size_t len, pos;
	int dup_last;
};

static ssize_t gen_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct gen *g = ud;
	size_t done = 0;

	(void)e;
	while (done < len) {
		size_t k;

		if (g->pos == g->len) {
			if (g->i == g->n)
				break;
			g->i++;
			if (g->dup_last && g->i == g->n)
				g->len = (size_t)snprintf(
					g->line, sizeof(g->line),
					"{\"key\":\"line-17\",\"request\":"
					"{\"contents\":[1]}}\n");
			else
				g->len = (size_t)snprintf(
					g->line, sizeof(g->line),
					"{\"request\":{\"contents\":[1]}}\n");
			g->pos = 0;
		}
		k = g->len - g->pos;
		if (k > len - done)
			k = len - done;
		memcpy(buf + done, g->line + g->pos, k);
		g->pos += k;
		done += k;
	}
	return (ssize_t)done;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int main(void)
{
	struct gen g = { .n = N };
	struct bf_jsonl_stats st;
	struct bf_err e;
	long before, grew;
	int fd = open("/dev/null", O_WRONLY);
	int rc;

	before = maxrss_kb();
	rc = bf_jsonl_normalize(gen_read, &g, fd, NULL, &st, &e);
	CHECK_INT(rc, 0);
	CHECK_INT((int)st.lines, (int)N);
	grew = maxrss_kb() - before;
	fprintf(stderr, "%ld lines: peak RSS grew by %ld KiB\n", N, grew);
#ifndef __SANITIZE_ADDRESS__
	CHECK(grew < 40 * 1024);
#else
	/* ASan's quarantine and shadow memory swamp the figure. */
	(void)grew;
#endif
	close(fd);

	/* The repeat is confirmed from the keyed copy: give it a file. */
	g = (struct gen){ .n = 300000, .dup_last = 1 };
	fd = fileno(tmpfile());
	rc = bf_jsonl_normalize(gen_read, &g, fd, NULL, &st, &e);
	CHECK_INT(rc, -EINVAL);
	CHECK_STR(e.msg, "input.jsonl:300000: duplicate key \"line-17\" "
			 "(lines 17 and 300000)");
	return CHECK_DONE();
}
