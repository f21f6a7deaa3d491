/* gcs_cli.c - integration driver for fs/gcs, used by tests/core/test_gcs.py
 * and scripts/bench-range (not a meson test).
 *
 *   gcs_cli [--endpoint URL] [--threshold N] [--chunk N] [--page-size N]
 *           [--pool BYTES] [--window BYTES] [--gen G] [--bs N] [--stats]
 *           [--attempts N] [--budget-ms N] [--readv] [--pipe]
 *     (--readv: cat and pread go through bf_reader_readv, writing the
 *     pinned pieces it describes, as the FUSE glue replies with them;
 *     --pipe: cat, pcat and pread first try bf_reader_pipe with the splice
 *     path on, draining the pipe as libfuse would, else read as usual)
 *     list B PREFIX [DELIM]   one JSON line per item / prefix
 *     stat B NAME             the object as JSON
 *     read B NAME OFF LEN     raw bytes to stdout (one bf_gcs_read)
 *     cat B NAME              whole object through bf_reader to stdout
 *     pread B NAME SPEC...    reads through one bf_reader, SPEC = OFF:LEN;
 *                             raw bytes of each to stdout, in order. SPEC
 *                             "sleep:MS" pauses; "update" stats the object
 *                             and calls bf_reader_update with its new
 *                             generation and size
 *     pcat B NAME THREADS     whole object through one bf_reader read by
 *                             THREADS threads at once (chunks of --bs taken
 *                             in order, like FUSE workers), then to stdout
 *     mcat B NAME N           N readers of the object at once, each its own
 *                             bf_reader of one pool, in threads; their N
 *                             copies to stdout, in order
 *     leaseclose B NAME       takes a 512 KiB pipe lease at 0, closes the
 *                             reader from another thread, drains the pipe
 *                             200 ms later and ends the lease; prints
 *                             {"close": "after"} when the close waited for
 *                             the lease, "before" when it did not
 *     upload B NAME FILE      upload from FILE (fd; from memory with --mem),
 *                             prints the object; --gen G = ifGenerationMatch
 *     rm B NAME
 * Errors: {"error": {"errno": N, "name": "...", "http": S, "msg": "..."}}
 * on stderr, exit 1. --stats prints reader pool stats as JSON to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "batchfs/gcs.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/reader.h"

static const char *errname(int err)
{
	switch (err) {
	case ENOENT:
		return "ENOENT";
	case EIO:
		return "EIO";
	case ESTALE:
		return "ESTALE";
	case EACCES:
		return "EACCES";
	case EINVAL:
		return "EINVAL";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	case EAGAIN:
		return "EAGAIN";
	case EEXIST:
		return "EEXIST";
	case ERANGE:
		return "ERANGE";
	case EINTR:
		return "EINTR";
	case ENOMEM:
		return "ENOMEM";
	case ECANCELED:
		return "ECANCELED";
	default:
		return "OTHER";
	}
}

static int fail(int rc, const struct bf_err *e)
{
	cJSON *j = cJSON_CreateObject(),
	      *o = cJSON_AddObjectToObject(j, "error");
	char *s;
	int err = rc < 0 ? -rc : rc;

	cJSON_AddNumberToObject(o, "errno", err);
	cJSON_AddStringToObject(o, "name", errname(err));
	cJSON_AddNumberToObject(o, "http", e ? (double)e->http_status : 0);
	cJSON_AddStringToObject(o, "msg", e ? e->msg : "");
	s = cJSON_PrintUnformatted(j);
	fprintf(stderr, "%s\n", s);
	free(s);
	cJSON_Delete(j);
	return 1;
}

static cJSON *obj_json(const struct bf_gcs_object *o)
{
	cJSON *j = cJSON_CreateObject();
	char num[32];

	cJSON_AddStringToObject(j, "name", o->name);
	snprintf(num, sizeof(num), "%" PRIu64, o->size);
	cJSON_AddStringToObject(j, "size", num);
	snprintf(num, sizeof(num), "%" PRId64, o->generation);
	cJSON_AddStringToObject(j, "generation", num);
	snprintf(num, sizeof(num), "%" PRId64, o->metageneration);
	cJSON_AddStringToObject(j, "metageneration", num);
	cJSON_AddNumberToObject(j, "updated_us", (double)o->updated_us);
	if (o->content_type)
		cJSON_AddStringToObject(j, "contentType", o->content_type);
	if (o->md5)
		cJSON_AddStringToObject(j, "md5Hash", o->md5);
	if (o->crc32c)
		cJSON_AddStringToObject(j, "crc32c", o->crc32c);
	return j;
}

static void print_json(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);

	printf("%s\n", s);
	free(s);
	cJSON_Delete(j);
}

static int on_item(void *ud, const struct bf_gcs_object *o)
{
	cJSON *j = cJSON_CreateObject();

	(void)ud;
	cJSON_AddItemToObject(j, "item", obj_json(o));
	print_json(j);
	return 0;
}

static int on_prefix(void *ud, const char *p)
{
	cJSON *j = cJSON_CreateObject();

	(void)ud;
	cJSON_AddStringToObject(j, "prefix", p);
	print_json(j);
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int use_readv, use_pipe;

/* The splice path: > 0 bytes drained from the pipe into buf, 0 when the
 * caller must read as usual, or -errno. */
