/* tree.c - the shape of the tree: which names exist under which node, their
 * attributes and cache lifetimes, and directory snapshots. The namespace
 * operations are in ns.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/model_int.h"

/* UNLISTED: found by name, left out of readdir, so tools that read every
 * file (cp -r, grep -r, find | xargs cat) do not block on `wait`. */
enum { IN_DRAFT = 1, IN_JOB = 2, UNLISTED = 4 };

static const struct child {
	const char *name;
	enum bf_kind kind;
	unsigned where;
} children[] = {
	{"request.json", BF_K_REQUEST, IN_DRAFT | IN_JOB},
	{"job.json", BF_K_JOBJSON, IN_JOB},
	{"state", BF_K_STATE, IN_DRAFT | IN_JOB},
	{"progress", BF_K_PROGRESS, IN_JOB},
	{"error", BF_K_ERROR, IN_DRAFT | IN_JOB},
	{"ctl", BF_K_CTL, IN_JOB},
	{"output", BF_K_OUTPUT, IN_JOB},
	{"input.jsonl", BF_K_INPUT, IN_DRAFT},
	{"wait", BF_K_WAIT, IN_JOB | UNLISTED},
	{"results", BF_K_RESULTS, IN_JOB},
};
#define NCHILDREN (sizeof(children) / sizeof(*children))

static const struct child *child_named(const char *name)
{
	for (size_t i = 0; i < NCHILDREN; i++)
		if (strcmp(children[i].name, name) == 0)
			return &children[i];
	return NULL;
}

/* ---- nodes ---- */

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

static const char *kind_suffix(enum bf_kind k)
{
	for (size_t i = 0; i < NCHILDREN; i++)
		if (children[i].kind == k)
			return children[i].name;
	return NULL;
}

void bf_node_path(struct bf_ctx *c, const struct bf_node *n, char *out,
		  size_t len)
{
	char *name = NULL;
	const char *suf;

	switch (n->kind) {
	case BF_K_ROOT:
		snprintf(out, len, "/");
		return;
	case BF_K_README:
		snprintf(out, len, "README");
		return;
	case BF_K_JOBS:
		snprintf(out, len, "jobs");
		return;
	default:
		break;
	}
	if (n->job)
		name = bf_mjob_name(c, n->job);
	if (!name && n->job && n->job->id[0])
		name = strdup(n->job->id);
	suf = kind_suffix(n->kind);
	switch (n->kind) {
	case BF_K_JOB:
		snprintf(out, len, "jobs/%s", name ? name : "?");
		break;
	case BF_K_OUTDIR:
	case BF_K_OUTFILE:
		snprintf(out, len, "jobs/%s/output/%s", name ? name : "?",
			 n->sub ? n->sub : "");
		break;
	case BF_K_BQFILE:
		snprintf(out, len, "jobs/%s/output/bigquery",
			 name ? name : "?");
		break;
	case BF_K_TEMP:
		snprintf(out, len, "jobs/%s/%s", name ? name : "?",
			 n->sub ? n->sub : "");
		break;
	case BF_K_RESFILE:
		snprintf(out, len, "jobs/%s/results/%s", name ? name : "?",
			 n->sub ? n->sub : "");
		break;
	case BF_K_BYID:
	case BF_K_LINK:
		snprintf(out, len, "by-id/%s", n->sub ? n->sub : "");
		break;
	default:
		snprintf(out, len, "jobs/%s/%s", name ? name : "?",
			 suf ? suf : "?");
		break;
	}
	free(name);
}

void bf_attr_fill(struct bf_ctx *c, struct bf_attr *a, mode_t mode,
		  uint64_t size, int64_t mtime_us, double ttl)
{
	memset(a, 0, sizeof(*a));
	if (mtime_us <= 0)
		mtime_us = c->start_us;
	bf_perm_fill(&c->o, &a->st, mode);
	a->st.st_nlink = S_ISDIR(mode) ? 2 : 1;
	a->st.st_size = (off_t)size;
	a->st.st_blksize = 1 << 20; /* stdio and Python read 1 MiB at once */
	a->st.st_blocks = (blkcnt_t)((size + 511) / 512);
	a->st.st_mtim.tv_sec = mtime_us / 1000000;
	a->st.st_mtim.tv_nsec = (mtime_us % 1000000) * 1000;
	a->st.st_ctim = a->st.st_mtim;
	a->st.st_atim = a->st.st_mtim;
	a->ttl = ttl;
}

/* Cache lifetime of nodes of job j (j->lock held). */
static double job_ttl(struct bf_ctx *c, struct bf_mjob *j)
{
	return bf_mjob_terminal(j) ? c->o.final_timeout : c->o.attr_timeout;
}

