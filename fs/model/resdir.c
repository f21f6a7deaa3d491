/* resdir.c - a job's results/: its output rows matched to its input lines
 * (succeeded, failed, by-input, retry), computed by streaming every output
 * object and the input through the results layer's join into temporary
 * files. One result set per job, immutable and reference counted: a
 * finished job's is kept for good, a running job's is recomputed at most
 * every `refresh` seconds and only when its output objects changed. */
#include "model/resdir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "batchfs/buf.h"
#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"
#include "batchfs/results.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/jobs.h"

enum { BF_RF_OK, BF_RF_BAD, BF_RF_BY, BF_RF_RETRY, BF_RF_N };

/* A set whose files total at most this is held in memory, without
 * descriptors, and such sets are kept up to a budget of bytes: a walk over
 * thousands of jobs with few or no rows computes each once. Sets with files
 * are kept up to -o results_cache, small ones up to that many shares. */
#define SMALL_SET (64 * 1024)
#define SMALL_SHARE (512 * 1024)

static const char *const rf_names[BF_RF_N] = {
	"succeeded.jsonl", "failed.jsonl", "by-input.jsonl", "retry.jsonl"};

/* A result set: immutable once published, but for refs. */
struct bf_resset {
	int refs; /* atomic */
	int fd[BF_RF_N];
	char *mem[BF_RF_N]; /* a small set's files, instead of fd */
	size_t mem_bytes;   /* of a set held in memory, else 0 */
	uint64_t size[BF_RF_N];
	char *readme;
	int final;
	char *sig;
	int64_t made_ms, mtime_us;
	int64_t rows; /* distinct output rows read (succeeded + failed) */
};

struct bf_rescache {
	pthread_mutex_t lock;  /* immutable after creation */
	pthread_cond_t cond;   /* a computation ended (lock) */
	struct bf_resset *cur; /* (lock) */
	int computing;	       /* (lock) */
	uint64_t gen;	       /* (lock) */
	int64_t rows; /* distinct output rows at the last computation + 1;
		       * 0 unknown. Atomic: progress reads it without locks */
};

int64_t bf_resdir_rows_seen(struct bf_rescache *rc)
{
	return rc ? __atomic_load_n(&rc->rows, __ATOMIC_RELAXED) - 1 : -1;
}

static int cached_sets;	    /* sets with descriptors in caches (atomic) */
static size_t cached_bytes; /* bytes of in-memory sets in caches (atomic) */

static int has_file(const struct bf_resset *s, int i)
{
	return s->fd[i] >= 0 || s->mem[i];
}

/* Takes a set into a job's cache, or 0 when the caches are full. */
static int cache_admit(struct bf_ctx *c, struct bf_resset *s)
{
	size_t sets = c->o.results_cache;

	if (s->mem_bytes) {
		if (__atomic_add_fetch(&cached_bytes, s->mem_bytes,
				       __ATOMIC_RELAXED) <= sets * SMALL_SHARE)
			return 1;
		__atomic_sub_fetch(&cached_bytes, s->mem_bytes,
				   __ATOMIC_RELAXED);
		return 0;
	}
	if ((size_t)__atomic_add_fetch(&cached_sets, 1, __ATOMIC_RELAXED) <=
	    sets)
		return 1;
	__atomic_sub_fetch(&cached_sets, 1, __ATOMIC_RELAXED);
	return 0;
}

static void cache_release(struct bf_resset *s)
{
	if (s->mem_bytes)
		__atomic_sub_fetch(&cached_bytes, s->mem_bytes,
				   __ATOMIC_RELAXED);
	else
		__atomic_sub_fetch(&cached_sets, 1, __ATOMIC_RELAXED);
}

