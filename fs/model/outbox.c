/* outbox.c - outbox/, read-only: NAME.jsonl for every job labelled
 * batchfs_inbox (submitted through an inbox/, of any mount) that ended,
 * holding its results/by-input.jsonl; NAME.error instead when the job
 * failed as a whole (what jobs/NAME/error shows) or its results cannot be
 * matched to its input (results/README). An entry shows only once its
 * content is whole: the job is terminal and its final result set made.
 * rm hides an entry for the mount's life (job ids in memory). Since a shown
 * entry never changes, its type, size and time are remembered by job id
 * (bounded): `ls -l outbox/` then computes no result set twice, even past
 * what resdir.c keeps (MAX_CACHED sets with files). */
#include "model/outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/buf.h"
#include "batchfs/err.h"
#include "batchfs/log.h"
#include "batchfs/vertex.h"
#include "model/ctx.h"
#include "model/fh.h"
#include "model/hmap.h"
#include "model/jobs.h"
#include "model/kinds.h"
#include "model/listing.h"
#include "model/names.h"
#include "model/node.h"
#include "model/render.h"
#include "model/resdir.h"

#define SUFFIX ".jsonl"
#define ERR_SUFFIX ".error"
#define BY_INPUT "by-input.jsonl"
/* Hidden entries kept at most; past it the oldest shows again. */
#define MAX_HIDDEN 4096
/* Entries remembered at most (~100 bytes each); past it the oldest is
 * computed again when next listed. */
#define MAX_MEMO 16384

/* What a shown entry of a job is; it never changes. */
struct memo {
	char id[24];
	int what;
	uint64_t size;
	int64_t mtime_us;
};

struct bf_outbox {
	/* A leaf: held with no other lock, and nothing is called under it. */
	pthread_mutex_t lock;
	char (*hidden)[24];   /* ids of jobs rm'd here, oldest first (lock) */
	size_t n, cap;	      /* (lock) */
	struct bf_hmap *hset; /* the same ids, to look up (lock) */
	struct bf_hmap *memo; /* job id -> struct memo (lock) */
	struct memo *ring;    /* MAX_MEMO slots, filled in turn (lock) */
	size_t nmemo;	      /* memos made so far (lock) */
};

struct bf_outbox *bf_outbox_new(void)
{
	struct bf_outbox *ob = calloc(1, sizeof(*ob));

	if (!ob)
		return NULL;
	pthread_mutex_init(&ob->lock, NULL);
	ob->memo = bf_hmap_new();
	ob->hset = bf_hmap_new();
	if (!ob->memo || !ob->hset) {
		bf_outbox_free(ob);
		return NULL;
	}
	return ob;
}

void bf_outbox_free(struct bf_outbox *ob)
{
	if (!ob)
		return;
	free(ob->hidden);
	bf_hmap_free(ob->hset);
	bf_hmap_free(ob->memo);
	free(ob->ring);
	pthread_mutex_destroy(&ob->lock);
	free(ob);
}

static int hidden(struct bf_outbox *ob, const char *id)
{
	int hit;

	/* Asked for every ended job of each listing: no scan of the list. */
	pthread_mutex_lock(&ob->lock);
	hit = bf_hmap_get(ob->hset, id) != NULL;
	pthread_mutex_unlock(&ob->lock);
	return hit;
}

static int hide(struct bf_outbox *ob, const char *id)
{
	int rc = 0;

	pthread_mutex_lock(&ob->lock);
	if (bf_hmap_get(ob->hset, id)) {
		pthread_mutex_unlock(&ob->lock);
		return 0;
	}
	if (ob->n == MAX_HIDDEN) {
		bf_hmap_del(ob->hset, ob->hidden[0]);
		memmove(ob->hidden, ob->hidden + 1,
			(ob->n - 1) * sizeof(*ob->hidden));
		ob->n--;
	}
	if (ob->n == ob->cap) {
		size_t cap = ob->cap ? 2 * ob->cap : 16;
		char(*v)[24] = realloc(ob->hidden, cap * sizeof(*v));

		if (v) {
			ob->hidden = v;
			ob->cap = cap;
		}
	}
	if (ob->n < ob->cap && bf_hmap_put(ob->hset, id, ob) == 0)
		snprintf(ob->hidden[ob->n++], sizeof(*ob->hidden), "%s", id);
	else
		rc = -ENOMEM;
	pthread_mutex_unlock(&ob->lock);
	return rc;
}

