/* model_cli.c - drives the tree of fs/model through its public API
 * (model/model.h) against an endpoint, with no mount and no FUSE, for the
 * Python tests in tests/model. Not a meson test.
 *
 *   model_cli [options] < COMMANDS
 *   options: --endpoint URL [--storage-endpoint URL] --project P
 *            [--location L] [--credentials FILE | --token-file FILE |
 *            --no-auth] [--cafile PEM] [--state-dir DIR]
 *            [--staging gs://B/P] [--model M] [--dest gs://B/P]
 *            [--refresh S] [--list-ttl S]
 *            [--deadline S] [--vertex-rpm N] [--max-request N]
 *            [--page-size N] [--results-cache N] [--verbose]
 *
 * One command a line, words separated by one space, each word
 * percent-decoded (%20 a space, %0A a newline, %25 a percent sign). Paths
 * are walked with bf_model_lookup from the root, as the kernel does:
 *
 *   lookup PATH | getattr PATH   kind, mode, size, nlink, uid, gid
 *   readdir PATH                 names, and entries: name -> kind/mode/size
 *   read PATH [OFF LEN]          open, reads until EOF (or LEN bytes),
 *                                release: data (base64), len, ms. A read
 *                                of `wait` parks (bf_wait_park) as the
 *                                FUSE glue does and waits for its reply.
 *   write PATH DATA              open (create when absent) O_WRONLY|O_TRUNC,
 *                                writes, flush, release: rc is what
 *                                write(2) or close(2) gave (step says
 *                                which), so a submission's result
 *   mkdir PATH | rmdir PATH | unlink PATH | readlink PATH
 *   rename PATH NEWPATH | quit
 *
 * Prints one JSON object a line: {"rc": 0 or -errno, "errno": NAME,
 * "msg": the cause, "step", "ms", ...}. Exit status 0 after EOF or quit. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "batchfs/err.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "model/model.h"

#define MAX_WORDS 4
#define CHUNK (128 * 1024) /* the kernel's usual max_write and READ size */

static double deadline_s;

static const char *const kinds[] = {
	[BF_K_NONE] = "none",	      [BF_K_ROOT] = "root",
	[BF_K_README] = "readme",     [BF_K_JOBS] = "jobs",
	[BF_K_JOB] = "job",	      [BF_K_REQUEST] = "request",
	[BF_K_JOBJSON] = "jobjson",   [BF_K_STATE] = "state",
	[BF_K_PROGRESS] = "progress", [BF_K_ERROR] = "error",
	[BF_K_CTL] = "ctl",	      [BF_K_OUTPUT] = "output",
	[BF_K_OUTDIR] = "outdir",     [BF_K_OUTFILE] = "outfile",
	[BF_K_BQFILE] = "bqfile",     [BF_K_TEMP] = "temp",
	[BF_K_INPUT] = "input",	      [BF_K_WAIT] = "wait",
	[BF_K_RESULTS] = "results",   [BF_K_RESFILE] = "resfile",
	[BF_K_BYID] = "byid",	      [BF_K_LINK] = "link",
	[BF_K_INBOX] = "inbox",	      [BF_K_INFILE] = "infile",
	[BF_K_INERR] = "inerr",	      [BF_K_OUTBOX] = "outbox",
	[BF_K_OBXFILE] = "obxfile",   [BF_K_OBXERR] = "obxerr",
	[BF_K_SUCCESS] = "success",
};

static const char *kind_name(enum bf_kind k)
{
	if ((size_t)k < sizeof(kinds) / sizeof(kinds[0]) && kinds[k])
		return kinds[k];
	return "?";
}

/* Lookups and reads get the -o deadline as the FUSE workers do; changes
 * (submit, ctl, rmdir) keep their own budgets (fuse/reqctx.c). */
static void begin(int bounded)
{
	bf_cancel_set(NULL, NULL);
	if (bounded && deadline_s > 0)
		bf_req_limits(bf_now_ms() + (int64_t)(deadline_s * 1000), 0);
}