static int64_t job_mtime(struct bf_mjob *j)
{
	if (j->draft || !j->have_job)
		return j->ctime_us;
	if (j->job.update_us)
		return j->job.update_us;
	return j->job.create_us;
}

/* ---- rendering ---- */

/* A copy the service has not confirmed within `refresh` (budget spent,
 * 429, service down) says so at the end of its line: " stale=12s", the
 * seconds since the service last sent it. */
static int mark_stale(int64_t ms, struct bf_buf *b)
{
	if (ms <= 0 || b->len == 0 || b->data[b->len - 1] != '\n')
		return 0;
	b->len--;
	return bf_buf_printf(b, " stale=%llds\n",
			     (long long)((ms + 500) / 1000));
}

int bf_render_node(struct bf_ctx *c, const struct bf_node *n, struct bf_buf *b,
		   struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	if (n->kind == BF_K_README)
		return bf_render_readme(&c->o, b);
	if (!j)
		return bf_err_set(e, EINVAL, "not a file");
	rc = bf_mjob_fresh(c, j, 0, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	if (j->gone) {
		rc = bf_err_set(e, ENOENT, "the job no longer exists");
	} else if (j->draft) {
		switch (n->kind) {
		case BF_K_STATE:
			rc = bf_buf_puts(b, j->submitting ? "SUBMITTING\n"
							  : "DRAFT\n");
			break;
		case BF_K_ERROR:
			rc = j->submit_err ? bf_buf_puts(b, j->submit_err) : 0;
			break;
		case BF_K_REQUEST:
			rc = bf_buf_append(b,
					   j->d->req.data ? j->d->req.data : "",
					   j->d->req.len);
			break;
		default:
			rc = bf_err_set(e, ENOENT, "not in a draft");
		}
	} else if (!j->have_job) {
		rc = bf_err_set(e, EIO, "the job has not been fetched");
	} else {
		switch (n->kind) {
		case BF_K_STATE:
			rc = bf_render_state(&j->job, b);
			break;
		case BF_K_PROGRESS:
			/* rows results/ already read: free to know */
			rc = bf_render_progress_rows(
				&j->job, bf_clock_wall_us(),
				bf_resdir_rows_seen(j->res), b);
			if (rc == 0)
				rc = mark_stale(bf_mjob_stale_ms(c, j), b);
			break;
		case BF_K_ERROR:
			rc = bf_render_error(&j->job, b);
			/* then why the last ctl command or rmdir failed */
			if (!rc && j->submit_err)
				rc = bf_buf_puts(b, j->submit_err);
			break;
		case BF_K_JOBJSON:
			rc = bf_render_jobjson(&j->job, b);
			break;
		case BF_K_REQUEST:
			rc = bf_render_spec(&j->job, b);
			break;
		case BF_K_BQFILE:
			rc = bf_render_bq(&j->job, b);
			break;
		case BF_K_CTL:
			rc = 0;
			break;
		default:
			rc = bf_err_set(e, EISDIR, "not a file");
		}
	}
	pthread_mutex_unlock(&j->lock);
	if (rc < 0 && e && !e->err)
		bf_err_set(e, -rc, "cannot render");
	return rc;
}

/* ---- output entries ---- */

static int job_has_bq(struct bf_mjob *j)
{
	int r;

	pthread_mutex_lock(&j->lock);
	r = j->have_job && !j->job.gcs_output_dir &&
	    (j->job.bq_output ||
	     (j->job.output_prefix &&
	      strncmp(j->job.output_prefix, "bq://", 5) == 0));
	pthread_mutex_unlock(&j->lock);
	return r;
}

/* ---- getattr ---- */

static int gen_attr(struct bf_ctx *c, const struct bf_node *n, mode_t mode,
		    struct bf_attr *a, struct bf_err *e)
{
	struct bf_buf b;
	int64_t mt = c->start_us;
	double ttl = c->o.final_timeout;
	int rc;

	bf_buf_init(&b, 0);
	rc = bf_render_node(c, n, &b, e);
	if (rc == 0 && n->job) {
		pthread_mutex_lock(&n->job->lock);
		mt = job_mtime(n->job);
		ttl = job_ttl(c, n->job);
		pthread_mutex_unlock(&n->job->lock);
	}
	if (rc == 0)
		bf_attr_fill(c, a, mode, b.len, mt, ttl);
	bf_buf_free(&b);
	return rc;
}

int bf_model_getattr(struct bf_ctx *c, const struct bf_node *n,
		     struct bf_attr *a, struct bf_err *e)
{
	struct bf_mjob *j = n->job;
	int rc = 0;

	switch (n->kind) {
	case BF_K_ROOT:
	case BF_K_JOBS:
		bf_attr_fill(c, a, S_IFDIR | 0755, 0, c->start_us,
			     c->o.entry_timeout);
		return 0;
	case BF_K_README:
		return gen_attr(c, n, S_IFREG | 0444, a, e);
	case BF_K_JOB:
		pthread_mutex_lock(&j->lock);
		/* Short TTL even when finished: the job may be deleted by
		 * someone else, and revalidating costs no request. */
		if (j->gone)
			rc = bf_err_set(e, ENOENT, "the job no longer exists");
		else
			bf_attr_fill(c, a, S_IFDIR | 0755, 0, job_mtime(j),
				     c->o.attr_timeout);
		pthread_mutex_unlock(&j->lock);
		return rc;
	case BF_K_REQUEST: {
		mode_t mode = S_IFREG | 0444;

		pthread_mutex_lock(&j->lock);
		if (j->draft)
			mode = bf_perm_draft(j->d ? j->d->req_mode : 0);
		pthread_mutex_unlock(&j->lock);
		return gen_attr(c, n, mode, a, e);
	}
	case BF_K_JOBJSON:
	case BF_K_STATE:
	case BF_K_PROGRESS:
	case BF_K_ERROR:
	case BF_K_BQFILE:
		return gen_attr(c, n, S_IFREG | 0444, a, e);
	case BF_K_CTL:
		return gen_attr(c, n, S_IFREG | 0200, a, e);
	case BF_K_OUTPUT:
		pthread_mutex_lock(&j->lock);
		if (j->gone || j->draft)
			rc = bf_err_set(e, ENOENT, "no output");
		else
			bf_attr_fill(c, a, S_IFDIR | 0555, 0, job_mtime(j),
				     job_ttl(c, j));
		pthread_mutex_unlock(&j->lock);
		return rc;
	case BF_K_OUTDIR:
	case BF_K_OUTFILE: {
		struct bf_outlist *l;
		const struct bf_outent *ent;
		uint64_t size;
		int64_t gen, upd;
		int terminal;
		double ttl;

		rc = bf_outdir_entry(c, j, n->sub, &l, &ent, e);
		if (rc)
			return rc;
		pthread_mutex_lock(&j->lock);
		terminal = bf_mjob_terminal(j);
		ttl = job_ttl(c, j);
		pthread_mutex_unlock(&j->lock);
		if (ent->is_dir) {
			bf_attr_fill(c, a, S_IFDIR | 0555, 0, 0, ttl);
			bf_outlist_put(l);
			return 0;
		}
		size = ent->size;
		upd = ent->updated_us;
		if (!terminal || !l->final) {
			/* It may have grown since the listing. */
			rc = bf_outdir_stat(c, j, ent->obj, &size, &gen, &upd,
					    e);
		}
		bf_outlist_put(l);
		if (rc == 0)
			bf_attr_fill(c, a, S_IFREG | 0444, size, upd,
				     terminal ? ttl : c->o.attr_timeout);
		return rc;
	}
	case BF_K_TEMP: {
		struct bf_tmpfile *t;

		pthread_mutex_lock(&j->lock);
		t = bf_draft_tmp_find(j->d, n->sub);
		if (t)
			bf_attr_fill(c, a, bf_perm_draft(t->mode), t->data.len,
				     t->mtime_us, c->o.attr_timeout);
		else
			rc = bf_err_set(e, ENOENT, "no such file");
		pthread_mutex_unlock(&j->lock);
		return rc;
	}
	default:
		if (bf_wf_kind(n->kind))
			return bf_wf_getattr(c, n, a, e);
		return bf_err_set(e, ENOENT, "unknown node");
	}
}

/* ---- lookup ---- */

static char *join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a ? a : "", a && *a ? "/" : "", b) < 0)
		return NULL;
	return s;
}

