/* outdir.c - output/: listings of the job's outputInfo.gcsOutputDirectory,
 * one per directory level (objects.list with delimiter "/"), cached for
 * `refresh` seconds while the job runs and for good once it has finished.
 * Listings are immutable and reference counted; a refresh replaces them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/hmap.h"
#include "model/jobs.h"
#include "model/names.h"
#include "model/outdir.h"

/* One directory level's listing; every field guarded by the cache lock. */
struct lnode {
	char *sub;
	struct bf_outlist *l; /* NULL until the first listing landed */
	int fetching;
	uint64_t gen;
	int rc;
	struct bf_err err;
	struct lnode *next;
};

struct bf_outcache {
	pthread_mutex_t lock; /* immutable after creation */
	pthread_cond_t cond;  /* a listing landed (lock) */
	char *dir;	      /* the gcsOutputDirectory listed (lock) */
	struct lnode *lists;  /* (lock) */
};

static struct bf_outcache *outcache_new(void)
{
	struct bf_outcache *oc = calloc(1, sizeof(*oc));

	if (!oc)
		return NULL;
	pthread_mutex_init(&oc->lock, NULL);
	pthread_cond_init(&oc->cond, NULL);
	return oc;
}

static void drop_lists(struct bf_outcache *oc)
{
	struct lnode *n, *nx;

	for (n = oc->lists; n; n = nx) {
		nx = n->next;
		bf_outlist_put(n->l);
		free(n->sub);
		free(n);
	}
	oc->lists = NULL;
}

/* Lists are immutable once published: expiring drops them. The nodes stay
 * (a fetch in flight holds one without the lock). oc->lock held. */
static void expire_lists(struct bf_outcache *oc)
{
	for (struct lnode *n = oc->lists; n; n = n->next) {
		bf_outlist_put(n->l);
		n->l = NULL;
	}
}

static void outcache_free(void *p)
{
	struct bf_outcache *oc = p;

	if (!oc)
		return;
	drop_lists(oc);
	free(oc->dir);
	pthread_mutex_destroy(&oc->lock);
	pthread_cond_destroy(&oc->cond);
	free(oc);
}

/* The job's cache, made on first use; set once, under j->lock. */
static struct bf_outcache *outcache_of(struct bf_mjob *j)
{
	struct bf_outcache *oc;

	pthread_mutex_lock(&j->lock);
	if (!j->out) {
		oc = outcache_new();
		if (oc && bf_mjob_attach(j, oc, outcache_free) == 0)
			j->out = oc;
		else
			outcache_free(oc);
	}
	oc = j->out;
	pthread_mutex_unlock(&j->lock);
	return oc;
}

void bf_outdir_expire(struct bf_mjob *j)
{
	struct bf_outcache *oc;

	pthread_mutex_lock(&j->lock);
	oc = j->out;
	pthread_mutex_unlock(&j->lock);
	if (!oc)
		return; /* nothing listed yet */
	pthread_mutex_lock(&oc->lock);
	expire_lists(oc);
	pthread_mutex_unlock(&oc->lock);
}

void bf_outlist_put(struct bf_outlist *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].obj);
	}
	free(l->v);
	free(l->sub);
	free(l);
}