static void end(void)
{
	bf_cancel_set(NULL, NULL);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* In place; the decoded length (a word may hold NUL bytes). */
static size_t pct_decode(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		int hi, lo;

		if (p[0] == '%' && (hi = hexval(p[1])) >= 0 &&
		    (lo = hexval(p[2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return (size_t)(o - s);
}

static void set_rc(cJSON *o, int rc, const struct bf_err *e, const char *step)
{
	cJSON_AddNumberToObject(o, "rc", rc);
	cJSON_AddStringToObject(o, "errno",
				rc < 0 && strerrorname_np(-rc)
					? strerrorname_np(-rc)
					: (rc < 0 ? "?" : "OK"));
	if (rc < 0 && e && e->msg[0])
		cJSON_AddStringToObject(o, "msg", e->msg);
	if (rc < 0 && step)
		cJSON_AddStringToObject(o, "step", step);
}

static void add_attr(cJSON *o, const struct bf_attr *a)
{
	cJSON_AddNumberToObject(o, "mode", a->st.st_mode);
	cJSON_AddNumberToObject(o, "size", (double)a->st.st_size);
	cJSON_AddNumberToObject(o, "nlink", (double)a->st.st_nlink);
	cJSON_AddNumberToObject(o, "uid", a->st.st_uid);
	cJSON_AddNumberToObject(o, "gid", a->st.st_gid);
	cJSON_AddNumberToObject(o, "ttl", a->ttl);
}

/* Walks path (relative to the root; "" and "/" are the root) one name at a
 * time. out is the caller's on success. */
static int walk(struct bf_ctx *c, const char *path, struct bf_node *out,
		struct bf_attr *a, struct bf_err *e)
{
	struct bf_node cur = {.kind = BF_K_ROOT};
	char *copy = strdup(path), *save = NULL, *name;
	int rc = 0;

	if (!copy)
		return bf_err_set(e, ENOMEM, "out of memory");
	memset(a, 0, sizeof(*a));
	for (name = strtok_r(copy, "/", &save); name;
	     name = strtok_r(NULL, "/", &save)) {
		struct bf_node next;

		rc = bf_model_lookup(c, &cur, name, &next, a, e);
		bf_node_clear(&cur);
		if (rc) {
			memset(&cur, 0, sizeof(cur));
			break;
		}
		cur = next;
	}
	free(copy);
	if (rc)
		return rc;
	*out = cur;
	return 0;
}

/* The parent of path, walked, and its last name (a pointer into path). */
static int walk_parent(struct bf_ctx *c, char *path, struct bf_node *parent,
		       const char **name, struct bf_err *e)
{
	struct bf_attr a;
	char *slash;
	size_t n = strlen(path);
	int rc;

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	slash = strrchr(path, '/');
	if (!slash) {
		*name = path;
		return walk(c, "", parent, &a, e);
	}
	*slash = '\0';
	*name = slash + 1;
	rc = walk(c, path, parent, &a, e);
	*slash = '/';
	return rc;
}

static void cmd_lookup(struct bf_ctx *c, char *path, int getattr, cJSON *o)
{
	struct bf_node n;
	struct bf_attr a;
	struct bf_err e;
	int rc;

	bf_err_clear(&e);
	rc = walk(c, path, &n, &a, &e);
	if (rc == 0 && getattr)
		rc = bf_model_getattr(c, &n, &a, &e);
	set_rc(o, rc, &e, NULL);
	if (rc == 0) {
		cJSON_AddStringToObject(o, "kind", kind_name(n.kind));
		add_attr(o, &a);
		bf_node_clear(&n);
	}
}

static void cmd_readdir(struct bf_ctx *c, char *path, cJSON *o)
{
	struct bf_node n;
	struct bf_attr a;
	struct bf_dir *d = NULL;
	struct bf_err e;
	int rc;

	bf_err_clear(&e);
	rc = walk(c, path, &n, &a, &e);
	if (rc == 0) {
		rc = bf_model_opendir(c, &n, &d, &e);
		bf_node_clear(&n);
	}
	set_rc(o, rc, &e, NULL);
	if (rc == 0) {
		cJSON *names = cJSON_AddArrayToObject(o, "names");
		cJSON *ents = cJSON_AddObjectToObject(o, "entries");

		for (size_t i = 0; i < d->n; i++) {
			cJSON *x = cJSON_CreateObject();

			cJSON_AddItemToArray(names,
					     cJSON_CreateString(d->v[i].name));
			cJSON_AddStringToObject(x, "kind",
						kind_name(d->v[i].node.kind));
			cJSON_AddNumberToObject(x, "mode",
						d->v[i].attr.st.st_mode);
			cJSON_AddNumberToObject(
				x, "size", (double)d->v[i].attr.st.st_size);
			cJSON_AddItemToObject(ents, d->v[i].name, x);
		}
		bf_dir_free(d);
	}
}

/* A parked read of `wait`: its reply comes from the poll thread. */
struct parked {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, rc;
	char *data;
	size_t len;
};

static void parked_reply(void *ud, int rc, const char *data, size_t len)
{
	struct parked *p = ud;

	pthread_mutex_lock(&p->lock);
	p->rc = rc;
	if (rc >= 0 && len) {
		p->data = malloc(len);
		if (p->data)
			memcpy(p->data, data, len);
		else
			p->rc = -ENOMEM;
	}
	p->len = p->data ? len : 0;
	p->done = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* One READ as the FUSE glue answers it (fuse/ops.c op_read): a `wait`
 * not yet waited is parked; everything else is read at once. */
static ssize_t one_read(struct bf_ctx *c, struct bf_fh *fh, char *buf,
			size_t len, uint64_t off, struct bf_err *e)
{
	struct parked p = {.lock = PTHREAD_MUTEX_INITIALIZER,
			   .cond = PTHREAD_COND_INITIALIZER};
	int64_t id = bf_wait_park(c, fh, len, off, parked_reply, &p);
	ssize_t n;

	if (id == -EINVAL)
		return bf_fh_read(c, fh, buf, len, off, e);
	if (id < 0)
		return bf_err_set(e, (int)-id, "cannot park the read of wait");
	bf_wait_arm(c, id);
	pthread_mutex_lock(&p.lock);
	while (!p.done)
		pthread_cond_wait(&p.cond, &p.lock);
	pthread_mutex_unlock(&p.lock);
	if (p.rc < 0) {
		n = bf_err_set(e, -p.rc, "parked read of wait failed");
	} else {
		n = (ssize_t)(p.len < len ? p.len : len);
		if (n)
			memcpy(buf, p.data, (size_t)n);
	}
	free(p.data);
	return n;
}

static void add_b64(cJSON *o, const char *data, size_t len)
{
	char *b = malloc(4 * ((len + 2) / 3) + 1);

	if (!b)
		return;
	EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)data,
			(int)len);
	cJSON_AddStringToObject(o, "data", b);
	free(b);
}

static void cmd_read(struct bf_ctx *c, char *path, const char *offs,
		     const char *lens, cJSON *o)
{
	uint64_t off = offs ? strtoull(offs, NULL, 10) : 0;
	size_t want = lens ? strtoull(lens, NULL, 10) : (size_t)-1, got = 0;
	const char *step = "lookup";
	struct bf_fh *fh = NULL;
	struct bf_node n;
	struct bf_attr a;
	struct bf_err e;
	char *data = NULL;
	int rc;

	bf_err_clear(&e);
	rc = walk(c, path, &n, &a, &e);
	if (rc == 0) {
		step = "open";
		rc = bf_model_open(c, &n, O_RDONLY, getpid(), &fh, &e);
		bf_node_clear(&n);
	}
	while (rc == 0 && got < want) {
		size_t len = want - got < CHUNK ? want - got : CHUNK;
		char *nd = realloc(data, got + len);
		ssize_t r;

		step = "read";
		if (!nd) {
			rc = bf_err_set(&e, ENOMEM, "out of memory");
			break;
		}
		data = nd;
		r = one_read(c, fh, data + got, len, off + got, &e);
		if (r < 0)
			rc = (int)r;
		else if (r == 0)
			break;
		else
			got += (size_t)r;
	}
	if (fh)
		bf_fh_release(c, fh);
	set_rc(o, rc, &e, step);
	if (rc == 0) {
		cJSON_AddNumberToObject(o, "len", (double)got);
		add_b64(o, data ? data : "", got);
	}
	free(data);
}

static void cmd_write(struct bf_ctx *c, char *path, const char *data,
		      size_t len, cJSON *o)
{
	const char *name, *step = "lookup";
	struct bf_node parent, n;
	struct bf_fh *fh = NULL;
	struct bf_attr a;
	struct bf_err e;
	size_t done = 0;
	int rc;

	bf_err_clear(&e);
	rc = walk_parent(c, path, &parent, &name, &e);
	if (rc == 0) {
		/* The kernel looks the name up first; O_CREAT only makes a
		 * file that is not there. */
		rc = bf_model_lookup(c, &parent, name, &n, &a, &e);
		step = "open";
		if (rc == 0) {
			rc = bf_model_open(c, &n, O_WRONLY | O_TRUNC, getpid(),
					   &fh, &e);
			bf_node_clear(&n);
		} else if (rc == -ENOENT) {
			bf_err_clear(&e);
			rc = bf_model_create(c, &parent, name,
					     O_WRONLY | O_CREAT | O_TRUNC,
					     getpid(), &n, &a, &fh, &e);
			if (rc == 0) {
				bf_model_created(c, &n, 0644, &a);
				bf_node_clear(&n);
			}
		}
		bf_node_clear(&parent);
	}
	while (rc == 0 && done < len) {
		size_t k = len - done < CHUNK ? len - done : CHUNK;
		ssize_t w;

		step = "write";
		w = bf_fh_write(c, fh, data + done, k, done, &e);
		if (w < 0)
			rc = (int)w;
		else if (w == 0)
			rc = bf_err_set(&e, EIO, "write wrote nothing");
		else
			done += (size_t)w;
	}
	if (fh) {
		/* close(2): its FLUSH submits, and gives the result. */
		struct bf_err fe;
		int frc;

		bf_err_clear(&fe);
		frc = bf_fh_flush(c, fh, getpid(), &fe);
		if (rc == 0 && frc) {
			rc = frc;
			step = "close";
			e = fe;
		}
		bf_fh_release(c, fh);
	}
	set_rc(o, rc, &e, step);
	cJSON_AddNumberToObject(o, "written", (double)done);
}

static void cmd_entry(struct bf_ctx *c, const char *op, char *path, char *path2,
		      cJSON *o)
{
	const char *name, *name2;
	struct bf_node parent, parent2, n;
	struct bf_attr a;
	struct bf_err e;
	int rc;

	bf_err_clear(&e);
	rc = walk_parent(c, path, &parent, &name, &e);
	if (rc) {
		set_rc(o, rc, &e, "lookup");
		return;
	}
	if (!strcmp(op, "mkdir")) {
		rc = bf_model_mkdir(c, &parent, name, &n, &a, &e);
		if (rc == 0) {
			cJSON_AddStringToObject(o, "kind", kind_name(n.kind));
			add_attr(o, &a);
			bf_node_clear(&n);
		}
	} else if (!strcmp(op, "rmdir")) {
		rc = bf_model_rmdir(c, &parent, name, &e);
	} else if (!strcmp(op, "unlink")) {
		rc = bf_model_unlink(c, &parent, name, &e);
	} else {
		rc = walk_parent(c, path2, &parent2, &name2, &e);
		if (rc == 0) {
			rc = bf_model_rename(c, &parent, name, &parent2, name2,
					     0, &e);
			bf_node_clear(&parent2);
		}
	}
	bf_node_clear(&parent);
	set_rc(o, rc, &e, op);
}

static void cmd_readlink(struct bf_ctx *c, char *path, cJSON *o)
{
	struct bf_node n;
	struct bf_attr a;
	struct bf_err e;
	char *target = NULL;
	int rc;

	bf_err_clear(&e);
	rc = walk(c, path, &n, &a, &e);
	if (rc == 0) {
		rc = bf_model_readlink(c, &n, &target, &e);
		bf_node_clear(&n);
	}
	set_rc(o, rc, &e, NULL);
	if (rc == 0)
		cJSON_AddStringToObject(o, "target", target);
	free(target);
}

/* One command; 1 when it was quit. */
static int run(struct bf_ctx *c, char *line)
{
	char *w[MAX_WORDS + 1] = {0}, *save = NULL, *out;
	size_t wl[MAX_WORDS + 1] = {0}, nw = 0;
	cJSON *o;
	int64_t t0;

	line[strcspn(line, "\r\n")] = '\0';
	for (char *t = strtok_r(line, " ", &save); t && nw <= MAX_WORDS;
	     t = strtok_r(NULL, " ", &save)) {
		wl[nw] = pct_decode(t);
		w[nw++] = t;
	}
	if (nw == 0)
		return 0;
	if (!strcmp(w[0], "quit"))
		return 1;
	o = cJSON_CreateObject();
	t0 = bf_now_ms();
	cJSON_AddStringToObject(o, "cmd", w[0]);
	if (nw < 2 || nw > MAX_WORDS) {
		set_rc(o, -EINVAL, NULL, NULL);
		cJSON_AddStringToObject(o, "msg", "usage: see model_cli.c");
	} else if (!strcmp(w[0], "lookup") || !strcmp(w[0], "getattr")) {
		begin(1);
		cmd_lookup(c, w[1], w[0][0] == 'g', o);
	} else if (!strcmp(w[0], "readdir")) {
		begin(1);
		cmd_readdir(c, w[1], o);
	} else if (!strcmp(w[0], "read")) {
		begin(1);
		cmd_read(c, w[1], w[2], nw > 3 ? w[3] : NULL, o);
	} else if (!strcmp(w[0], "readlink")) {
		begin(1);
		cmd_readlink(c, w[1], o);
	} else if (!strcmp(w[0], "write") && nw <= 3) {
		begin(0);
		cmd_write(c, w[1], nw > 2 ? w[2] : "", wl[2], o);
	} else if (!strcmp(w[0], "mkdir") && nw == 2) {
		begin(1);
		cmd_entry(c, w[0], w[1], NULL, o);
	} else if ((!strcmp(w[0], "rmdir") || !strcmp(w[0], "unlink")) &&
		   nw == 2) {
		begin(0);
		cmd_entry(c, w[0], w[1], NULL, o);
	} else if (!strcmp(w[0], "rename") && nw == 3) {
		begin(0);
		cmd_entry(c, w[0], w[1], w[2], o);
	} else {
		set_rc(o, -EINVAL, NULL, NULL);
		cJSON_AddStringToObject(o, "msg", "unknown command or words");
	}
	end();
	cJSON_AddNumberToObject(o, "ms", (double)(bf_now_ms() - t0));
	out = cJSON_PrintUnformatted(o);
	if (out) {
		fputs(out, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(out);
	}
	cJSON_Delete(o);
	return 0;
}

static int opt_double(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return *s && !*end ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct bf_model_opts mo;
	struct bf_ctx *c = NULL;
	struct bf_err e;
	char *line = NULL;
	size_t cap = 0;
	int verbose = 0, rc = 1;
	double page = 0, rpm = 0, maxreq = 0;

	signal(SIGPIPE, SIG_IGN);
	bf_model_opts_default(&mo);
	/* Tests wait on the emulator, not on caches: every access sees the
	 * service's state now, and no budget stands in for a refresh. */
	mo.refresh = 0;
	mo.list_ttl = 0;
	mo.vertex_rpm = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;

		if (!strcmp(a, "--verbose")) {
			verbose = 1;
			continue;
		}
		if (!strcmp(a, "--no-auth")) {
			mo.no_auth = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "model_cli: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--endpoint")) {
			mo.endpoint = v;
			if (!mo.storage_endpoint)
				mo.storage_endpoint = v;
		} else if (!strcmp(a, "--storage-endpoint")) {
			mo.storage_endpoint = v;
		} else if (!strcmp(a, "--project")) {
			mo.project = v;
		} else if (!strcmp(a, "--location")) {
			mo.location = v;
		} else if (!strcmp(a, "--credentials")) {
			mo.credentials = v;
		} else if (!strcmp(a, "--token-file")) {
			mo.token_file = v;
		} else if (!strcmp(a, "--cafile")) {
			mo.cafile = v;
			mo.cafile_from = "--cafile";
		} else if (!strcmp(a, "--state-dir")) {
			mo.state_dir = v;
		} else if (!strcmp(a, "--staging")) {
			mo.staging = v;
		} else if (!strcmp(a, "--model")) {
			mo.model = v;
		} else if (!strcmp(a, "--dest")) {
			mo.dest = v;
		} else if (!strcmp(a, "--refresh")) {
			bad = opt_double(v, &mo.refresh);
		} else if (!strcmp(a, "--list-ttl")) {
			bad = opt_double(v, &mo.list_ttl);
		} else if (!strcmp(a, "--deadline")) {
			bad = opt_double(v, &mo.deadline);
		} else if (!strcmp(a, "--vertex-rpm")) {
			bad = opt_double(v, &rpm);
			mo.vertex_rpm = rpm;
		} else if (!strcmp(a, "--max-request")) {
			bad = opt_double(v, &maxreq) || maxreq < 1;
			mo.max_request = (size_t)maxreq;
		} else if (!strcmp(a, "--results-cache")) {
			bad = opt_double(v, &page) || page < 0;
			mo.results_cache = (size_t)page;
		} else if (!strcmp(a, "--page-size")) {
			bad = opt_double(v, &page) || page < 0;
			mo.page_size = (int)page;
		} else {
			fprintf(stderr, "model_cli: unknown option %s\n", a);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "model_cli: bad value for %s: %s\n", a,
				v);
			return 2;
		}
	}
	deadline_s = mo.deadline;
	bf_log_init(1, verbose ? BF_LOG_DEBUG : BF_LOG_WARN);
	bf_err_clear(&e);
	if (bf_ctx_new(&mo, &c, &e) != 0) {
		fprintf(stderr, "model_cli: cannot set up: %s\n", e.msg);
		goto out;
	}
	/* The line the wrapper waits for: set up, commands may come. */
	fputs("{\"ready\":true}\n", stdout);
	fflush(stdout);
	while (getline(&line, &cap, stdin) > 0)
		if (run(c, line))
			break;
	rc = 0;
out:
	if (c) {
		bf_ctx_shutdown(c);
		bf_waitq_stop(c);
		bf_ctx_free(c);
	}
	free(line);
	bf_log_close();
	return rc;
}