static ssize_t pipe_in(struct bf_reader *r, char *buf, size_t len, uint64_t off,
		       struct bf_err *e)
{
	struct bf_rpipe t;
	ssize_t n;
	size_t got = 0;

	if (!use_pipe)
		return 0;
	n = bf_reader_pipe(r, off, len, &t, e);
	if (n <= 0)
		return n;
	while (got < (size_t)n) {
		ssize_t k = read(t.fd, buf + got, (size_t)n - got);

		if (k <= 0) {
			n = bf_err_set(e, EIO, "pipe held %zu of %zd bytes",
				       got, n);
			break;
		}
		got += (size_t)k;
	}
	bf_reader_pipe_done(&t);
	return n;
}

/* One reader read to stdout: copied into buf, or described by a vector
 * (--readv). Returns bytes read, or -errno. */
static ssize_t read_out(struct bf_reader *r, char *buf, size_t len,
			uint64_t off, struct bf_err *e)
{
	struct bf_rvec v;
	ssize_t n;
	size_t sum = 0;
	int rc = 0;

	n = pipe_in(r, buf, len, off, e);
	if (n > 0)
		rc = write_all(1, buf, (size_t)n);
	if (n != 0)
		return rc ? rc : n;
	if (!use_readv) {
		n = bf_reader_read(r, buf, len, off, e);
		if (n > 0)
			rc = write_all(1, buf, (size_t)n);
		return rc ? rc : n;
	}
	n = bf_reader_readv(r, buf, len, off, &v, e);
	for (int i = 0; n > 0 && i < v.n && !rc; i++) {
		rc = write_all(1, v.iov[i].iov_base, v.iov[i].iov_len);
		sum += v.iov[i].iov_len;
	}
	if (n > 0 && v.n == 0)
		rc = write_all(1, buf, (size_t)n);
	else if (n > 0 && sum != (size_t)n)
		rc = bf_err_set(e, EIO, "vector holds %zu bytes, read %zd", sum,
				n);
	bf_reader_unpin(&v);
	return rc ? rc : n;
}

struct pcat {
	struct bf_reader *r;
	char *out;
	uint64_t size;
	size_t bs;
	uint64_t next; /* __atomic: next chunk index */
	int rc;	       /* __atomic: first failure */
	struct bf_err e;
	pthread_mutex_t mu;
};

static void *pcat_thread(void *arg)
{
	struct pcat *c = arg;

	for (;;) {
		uint64_t i = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
		uint64_t off = i * c->bs;
		size_t want;
		struct bf_err e;
		ssize_t n;

		if (off >= c->size || __atomic_load_n(&c->rc, __ATOMIC_RELAXED))
			break;
		want = c->size - off < c->bs ? (size_t)(c->size - off) : c->bs;
		n = pipe_in(c->r, c->out + off, want, off, &e);
		if (n == 0)
			n = bf_reader_read(c->r, c->out + off, want, off, &e);
		if (n < 0 || (size_t)n != want) {
			pthread_mutex_lock(&c->mu);
			if (!c->rc) {
				c->rc = n < 0 ? (int)n : -EIO;
				c->e = e;
				if (n >= 0)
					bf_err_set(&c->e, EIO,
						   "short read at %" PRIu64,
						   off);
			}
			pthread_mutex_unlock(&c->mu);
			break;
		}
	}
	return NULL;
}

