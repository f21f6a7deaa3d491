/* ctl.c - a job's ctl file: each write is one command (cancel, refresh);
 * why the last command (or rmdir) failed is kept for `error`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/log.h"
#include "model/model_int.h"

void bf_ctl_note(struct bf_mjob *j, const char *op, int rc,
		 const struct bf_err *e)
{
	char line[700], *s = NULL;

	if (rc) {
		bf_err_format(e, line, sizeof(line));
		if (asprintf(&s, "%s failed: %s%s%s\n", op, strerror(-rc),
			     line[0] ? ": " : "", line) < 0)
			s = NULL;
	}
	pthread_mutex_lock(&j->lock);
	if (!j->draft) {
		free(j->submit_err);
		j->submit_err = s;
		s = NULL;
	}
	pthread_mutex_unlock(&j->lock);
	free(s);
}

int bf_ctl_render(struct bf_ctx *c, struct bf_mjob *j, struct bf_buf *b,
		  struct bf_err *e)
{
	(void)c;
	(void)j;
	(void)b;
	(void)e;
	return 0; /* reads as empty */
}

int bf_ctl_open(struct bf_ctx *c, struct bf_fh *fh, int flags, struct bf_err *e)
{
	(void)c;
	(void)flags;
	(void)e;
	fh->flags = BF_FH_DIRECT_IO | (fh->writer ? 0 : BF_FH_NOFLUSH);
	return 0;
}

int bf_ctl_truncate(struct bf_ctx *c, const struct bf_node *n, uint64_t size,
		    struct bf_err *e)
{
	(void)c;
	(void)n;
	(void)size;
	(void)e;
	return 0; /* "echo cancel > ctl" truncates first */
}

ssize_t bf_ctl_write(struct bf_ctx *c, struct bf_fh *fh, const char *buf,
		     size_t len, uint64_t off, struct bf_err *e)
{
	struct bf_mjob *j = fh->node.job;
	char cmd[32], id[24];
	size_t a = 0, b = len;
	int rc;

	(void)off;
	while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\n' ||
			 buf[a] == '\r'))
		a++;
	while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' ||
			 buf[b - 1] == '\n' || buf[b - 1] == '\r'))
		b--;
	if (b - a >= sizeof(cmd))
		return bf_err_set(e, EINVAL,
				  "unknown ctl command (use "
				  "\"cancel\" or \"refresh\")");
	memcpy(cmd, buf + a, b - a);
	cmd[b - a] = '\0';
	pthread_mutex_lock(&j->lock);
	snprintf(id, sizeof(id), "%s", j->id);
	pthread_mutex_unlock(&j->lock);
	if (strcmp(cmd, "cancel") == 0) {
		rc = bf_vertex_cancel(c->vx, id, e);
		if (rc == 0) {
			struct bf_err ign;

			bf_err_clear(&ign);
			bf_mjob_fresh(c, j, 1, &ign);
		}
	} else if (strcmp(cmd, "refresh") == 0) {
		rc = bf_mjob_fresh(c, j, 1, e);
		bf_outdir_expire(j);
		bf_jobs_invalidate(c);
	} else {
		rc = bf_err_set(e, EINVAL,
				"unknown ctl command \"%s\" (use "
				"\"cancel\" or \"refresh\")",
				cmd);
	}
	/* The errno alone says little ("Device or resource busy"): the
	 * reason stays in `error` until the next ctl command succeeds. */
	bf_ctl_note(j, cmd, rc, e);
	return rc ? rc : (ssize_t)len;
}
