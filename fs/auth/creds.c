/* creds.c - finding and loading a credential, in Application Default
 * Credentials order, without any network call.
 *
 * Every failure is EACCES with a message naming the source tried (option,
 * environment variable, gcloud file, metadata server) and what to do about
 * it, because these messages end up in front of a user who has to fix their
 * setup. Secrets read from files are wiped from memory once copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "batchfs/log.h"
#include "auth/auth_int.h"

#define CRED_FILE_MAX (1 << 20)

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int missing_field(struct bf_err *e, const char *what, const char *path,
			 const char *origin, const char *field, const char *fix)
{
	return bf_err_set(e, EACCES, "%s %s (from %s) has no \"%s\" field; %s",
			  what, path, origin, field, fix);
}

/* quota_project_id goes into a header on every API call, as Google's
 * libraries send it: only a plausible project id is accepted. */
static int load_quota_project(struct bf_auth *a, const cJSON *j,
			      const char *path, const char *origin,
			      struct bf_err *e)
{
	const char *qp = bf_auth_jstr(j, "quota_project_id");
	size_t n = qp ? strlen(qp) : 0;

	if (!qp || !n)
		return 0;
	if (n > 63 ||
	    strspn(qp, "abcdefghijklmnopqrstuvwxyz0123456789-.:") != n)
		return bf_err_set(e, EACCES,
				  "credentials file %s (from %s) has a "
				  "quota_project_id that is not a project id; "
				  "fix or remove it",
				  path, origin);
	a->quota_project = strdup(qp);
	return a->quota_project ? 0
				: bf_err_set(e, ENOMEM, "out of memory");
}

static int load_service_account(struct bf_auth *a, const cJSON *j,
				const char *path, const char *origin,
				struct bf_err *e)
{
	static const char fix[] =
		"download a new JSON key for the service account";
	const char *email = bf_auth_jstr(j, "client_email");
	const char *pem = bf_auth_jstr(j, "private_key");
	const char *uri = bf_auth_jstr(j, "token_uri");
	struct bf_err ke;

	if (!email)
		return missing_field(e, "service account key", path, origin,
				     "client_email", fix);
	if (!pem)
		return missing_field(e, "service account key", path, origin,
				     "private_key", fix);
	if (!uri)
		return missing_field(e, "service account key", path, origin,
				     "token_uri", fix);
	if (!bf_auth_token_uri_ok(uri))
		return bf_err_set(e, EACCES,
				  "service account key %s (from %s) has a "
				  "token_uri that is not https (%.80s); %s",
				  path, origin, uri, fix);
	bf_err_clear(&ke);
	a->pkey = bf_jwt_rsa_key_load(pem, &ke);
	if (!a->pkey)
		return bf_err_set(e, EACCES,
				  "service account key %s (from %s): %s; %s",
				  path, origin, ke.msg, fix);
	a->src = BF_SRC_SERVICE_ACCOUNT;
	a->fetch = bf_grant_service_account;
	a->client_email = strdup(email);
	a->token_uri = strdup(uri);
	a->key_id = xstrdup(bf_auth_jstr(j, "private_key_id"));
	a->project = xstrdup(bf_auth_jstr(j, "project_id"));
	if (!a->client_email || !a->token_uri)
		return bf_err_set(e, ENOMEM, "out of memory loading %s", path);
	snprintf(a->describe, sizeof(a->describe),
		 "service account %s from %s (%s)", email, path, origin);
	return 0;
}