int bf_model_lookup(struct bf_ctx *c, const struct bf_node *parent,
		    const char *name, struct bf_node *out, struct bf_attr *a,
		    struct bf_err *e)
{
	struct bf_mjob *j = parent->job;
	int rc;

	memset(out, 0, sizeof(*out));
	switch (parent->kind) {
	case BF_K_ROOT:
		if (strcmp(name, "README") == 0)
			out->kind = BF_K_README;
		else if (strcmp(name, "jobs") == 0)
			out->kind = BF_K_JOBS;
		else if (strcmp(name, "by-id") == 0)
			out->kind = BF_K_BYID;
		else
			return bf_err_set(e, ENOENT, "no such file");
		break;
	case BF_K_JOBS:
		rc = bf_jobs_lookup(c, name, &out->job, e);
		if (rc)
			return rc;
		out->kind = BF_K_JOB;
		break;
	case BF_K_JOB: {
		const struct child *ch = child_named(name);
		int draft, gone, absent, tmp, input;

		pthread_mutex_lock(&j->lock);
		draft = j->draft;
		gone = j->gone;
		absent = j->d && j->d->req_absent;
		input = j->d && j->d->in.present;
		tmp = bf_draft_tmp_find(j->d, name) != NULL;
		pthread_mutex_unlock(&j->lock);
		if (gone)
			return bf_err_set(e, ENOENT,
					  "the job no longer exists");
		if (ch && (ch->where & (draft ? IN_DRAFT : IN_JOB)) &&
		    !(draft && ch->kind == BF_K_REQUEST && absent) &&
		    !(ch->kind == BF_K_INPUT && !input)) {
			out->kind = ch->kind;
		} else if (tmp) {
			out->kind = BF_K_TEMP;
			out->sub = strdup(name);
			if (!out->sub)
				return bf_err_set(e, ENOMEM, "out of memory");
		} else {
			return bf_err_set(e, ENOENT, "no such file");
		}
		out->job = bf_mjob_get(j);
		break;
	}
	case BF_K_OUTPUT:
	case BF_K_OUTDIR: {
		struct bf_outlist *l;
		const struct bf_outent *ent;
		const char *sub =
			parent->kind == BF_K_OUTPUT ? "" : parent->sub;

		if (parent->kind == BF_K_OUTPUT &&
		    strcmp(name, "bigquery") == 0 && job_has_bq(j)) {
			out->kind = BF_K_BQFILE;
			out->job = bf_mjob_get(j);
			break;
		}
		rc = bf_outdir_list(c, j, sub, &l, e);
		if (rc)
			return rc;
		ent = bf_outlist_find(l, name);
		if (!ent) {
			bf_outlist_put(l);
			return bf_err_set(e, ENOENT, "no such output object");
		}
		out->kind = ent->is_dir ? BF_K_OUTDIR : BF_K_OUTFILE;
		bf_outlist_put(l);
		out->sub = join(sub, name);
		if (!out->sub)
			return bf_err_set(e, ENOMEM, "out of memory");
		out->job = bf_mjob_get(j);
		break;
	}
	case BF_K_RESULTS:
	case BF_K_BYID:
		rc = bf_wf_lookup(c, parent, name, out, e);
		if (rc)
			return rc;
		break;
	default:
		return bf_err_set(e, ENOTDIR, "not a directory");
	}
	rc = bf_model_getattr(c, out, a, e);
	if (rc)
		bf_node_clear(out);
	return rc;
}

