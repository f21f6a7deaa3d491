/* dupkeys.c - finding repeated keys among millions of input lines in
 * bounded memory: each line leaves a 16-byte record (a 64-bit hash of its
 * key, its line number); records are sorted in runs of a fixed size, runs
 * past the first go to a spool file, and a k-way merge of the runs puts
 * equal hashes next to each other. What comes out are candidate pairs of
 * lines; a caller that has the lines compares the keys themselves, since
 * two keys may share a hash. Memory: one run plus 64 KiB per spilled run
 * while merging, whatever the number of lines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results_int.h"

#define DEFAULT_RUN (1u << 20) /* records: 16 MiB */
#define MERGE_BUF 4096	       /* records per run while merging: 64 KiB */

struct rec {
	uint64_t h, line;
};

struct bf_dupk {
	struct rec *v;
	size_t n, cap, run;
	int fd;	      /* spool of sorted runs, -1 until the first spill */
	size_t nruns; /* runs in the spool, each `run` records but the last */
	uint64_t spilled;
	size_t peak;
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static uint64_t key_hash(int field, const char *key, size_t klen)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)field;

	for (size_t i = 0; i < klen; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return mix(h ^ klen);
}

struct bf_dupk *bf_dupk_new(size_t run_records)
{
	struct bf_dupk *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->run = run_records ? run_records : DEFAULT_RUN;
	d->fd = -1;
	return d;
}

void bf_dupk_free(struct bf_dupk *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d->v);
	free(d);
}