static struct bf_outlist *outlist_get(struct bf_outlist *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

static int by_name(const void *pa, const void *pb)
{
	const struct bf_outent *a = pa, *b = pb;

	return strcmp(a->name, b->name);
}

/* Listings are sorted by shown name once settled (settle_names). */
const struct bf_outent *bf_outlist_find(const struct bf_outlist *l,
					const char *name)
{
	struct bf_outent key = {.name = (char *)name};

	if (!l || !l->n)
		return NULL;
	return bsearch(&key, l->v, l->n, sizeof(*l->v), by_name);
}

/* gs://bucket/a/b -> bucket, "a/b/" (a directory prefix, maybe ""). */
static int split_dir(const char *dir, char **bucket, char **prefix)
{
	char *obj = NULL;
	size_t n;

	if (bf_gcs_parse_uri(dir, bucket, &obj) != 0)
		return -EINVAL;
	n = strlen(obj);
	if (n && obj[n - 1] != '/') {
		char *p = malloc(n + 2);

		if (!p) {
			free(obj);
			free(*bucket);
			return -ENOMEM;
		}
		memcpy(p, obj, n);
		p[n] = '/';
		p[n + 1] = '\0';
		free(obj);
		obj = p;
	}
	*prefix = obj;
	return 0;
}

char *bf_outdir_bucket(struct bf_mjob *j)
{
	char *bucket = NULL, *prefix = NULL, *dir = NULL;

	pthread_mutex_lock(&j->lock);
	if (j->have_job && j->job.gcs_output_dir)
		dir = strdup(j->job.gcs_output_dir);
	pthread_mutex_unlock(&j->lock);
	if (dir && split_dir(dir, &bucket, &prefix) == 0)
		free(prefix);
	free(dir);
	return bucket;
}

struct lcollect {
	const char *prefix;
	size_t plen;
	struct bf_outlist *l;
	size_t cap;
	int oom;
};

/* "a" and "a/" both exist: the one that loses (see by_claim) gets "~obj"
 * or "~dir", then "~dir2", ... until the name is free (an object may
 * really be called "a~dir"), cut to fit 255 bytes without splitting a
 * UTF-8 character. */
static char *unique_alt(const struct bf_hmap *taken, const char *name,
			int is_dir)
{
	for (unsigned k = 1; k < 100000; k++) {
		char suf[32], *alt;
		size_t sl, bl = strlen(name);

		if (k == 1)
			snprintf(suf, sizeof(suf), "~%s",
				 is_dir ? "dir" : "obj");
		else
			snprintf(suf, sizeof(suf), "~%s%u",
				 is_dir ? "dir" : "obj", k);
		sl = strlen(suf);
		if (bl > BF_NAME_MAX - sl) {
			bl = BF_NAME_MAX - sl;
			while (bl > 0 &&
			       ((unsigned char)name[bl] & 0xC0) == 0x80)
				bl--;
		}
		alt = malloc(bl + sl + 1);
		if (!alt)
			return NULL;
		memcpy(alt, name, bl);
		memcpy(alt + bl, suf, sl + 1);
		if (!bf_hmap_get(taken, alt))
			return alt;
		free(alt);
	}
	return NULL;
}

/* Who keeps a contested name, whatever order the pages came in: an
 * object's own name, then a directory's own name, then mapped names
 * (which only a hash collision can make meet); ties by raw name. */
static int claim_class(const struct bf_outent *e)
{
	return (e->mapped ? 2 : 0) + (e->is_dir ? 1 : 0);
}

static int by_claim(const void *pa, const void *pb)
{
	const struct bf_outent *a = *(const struct bf_outent *const *)pa;
	const struct bf_outent *b = *(const struct bf_outent *const *)pb;
	int r = claim_class(a) - claim_class(b);

	if (r)
		return r;
	r = strcmp(a->name, b->name);
	return r ? r : strcmp(a->obj, b->obj);
}

/* Makes shown names unique, the same way for the same set of objects, and
 * sorts the listing by them. */
static int settle_names(struct bf_outlist *l)
{
	struct bf_outent **order;
	struct bf_hmap *taken;
	int rc = -ENOMEM;

	if (l->n == 0)
		return 0;
	order = malloc(l->n * sizeof(*order));
	taken = bf_hmap_new();
	if (!order || !taken)
		goto out;
	for (size_t i = 0; i < l->n; i++)
		order[i] = &l->v[i];
	qsort(order, l->n, sizeof(*order), by_claim);
	for (size_t i = 0; i < l->n; i++) {
		struct bf_outent *e = order[i];

		if (bf_hmap_get(taken, e->name)) {
			char *alt = unique_alt(taken, e->name, e->is_dir);

			if (!alt)
				goto out;
			free(e->name);
			e->name = alt;
		}
		if (bf_hmap_put(taken, e->name, e))
			goto out;
	}
	qsort(l->v, l->n, sizeof(*l->v), by_name);
	rc = 0;
out:
	bf_hmap_free(taken);
	free(order);
	return rc;
}

static int add_ent(struct lcollect *lc, const char *rel, size_t rlen,
		   const char *obj, int is_dir, const struct bf_gcs_object *o)
{
	struct bf_outlist *l = lc->l;
	struct bf_outent *e;
	char *name;

	if (l->n == lc->cap) {
		size_t cap = lc->cap ? lc->cap * 2 : 64;
		struct bf_outent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		lc->cap = cap;
	}
	name = bf_names_objname(rel, rlen);
	if (!name)
		return -ENOMEM;
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	e->name = name;
	e->mapped = strlen(name) != rlen || memcmp(name, rel, rlen) != 0;
	e->obj = strdup(obj);
	if (!e->obj) {
		free(name);
		return -ENOMEM;
	}
	e->is_dir = is_dir;
	if (o) {
		e->size = o->size;
		e->gen = o->generation;
		e->updated_us = o->updated_us;
	}
	l->n++;
	return 0;
}

static int item_cb(void *ud, const struct bf_gcs_object *o)
{
	struct lcollect *lc = ud;
	const char *rel;

	if (!o->name || strncmp(o->name, lc->prefix, lc->plen) != 0)
		return 0;
	rel = o->name + lc->plen;
	if (!*rel || strchr(rel, '/'))
		return 0; /* the directory placeholder itself */
	return add_ent(lc, rel, strlen(rel), o->name, 0, o);
}

static int prefix_cb(void *ud, const char *p)
{
	struct lcollect *lc = ud;
	const char *rel;
	size_t n;

	if (strncmp(p, lc->prefix, lc->plen) != 0)
		return 0;
	rel = p + lc->plen;
	if (!*rel)
		return 0; /* the listed directory itself: a loop, not a child */
	n = strlen(rel);
	if (n && rel[n - 1] == '/')
		n--;
	return add_ent(lc, rel, n, p, 1, NULL);
}

static struct bf_outlist *empty_list(const char *sub, int final)
{
	struct bf_outlist *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->refs = 1;
	l->sub = strdup(sub);
	l->final = final;
	l->fetched_ms = bf_now_ms();
	return l;
}

int bf_outdir_entry(struct bf_ctx *c, struct bf_mjob *j, const char *sub,
		    struct bf_outlist **l, const struct bf_outent **ent,
		    struct bf_err *e)
{
	const char *slash = strrchr(sub, '/');
	char *parent = slash ? strndup(sub, slash - sub) : strdup("");
	const char *name = slash ? slash + 1 : sub;
	int rc;

	*l = NULL;
	*ent = NULL;
	if (!parent)
		return bf_err_set(e, ENOMEM, "out of memory");
	rc = bf_outdir_list(c, j, parent, l, e);
	free(parent);
	if (rc)
		return rc;
	*ent = bf_outlist_find(*l, name);
	if (!*ent) {
		bf_outlist_put(*l);
		*l = NULL;
		return bf_err_set(e, ENOENT, "no such output object");
	}
	return 0;
}

int bf_outdir_list(struct bf_ctx *c, struct bf_mjob *j, const char *sub,
		   struct bf_outlist **out, struct bf_err *e)
{
	struct bf_outcache *oc;
	int64_t ttl = (int64_t)(c->o.refresh * 1000);
	char *dir = NULL, *bucket = NULL, *prefix = NULL, *full = NULL;
	struct lcollect lc = {0};
	struct lnode *n;
	int terminal, rc;

	*out = NULL;
	pthread_mutex_lock(&j->lock);
	terminal = bf_mjob_terminal(j);
	if (j->have_job && j->job.gcs_output_dir)
		dir = strdup(j->job.gcs_output_dir);
	pthread_mutex_unlock(&j->lock);
	if (!dir) {
		*out = empty_list(sub, 0);
		return *out ? 0 : bf_err_set(e, ENOMEM, "out of memory");
	}
	rc = split_dir(dir, &bucket, &prefix);
	if (rc) {
		free(dir);
		return bf_err_set(e, -rc, "bad output directory");
	}
	if (*sub) {
		/* Shown names may be mapped: list under the real prefix the
		 * parent listing recorded for this directory. */
		struct bf_outlist *pl;
		const struct bf_outent *pe;

		rc = bf_outdir_entry(c, j, sub, &pl, &pe, e);
		if (rc)
			goto out;
		if (!pe->is_dir) {
			bf_outlist_put(pl);
			rc = bf_err_set(e, ENOTDIR, "not a directory");
			goto out;
		}
		full = strdup(pe->obj);
		bf_outlist_put(pl);
	} else {
		full = strdup(prefix);
	}
	oc = outcache_of(j);
	if (!full || !oc) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}

	pthread_mutex_lock(&oc->lock);
	if (!oc->dir || strcmp(oc->dir, dir) != 0) {
		expire_lists(oc);
		free(oc->dir);
		oc->dir = dir;
		dir = NULL;
	}
	for (n = oc->lists; n; n = n->next)
		if (strcmp(n->sub, sub) == 0)
			break;
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n || !(n->sub = strdup(sub))) {
			free(n);
			pthread_mutex_unlock(&oc->lock);
			rc = bf_err_set(e, ENOMEM, "out of memory");
			goto out;
		}
		n->next = oc->lists;
		oc->lists = n;
	}
	for (;;) {
		if (n->l &&
		    (n->l->final ||
		     (!terminal && bf_now_ms() - n->l->fetched_ms < ttl))) {
			*out = outlist_get(n->l);
			pthread_mutex_unlock(&oc->lock);
			rc = 0;
			goto out;
		}
		if (!n->fetching)
			break;
		{
			uint64_t gen = n->gen;

			/* A worker held by another's listing counts in the
			 * network gate; past the deadline, or with the gate
			 * full, the previous listing is shown if there is
			 * one. */
			pthread_mutex_unlock(&oc->lock);
			rc = bf_net_enter();
			pthread_mutex_lock(&oc->lock);
			while (!rc && n->fetching && n->gen == gen)
				rc = bf_clock_cond_wait(&oc->cond, &oc->lock);
			if (rc != -EAGAIN)
				bf_net_leave();
			if (rc && rc != -EINTR && n->l) {
				*out = outlist_get(n->l);
				pthread_mutex_unlock(&oc->lock);
				rc = 0;
				goto out;
			}
			if (rc) {
				pthread_mutex_unlock(&oc->lock);
				rc = bf_err_set(e, -rc,
						rc == -EINTR ? "interrupted"
							     : "the listing did "
							       "not come in time");
				goto out;
			}
			if (n->rc && !n->l) {
				rc = n->rc;
				if (e)
					*e = n->err;
				pthread_mutex_unlock(&oc->lock);
				goto out;
			}
			if (n->l) {
				*out = outlist_get(n->l);
				pthread_mutex_unlock(&oc->lock);
				rc = 0;
				goto out;
			}
		}
	}
	n->fetching = 1;
	pthread_mutex_unlock(&oc->lock);

	lc.prefix = full;
	lc.plen = strlen(full);
	lc.l = empty_list(sub, terminal);
	if (!lc.l) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
	} else {
		rc = bf_gcs_list(c->gcs, bucket, full, "/", item_cb, prefix_cb,
				 &lc, e);
		if (rc == 0)
			rc = settle_names(lc.l);
		if (rc > 0 || rc == -ENOMEM)
			rc = bf_err_set(e, ENOMEM, "out of memory");
		lc.l->fetched_ms = bf_now_ms();
	}

	pthread_mutex_lock(&oc->lock);
	n->fetching = 0;
	n->gen++;
	n->rc = rc;
	if (rc && e)
		n->err = *e;
	if (rc == 0) {
		bf_outlist_put(n->l);
		n->l = lc.l;
		lc.l = NULL;
		*out = outlist_get(n->l);
	} else if (n->l && bf_transient(rc)) {
		bf_log_warn("output listing of gs://%s/%s failed, using the "
			    "previous one: %s (HTTP %ld)",
			    bucket, full, e ? e->msg : "",
			    e ? e->http_status : 0L);
		*out = outlist_get(n->l);
		rc = 0;
	}
	pthread_cond_broadcast(&oc->cond);
	pthread_mutex_unlock(&oc->lock);
out:
	bf_outlist_put(lc.l);
	free(full);
	free(prefix);
	free(bucket);
	free(dir);
	return rc;
}

int bf_outdir_stat(struct bf_ctx *c, struct bf_mjob *j, const char *obj,
		   uint64_t *size, int64_t *gen, int64_t *updated_us,
		   struct bf_err *e)
{
	struct bf_gcs_object o;
	char *bucket = bf_outdir_bucket(j);
	int rc;

	if (!bucket)
		return bf_err_set(e, ENOENT, "the job has no output directory");
	memset(&o, 0, sizeof(o));
	rc = bf_gcs_stat(c->gcs, bucket, obj, &o, e);
	if (rc == 0) {
		*size = o.size;
		*gen = o.generation;
		*updated_us = o.updated_us;
	}
	bf_gcs_object_free(&o);
	free(bucket);
	return rc;
}