static struct bf_resset *set_get(struct bf_resset *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void bf_resset_put(struct bf_resset *s)
{
	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (int i = 0; i < BF_RF_N; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		free(s->mem[i]);
	}
	free(s->readme);
	free(s->sig);
	free(s);
}

static void rescache_free(void *p)
{
	struct bf_rescache *rc = p;

	if (!rc)
		return;
	if (rc->cur) {
		cache_release(rc->cur);
		bf_resset_put(rc->cur);
	}
	pthread_mutex_destroy(&rc->lock);
	pthread_cond_destroy(&rc->cond);
	free(rc);
}

int bf_resset_final(const struct bf_resset *s)
{
	return s->final;
}

int64_t bf_resset_mtime(const struct bf_resset *s)
{
	return s->mtime_us;
}

int bf_resset_file(const struct bf_resset *s, const char *name,
		   uint64_t *size)
{
	if (strcmp(name, "README") == 0 && s->readme) {
		*size = strlen(s->readme);
		return 0;
	}
	for (int i = 0; i < BF_RF_N; i++) {
		if (has_file(s, i) && strcmp(name, rf_names[i]) == 0) {
			*size = s->size[i];
			return 0;
		}
	}
	return -ENOENT;
}

size_t bf_resset_names(const struct bf_resset *s, const char **v)
{
	size_t n = 0;

	if (s->readme)
		v[n++] = "README";
	for (int i = 0; i < BF_RF_N; i++)
		if (has_file(s, i))
			v[n++] = rf_names[i];
	return n;
}

ssize_t bf_resset_read(const struct bf_resset *s, const char *name,
		       char *buf, size_t len, uint64_t off, struct bf_err *e)
{
	uint64_t size;
	ssize_t n;

	if (bf_resset_file(s, name, &size) != 0)
		return bf_err_set(e, ENOENT, "no such file");
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (strcmp(name, "README") == 0) {
		memcpy(buf, s->readme + off, len);
		return (ssize_t)len;
	}
	for (int i = 0; i < BF_RF_N; i++) {
		if (strcmp(name, rf_names[i]) != 0)
			continue;
		if (s->mem[i]) {
			memcpy(buf, s->mem[i] + off, len);
			return (ssize_t)len;
		}
		do {
			n = pread(s->fd[i], buf, len, (off_t)off);
		} while (n < 0 && errno == EINTR);
		return n < 0 ? bf_err_set(e, errno, "results: %m") : n;
	}
	return bf_err_set(e, ENOENT, "no such file");
}

/* ---- sources ---- */

struct obj {
	char *bucket, *name;
	int64_t gen;
	uint64_t size;
	int final;
};

static void objs_free(struct obj *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].bucket);
		free(v[i].name);
	}
	free(v);
}

struct objsrc {
	struct bf_reader *r;
	uint64_t off, size;
};

static ssize_t objsrc_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct objsrc *s = ud;
	ssize_t n;

	if (s->off >= s->size)
		return 0;
	if (len > s->size - s->off)
		len = (size_t)(s->size - s->off);
	n = bf_reader_read(s->r, buf, len, s->off, e);
	if (n == 0)
		return bf_err_set(e, EIO, "object shorter than listed");
	if (n > 0)
		s->off += (uint64_t)n;
	return n;
}

/* Input objects one after another, a newline between them. */
struct chain {
	struct bf_ctx *c;
	struct obj *v;
	size_t n, i;
	struct objsrc cur;
};

static ssize_t chain_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct chain *ch = ud;
	ssize_t n;

	for (;;) {
		if (ch->i >= ch->n)
			return 0;
		if (!ch->cur.r) {
			struct obj *o = &ch->v[ch->i];

			ch->cur = (struct objsrc){ .size = o->size };
			ch->cur.r = bf_reader_open(ch->c->pool, ch->c->gcs,
						   o->bucket, o->name, o->gen,
						   o->size);
			if (!ch->cur.r)
				return bf_err_set(e, ENOMEM, "out of memory");
		}
		n = objsrc_read(&ch->cur, buf, len, e);
		if (n != 0)
			return n;
		bf_reader_close(ch->cur.r);
		ch->cur.r = NULL;
		ch->i++;
		buf[0] = '\n';
		return 1;
	}
}