static int recall(struct bf_outbox *ob, const char *id, struct memo *out)
{
	struct memo *m;

	pthread_mutex_lock(&ob->lock);
	m = bf_hmap_get(ob->memo, id);
	if (m)
		*out = *m;
	pthread_mutex_unlock(&ob->lock);
	return m != NULL;
}

/* Best effort: without memory the entry is computed again next time. */
static void remember(struct bf_outbox *ob, const struct memo *v)
{
	struct memo *slot;

	pthread_mutex_lock(&ob->lock);
	if (!ob->ring)
		ob->ring = calloc(MAX_MEMO, sizeof(*ob->ring));
	if (ob->ring && !bf_hmap_get(ob->memo, v->id)) {
		slot = &ob->ring[ob->nmemo % MAX_MEMO];
		if (ob->nmemo >= MAX_MEMO)
			bf_hmap_del(ob->memo, slot->id);
		*slot = *v;
		if (bf_hmap_put(ob->memo, slot->id, slot) == 0)
			ob->nmemo++;
		else
			slot->id[0] = '\0';
	}
	pthread_mutex_unlock(&ob->lock);
}

/* What outbox/ shows of one job. */
enum { OB_NONE, OB_JSONL, OB_ERROR };
struct entry {
	int what;
	struct bf_resset *rs; /* OB_JSONL: the final result set */
	struct bf_buf text;   /* OB_ERROR: its content */
	uint64_t size;
	int64_t mtime_us;
};

static void entry_free(struct entry *x)
{
	bf_resset_put(x->rs);
	bf_buf_free(&x->text);
}

/* The entry of job j as it is cached (fetch it first when due). 0 with
 * OB_NONE when it shows none (yet); -errno when its results cannot be
 * computed now (the entry does not show either). Without need_content a
 * remembered entry comes with its size and time only (no rs, no text). */
static int classify(struct bf_ctx *c, struct bf_mjob *j, int need_content,
		    struct entry *x, struct bf_err *e)
{
	struct memo m;
	char id[24];
	int show, failed, rc;
	char *p;
	ssize_t n;

	memset(x, 0, sizeof(*x));
	bf_buf_init(&x->text, 0);
	pthread_mutex_lock(&j->lock);
	show = !j->gone && !j->draft && j->have_job && j->job.inbox &&
	       bf_mjob_terminal(j);
	failed = j->job.state == BF_JOB_FAILED;
	snprintf(id, sizeof(id), "%s", j->id);
	if (show && failed) {
		rc = bf_render_error(&j->job, &x->text);
		if (rc) {
			pthread_mutex_unlock(&j->lock);
			return bf_err_set(e, ENOMEM, "out of memory");
		}
		x->mtime_us = bf_node_mtime(j);
	}
	pthread_mutex_unlock(&j->lock);
	if (!show || hidden(c->outbox, id))
		return 0;
	if (failed) {
		x->what = OB_ERROR;
		x->size = x->text.len;
		return 0;
	}
	if (!need_content && recall(c->outbox, id, &m)) {
		x->what = m.what;
		x->size = m.size;
		x->mtime_us = m.mtime_us;
		return 0;
	}
	rc = bf_resdir_get(c, j, &x->rs, e);
	if (rc)
		return rc;
	if (!bf_resset_final(x->rs))
		return 0; /* not whole yet */
	x->mtime_us = bf_resset_mtime(x->rs);
	if (bf_resset_file(x->rs, BY_INPUT, &x->size) == 0) {
		x->what = OB_JSONL;
		goto known;
	}
	/* No by-input.jsonl: results/README says why. */
	x->what = OB_ERROR;
	if (bf_resset_file(x->rs, "README", &x->size) != 0 || !x->size) {
		if (bf_buf_puts(&x->text, "results/by-input.jsonl cannot be "
					  "made for this job\n"))
			return bf_err_set(e, ENOMEM, "out of memory");
		x->size = x->text.len;
		return 0;
	}
	/* a README is a few hundred bytes, held in memory by its set */
	p = malloc((size_t)x->size);
	if (!p)
		return bf_err_set(e, ENOMEM, "out of memory");
	n = bf_resset_read(x->rs, "README", p, (size_t)x->size, 0, e);
	rc = n < 0 ? (int)n
		   : bf_buf_append(&x->text, p, (size_t)n)
		   ? bf_err_set(e, ENOMEM, "out of memory")
		   : 0;
	free(p);
	x->size = x->text.len;
	if (rc)
		return rc;
known:
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	m.what = x->what;
	m.size = x->size;
	m.mtime_us = x->mtime_us;
	remember(c->outbox, &m);
	return 0;
}