static int pcat(struct bf_reader *r, uint64_t size, size_t bs, int nthreads,
		struct bf_err *e)
{
	struct pcat c = {.r = r, .size = size, .bs = bs};
	pthread_t t[64];
	int rc;

	if (nthreads < 1 || nthreads > 64)
		return bf_err_set(e, EINVAL, "1..64 threads");
	c.out = malloc(size ? size : 1);
	if (!c.out)
		return bf_err_set(e, ENOMEM, "out of memory");
	pthread_mutex_init(&c.mu, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, pcat_thread, &c);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	rc = c.rc;
	if (rc)
		*e = c.e;
	else
		rc = write_all(1, c.out, size);
	pthread_mutex_destroy(&c.mu);
	free(c.out);
	return rc;
}

struct mcat {
	struct bf_reader *r;
	char *out;
	uint64_t size;
	size_t bs;
	int rc;
	struct bf_err e;
};

static void *mcat_thread(void *arg)
{
	struct mcat *c = arg;
	uint64_t off = 0;

	while (off < c->size) {
		size_t want =
			c->size - off < c->bs ? (size_t)(c->size - off) : c->bs;
		ssize_t n =
			bf_reader_read(c->r, c->out + off, want, off, &c->e);

		if (n <= 0) {
			c->rc = n < 0 ? (int)n
				      : bf_err_set(&c->e, EIO,
						   "early EOF at %" PRIu64,
						   off);
			break;
		}
		off += (uint64_t)n;
	}
	return NULL;
}

/* n readers of one object at once, each its own bf_reader of pool p (as
 * n processes reading n files of a mount); their copies to stdout in
 * order. */
static int mcat(struct bf_reader_pool *p, struct bf_gcs *g, const char *bucket,
		const char *name, int64_t gen, uint64_t size, size_t bs, int n,
		struct bf_err *e)
{
	struct mcat c[16];
	pthread_t t[16];
	int rc = 0;

	if (n < 1 || n > 16)
		return bf_err_set(e, EINVAL, "1..16 readers");
	for (int i = 0; i < n; i++) {
		c[i] = (struct mcat){.size = size, .bs = bs};
		c[i].r = bf_reader_open(p, g, bucket, name, gen, size);
		c[i].out = malloc(size ? size : 1);
	}
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, mcat_thread, &c[i]);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < n; i++) {
		if (!rc && c[i].rc) {
			rc = c[i].rc;
			*e = c[i].e;
		}
		if (!rc)
			rc = write_all(1, c[i].out, size);
		bf_reader_close(c[i].r);
		free(c[i].out);
	}
	return rc;
}

struct closer {
	struct bf_reader *r;
	int lease_done; /* __atomic */
	int waited;
};

static void *closer_main(void *arg)
{
	struct closer *c = arg;

	bf_reader_close(c->r);
	c->waited = __atomic_load_n(&c->lease_done, __ATOMIC_ACQUIRE);
	return NULL;
}

/* The kernel may release a file while the read that replied from its
 * pipe is still in bf_reader_pipe_done: close must wait for it. */
static int lease_close(struct bf_gcs *g, const char *bucket, const char *name,
		       struct bf_err *e)
{
	struct bf_gcs_object o = {0};
	struct bf_reader_pool *p;
	struct closer c = {0};
	struct bf_rpipe t;
	pthread_t th;
	char *buf;
	ssize_t n;
	int rc = bf_gcs_stat(g, bucket, name, &o, e);

	if (rc)
		return rc;
	p = bf_reader_pool_new(8u << 20, 0);
	bf_reader_pool_set_splice(p, bf_reader_splice_probe());
	c.r = bf_reader_open(p, g, bucket, name, o.generation, o.size);
	bf_gcs_object_free(&o);
	buf = malloc(512u << 10);
	n = bf_reader_pipe(c.r, 0, 512u << 10, &t, e);
	if (n <= 0) {
		rc = n < 0 ? (int)n : bf_err_set(e, EIO, "no pipe lease");
		bf_reader_close(c.r);
		goto out;
	}
	pthread_create(&th, NULL, closer_main, &c);
	usleep(200000);
	if (read(t.fd, buf, (size_t)n) != n)
		rc = bf_err_set(e, EIO, "short pipe");
	else
		rc = write_all(1, buf, (size_t)n);
	__atomic_store_n(&c.lease_done, 1, __ATOMIC_RELEASE);
	bf_reader_pipe_done(&t);
	pthread_join(th, NULL);
	fprintf(stderr, "{\"close\": \"%s\"}\n", c.waited ? "after" : "before");
out:
	free(buf);
	bf_reader_pool_free(p);
	return rc;
}