struct collect {
	const char *bucket;
	size_t plen; /* the listed prefix's length */
	struct obj *v;
	size_t n, cap;
	int oom;
};

static int collect_cb(void *ud, const struct bf_gcs_object *o)
{
	struct collect *cl = ud;
	size_t l = strlen(o->name);
	struct obj *x;

	if (l < 6 || strcmp(o->name + l - 6, ".jsonl") != 0)
		return 0;
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 16;
		struct obj *v = realloc(cl->v, cap * sizeof(*v));

		if (!v) {
			cl->oom = 1;
			return 1;
		}
		cl->v = v;
		cl->cap = cap;
	}
	x = &cl->v[cl->n];
	*x = (struct obj){ .bucket = strdup(cl->bucket),
			   .name = strdup(o->name), .gen = o->generation,
			   .size = o->size };
	/* Final: the job's predictions.jsonl at the directory's root, once
	 * the job has ended (decided in list_outputs). The names of partial
	 * exports are not documented, and some may stay beside it. */
	x->final = strcmp(o->name + cl->plen, "predictions.jsonl") == 0;
	cl->n++;
	if (!x->bucket || !x->name)
		cl->oom = 1;
	return cl->oom;
}

static int by_kind(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;

	if (x->final != y->final)
		return x->final - y->final;
	return strcmp(x->name, y->name);
}

/* What the job says, copied under its lock. */
struct snap {
	int terminal, bigquery;
	char *outdir;
	char **uris;
	size_t nuris;
};

static void snap_free(struct snap *s)
{
	free(s->outdir);
	for (size_t i = 0; i < s->nuris; i++)
		free(s->uris[i]);
	free(s->uris);
}

static int take_snap(struct bf_mjob *j, struct snap *s)
{
	cJSON *raw = NULL, *uris, *u;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&j->lock);
	s->terminal = bf_mjob_terminal(j);
	if (j->job.gcs_output_dir)
		s->outdir = strdup(j->job.gcs_output_dir);
	s->bigquery = (j->job.input_uri &&
		       strncmp(j->job.input_uri, "bq://", 5) == 0) ||
		      j->job.bq_output ||
		      (j->job.output_prefix &&
		       strncmp(j->job.output_prefix, "bq://", 5) == 0);
	if (j->job.raw)
		raw = cJSON_ParseWithLength(j->job.raw, j->job.raw_len);
	pthread_mutex_unlock(&j->lock);
	uris = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(raw, "inputConfig"),
			"gcsSource"),
		"uris");
	s->uris = calloc((size_t)cJSON_GetArraySize(uris) + 1,
			 sizeof(*s->uris));
	cJSON_ArrayForEach(u, uris)
	{
		if (s->uris && cJSON_IsString(u) && u->valuestring)
			s->uris[s->nuris++] = strdup(u->valuestring);
	}
	cJSON_Delete(raw);
	return s->uris ? 0 : -ENOMEM;
}

static int list_outputs(struct bf_ctx *c, const char *dir, int terminal,
			struct obj **v, size_t *n, struct bf_err *e)
{
	struct collect cl = { 0 };
	char *bucket = NULL, *prefix = NULL, *p = NULL;
	int rc;