static int load_authorized_user(struct bf_auth *a, const cJSON *j,
				const struct bf_auth_opts *o, const char *path,
				const char *origin, struct bf_err *e)
{
	static const char fix[] =
		"run 'gcloud auth application-default login' again";
	const char *id = bf_auth_jstr(j, "client_id");
	const char *secret = bf_auth_jstr(j, "client_secret");
	const char *refresh = bf_auth_jstr(j, "refresh_token");
	const char *uri = o->token_uri && *o->token_uri ? o->token_uri
							: BF_GOOGLE_TOKEN_URI;

	if (!id)
		return missing_field(e, "authorized user file", path, origin,
				     "client_id", fix);
	if (!secret)
		return missing_field(e, "authorized user file", path, origin,
				     "client_secret", fix);
	if (!refresh)
		return missing_field(e, "authorized user file", path, origin,
				     "refresh_token", fix);
	a->src = BF_SRC_AUTHORIZED_USER;
	a->fetch = bf_grant_authorized_user;
	a->client_id = strdup(id);
	a->client_secret = strdup(secret);
	a->refresh_token = strdup(refresh);
	/* Google's libraries always use the fixed endpoint for user
	 * credentials; only an explicit option (tests) redirects it. */
	if (!bf_auth_token_uri_ok(uri))
		return bf_err_set(
			e, EACCES,
			"token endpoint %.80s for %s (from %s) is not "
			"https; use an https URL",
			uri, path, origin);
	a->token_uri = strdup(uri);
	a->project = xstrdup(bf_auth_jstr(j, "project_id"));
	if (!a->client_id || !a->client_secret || !a->refresh_token ||
	    !a->token_uri)
		return bf_err_set(e, ENOMEM, "out of memory loading %s", path);
	snprintf(a->describe, sizeof(a->describe),
		 "authorized user credentials from %s (%s)", path, origin);
	return 0;
}

/* Google's keys are bearer secrets, but their files live where ssh's rule
 * does not fit: a Kubernetes secret volume is 0644 by default and Google's
 * libraries accept it. What is refused is a file others can change (they
 * could make batchfs act as someone else); one others can read is warned
 * about, once per process. */