static int reccmp(const void *pa, const void *pb)
{
	const struct rec *a = pa, *b = pb;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

static void swap(struct rec *a, struct rec *b)
{
	struct rec t = *a;

	*a = *b;
	*b = t;
}

/* In place: glibc's qsort may allocate a copy of the whole run. Recurses
 * into the smaller part only, so the depth stays log n. */
static void sort_recs(struct rec *v, size_t n)
{
	while (n > 16) {
		size_t m = n / 2, i = 0, j = n - 1;
		struct rec p;

		if (reccmp(&v[m], &v[0]) < 0)
			swap(&v[m], &v[0]);
		if (reccmp(&v[n - 1], &v[0]) < 0)
			swap(&v[n - 1], &v[0]);
		if (reccmp(&v[n - 1], &v[m]) < 0)
			swap(&v[n - 1], &v[m]);
		p = v[m];
		for (;;) {
			while (reccmp(&v[i], &p) < 0)
				i++;
			while (reccmp(&p, &v[j]) < 0)
				j--;
			if (i >= j)
				break;
			swap(&v[i], &v[j]);
			i++;
			j--;
		}
		/* [0, j] <= p <= [j + 1, n) */
		if (j + 1 < n - j - 1) {
			sort_recs(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			sort_recs(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && reccmp(&v[k], &v[k - 1]) < 0; k--)
			swap(&v[k], &v[k - 1]);
}

static void note_peak(struct bf_dupk *d, size_t extra)
{
	size_t b = d->cap * sizeof(struct rec) + extra;

	if (b > d->peak)
		d->peak = b;
}

static int spill(struct bf_dupk *d, struct bf_err *e)
{
	size_t bytes = d->n * sizeof(struct rec);
	const char *p = (const char *)d->v;
	int rc;

	if (d->fd < 0) {
		d->fd = bf_spool_open(NULL, e);
		if (d->fd < 0)
			return d->fd;
	}
	sort_recs(d->v, d->n);
	while (bytes) {
		ssize_t k = write(d->fd, p, bytes);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = bf_err_set(e, errno, "key index spool: %m");
			return rc;
		}
		p += k;
		bytes -= (size_t)k;
	}
	d->spilled += d->n;
	d->nruns++;
	d->n = 0;
	return 0;
}

int bf_dupk_add(struct bf_dupk *d, int field, const char *key, size_t klen,
		uint64_t line, struct bf_err *e)
{
	int rc;

	if (d->n == d->run && (rc = spill(d, e)) < 0)
		return rc;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 1024;
		struct rec *v;

		if (cap > d->run)
			cap = d->run;
		v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return bf_err_set(e, ENOMEM, "out of memory");
		d->v = v;
		d->cap = cap;
		note_peak(d, 0);
	}
	d->v[d->n].h = key_hash(field, key, klen);
	d->v[d->n].line = line;
	d->n++;
	return 0;
}

/* Keeps the max pairs with the smallest second line, sorted by it. */
struct pairs {
	uint64_t (*v)[2];
	size_t n, max;
	uint64_t h, first; /* the group being read */
	int in_group;	   /* its first two members were seen */
};

static void pair_add(struct pairs *p, uint64_t a, uint64_t b)
{
	size_t i;

	if (p->n == p->max && (p->max == 0 || p->v[p->n - 1][1] <= b))
		return;
	if (p->n < p->max)
		p->n++;
	for (i = p->n - 1; i > 0 && p->v[i - 1][1] > b; i--) {
		p->v[i][0] = p->v[i - 1][0];
		p->v[i][1] = p->v[i - 1][1];
	}
	p->v[i][0] = a;
	p->v[i][1] = b;
}

/* The sorted stream: the first two lines of each group of equal hashes. */
static void feed(struct pairs *p, const struct rec *r, int first)
{
	if (!first && r->h == p->h) {
		if (!p->in_group)
			pair_add(p, p->first, r->line);
		p->in_group = 1;
		return;
	}
	p->h = r->h;
	p->first = r->line;
	p->in_group = 0;
}

struct run {
	uint64_t off, end; /* byte offsets in the spool */
	struct rec *buf;
	size_t i, n;
};

static int run_fill(struct bf_dupk *d, struct run *r, struct bf_err *e)
{
	uint64_t left = r->end - r->off;
	size_t want = MERGE_BUF * sizeof(struct rec);
	int rc;

	if (left < want)
		want = (size_t)left;
	r->i = 0;
	r->n = want / sizeof(struct rec);
	if (!want)
		return 0;
	rc = bf_pread_full(d->fd, r->buf, want, r->off, e);
	if (rc < 0)
		return rc;
	r->off += want;
	return 0;
}

static int heap_less(struct run *rs, size_t a, size_t b)
{
	return reccmp(&rs[a].buf[rs[a].i], &rs[b].buf[rs[b].i]) < 0;
}

static void sift_down(struct run *rs, size_t *heap, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i, t;

		if (l < n && heap_less(rs, heap[l], heap[m]))
			m = l;
		if (l + 1 < n && heap_less(rs, heap[l + 1], heap[m]))
			m = l + 1;
		if (m == i)
			return;
		t = heap[i];
		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

static int merge_runs(struct bf_dupk *d, struct pairs *p, struct bf_err *e)
{
	size_t nr = d->nruns, hn = 0;
	struct run *rs = calloc(nr, sizeof(*rs));
	size_t *heap = calloc(nr, sizeof(*heap));
	uint64_t off = 0, total = d->spilled;
	int rc = 0, first = 1;

	if (!rs || !heap) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	/* The run buffer is not needed any more: merge in its place. */
	free(d->v);
	d->v = NULL;
	d->cap = d->n = 0;
	for (size_t i = 0; i < nr; i++) {
		uint64_t cnt = total < d->run ? total : d->run;

		rs[i].off = off;
		rs[i].end = off + cnt * sizeof(struct rec);
		off = rs[i].end;
		total -= cnt;
		rs[i].buf = malloc(MERGE_BUF * sizeof(struct rec));
		if (!rs[i].buf) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = run_fill(d, &rs[i], e)) < 0)
			goto out;
		if (rs[i].n)
			heap[hn++] = i;
	}
	if (nr * MERGE_BUF * sizeof(struct rec) > d->peak)
		d->peak = nr * MERGE_BUF * sizeof(struct rec);
	for (size_t i = hn; i-- > 0;)
		sift_down(rs, heap, hn, i);
	while (hn) {
		struct run *r = &rs[heap[0]];

		feed(p, &r->buf[r->i], first);
		first = 0;
		if (++r->i == r->n) {
			if ((rc = run_fill(d, r, e)) < 0)
				goto out;
			if (!r->n)
				heap[0] = heap[--hn];
		}
		sift_down(rs, heap, hn, 0);
	}
out:
	for (size_t i = 0; rs && i < nr; i++)
		free(rs[i].buf);
	free(rs);
	free(heap);
	return rc;
}

int bf_dupk_pairs(struct bf_dupk *d, uint64_t (*out)[2], size_t max,
		  struct bf_err *e)
{
	struct pairs p = {.v = out, .max = max};
	int rc;

	if (d->nruns == 0) {
		sort_recs(d->v, d->n);
		for (size_t i = 0; i < d->n; i++)
			feed(&p, &d->v[i], i == 0);
		return (int)p.n;
	}
	if (d->n && (rc = spill(d, e)) < 0)
		return rc;
	rc = merge_runs(d, &p, e);
	return rc < 0 ? rc : (int)p.n;
}

size_t bf_dupk_bytes(const struct bf_dupk *d)
{
	return d->peak;
}
