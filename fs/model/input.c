/* input.c - a draft's input.jsonl (-o staging=gs://BUCKET/PREFIX): kept
 * in an unlinked temporary file while it is written, checked line by line
 * and keyed when the writer closes it, then uploaded to
 * PREFIX/NAME/input.jsonl; and request.json's short form and defaults
 * that point at the staged copy. */
#include "model/input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "batchfs/gcs.h"
#include "batchfs/log.h"
#include "batchfs/results.h"
#include "model/clock.h"
#include "model/ctx.h"
#include "model/draft.h"
#include "model/jobs.h"

#define NO_STAGING                                                            \
	"input.jsonl needs a staging area: mount with "                       \
	"-o staging=gs://BUCKET/PREFIX (or give request.json a gs:// "        \
	"source)"

void bf_input_free(struct bf_input *in)
{
	if (in->fd >= 0)
		close(in->fd);
	free(in->uri);
	memset(in, 0, sizeof(*in));
	in->fd = -1;
}

static void set_error(struct bf_mjob *j, const char *fmt, const char *msg)
{
	char line[700], *s;

	snprintf(line, sizeof(line), "%s", msg);
	bf_redact(line);
	if (asprintf(&s, fmt, line) < 0)
		s = NULL;
	pthread_mutex_lock(&j->lock);
	free(j->submit_err);
	j->submit_err = s;
	pthread_mutex_unlock(&j->lock);
}

/* create or open for writing (j->lock held). */
int bf_input_open_write(struct bf_ctx *c, struct bf_mjob *j, int trunc,
			struct bf_err *e)
{
	struct bf_input *in = &j->d->in;

	if (!c->o.staging) {
		free(j->submit_err);
		j->submit_err = strdup(NO_STAGING "\n");
		return bf_err_set(e, EPERM, NO_STAGING);
	}
	if (in->fd < 0) {
		in->fd = bf_spool_open(NULL, e);
		if (in->fd < 0)
			return in->fd;
		in->len = 0;
	}
	if (trunc) {
		if (in->len && ftruncate(in->fd, 0) != 0)
			return bf_err_set(e, errno, "input.jsonl: %m");
		in->len = 0;
		in->staged = 0;
		in->gen++;
	}
	in->present = 1;
	in->mtime_us = bf_clock_wall_us();
	return 0;
}

ssize_t bf_input_read(struct bf_mjob *j, char *buf, size_t len, uint64_t off,
		      struct bf_err *e)
{
	struct bf_input *in;
	ssize_t n = 0;

	pthread_mutex_lock(&j->lock);
	in = j->d ? &j->d->in : NULL;
	if (in && in->fd >= 0 && off < in->len) {
		if (len > in->len - off)
			len = (size_t)(in->len - off);
		n = pread(in->fd, buf, len, (off_t)off);
		if (n < 0)
			n = bf_err_set(e, errno, "input.jsonl: %m");
	}
	pthread_mutex_unlock(&j->lock);
	return n;
}

ssize_t bf_input_write(struct bf_mjob *j, const char *buf, size_t len,
		       uint64_t off, struct bf_err *e)
{
	struct bf_input *in;
	ssize_t n = 0;

	pthread_mutex_lock(&j->lock);
	in = j->d && j->draft ? &j->d->in : NULL;
	if (!in || in->fd < 0) {
		n = bf_err_set(e, EACCES, "the draft was submitted");
	} else if (off + len > BF_JSONL_MAX_BYTES) {
		n = bf_err_set(e, EFBIG, "input.jsonl: larger than %llu bytes",
			       (unsigned long long)BF_JSONL_MAX_BYTES);
	} else {
		size_t done = 0;

		while (done < len) {
			ssize_t k = pwrite(in->fd, buf + done, len - done,
					   (off_t)(off + done));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				n = bf_err_set(e, errno, "input.jsonl: %m");
				break;
			}
			done += (size_t)k;
		}
		if (done == len) {
			n = (ssize_t)len;
			if (off + len > in->len)
				in->len = off + len;
			in->staged = 0;
			in->mtime_us = bf_clock_wall_us();
			in->gen++;
		}
	}
	pthread_mutex_unlock(&j->lock);
	return n;
}