static int key_mode_ok(struct bf_auth *a, const struct stat *st,
		       const char *path, const char *origin, struct bf_err *e)
{
	static int warned;
	unsigned mode = (unsigned)(st->st_mode & 0777);

	if ((mode & 022) && !a->allow_insecure)
		return bf_err_set(e, EACCES,
				  "credentials file %s (from %s) is writable "
				  "by group or others (mode %03o), so someone "
				  "else could swap the credential; run "
				  "'chmod go-w %s'",
				  path, origin, mode, path);
	if ((mode & 004) && !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		bf_log_warn("auth: credentials file %s (from %s) is readable "
			    "by others (mode %03o); run 'chmod 600 %s' "
			    "unless it is a mounted secret",
			    path, origin, mode, path);
	return 0;
}

static int load_object(struct bf_auth *a, const cJSON *j,
		       const struct bf_auth_opts *o, const char *path,
		       const char *origin, struct bf_err *e);

/* impersonate.c loads and frees its source credential with these. */
static const struct bf_cred_loader loader = {
	.load = load_object,
	.unload = bf_auth_unload,
};

/* The type dispatch of a credential JSON object. Also loads the source
 * credential inside an impersonated_service_account file (through
 * loader). */
static int load_object(struct bf_auth *a, const cJSON *j,
		       const struct bf_auth_opts *o, const char *path,
		       const char *origin, struct bf_err *e)
{
	static const char kinds[] =
		"use a service_account, authorized_user, external_account, "
		"external_account_authorized_user or "
		"impersonated_service_account file";
	const char *type = bf_auth_jstr(j, "type");
	int rc;

	if (!type)
		rc = missing_field(e, "credentials file", path, origin, "type",
				   kinds);
	else if (strcmp(type, "service_account") == 0)
		rc = load_service_account(a, j, path, origin, e);
	else if (strcmp(type, "authorized_user") == 0)
		rc = load_authorized_user(a, j, o, path, origin, e);
	else if (strcmp(type, "external_account") == 0 ||
		 strcmp(type, "external_account_authorized_user") == 0)
		rc = bf_ext_load(a, j, type, path, origin, e);
	else if (strcmp(type, "impersonated_service_account") == 0)
		rc = bf_imp_load(a, j, o, path, origin, &loader, e);
	else
		rc = bf_err_set(e, EACCES,
				"unsupported credential type %.48s in %s (from "
				"%s); %s",
				type, path, origin, kinds);
	if (rc == 0)
		rc = load_quota_project(a, j, path, origin, e);
	return rc;
}

/* Loads one credential file. origin says how it was found ("the
 * credentials option", "GOOGLE_APPLICATION_CREDENTIALS", ...). */
static int load_cred_file(struct bf_auth *a, const struct bf_auth_opts *o,
			  const char *path, const char *origin,
			  struct bf_err *e)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	cJSON *j = NULL;
	int rc;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return bf_err_set(e, EACCES,
					  "credentials file %s (from %s) does "
					  "not exist; point %s at a service "
					  "account JSON key",
					  path, origin, origin);
		return bf_err_set(e, EACCES,
				  "cannot access credentials file %s (from "
				  "%s): %s; check the path and its permissions",
				  path, origin, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return bf_err_set(e, EACCES,
				  "credentials file %s (from %s) is not a "
				  "regular file; point %s at a JSON key file",
				  path, origin, origin);
	rc = key_mode_ok(a, &st, path, origin, e);
	if (rc < 0)
		return rc;
	rc = bf_auth_read_small_file(path, CRED_FILE_MAX, &text, &len);
	if (rc < 0)
		return bf_err_set(e, EACCES,
				  "cannot read credentials file %s (from %s): "
				  "%s; check the path and its permissions",
				  path, origin, strerror(-rc));
	j = cJSON_ParseWithLength(text, len);
	if (!j || !cJSON_IsObject(j)) {
		/* Never quote the text near the error: it may be key bytes. */
		rc = bf_err_set(e, EACCES,
				"credentials file %s (from %s) is not a JSON "
				"object; download the key file again",
				path, origin);
		goto out;
	}
	rc = load_object(a, j, o, path, origin, e);
	if (rc == 0) {
		a->path = strdup(path);
		a->origin = strdup(origin);
		a->opt_token_uri = xstrdup(o->token_uri);
		a->cred_st = st;
		if (!a->path || !a->origin)
			rc = bf_err_set(e, ENOMEM, "out of memory");
	}
out:
	bf_auth_json_wipe_delete(j);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

static int gcloud_adc_path(char *out, size_t n)
{
	const char *base = getenv("CLOUDSDK_CONFIG");
	const char *suffix = "/application_default_credentials.json";
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	int w;

	if (!base || !*base) {
		suffix = "/.config/gcloud/application_default_credentials.json";
		base = getenv("HOME");
		if (!base || !*base) {
			if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf),
				       &res) ||
			    !res)
				return -ENOENT;
			base = res->pw_dir;
		}
	}
	w = snprintf(out, n, "%s%s", base, suffix);
	return w >= 0 && (size_t)w < n ? 0 : -ENAMETOOLONG;
}

static int load_metadata(struct bf_auth *a, const struct bf_auth_opts *o,
			 struct bf_err *e)
{
	const char *host = o->metadata_host;
	const char *t;
	size_t n;

	if (!host || !*host)
		host = getenv("GCE_METADATA_HOST");
	if (!host || !*host)
		host = getenv("GCE_METADATA_ROOT"); /* legacy name */
	if (!host || !*host)
		host = "metadata.google.internal";
	a->md_host = strdup(host);
	n = strlen(host) + sizeof(BF_METADATA_TOKEN_PATH) + 16;
	a->md_url = malloc(n);
	if (!a->md_host || !a->md_url)
		return bf_err_set(e, ENOMEM, "out of memory");
	/* Plain http is right here: the metadata server is link-local. */
	if (strncmp(host, "http://", 7) == 0 ||
	    strncmp(host, "https://", 8) == 0)
		snprintf(a->md_url, n, "%s%s", host, BF_METADATA_TOKEN_PATH);
	else
		snprintf(a->md_url, n, "http://%s%s", host,
			 BF_METADATA_TOKEN_PATH);
	a->md_probe_ms = 3000;
	t = getenv("GCE_METADATA_TIMEOUT");
	if (t && atol(t) > 0)
		a->md_probe_ms = atol(t) * 1000;
	a->src = BF_SRC_METADATA;
	a->fetch = bf_grant_metadata;
	snprintf(a->describe, sizeof(a->describe), "metadata server at %s",
		 host);
	return 0;
}