/* ---- directory snapshots ---- */

int bf_dir_add(struct bf_dir *d, size_t *cap, const char *name,
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

static int opendir_jobs(struct bf_ctx *c, struct bf_dir *d, size_t *cap,
			struct bf_err *e)
{
	struct bf_jobref *refs;
	size_t n;
	int rc = bf_jobs_list(c, &refs, &n, e);

	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct bf_node node = {.kind = BF_K_JOB};
		struct bf_attr a;
		struct bf_mjob *j = refs[i].job;

		/* Attributes from the listing: no request per job. */
		pthread_mutex_lock(&j->lock);
		bf_attr_fill(c, &a, S_IFDIR | 0755, 0, job_mtime(j),
			     c->o.attr_timeout);
		pthread_mutex_unlock(&j->lock);
		node.job = bf_mjob_get(j);
		rc = bf_dir_add(d, cap, refs[i].name, &node, &a);
		bf_node_clear(&node);
	}
	bf_jobs_refs_free(refs, n);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}

static int opendir_job(struct bf_ctx *c, const struct bf_node *p,
		       struct bf_dir *d, size_t *cap, struct bf_err *e)
{
	struct bf_mjob *j = p->job;
	int draft, rc = 0;
	char **tmps = NULL;
	size_t ntmp = 0;