	*v = NULL;
	*n = 0;
	if (!dir)
		return 0;
	if (bf_gcs_parse_uri(dir, &bucket, &prefix) != 0)
		return bf_err_set(e, EIO, "bad output directory %s", dir);
	if (*prefix && prefix[strlen(prefix) - 1] != '/' &&
	    asprintf(&p, "%s/", prefix) >= 0) {
		free(prefix);
		prefix = p;
	}
	cl.bucket = bucket;
	cl.plen = strlen(prefix);
	rc = bf_gcs_list(c->gcs, bucket, prefix, NULL, collect_cb, NULL, &cl,
			 e);
	if (cl.oom)
		rc = bf_err_set(e, ENOMEM, "out of memory");
	if (rc < 0) {
		objs_free(cl.v, cl.n);
	} else {
		size_t k = 0;
		int have_final = 0;

		/* While the job runs, everything is partial. Once it has
		 * ended, its final file alone holds every row: partial files
		 * left beside it would only repeat them. */
		for (size_t i = 0; i < cl.n; i++) {
			if (!terminal)
				cl.v[i].final = 0;
			have_final |= cl.v[i].final;
		}
		for (size_t i = 0; i < cl.n; i++) {
			if (have_final && !cl.v[i].final) {
				free(cl.v[i].bucket);
				free(cl.v[i].name);
				continue;
			}
			cl.v[k++] = cl.v[i];
		}
		cl.n = k;
		if (cl.n)
			qsort(cl.v, cl.n, sizeof(*cl.v), by_kind);
		*v = cl.v;
		*n = cl.n;
		rc = 0;
	}
	free(bucket);
	free(prefix);
	return rc;
}

/* The input objects; a reason instead when they cannot be read. */
static int stat_inputs(struct bf_ctx *c, const struct snap *s,
		       struct obj **v, size_t *n, char **why,
		       struct bf_err *e)
{
	int rc = 0;

	*n = 0;
	*why = NULL;
	*v = calloc(s->nuris + 1, sizeof(**v));
	if (!*v)
		return bf_err_set(e, ENOMEM, "out of memory");
	if (s->nuris == 0) {
		*why = strdup("the job's input is not in Cloud Storage");
		return 0;
	}
	for (size_t i = 0; i < s->nuris && rc == 0 && !*why; i++) {
		struct bf_gcs_object o = { 0 };
		struct obj *x = &(*v)[*n];

		if (strchr(s->uris[i], '*') ||
		    bf_gcs_parse_uri(s->uris[i], &x->bucket, &x->name) != 0) {
			if (asprintf(why, "batchfs does not read input given "
				     "as %s", s->uris[i]) < 0)
				*why = NULL;
			break;
		}
		(*n)++;
		rc = bf_gcs_stat(c->gcs, x->bucket, x->name, &o, e);
		if (rc == -ENOENT) {
			if (asprintf(why, "the input %s no longer exists",
				     s->uris[i]) < 0)
				*why = NULL;
			rc = 0;
		}
		x->gen = o.generation;
		x->size = o.size;
		bf_gcs_object_free(&o);
	}
	return rc;
}

static char *signature(const struct snap *s, const struct obj *v, size_t n)
{
	struct bf_buf b;

	bf_buf_init(&b, 0);
	bf_buf_printf(&b, "%d;", s->terminal);
	for (size_t i = 0; i < n; i++)
		bf_buf_printf(&b, "%s:%" PRId64 ":%" PRIu64 ";", v[i].name,
			      v[i].gen, v[i].size);
	for (size_t i = 0; i < s->nuris; i++)
		bf_buf_printf(&b, "<%s;", s->uris[i]);
	return bf_buf_steal(&b);
}

