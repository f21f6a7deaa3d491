/* journal.c - creates in flight, on disk: before a create's POST goes out,
 * a small file names the job directory, the client token and how long the
 * request may still make a job, so that a mount started after a crash can
 * find that job before it sends a second create for the same name.
 *
 * One directory per project+location+endpoint below the state directory,
 * one file per token (TOKEN.json), written to a temporary name, fsynced,
 * renamed and the directory fsynced. Nothing secret is written: names,
 * the token (a random label value), a hash of the request body and times.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "batchfs/log.h"
#include "model/clock.h"
#include "model/journal.h"

#define JOURNAL_MAX_FILE 16384
#define PRUNE_AFTER_MS (24LL * 3600 * 1000) /* entries of other names */

struct bf_journal {
	char *dir; /* immutable after creation: the files are the state */
};

static int mkdir_p(const char *path)
{
	char *p = strdup(path), *s;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			rc = -errno;
		*s = '/';
		if (rc)
			break;
	}
	if (!rc && mkdir(p, 0700) != 0 && errno != EEXIST)
		rc = -errno;
	free(p);
	return rc;
}

static uint64_t fnv64(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	h ^= 0xff; /* separator, so ("ab","c") differs from ("a","bc") */
	return h * 1099511628211ULL;
}

struct bf_journal *bf_journal_open(const char *state_dir, const char *project,
				   const char *location, const char *endpoint)
{
	struct bf_journal *jn;
	uint64_t h = 1469598103934665603ULL;

	if (!state_dir || !*state_dir)
		return NULL;
	h = fnv64(h, project ? project : "");
	h = fnv64(h, location ? location : "");
	h = fnv64(h, endpoint ? endpoint : "google");
	jn = calloc(1, sizeof(*jn));
	if (!jn || asprintf(&jn->dir, "%s/creates-%016llx", state_dir,
			    (unsigned long long)h) < 0) {
		free(jn);
		return NULL;
	}
	/* Made at the first create: a mount that submits nothing leaves
	 * no trace. */
	return jn;
}

void bf_journal_free(struct bf_journal *jn)
{
	if (!jn)
		return;
	free(jn->dir);
	free(jn);
}

const char *bf_journal_dir(const struct bf_journal *jn)
{
	return jn->dir;
}

void bf_journal_hash(const char *body, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	if (!EVP_Digest(body, strlen(body), md, &n, EVP_sha256(), NULL) ||
	    n != 32)
		memset(md, 0, sizeof(md));
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = write(fd, s, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

int bf_journal_put(struct bf_journal *jn, const struct bf_jentry *en,
		   struct bf_err *e)
{
	char *path = NULL, *tmp = NULL, *text = NULL;
	cJSON *o;
	int fd = -1, rc;

	rc = mkdir_p(jn->dir);
	if (rc)
		return bf_err_set(e, -rc, "journal %s: %s", jn->dir,
				  strerror(-rc));
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, "version", 1) ||
	    !cJSON_AddStringToObject(o, "name", en->name) ||
	    !cJSON_AddStringToObject(o, "token", en->token) ||
	    !cJSON_AddStringToObject(o, "body_sha256", en->hash) ||
	    !cJSON_AddNumberToObject(o, "deadline_unix_ms",
				     (double)en->deadline_ms) ||
	    !(text = cJSON_Print(o)) ||
	    asprintf(&path, "%s/%s.json", jn->dir, en->token) < 0 ||
	    asprintf(&tmp, "%s/.%s.tmp", jn->dir, en->token) < 0) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (rc = write_all(fd, text, strlen(text))) ||
	    fsync(fd) != 0) {
		rc = bf_err_set(e, fd < 0 || !rc ? errno : -rc,
				"journal %s: %m", tmp);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = bf_err_set(e, errno, "journal %s: %m", path);
		goto out;
	}
	rc = fsync_dir(jn->dir);
	if (rc)
		bf_err_set(e, -rc, "journal %s: %s", jn->dir, strerror(-rc));
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	cJSON_Delete(o);
	free(text);
	free(path);
	free(tmp);
	return rc;
}

void bf_journal_drop(struct bf_journal *jn, const char *token)
{
	char *path;

	if (!jn || asprintf(&path, "%s/%s.json", jn->dir, token) < 0)
		return;
	if (unlink(path) == 0)
		fsync_dir(jn->dir);
	else if (errno != ENOENT)
		bf_log_warn("journal: cannot remove %s: %m", path);
	free(path);
}

/* Reads one entry; anything malformed is skipped (and logged). */
static int read_entry(int dfd, const char *fname, struct bf_jentry *en)
{
	char buf[JOURNAL_MAX_FILE + 1];
	int fd = openat(dfd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	cJSON *o, *name, *tok, *hash, *dl;
	int rc = -EINVAL;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, JOURNAL_MAX_FILE + 1);
	close(fd);
	if (n < 0 || n > JOURNAL_MAX_FILE)
		return -EINVAL;
	buf[n] = '\0';
	o = cJSON_ParseWithLength(buf, (size_t)n);
	name = cJSON_GetObjectItemCaseSensitive(o, "name");
	tok = cJSON_GetObjectItemCaseSensitive(o, "token");
	hash = cJSON_GetObjectItemCaseSensitive(o, "body_sha256");
	dl = cJSON_GetObjectItemCaseSensitive(o, "deadline_unix_ms");
	if (cJSON_IsString(name) && cJSON_IsString(tok) &&
	    cJSON_IsString(hash) && cJSON_IsNumber(dl) &&
	    /* a deadline in ms since 1970: a file holding 1e999 or -1 is
	     * not one of ours (and inf would not fit an int64_t) */
	    isfinite(dl->valuedouble) && dl->valuedouble >= 0 &&
	    dl->valuedouble < 9.2e18 &&
	    strlen(name->valuestring) <= BF_NAME_MAX &&
	    strlen(tok->valuestring) < sizeof(en->token) &&
	    strlen(hash->valuestring) == 64 &&
	    strspn(tok->valuestring,
		   "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
		    strlen(tok->valuestring)) {
		snprintf(en->name, sizeof(en->name), "%s", name->valuestring);
		snprintf(en->token, sizeof(en->token), "%s", tok->valuestring);
		snprintf(en->hash, sizeof(en->hash), "%s", hash->valuestring);
		en->deadline_ms = (int64_t)dl->valuedouble;
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}

int bf_journal_find(struct bf_journal *jn, const char *name,
		    struct bf_jentry *out, size_t max)
{
	int64_t now_ms = (int64_t)(bf_clock_wall_us() / 1000);
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	if (!jn || !(d = opendir(jn->dir)))
		return 0;
	while ((de = readdir(d)) && n < max) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (read_entry(dirfd(d), de->d_name, &out[n])) {
			bf_log_warn("journal: %s/%s is unreadable; ignored",
				    jn->dir, de->d_name);
			continue;
		}
		if (strcmp(out[n].name, name) == 0)
			n++;
		else if (out[n].deadline_ms + PRUNE_AFTER_MS < now_ms)
			/* Whatever job it made shows in the listing by now,
			 * and holds the name. */
			bf_journal_drop(jn, out[n].token);
	}
	closedir(d);
	return (int)n;
}
