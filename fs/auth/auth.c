/* auth.c - the access-token cache behind bf_auth_token: refresh before
 * expiry, single flight, invalidation after a 401, explicit tokens.
 *
 * One thread refreshes while the others wait on a condition variable; the
 * mutex is never held across the network call, only the "refreshing" flag
 * is. Waiters share the outcome of the flight they waited for, so a dead
 * token endpoint costs one retry budget, not one per waiting thread. While a
 * refresh is under way, a token that has not actually expired yet is still
 * handed out. Tokens are wiped when replaced and never logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "batchfs/wait.h"
#include "auth/auth_int.h"

#define TOKEN_FILE_MAX (16 * 1024)
/* A waiter on another's refresh checks its cancel this often. */
#define WAIT_SLICE_MS 200
#define FAIL_HOLD_MS 5000	    /* credential rejected: do not hammer */
#define FAIL_HOLD_METADATA_MS 30000 /* nothing answered: probe again later */

int bf_auth_new(const struct bf_auth_opts *o, struct bf_http *http,
		struct bf_auth **out, struct bf_err *e)
{
	struct bf_auth *a;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!o)
		return bf_err_set(e, EINVAL, "no auth options");
	a = calloc(1, sizeof(*a));
	if (!a)
		return bf_err_set(e, ENOMEM, "out of memory");
	a->http = http;
	a->margin_s = o->refresh_margin_s > 0 ? o->refresh_margin_s : 225;
	pthread_mutex_init(&a->mu, NULL);
	/* Waits are bounded with a monotonic clock so they survive clock
	 * steps and can notice the caller's interruption. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cv, &ca);
	pthread_condattr_destroy(&ca);

	rc = bf_auth_load(a, o, e);
	if (rc < 0) {
		bf_auth_free(a);
		return rc;
	}
	bf_log_info("auth: using %s", a->describe);
	*out = a;
	return 0;
}

void bf_auth_free(struct bf_auth *a)
{
	if (!a)
		return;
	bf_auth_unload(a);
	free(a->found_project);
	bf_auth_free_secret(a->token);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

const char *bf_auth_describe(const struct bf_auth *a)
{
	return a ? a->describe : "no authentication";
}

const char *bf_auth_project(const struct bf_auth *a)
{
	return a ? a->project : NULL;
}

const char *bf_auth_quota_project(const struct bf_auth *a)
{
	return a ? a->quota_project : NULL;
}

static int copy_token(const char *tok, char *out, size_t n, struct bf_err *e)
{
	size_t len = strlen(tok);

	if (len + 1 > n)
		return bf_err_set(e, ERANGE,
				  "access token (%zu bytes) does not fit the "
				  "caller's %zu-byte buffer",
				  len, n);
	memcpy(out, tok, len + 1);
	return 0;
}

/* The token goes into an HTTP header: one word of printable ASCII, like
 * the token replies grant.c accepts. */