static void print_stats(struct bf_reader_pool *p)
{
	struct bf_reader_stats s;

	bf_reader_pool_stats(p, &s);
	fprintf(stderr,
		"{\"stats\":{\"window_fetches\":%" PRIu64
		",\"prefetches\":%" PRIu64 ",\"direct_reads\":%" PRIu64
		",\"buffered_bytes\":%" PRIu64 ",\"budget_denied\":%" PRIu64
		",\"spliced_bytes\":%" PRIu64 ",\"loads_max\":%" PRIu64
		",\"splice_slow\":%" PRIu64 ",\"used_max\":%" PRIu64
		",\"pool_used\":%zu}}\n",
		s.window_fetches, s.prefetches, s.direct_reads,
		s.buffered_bytes, s.budget_denied, s.spliced_bytes, s.loads_max,
		s.splice_slow, s.used_max, bf_reader_pool_used(p));
}

int main(int argc, char **argv)
{
	struct bf_gcs_opts go = {0};
	struct bf_http_opts ho;
	struct bf_http *h;
	struct bf_gcs *g;
	struct bf_err e = {0};
	size_t pool_bytes = 64u << 20, window = 0, bs = 1u << 20;
	int64_t gen = -1;
	int stats = 0, mem = 0, i, rc = 0;
	const char *cmd;

	bf_log_init(1, getenv("GCS_CLI_DEBUG") ? BF_LOG_DEBUG : BF_LOG_WARN);
	bf_http_opts_default(&ho);
	go.endpoint = getenv("STORAGE_EMULATOR_HOST");
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--stats")) {
			stats = 1;
			continue;
		}
		if (!strcmp(a, "--mem")) {
			mem = 1;
			continue;
		}
		if (!strcmp(a, "--readv")) {
			use_readv = 1;
			continue;
		}
		if (!strcmp(a, "--pipe")) {
			use_pipe = 1;
			continue;
		}
		if (!v)
			return fail(-EINVAL, NULL);
		i++;
		if (!strcmp(a, "--endpoint"))
			go.endpoint = v;
		else if (!strcmp(a, "--threshold"))
			go.resumable_threshold = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--chunk"))
			go.chunk_size = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--page-size"))
			go.list_page_size = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--pool"))
			pool_bytes = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--window"))
			window = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--gen"))
			gen = strtoll(v, NULL, 0);
		else if (!strcmp(a, "--bs"))
			bs = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--attempts"))
			ho.max_attempts = atoi(v);
		else if (!strcmp(a, "--budget-ms"))
			ho.op_budget_ms = atol(v);
		else
			return fail(-EINVAL, NULL);
	}
	if (i + 2 > argc) {
		fprintf(stderr, "usage: gcs_cli [opts] "
				"list|stat|read|cat|pread|upload|rm B ...\n");
		return 2;
	}
	cmd = argv[i];
	const char *bucket = argv[i + 1];
	char **rest = argv + i + 2;
	int nrest = argc - i - 2;

	h = bf_http_new(&ho);
	g = h ? bf_gcs_new(&go, h) : NULL;
	if (!g)
		return fail(-ENOMEM, NULL);

	if (!strcmp(cmd, "list")) {
		rc = bf_gcs_list(g, bucket, nrest > 0 ? rest[0] : "",
				 nrest > 1 ? rest[1] : NULL, on_item, on_prefix,
				 NULL, &e);
	} else if (!strcmp(cmd, "stat") && nrest == 1) {
		struct bf_gcs_object o;

		rc = bf_gcs_stat(g, bucket, rest[0], &o, &e);
		if (rc == 0) {
			print_json(obj_json(&o));
			bf_gcs_object_free(&o);
		}
	} else if (!strcmp(cmd, "read") && nrest == 3) {
		uint64_t off = strtoull(rest[1], NULL, 0);
		size_t len = strtoull(rest[2], NULL, 0);
		char *buf = malloc(len ? len : 1);
		ssize_t n = bf_gcs_read(g, bucket, rest[0], gen > 0 ? gen : 0,
					off, buf, len, &e);

		if (n >= 0)
			rc = write_all(1, buf, (size_t)n);
		else
			rc = (int)n;
		free(buf);
	} else if ((!strcmp(cmd, "cat") && nrest == 1) ||
		   (!strcmp(cmd, "pcat") && nrest == 2) ||
		   (!strcmp(cmd, "mcat") && nrest == 2) ||
		   (!strcmp(cmd, "pread") && nrest >= 1)) {
		struct bf_gcs_object o = {0};
		struct bf_reader_pool *p;
		struct bf_reader *r;
		char *buf;

		/* Pin the generation we stat, as the daemon does. */
		rc = bf_gcs_stat(g, bucket, rest[0], &o, &e);
		if (rc)
			goto done;
		if (gen > 0)
			o.generation = gen;
		p = bf_reader_pool_new(pool_bytes, window);
		if (use_pipe)
			bf_reader_pool_set_splice(p, bf_reader_splice_probe());
		r = bf_reader_open(p, g, bucket, rest[0], o.generation, o.size);
		if (!strcmp(cmd, "cat")) {
			uint64_t off = 0;

			buf = malloc(bs);
			for (;;) {
				ssize_t n = read_out(r, buf, bs, off, &e);

				if (n < 0) {
					rc = (int)n;
					break;
				}
				if (n == 0)
					break;
				off += (uint64_t)n;
			}
			free(buf);
		} else if (!strcmp(cmd, "pcat")) {
			rc = pcat(r, o.size, bs, atoi(rest[1]), &e);
		} else if (!strcmp(cmd, "mcat")) {
			rc = mcat(p, g, bucket, rest[0], o.generation, o.size,
				  bs, atoi(rest[1]), &e);
		} else {
			for (int k = 1; k < nrest && !rc; k++) {
				if (!strncmp(rest[k], "sleep:", 6)) {
					usleep((useconds_t)atoi(rest[k] + 6) *
					       1000);
					continue;
				}
				if (!strcmp(rest[k], "update")) {
					struct bf_gcs_object o2;

					rc = bf_gcs_stat(g, bucket, rest[0],
							 &o2, &e);
					if (rc == 0) {
						bf_reader_update(r,
								 o2.generation,
								 o2.size);
						bf_gcs_object_free(&o2);
					}
					continue;
				}
				uint64_t off = strtoull(rest[k], NULL, 0);
				char *colon = strchr(rest[k], ':');
				size_t len =
					colon ? strtoull(colon + 1, NULL, 0)
					      : 0;
				ssize_t n;

				buf = malloc(len ? len : 1);
				n = read_out(r, buf, len, off, &e);
				if (n < 0)
					rc = (int)n;
				free(buf);
			}
		}
		bf_reader_close(r);
		if (stats)
			print_stats(p);
		bf_reader_pool_free(p);
		bf_gcs_object_free(&o);
	} else if (!strcmp(cmd, "leaseclose") && nrest == 1) {
		rc = lease_close(g, bucket, rest[0], &e);
	} else if (!strcmp(cmd, "upload") && nrest == 2) {
		struct bf_gcs_object o;
		struct stat st;
		int fd = open(rest[1], O_RDONLY);

		if (fd < 0 || fstat(fd, &st)) {
			rc = bf_err_set(&e, errno, "%s: %s", rest[1],
					strerror(errno));
		} else {
			char *data = NULL;

			if (mem) {
				data = malloc((size_t)st.st_size + 1);
				if (!data || pread(fd, data, (size_t)st.st_size,
						   0) != st.st_size) {
					free(data);
					data = NULL;
				}
			}
			if (mem && !data)
				rc = bf_err_set(&e, EIO, "cannot load %s",
						rest[1]);
			else
				rc = bf_gcs_upload(g, bucket, rest[0], NULL,
						   data, mem ? -1 : fd,
						   (uint64_t)st.st_size,
						   gen >= 0 ? gen : -1, &o, &e);
			free(data);
			if (rc == 0) {
				print_json(obj_json(&o));
				bf_gcs_object_free(&o);
			}
		}
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "rm") && nrest == 1) {
		rc = bf_gcs_delete(g, bucket, rest[0], &e);
	} else {
		fprintf(stderr, "gcs_cli: bad command\n");
		rc = -EINVAL;
		bf_err_set(&e, EINVAL, "bad command or arguments");
	}
done:
	bf_gcs_free(g);
	bf_http_free(h);
	fflush(stdout);
	if (rc)
		return fail(rc, &e);
	return 0;
}
