/* test_join_memory.c - the join's memory bound: 200k rows of ~600 bytes
 * (well over 100 MiB through the spool and the four files) must grow the
 * peak RSS by far less than the data, i.e. only the key index stays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "batchfs/results.h"

#define N 200000

/* Produces line i of N on demand: output rows (out = 1) or input lines. */
struct gen {
	int out;
	long i;
	char line[1024];
	size_t len, pos;
	uint64_t bytes;
};

static void make_line(struct gen *g)
{
	static char pad[501];
	long k = g->i + 1;

	if (!pad[0])
		memset(pad, 'x', 500);
	if (!g->out)
		g->len = (size_t)snprintf(g->line, sizeof(g->line),
			"{\"key\":\"%ld\",\"request\":{\"contents\":[{\"role\":"
			"\"user\",\"parts\":[{\"text\":\"prompt %ld\"}]}]}}\n",
			k, k);
	else if (k % 10 == 0)
		g->len = (size_t)snprintf(g->line, sizeof(g->line),
			"{\"key\":\"%ld\",\"status\":\"Bad Request: %s\"}\n",
			k, pad);
	else
		g->len = (size_t)snprintf(g->line, sizeof(g->line),
			"{\"key\":\"%ld\",\"status\":\"\",\"response\":{"
			"\"text\":\"answer %ld %s\"}}\n", k, k, pad);
	g->pos = 0;
}

static ssize_t gen_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct gen *g = ud;
	size_t done = 0;

	(void)e;
	while (done < len) {
		size_t n;

		if (g->pos == g->len) {
			/* rows come out in reverse order, as batch output is
			 * not in input order */
			if (g->i >= N)
				break;
			make_line(g);
			g->i++;
		}
		n = g->len - g->pos;
		if (n > len - done)
			n = len - done;
		memcpy(buf + done, g->line + g->pos, n);
		g->pos += n;
		done += n;
	}
	g->bytes += done;
	return (ssize_t)done;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Counts lines of fd and returns line no (1-based) in out. */
static long scan(int fd, long no, char *out, size_t outlen)
{
	static char buf[1 << 16];
	long lines = 0;
	size_t o = 0;
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (lines + 1 == no && o + 1 < outlen)
				out[o++] = buf[i];
			if (buf[i] == '\n')
				lines++;
		}
	}
	if (outlen)
		out[o] = 0;
	return lines;
}

int main(void)
{
	struct gen out = { .out = 1 }, in = { .out = 0 };
	struct bf_join *j = NULL;
	struct bf_join_files f;
	struct bf_join_stats st;
	struct bf_err e;
	char line[1100];
	long before, after;
	time_t t0 = time(NULL);

	before = maxrss_kb();
	CHECK_INT(bf_join_new(NULL, &j, &e), 0);
	CHECK_INT(bf_join_add_output(j, gen_read, &out, 1, &e), 0);
	CHECK_INT(bf_join_finish(j, gen_read, &in, &f, &st, &e), 0);
	bf_join_free(j);
	after = maxrss_kb();

	CHECK_INT(st.rows, N);
	CHECK_INT(st.succeeded, N - N / 10);
	CHECK_INT(st.failed, N / 10);
	CHECK_INT(st.inputs, N);
	CHECK_INT(st.incomplete, 0);
	CHECK_INT(st.keys, BF_JOIN_KEYED);
	CHECK(f.by_input_size > (uint64_t)N * 500);
	CHECK_INT(scan(f.by_input, 12345, line, sizeof(line)), N);
	CHECK(strncmp(line, "{\"key\":\"12345\",\"status\":\"\"", 26) == 0);
	CHECK_INT(scan(f.retry, 3, line, sizeof(line)), N / 10);
	CHECK(strncmp(line, "{\"key\":\"30\",\"request\"", 21) == 0);
	CHECK_INT(scan(f.failed, 0, NULL, 0), N / 10);

	printf("data %.0f MiB, peak RSS %ld -> %ld KiB (+%ld KiB), %lds\n",
	       (double)(out.bytes + in.bytes + f.succeeded_size +
			f.failed_size + f.by_input_size + f.retry_size) /
		       (1 << 20),
	       before, after, after - before, (long)(time(NULL) - t0));
	/* The index of 200k keys is a few MiB to a couple of tens; the
	 * rows alone are > 110 MiB. */
#ifndef __SANITIZE_ADDRESS__
	CHECK(after - before < 40 * 1024);
#endif
	bf_join_files_close(&f);
	return CHECK_DONE();
}