static int read_all(int fd, char *p, uint64_t n)
{
	uint64_t off = 0;

	while (off < n) {
		ssize_t k = pread(fd, p + off, (size_t)(n - off), (off_t)off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		off += (uint64_t)k;
	}
	return 0;
}

/* A small set moves into memory: no descriptors, and cheap to keep. */
static void to_memory(struct bf_resset *set)
{
	uint64_t total = 0;
	char *m[BF_RF_N] = {0};
	int i;

	for (i = 0; i < BF_RF_N; i++)
		if (set->fd[i] >= 0)
			total += set->size[i];
	if (total > SMALL_SET)
		return;
	for (i = 0; i < BF_RF_N; i++) {
		if (set->fd[i] < 0)
			continue;
		m[i] = malloc(set->size[i] + 1);
		if (!m[i] || read_all(set->fd[i], m[i], set->size[i]) < 0)
			break;
	}
	if (i < BF_RF_N) {
		for (i = 0; i < BF_RF_N; i++)
			free(m[i]);
		return;
	}
	set->mem_bytes = sizeof(*set) + (size_t)total +
			 (set->readme ? strlen(set->readme) : 0);
	for (i = 0; i < BF_RF_N; i++) {
		if (set->fd[i] < 0)
			continue;
		close(set->fd[i]);
		set->fd[i] = -1;
		set->mem[i] = m[i];
	}
}

static int compute(struct bf_ctx *c, const struct snap *s,
		   const char *old_sig, struct bf_resset **out,
		   struct bf_err *e)
{
	struct bf_join_files f = { -1, -1, -1, -1, 0, 0, 0, 0 };
	struct bf_join_stats st = { 0 };
	struct obj *outs = NULL, *ins = NULL;
	size_t nouts = 0, nins = 0;
	struct bf_join *jn = NULL;
	struct bf_resset *set = NULL;
	struct chain ch = { .c = c };
	char *why = NULL, *sig = NULL;
	int rc;

	*out = NULL;
	rc = list_outputs(c, s->outdir, s->terminal, &outs, &nouts, e);
	if (rc == 0)
		rc = stat_inputs(c, s, &ins, &nins, &why, e);
	if (rc)
		goto out;
	sig = signature(s, outs, nouts);
	if (sig && old_sig && strcmp(sig, old_sig) == 0) {
		rc = 1; /* unchanged */
		goto out;
	}
	rc = bf_join_new(NULL, &jn, e);
	for (size_t i = 0; i < nouts && rc == 0; i++) {
		struct objsrc src = { .size = outs[i].size };

		src.r = bf_reader_open(c->pool, c->gcs, outs[i].bucket,
				       outs[i].name, outs[i].gen, outs[i].size);
		if (!src.r) {
			rc = bf_err_set(e, ENOMEM, "out of memory");
			break;
		}
		rc = bf_join_add_output(jn, objsrc_read, &src, outs[i].final,
					e);
		bf_reader_close(src.r);
	}
	ch.v = ins;
	ch.n = why ? 0 : nins;
	if (rc == 0)
		rc = bf_join_finish(jn, why ? NULL : chain_read, &ch, &f, &st,
				    e);
	if (ch.cur.r)
		bf_reader_close(ch.cur.r);
	if (rc)
		goto out;
	set = calloc(1, sizeof(*set));
	if (!set) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	set->refs = 1;
	set->fd[BF_RF_OK] = f.succeeded;
	set->fd[BF_RF_BAD] = f.failed;
	set->fd[BF_RF_BY] = f.by_input;
	set->fd[BF_RF_RETRY] = f.retry;
	set->size[BF_RF_OK] = f.succeeded_size;
	set->size[BF_RF_BAD] = f.failed_size;
	set->size[BF_RF_BY] = f.by_input_size;
	set->size[BF_RF_RETRY] = f.retry_size;
	f.succeeded = f.failed = f.by_input = f.retry = -1; /* moved */
	if (why || st.keys != BF_JOIN_KEYED)
		set->readme = bf_join_readme(why, &st);
	set->final = s->terminal;
	set->rows = (int64_t)(st.succeeded + st.failed);
	set->sig = sig;
	sig = NULL;
	set->made_ms = bf_now_ms();
	set->mtime_us = bf_clock_wall_us();
	to_memory(set);
	*out = set;
	if (st.bad_rows)
		bf_log_info("results: %" PRIu64 " output lines were not JSON "
			    "rows", st.bad_rows);
out:
	bf_join_files_close(&f);
	bf_join_free(jn);
	objs_free(outs, nouts);
	objs_free(ins, nins);
	free(why);
	free(sig);
	return rc;
}

int bf_resdir_get(struct bf_ctx *c, struct bf_mjob *j, struct bf_resset **out,
		  struct bf_err *e)
{
	struct bf_rescache *rc_;
	struct bf_resset *set = NULL;
	struct snap s;
	char *old_sig = NULL;
	int64_t ivl = (int64_t)(c->o.refresh * 1000);
	int rc;

	*out = NULL;
	rc = bf_mjob_fresh(c, j, 0, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	if (!j->res) {
		rc_ = calloc(1, sizeof(*rc_));
		if (rc_) {
			pthread_mutex_init(&rc_->lock, NULL);
			pthread_cond_init(&rc_->cond, NULL);
			if (bf_mjob_attach(j, rc_, rescache_free) == 0)
				j->res = rc_;
			else
				rescache_free(rc_);
		}
	}
	rc_ = j->res;
	pthread_mutex_unlock(&j->lock);
	if (!rc_)
		return bf_err_set(e, ENOMEM, "out of memory");

	pthread_mutex_lock(&rc_->lock);
	for (;;) {
		struct bf_resset *cur = rc_->cur;

		if (cur && (cur->final || bf_now_ms() - cur->made_ms < ivl)) {
			*out = set_get(cur);
			pthread_mutex_unlock(&rc_->lock);
			return 0;
		}
		if (!rc_->computing)
			break;
		/* Held by another's computation (network reads): a place in
		 * the network gate; past the deadline, or with the gate
		 * full, the previous set if there is one. */
		pthread_mutex_unlock(&rc_->lock);
		rc = bf_net_enter();
		pthread_mutex_lock(&rc_->lock);
		if (!rc) {
			if (rc_->computing)
				rc = bf_clock_cond_wait(&rc_->cond, &rc_->lock);
			bf_net_leave();
		}
		if (rc && rc != -EINTR && rc_->cur) {
			*out = set_get(rc_->cur);
			pthread_mutex_unlock(&rc_->lock);
			return 0;
		}
		if (rc) {
			pthread_mutex_unlock(&rc_->lock);
			return bf_err_set(e, -rc,
					  rc == -EINTR ? "interrupted"
						       : "the results did not "
							 "come in time");
		}
	}
	rc_->computing = 1;
	if (rc_->cur && rc_->cur->sig)
		old_sig = strdup(rc_->cur->sig);
	pthread_mutex_unlock(&rc_->lock);

	rc = take_snap(j, &s);
	if (rc == 0 && s.bigquery && !s.outdir) {
		set = calloc(1, sizeof(*set));
		if (set) {
			/* rows -1: the rows are in a table batchfs does
			 * not read, so progress claims no count */
			*set = (struct bf_resset){ .refs = 1, .final = 1,
						   .rows = -1,
						   .fd = { -1, -1, -1, -1 } };
			set->readme = strdup(
				"This job reads or writes BigQuery. batchfs "
				"does not read BigQuery tables,\nso there are "
				"no results here: query the table instead.\n");
			set->made_ms = bf_now_ms();
			set->mtime_us = bf_clock_wall_us();
			to_memory(set);
		}
		rc = set ? 0 : -ENOMEM;
	} else if (rc == 0) {
		/* A running job's export may be replaced by a longer
		 * generation while it is read: read the new one. */
		for (int tries = 0; tries < 3; tries++) {
			rc = compute(c, &s, old_sig, &set, e);
			if (rc != -ESTALE)
				break;
		}
	}
	snap_free(&s);
	free(old_sig);

	pthread_mutex_lock(&rc_->lock);
	rc_->computing = 0;
	pthread_cond_broadcast(&rc_->cond);
	if (rc == 1) { /* unchanged: the set in the cache is current */
		rc_->cur->made_ms = bf_now_ms();
		*out = set_get(rc_->cur);
		rc = 0;
	} else if (rc == 0) {
		if (rc_->cur) {
			cache_release(rc_->cur);
			bf_resset_put(rc_->cur);
			rc_->cur = NULL;
		}
		__atomic_store_n(&rc_->rows, set->rows + 1, __ATOMIC_RELAXED);
		/* Bounded: beyond results_cache sets with descriptors, or
		 * that many shares of small ones, the result serves this
		 * caller only. */
		if (cache_admit(c, set))
			rc_->cur = set_get(set);
		*out = set;
	}
	pthread_mutex_unlock(&rc_->lock);
	return rc < 0 ? rc : 0;
}