/* The entry named name (NAME.jsonl or NAME.error), with its job (a
 * reference) in *jo; -ENOENT when it does not show. */
static int entry_of(struct bf_ctx *c, const char *name, int need_content,
		    struct bf_mjob **jo, struct entry *x, struct bf_err *e)
{
	char *base;
	int want, rc;

	*jo = NULL;
	memset(x, 0, sizeof(*x));
	if ((base = bf_names_strip(name, SUFFIX)))
		want = OB_JSONL;
	else if ((base = bf_names_strip(name, ERR_SUFFIX)))
		want = OB_ERROR;
	else
		return bf_err_set(e, ENOENT, "no such file");
	rc = bf_listing_lookup(c, base, jo, e);
	free(base);
	if (rc == 0)
		rc = bf_mjob_fresh(c, *jo, 0, e);
	if (rc == 0)
		rc = classify(c, *jo, need_content, x, e);
	if (rc == 0 && x->what != want)
		rc = bf_err_set(e, ENOENT, "no such file");
	if (rc) {
		entry_free(x);
		memset(x, 0, sizeof(*x));
		if (*jo)
			bf_mjob_put(*jo);
		*jo = NULL;
	}
	return rc;
}

static void entry_attr(struct bf_ctx *c, const struct entry *x,
		       struct bf_attr *a)
{
	/* Final content: it never changes, but rm may hide it. */
	bf_node_attr(c, a, S_IFREG | 0444, x->size, x->mtime_us,
		     c->o.attr_timeout);
}

/* ---- the directory ---- */

int bf_outbox_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *n, struct bf_attr *a,
		      struct bf_err *e)
{
	(void)n;
	(void)e;
	bf_node_attr(c, a, k->mode, 0, c->start_us, 0);
	return 0;
}

int bf_outbox_lookup(struct bf_ctx *c, const struct bf_kind_ops *k,
		     const struct bf_node *parent, const char *name,
		     const struct bf_kind_ops *fixed, struct bf_node *out,
		     struct bf_err *e)
{
	struct entry x;
	int rc;

	(void)k;
	(void)parent;
	(void)fixed;
	rc = entry_of(c, name, 0, &out->job, &x, e);
	if (rc)
		return rc;
	out->kind = x.what == OB_JSONL ? BF_K_OBXFILE : BF_K_OBXERR;
	entry_free(&x);
	out->sub = strdup(name);
	return out->sub ? 0 : bf_err_set(e, ENOMEM, "out of memory");
}

int bf_outbox_readdir(struct bf_ctx *c, const struct bf_kind_ops *k,
		      const struct bf_node *n, struct bf_dir *d, size_t *cap,
		      struct bf_err *e)
{
	struct bf_jobref *refs;
	size_t nr;
	int rc = bf_listing_refs(c, &refs, &nr, e);