static int load_token_source(struct bf_auth *a, const struct bf_auth_opts *o,
			     struct bf_err *e)
{
	const char *v;

	if (o->token_file && *o->token_file) {
		/* Absolute, so a daemon's chdir("/") does not lose it. */
		a->token_path = realpath(o->token_file, NULL);
		if (!a->token_path)
			a->token_path = strdup(o->token_file);
		if (!a->token_path)
			return bf_err_set(e, ENOMEM, "out of memory");
		if (access(o->token_file, R_OK) < 0)
			return bf_err_set(e, EACCES,
					  "token file %s cannot be read: %s; "
					  "write an access token into it (e.g. "
					  "gcloud auth print-access-token)",
					  o->token_file, strerror(errno));
		a->src = BF_SRC_TOKEN_FILE;
		snprintf(a->describe, sizeof(a->describe),
			 "access token from file %s", o->token_file);
		return 0;
	}
	if (o->token_env && *o->token_env) {
		v = getenv(o->token_env);
		if (!v || !*v)
			return bf_err_set(e, EACCES,
					  "environment variable %s is not set "
					  "or empty; export %s=<access token> "
					  "or use a credentials file",
					  o->token_env, o->token_env);
		a->token = strdup(v);
		a->token_env = strdup(o->token_env);
		if (!a->token || !a->token_env)
			return bf_err_set(e, ENOMEM, "out of memory");
		a->src = BF_SRC_TOKEN_ENV;
		/* No expiry is known for an explicit token. */
		a->refresh_at = a->expires_at = INT64_MAX;
		snprintf(a->describe, sizeof(a->describe),
			 "access token from $%s", o->token_env);
		return 0;
	}
	return bf_err_set(e, EACCES,
			  "token mode needs a token file or an environment "
			  "variable name; set one or use a credentials file");
}

int bf_auth_load(struct bf_auth *a, const struct bf_auth_opts *o,
		 struct bf_err *e)
{
	char gpath[4096];
	const char *p;
	struct stat st;
	int rc;

	a->allow_insecure = o->allow_insecure_keyfile;
	switch (o->mode) {
	case BF_AUTH_NONE:
		a->src = BF_SRC_NONE;
		snprintf(a->describe, sizeof(a->describe), "no authentication");
		return 0;
	case BF_AUTH_TOKEN:
		return load_token_source(a, o, e);
	case BF_AUTH_ADC:
		break;
	default:
		return bf_err_set(e, EINVAL, "unknown auth mode %d", o->mode);
	}

	/* An explicitly named file must work: no silent fallback. */
	if (o->credentials_file && *o->credentials_file)
		return load_cred_file(a, o, o->credentials_file,
				      o->credentials_origin &&
						      *o->credentials_origin
					      ? o->credentials_origin
					      : "the option -o credentials=",
				      e);
	p = getenv("GOOGLE_APPLICATION_CREDENTIALS");
	if (p && *p)
		return load_cred_file(a, o, p, "GOOGLE_APPLICATION_CREDENTIALS",
				      e);

	rc = gcloud_adc_path(gpath, sizeof(gpath));
	if (rc == 0 && stat(gpath, &st) == 0)
		return load_cred_file(a, o, gpath, "gcloud's ADC file", e);
	/* Only for the message; a truncated path is acceptable. */
	if (snprintf(a->searched, sizeof(a->searched),
		     "GOOGLE_APPLICATION_CREDENTIALS (not set), %s (missing)",
		     rc == 0 ? gpath : "the gcloud ADC file") < 0)
		a->searched[0] = '\0';
	return load_metadata(a, o, e);
}