	pthread_mutex_lock(&j->lock);
	draft = j->draft;
	if (j->d) {
		struct bf_tmpfile *t;

		for (t = j->d->tmp; t; t = t->next)
			ntmp++;
		tmps = calloc(ntmp ? ntmp : 1, sizeof(*tmps));
		ntmp = 0;
		for (t = j->d->tmp; tmps && t; t = t->next)
			tmps[ntmp++] = strdup(t->name);
	}
	pthread_mutex_unlock(&j->lock);
	if (j->d && !tmps)
		return bf_err_set(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < NCHILDREN && rc == 0; i++) {
		struct bf_node node;
		struct bf_attr a;

		if (!(children[i].where & (draft ? IN_DRAFT : IN_JOB)) ||
		    (children[i].where & UNLISTED))
			continue;
		rc = bf_model_lookup(c, p, children[i].name, &node, &a, e);
		if (rc == -ENOENT) {
			rc = 0; /* request.json renamed away */
			continue;
		}
		if (rc == 0) {
			rc = bf_dir_add(d, cap, children[i].name, &node, &a);
			bf_node_clear(&node);
			if (rc)
				rc = bf_err_set(e, -rc, "out of memory");
		}
	}
	for (size_t i = 0; i < ntmp; i++) {
		struct bf_node node;
		struct bf_attr a;

		if (rc == 0 && tmps[i] &&
		    bf_model_lookup(c, p, tmps[i], &node, &a, e) == 0) {
			rc = bf_dir_add(d, cap, tmps[i], &node, &a);
			bf_node_clear(&node);
		}
		free(tmps[i]);
	}
	free(tmps);
	return rc;
}

static int opendir_out(struct bf_ctx *c, const struct bf_node *p,
		       struct bf_dir *d, size_t *cap, struct bf_err *e)
{
	struct bf_mjob *j = p->job;
	const char *sub = p->kind == BF_K_OUTPUT ? "" : p->sub;
	struct bf_outlist *l;
	int terminal, rc;
	double ttl;

	if (p->kind == BF_K_OUTPUT && job_has_bq(j)) {
		struct bf_node node;
		struct bf_attr a;

		rc = bf_model_lookup(c, p, "bigquery", &node, &a, e);
		if (rc == 0) {
			rc = bf_dir_add(d, cap, "bigquery", &node, &a);
			bf_node_clear(&node);
		}
		return rc;
	}
	rc = bf_outdir_list(c, j, sub, &l, e);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	terminal = bf_mjob_terminal(j);
	ttl = job_ttl(c, j);
	pthread_mutex_unlock(&j->lock);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const struct bf_outent *ent = &l->v[i];
		struct bf_node node = {0};
		struct bf_attr a;

		node.kind = ent->is_dir ? BF_K_OUTDIR : BF_K_OUTFILE;
		node.job = bf_mjob_get(j);
		node.sub = join(sub, ent->name);
		if (!node.sub) {
			bf_node_clear(&node);
			rc = -ENOMEM;
			break;
		}
		if (ent->is_dir)
			bf_attr_fill(c, &a, S_IFDIR | 0555, 0, 0, ttl);
		else
			bf_attr_fill(c, &a, S_IFREG | 0444, ent->size,
				     ent->updated_us,
				     terminal ? ttl : c->o.attr_timeout);
		rc = bf_dir_add(d, cap, ent->name, &node, &a);
		bf_node_clear(&node);
	}
	bf_outlist_put(l);
	return rc ? bf_err_set(e, -rc, "out of memory") : 0;
}

int bf_model_opendir(struct bf_ctx *c, const struct bf_node *n,
		     struct bf_dir **out, struct bf_err *e)
{
	struct bf_dir *d = calloc(1, sizeof(*d));
	size_t cap = 0;
	int rc = 0;

	*out = NULL;
	if (!d)
		return bf_err_set(e, ENOMEM, "out of memory");
	switch (n->kind) {
	case BF_K_ROOT: {
		static const char *const names[] = {"README", "jobs", "by-id"};

		for (size_t i = 0; i < 3 && rc == 0; i++) {
			struct bf_node node;
			struct bf_attr a;

			rc = bf_model_lookup(c, n, names[i], &node, &a, e);
			if (rc == 0) {
				rc = bf_dir_add(d, &cap, names[i], &node, &a);
				bf_node_clear(&node);
			}
		}
		break;
	}
	case BF_K_JOBS:
		rc = opendir_jobs(c, d, &cap, e);
		break;
	case BF_K_JOB:
		rc = opendir_job(c, n, d, &cap, e);
		break;
	case BF_K_OUTPUT:
	case BF_K_OUTDIR:
		rc = opendir_out(c, n, d, &cap, e);
		break;
	case BF_K_RESULTS:
	case BF_K_BYID:
		rc = bf_wf_opendir(c, n, d, &cap, e);
		break;
	default:
		rc = bf_err_set(e, ENOTDIR, "not a directory");
	}
	if (rc) {
		bf_dir_free(d);
		return rc < 0 ? rc : -ENOMEM;
	}
	*out = d;
	return 0;
}

int child_is_reserved(const char *name)
{
	return child_named(name) != NULL;
}