/* j->lock held */
int bf_input_truncate(struct bf_mjob *j, uint64_t size, struct bf_err *e)
{
	struct bf_input *in = j->d ? &j->d->in : NULL;

	if (!in || in->fd < 0 || !j->draft)
		return bf_err_set(e, EACCES, "the draft was submitted");
	if (size > BF_JSONL_MAX_BYTES)
		return bf_err_set(e, EFBIG, "input.jsonl too large");
	if (ftruncate(in->fd, (off_t)size) != 0)
		return bf_err_set(e, errno, "input.jsonl: %m");
	in->len = size;
	in->staged = 0;
	in->gen++;
	in->mtime_us = bf_clock_wall_us();
	return 0;
}

/* j->lock held */
void bf_input_unlink(struct bf_mjob *j)
{
	bf_input_free(&j->d->in);
}

struct fdsrc {
	int fd;
	uint64_t off, end;
};

static ssize_t fdsrc_read(void *ud, char *buf, size_t len, struct bf_err *e)
{
	struct fdsrc *s = ud;
	ssize_t n;

	if (s->off >= s->end)
		return 0;
	if (len > s->end - s->off)
		len = (size_t)(s->end - s->off);
	do {
		n = pread(s->fd, buf, len, (off_t)s->off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return bf_err_set(e, errno, "input.jsonl: %m");
	if (n == 0)
		return bf_err_set(e, EIO, "input.jsonl shrank while read");
	s->off += (uint64_t)n;
	return n;
}

/* Checks, keys and uploads the draft's input.jsonl: the close of its
 * writer. Serialised with submits of the draft. */
int bf_input_stage(struct bf_ctx *c, struct bf_mjob *j, struct bf_err *e)
{
	struct bf_jsonl_stats st = { 0 };
	struct bf_jsonl_opts o = { 0 };
	struct bf_draft *d = j->d;
	struct fdsrc src = { .fd = -1 };
	char *name = NULL, *bucket = NULL, *prefix = NULL, *obj = NULL;
	char *fname = NULL;
	uint64_t gen;
	int out = -1, rc;

	pthread_mutex_lock(&d->submit_lock);
	pthread_mutex_lock(&j->lock);
	if (!j->draft || d->in.fd < 0) {
		pthread_mutex_unlock(&j->lock);
		pthread_mutex_unlock(&d->submit_lock);
		return 0;
	}
	src.fd = dup(d->in.fd);
	src.end = d->in.len;
	gen = d->in.gen;
	fname = d->inbox ? strdup(d->inbox) : NULL;
	pthread_mutex_unlock(&j->lock);
	o.name = fname; /* messages name the inbox file it came from */
	if (src.fd < 0) {
		rc = bf_err_set(e, errno, "input.jsonl: %m");
		goto out;
	}
	name = bf_mjob_name(c, j);
	if (!name) {
		rc = bf_err_set(e, ENOENT, "the draft was removed");
		goto out;
	}
	out = bf_spool_open(NULL, e);
	if (out < 0) {
		rc = out;
		goto out;
	}
	rc = bf_jsonl_normalize(fdsrc_read, &src, out, &o, &st, e);
	if (rc == -EINVAL && st.wants_number_keys) {
		/* Lines without a key came before the user's number keys:
		 * key them with numbers from the start, so the importer sees
		 * one type. */
		o.number_keys = 1;
		src.off = 0;
		if (ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) < 0) {
			rc = bf_err_set(e, errno, "input.jsonl: %m");
			goto out;
		}
		bf_err_clear(e);
		rc = bf_jsonl_normalize(fdsrc_read, &src, out, &o, &st, e);
	}
	if (rc)
		goto out;
	rc = bf_staging_parse(c->o.staging, &bucket, &prefix, e);
	if (rc)
		goto out;
	obj = bf_staging_object(prefix, name, "input.jsonl");
	if (!obj) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	rc = bf_gcs_upload(c->gcs, bucket, obj, "application/jsonl", NULL, out,
			   st.bytes_out, -1, NULL, e);
	if (rc)
		goto out;
	bf_log_info("jobs/%s: staged %llu requests (%llu keys added) as "
		    "gs://%s/%s", name, (unsigned long long)st.lines,
		    (unsigned long long)st.assigned, bucket, obj);
	pthread_mutex_lock(&j->lock);
	if (d->in.gen == gen && d->in.fd >= 0) {
		/* What was uploaded is what the draft now shows: the keyed
		 * lines. */
		close(d->in.fd);
		d->in.fd = out;
		out = -1;
		d->in.len = st.bytes_out;
		d->in.staged = 1;
		d->in.gen++;
		free(d->in.uri);
		if (asprintf(&d->in.uri, "gs://%s/%s", bucket, obj) < 0)
			d->in.uri = NULL;
		free(j->submit_err);
		j->submit_err = NULL;
	}
	pthread_mutex_unlock(&j->lock);
out:
	if (rc) {
		char line[600];

		if (rc == -EINVAL || rc == -EFBIG)
			snprintf(line, sizeof(line), "%s", e ? e->msg : "");
		else
			bf_err_format(e, line, sizeof(line));
		set_error(j, "input.jsonl not staged: %s\n", line);
	}
	if (out >= 0)
		close(out);
	if (src.fd >= 0)
		close(src.fd);
	free(obj);
	free(bucket);
	free(prefix);
	free(name);
	free(fname);
	pthread_mutex_unlock(&d->submit_lock);
	return rc;
}

/* request.json text -> the text bf_validate_request checks: the short form
 * expanded and the staged defaults filled in. Text that is not JSON is
 * passed on unchanged, so the validator reports it with line and column.
 * Called with the draft's submit lock held. */
int bf_input_expand_request(struct bf_ctx *c, struct bf_mjob *j,
			    const char *name, const char *text, size_t len,
			    char **out, size_t *outlen, struct bf_err *e)
{
	struct bf_request_defaults d = { .staging = c->o.staging,
					 .name = name };
	const char *end = NULL;
	cJSON *probe = memchr(text, '\0', len)
			       ? NULL
			       : cJSON_ParseWithLengthOpts(text, len, &end, 0);
	int rc;

	*out = NULL;
	/* cJSON skips NUL bytes and ignores trailing text: anything it
	 * would forgive goes to the validator unchanged, which refuses it. */
	while (probe && end && end < text + len && strchr(" \t\r\n", *end))
		end++;
	if (!probe || !cJSON_IsObject(probe) || !end || end != text + len) {
		cJSON_Delete(probe);
		*out = strndup(text, len);
		*outlen = len;
		return *out ? 0 : bf_err_set(e, ENOMEM, "out of memory");
	}
	cJSON_Delete(probe);
	pthread_mutex_lock(&j->lock);
	d.input_staged = j->d && j->d->in.staged;
	pthread_mutex_unlock(&j->lock);
	rc = bf_request_expand(text, len, &d, out, e);
	if (rc == 0)
		*outlen = strlen(*out);
	pthread_mutex_lock(&j->lock);
	if (rc == -EINVAL && c->o.staging && j->d && j->d->in.present &&
	    !j->d->in.staged && !j->d->in.len && e &&
	    strstr(e->msg, "\"inputConfig\""))
		rc = bf_err_set(e, EINVAL, "missing field \"inputConfig\": "
				"input.jsonl is empty");
	else if (rc == -EINVAL && c->o.staging && j->d && j->d->in.present &&
	    !j->d->in.staged && e && strstr(e->msg, "\"inputConfig\""))
		rc = bf_err_set(e, EINVAL, "missing field \"inputConfig\": "
				"input.jsonl was written but is not staged "
				"(it was rejected, or is still open); write "
				"it again and check error");
	pthread_mutex_unlock(&j->lock);
	return rc;
}