	(void)k;
	(void)n;
	if (rc)
		return rc;
	for (size_t i = 0; i < nr && rc == 0; i++) {
		struct bf_mjob *j = refs[i].job;
		struct bf_node node = {0};
		struct bf_attr a;
		struct bf_err ie;
		struct entry x;
		int inbox;

		pthread_mutex_lock(&j->lock);
		inbox = j->have_job && j->job.inbox && !j->draft;
		pthread_mutex_unlock(&j->lock);
		if (!inbox)
			continue;
		bf_err_clear(&ie);
		/* Results that cannot be computed now: no entry yet. */
		if (classify(c, j, 0, &x, &ie) == 0 && x.what != OB_NONE) {
			node.kind = x.what == OB_JSONL ? BF_K_OBXFILE
						       : BF_K_OBXERR;
			node.job = bf_mjob_get(j);
			if (asprintf(&node.sub, "%s%s", refs[i].name,
				     x.what == OB_JSONL ? SUFFIX
							: ERR_SUFFIX) < 0)
				node.sub = NULL;
			entry_attr(c, &x, &a);
			rc = node.sub ? bf_node_dir_add(d, cap, node.sub, &node,
							&a)
				      : -ENOMEM;
		}
		entry_free(&x);
		bf_node_clear(&node);
	}
	bf_listing_refs_free(refs, nr);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}

int bf_outbox_unlink(struct bf_ctx *c, const char *name, struct bf_err *e)
{
	struct bf_mjob *j;
	struct entry x;
	char id[24];
	int rc = entry_of(c, name, 0, &j, &x, e);

	if (rc)
		return rc;
	entry_free(&x);
	pthread_mutex_lock(&j->lock);
	snprintf(id, sizeof(id), "%s", j->id);
	pthread_mutex_unlock(&j->lock);
	bf_mjob_put(j);
	if (hide(c->outbox, id))
		return bf_err_set(e, ENOMEM, "out of memory");
	bf_log_info("outbox/%s: hidden (job %s untouched)", name, id);
	return 0;
}

/* ---- its files ---- */

int bf_outbox_file_getattr(struct bf_ctx *c, const struct bf_kind_ops *k,
			   const struct bf_node *n, struct bf_attr *a,
			   struct bf_err *e)
{
	struct bf_mjob *j;
	struct entry x;
	int rc = entry_of(c, n->sub ? n->sub : "", 0, &j, &x, e);

	(void)k;
	if (rc)
		return rc;
	if (j != n->job)
		rc = bf_err_set(e, ENOENT, "another job has this name now");
	else
		entry_attr(c, &x, a);
	entry_free(&x);
	bf_mjob_put(j);
	return rc;
}

int bf_outbox_file_open(struct bf_ctx *c, struct bf_fh *fh, int flags,
			struct bf_err *e)
{
	struct bf_mjob *j;
	struct entry x;
	int rc;

	(void)flags;
	if (fh->writer)
		return bf_err_set(e, EACCES, "outbox/ is read-only");
	rc = entry_of(c, fh->node.sub ? fh->node.sub : "", 1, &j, &x, e);
	if (rc)
		return rc;
	bf_mjob_put(j);
	if (x.what == OB_JSONL) {
		fh->rs = x.rs; /* one final set for the open */
		x.rs = NULL;
		fh->flags = BF_FH_NOFLUSH | BF_FH_KEEP_CACHE;
	} else {
		bf_buf_free(&fh->snap);
		fh->snap = x.text;
		bf_buf_init(&x.text, 0);
		fh->flags = BF_FH_NOFLUSH | BF_FH_DIRECT_IO;
	}
	entry_free(&x);
	return 0;
}

ssize_t bf_outbox_file_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			    size_t len, uint64_t off, struct bf_rvec *v,
			    struct bf_err *e)
{
	if (!fh->rs)
		return bf_fh_snap_read(c, fh, buf, len, off, v, e);
	return bf_resset_read(fh->rs, BY_INPUT, buf, len, off, e);
}