static int same_identity(const struct stat *x, const struct stat *y)
{
	return x->st_dev == y->st_dev && x->st_ino == y->st_ino &&
	       x->st_size == y->st_size &&
	       x->st_mtim.tv_sec == y->st_mtim.tv_sec &&
	       x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

int bf_auth_cred_changed(struct bf_auth *a)
{
	struct stat st;

	if (a->src == BF_SRC_NONE || a->src == BF_SRC_TOKEN_FILE ||
	    a->src == BF_SRC_TOKEN_ENV || a->src == BF_SRC_METADATA ||
	    !a->path || stat(a->path, &st) < 0)
		return 0;
	return !same_identity(&st, &a->cred_st);
}

#define SWAP(f)                                                                \
	do {                                                                   \
		__typeof__(a->f) t_ = a->f;                                    \
		a->f = n->f;                                                   \
		n->f = t_;                                                     \
	} while (0)

/* The fields of a credential, which a reload replaces. */
static void swap_cred(struct bf_auth *a, struct bf_auth *n)
{
	char d[sizeof(a->describe)];

	SWAP(src);
	SWAP(fetch);
	SWAP(pkey);
	SWAP(token_uri);
	SWAP(client_email);
	SWAP(key_id);
	SWAP(client_id);
	SWAP(client_secret);
	SWAP(refresh_token);
	SWAP(cred_st);
	SWAP(ext);
	SWAP(imp);
	memcpy(d, a->describe, sizeof(d));
	memcpy(a->describe, n->describe, sizeof(d));
	memcpy(n->describe, d, sizeof(d));
}

int bf_auth_reload(struct bf_auth *a, int force)
{
	struct bf_auth_opts o = {.token_uri = a->opt_token_uri};
	struct bf_auth *n;
	struct bf_err e;
	char *path, *origin;
	int changed, rc;

	pthread_mutex_lock(&a->mu);
	changed = bf_auth_cred_changed(a);
	path = a->path && (changed || force) ? strdup(a->path) : NULL;
	origin = a->origin ? strdup(a->origin) : NULL;
	pthread_mutex_unlock(&a->mu);
	if (!path || !origin) {
		free(path);
		free(origin);
		return 0;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		free(path);
		free(origin);
		return 0;
	}
	n->allow_insecure = a->allow_insecure;
	bf_err_clear(&e);
	rc = load_cred_file(n, &o, path, origin, &e);
	if (rc == 0) {
		pthread_mutex_lock(&a->mu);
		swap_cred(a, n);
		pthread_mutex_unlock(&a->mu);
		bf_log_info("auth: %s %s: using %s",
			    changed ? "credential file changed"
				    : "credential refused, re-read",
			    path, a->describe);
	} else if (changed) {
		/* Possibly caught mid-write: the next refresh looks again. */
		bf_log_warn("auth: credential file %s changed but does not "
			    "load (%s); keeping the loaded one",
			    path, e.msg);
	}
	bf_auth_unload(n);
	free(n);
	free(path);
	free(origin);
	return rc == 0;
}

void bf_auth_unload(struct bf_auth *a)
{
	EVP_PKEY_free(a->pkey);
	a->pkey = NULL;
	free(a->project);
	free(a->quota_project);
	free(a->path);
	free(a->origin);
	free(a->opt_token_uri);
	free(a->token_uri);
	free(a->client_email);
	free(a->key_id);
	free(a->client_id);
	bf_auth_free_secret(a->client_secret);
	bf_auth_free_secret(a->refresh_token);
	free(a->md_host);
	free(a->md_url);
	free(a->token_path);
	free(a->token_env);
	bf_ext_free(a->ext);
	a->ext = NULL;
	bf_imp_free(a->imp);
	a->imp = NULL;
}