static int header_safe(const char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

static int same_file(const struct stat *x, const struct stat *y)
{
	return x->st_dev == y->st_dev && x->st_ino == y->st_ino &&
	       x->st_size == y->st_size &&
	       x->st_mtim.tv_sec == y->st_mtim.tv_sec &&
	       x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

/* Re-reads the token file when it changed (or was rejected); mu held. */
static int file_token_locked(struct bf_auth *a, struct bf_err *e)
{
	char buf[TOKEN_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	char *t;
	int fd, rc;

	if (stat(a->token_path, &st) < 0)
		return bf_err_set(e, EACCES,
				  "token file %s cannot be read: %s; write an "
				  "access token into it (e.g. gcloud auth "
				  "print-access-token)",
				  a->token_path, strerror(errno));
	if (a->token && !a->token_reread && same_file(&st, &a->token_st))
		return 0;
	fd = open(a->token_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bf_err_set(e, EACCES,
				  "token file %s cannot be read: %s; fix its "
				  "permissions",
				  a->token_path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	rc = errno;
	close(fd);
	if (n < 0)
		return bf_err_set(e, EACCES, "token file %s: read failed: %s",
				  a->token_path, strerror(rc));
	buf[n] = '\0';
	t = bf_auth_trim(buf);
	rc = 0;
	if (!*t || n == (ssize_t)sizeof(buf) - 1 || !header_safe(t)) {
		/* Possibly caught mid-write: the next call looks again. */
		rc = bf_err_set(e, EACCES,
				"token file %s does not hold one access token; "
				"write just the token into it",
				a->token_path);
	} else {
		bf_auth_free_secret(a->token);
		a->token = strdup(t);
		if (!a->token)
			rc = bf_err_set(e, ENOMEM, "out of memory");
		a->token_st = st;
		a->token_reread = 0;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int fixed_token(struct bf_auth *a, char *out, size_t n, struct bf_err *e)
{
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (a->src == BF_SRC_TOKEN_FILE)
		rc = file_token_locked(a, e);
	if (rc == 0)
		rc = copy_token(a->token, out, n, e);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* When to refresh: margin_s early, but never in the first half of the
 * token's life, so a short-lived token is not refreshed on every call. */
static void set_token_locked(struct bf_auth *a, char *tok, long life_s)
{
	int64_t now = bf_now_ms();
	long early = a->margin_s < life_s / 2 ? a->margin_s : life_s / 2;

	bf_auth_free_secret(a->token);
	a->token = tok;
	a->expires_at = now + (int64_t)life_s * 1000;
	a->refresh_at = now + (int64_t)(life_s - early) * 1000;
}

/* a->mu held; 0, or nonzero when the caller was cancelled. */
static int wait_tick(struct bf_auth *a)
{
	return bf_cond_wait_slice(&a->cv, &a->mu, CLOCK_MONOTONIC,
				  WAIT_SLICE_MS);
}

int bf_auth_token(struct bf_auth *a, char *out, size_t n, struct bf_err *e)
{
	struct bf_err ferr;
	unsigned long seq;
	char *tok;
	long life;
	int64_t now;
	int rc, force;

	if (!a || a->src == BF_SRC_NONE)
		return 1;
	if (a->src == BF_SRC_TOKEN_FILE || a->src == BF_SRC_TOKEN_ENV)
		return fixed_token(a, out, n, e);

	pthread_mutex_lock(&a->mu);
	for (;;) {
		now = bf_now_ms();
		if (a->token && now < a->refresh_at)
			goto give;
		if (a->refreshing) {
			if (a->token && now < a->expires_at)
				goto give;
			seq = a->flight_seq;
			while (a->refreshing && a->flight_seq == seq) {
				if (wait_tick(a)) {
					pthread_mutex_unlock(&a->mu);
					return bf_err_set(
						e, EINTR,
						"interrupted while "
						"waiting for a token");
				}
			}
			/* The flight we waited for failed: share its
			 * outcome, unless only its own caller was
			 * interrupted. */
			if (a->flight_rc < 0 && a->flight_rc != -EINTR)
				goto fail;
			continue;
		}
		/* A rotated key file is worth trying at once. */
		if (!a->token && now < a->fail_until &&
		    !bf_auth_cred_changed(a))
			goto fail;

		force = a->flight_rc == -EACCES || a->cred_refused;
		a->cred_refused = 0;
		a->refreshing = 1;
		pthread_mutex_unlock(&a->mu);
		/* A key rotated in place, or refused: read the file again. */
		bf_auth_reload(a, force);
		bf_err_clear(&ferr);
		tok = NULL;
		life = 0;
		rc = bf_auth_fetch(a, &tok, &life, &ferr);
		pthread_mutex_lock(&a->mu);
		a->refreshing = 0;
		a->flight_seq++;
		a->flight_rc = rc;
		a->flight_err = ferr;
		if (rc == 0) {
			set_token_locked(a, tok, life);
			a->fail_until = 0;
			bf_log_debug("auth: new access token from %s, valid "
				     "%lds",
				     a->describe, life);
		} else if (rc == -EACCES) {
			a->fail_until =
				bf_now_ms() + (a->src == BF_SRC_METADATA
						       ? FAIL_HOLD_METADATA_MS
						       : FAIL_HOLD_MS);
		}
		pthread_cond_broadcast(&a->cv);
		if (rc == 0)
			goto give;
		if (a->token && bf_now_ms() < a->expires_at) {
			/* Early refresh failed; the old token still works. */
			bf_log_warn("auth: refreshing the token from %s failed "
				    "(%s); using the current one until it "
				    "expires",
				    a->describe, ferr.msg);
			goto give;
		}
		goto fail;
	}
give:
	rc = copy_token(a->token, out, n, e);
	pthread_mutex_unlock(&a->mu);
	return rc;
fail:
	rc = a->flight_rc < 0 ? a->flight_rc : -EACCES;
	if (e)
		*e = a->flight_err;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

void bf_auth_invalidate(struct bf_auth *a, const char *token)
{
	if (!a || a->src == BF_SRC_NONE)
		return;
	pthread_mutex_lock(&a->mu);
	/* Another thread may already have replaced the rejected token;
	 * dropping the new one would cost a needless refresh. */
	if (a->token && (!token || strcmp(a->token, token) == 0)) {
		if (a->src == BF_SRC_TOKEN_FILE) {
			a->token_reread = 1;
		} else if (a->src != BF_SRC_TOKEN_ENV) {
			a->cred_refused = 1;
			bf_auth_free_secret(a->token);
			a->token = NULL;
			a->refresh_at = a->expires_at = 0;
		}
	}
	pthread_mutex_unlock(&a->mu);
}

static int ts_token(void *ud, char *out, size_t n, struct bf_err *e)
{
	return bf_auth_token(ud, out, n, e);
}

static void ts_invalidate(void *ud, const char *token)
{
	bf_auth_invalidate(ud, token);
}

static const char *ts_quota_project(void *ud)
{
	return bf_auth_quota_project(ud);
}

void bf_auth_token_source(struct bf_auth *a, struct bf_token_source *ts)
{
	ts->token = ts_token;
	ts->invalidate = ts_invalidate;
	ts->quota_project = ts_quota_project;
	ts->ud = a;
}
