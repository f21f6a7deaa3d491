/* node.c - what every node kind shares: copying and comparing nodes,
 * attributes (owner, group and modes through perm.c), directory snapshots
 * and the cache lifetime of a job's nodes. Calls nothing above it. */
#include "model/node.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/ctx.h"
#include "model/jobs.h"
#include "model/model.h"
#include "model/perm.h"

/* st_blksize: stdio and Python read this much at once. */
#define BLKSIZE (1 << 20)

void bf_node_clear(struct bf_node *n)
{
	bf_mjob_put(n->job);
	free(n->sub);
	memset(n, 0, sizeof(*n));
}

int bf_node_copy(struct bf_node *dst, const struct bf_node *src)
{
	dst->kind = src->kind;
	dst->job = bf_mjob_get(src->job);
	dst->sub = NULL;
	if (src->sub) {
		dst->sub = strdup(src->sub);
		if (!dst->sub) {
			bf_mjob_put(dst->job);
			dst->job = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int bf_node_same(const struct bf_node *a, const struct bf_node *b)
{
	if (a->kind != b->kind || a->job != b->job)
		return 0;
	if (!a->sub || !b->sub)
		return a->sub == b->sub;
	return strcmp(a->sub, b->sub) == 0;
}

void bf_node_attr(struct bf_ctx *c, struct bf_attr *a, mode_t mode,
		  uint64_t size, int64_t mtime_us, double ttl)
{
	memset(a, 0, sizeof(*a));
	if (mtime_us <= 0)
		mtime_us = c->start_us;
	bf_perm_fill(&c->o, &a->st, mode);
	a->st.st_nlink = S_ISDIR(mode) ? 2 : 1;
	a->st.st_size = (off_t)size;
	a->st.st_blksize = BLKSIZE;
	a->st.st_blocks = (blkcnt_t)((size + 511) / 512);
	a->st.st_mtim.tv_sec = mtime_us / 1000000;
	a->st.st_mtim.tv_nsec = (mtime_us % 1000000) * 1000;
	a->st.st_ctim = a->st.st_mtim;
	a->st.st_atim = a->st.st_mtim;
	a->ttl = ttl;
}

double bf_node_ttl(struct bf_ctx *c, struct bf_mjob *j)
{
	return bf_mjob_terminal(j) ? c->o.final_timeout : c->o.attr_timeout;
}

int64_t bf_node_mtime(struct bf_mjob *j)
{
	if (j->draft || !j->have_job)
		return j->ctime_us;
	if (j->job.update_us)
		return j->job.update_us;
	return j->job.create_us;
}

char *bf_node_join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a ? a : "", a && *a ? "/" : "", b) < 0)
		return NULL;
	return s;
}

int bf_node_dir_add(struct bf_dir *d, size_t *cap, const char *name,
		    struct bf_node *node, const struct bf_attr *a)
{
	if (d->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct bf_dirent *v = realloc(d->v, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		*cap = nc;
	}
	d->v[d->n].name = strdup(name);
	if (!d->v[d->n].name)
		return -ENOMEM;
	d->v[d->n].node = *node; /* moved */
	memset(node, 0, sizeof(*node));
	d->v[d->n].attr = *a;
	d->n++;
	return 0;
}

void bf_dir_free(struct bf_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].name);
		bf_node_clear(&d->v[i].node);
	}
	free(d->v);
	free(d);
}
