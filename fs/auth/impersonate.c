/* impersonate.c - service-account impersonation: the IAM Credentials
 * generateAccessToken call, and the impersonated_service_account credential
 * that gcloud writes for --impersonate-service-account (a service_account,
 * authorized_user or, as google-auth allows, external_account_authorized_user
 * source credential; optional delegates).
 *
 * The source credential is an ordinary struct bf_auth loaded from the
 * nested JSON object; its token is fetched, used once as the bearer of the
 * IAM call and wiped. Replies are untrusted: the token must be header-safe
 * and expireTime a valid RFC 3339 time in the future.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "batchfs/http.h"
#include "batchfs/timefmt.h"
#include "auth/auth_int.h"

#define IMP_MAX_DELEGATES 16
#define IMP_MAX_LIFETIME_S (12L * 3600)
#define IMP_LIFETIME_S 3600L

/* Filled by bf_imp_load, then used only by the refreshing thread (one at a
 * time); a reload swaps in a new one under the bf_auth's mu. */
struct bf_imp {
	const struct bf_cred_loader *ld; /* creds.c's, for src */
	struct bf_auth *src; /* source credential (no cache of its own) */
	char *url;	     /* ...:generateAccessToken */
	char **delegates; /* NULL-terminated "projects/-/serviceAccounts/X" */
};

static int header_word(const char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

int bf_auth_parse_iam_reply(const char *body, size_t len, long now_s,
			    char **token, long *lifetime_s, struct bf_err *e)
{
	cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *t, *x;
	int64_t exp_us;
	long life;
	int rc = 0;

	*token = NULL;
	if (!j || !cJSON_IsObject(j)) {
		rc = bf_err_set(e, EIO,
				"generateAccessToken reply is not a JSON "
				"object");
		goto out;
	}
	t = cJSON_GetObjectItemCaseSensitive(j, "accessToken");
	x = cJSON_GetObjectItemCaseSensitive(j, "expireTime");
	if (!cJSON_IsString(t) || !t->valuestring[0] ||
	    !header_word(t->valuestring)) {
		rc = bf_err_set(e, EIO,
				"generateAccessToken reply has no usable "
				"accessToken");
		goto out;
	}
	exp_us = cJSON_IsString(x) ? bf_parse_rfc3339_us(x->valuestring) : -1;
	if (exp_us < 0) {
		rc = bf_err_set(e, EIO,
				"generateAccessToken reply has no valid "
				"expireTime");
		goto out;
	}
	if (exp_us / 1000000 - now_s > IMP_MAX_LIFETIME_S)
		life = IMP_MAX_LIFETIME_S;
	else
		life = (long)(exp_us / 1000000 - now_s);
	if (life <= 0) {
		rc = bf_err_set(e, EIO,
				"generateAccessToken reply's expireTime is "
				"already past; check this machine's clock");
		goto out;
	}
	*token = strdup(t->valuestring);
	if (!*token) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	*lifetime_s = life;
out:
	bf_auth_json_wipe_delete(j);
	return rc;
}

static int parse_iam_now(const char *body, size_t len, char **token, long *life,
			 struct bf_err *e)
{
	return bf_auth_parse_iam_reply(body, len, (long)time(NULL), token, life,
				       e);
}

/* The service account's email, from ".../serviceAccounts/EMAIL:gen..." */
static void target_of(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "/serviceAccounts/");
	const char *q;

	snprintf(out, n, "(unknown)");
	if (!p)
		return;
	p += strlen("/serviceAccounts/");
	q = strstr(p, ":generateAccessToken");
	if (q && q > p)
		snprintf(out, n, "%.*s",
			 (int)(q - p) < 200 ? (int)(q - p) : 200, p);
}

int bf_imp_generate(struct bf_auth *a, const char *url, const char *bearer,
		    char *const *delegates, long lifetime_s, char **token,
		    long *out_life_s, struct bf_err *e)
{
	cJSON *b = cJSON_CreateObject(), *sc, *dl;
	const char *hdrs[2] = {NULL, NULL};
	char target[208], fix[320], lt[32];
	char *body = NULL, *auth = NULL;
	size_t n;
	int rc;

	target_of(url, target, sizeof(target));
	snprintf(lt, sizeof(lt), "%lds", lifetime_s);
	if (!b || !(sc = cJSON_AddArrayToObject(b, "scope")) ||
	    !cJSON_AddItemToArray(sc, cJSON_CreateString(BF_AUTH_SCOPE)) ||
	    !cJSON_AddStringToObject(b, "lifetime", lt))
		goto nomem;
	if (delegates && *delegates) {
		if (!(dl = cJSON_AddArrayToObject(b, "delegates")))
			goto nomem;
		for (; *delegates; delegates++)
			if (!cJSON_AddItemToArray(
				    dl, cJSON_CreateString(*delegates)))
				goto nomem;
	}
	body = cJSON_PrintUnformatted(b);
	n = strlen(bearer) + 32;
	auth = malloc(n);
	if (!body || !auth)
		goto nomem;
	snprintf(auth, n, "Authorization: Bearer %s", bearer);
	hdrs[0] = auth;
	snprintf(fix, sizeof(fix),
		 "the source credential needs "
		 "roles/iam.serviceAccountTokenCreator on %s",
		 target);
	rc = bf_auth_post(a, url, body, "application/json", hdrs, parse_iam_now,
			  NULL, token, out_life_s, e);
	if (rc == -EACCES) {
		/* Short, fix included: URL and source description are long. */
		struct bf_err k = *e;
		const char *h = strstr(k.msg, ": HTTP ");

		bf_err_set(e, EACCES,
			   "impersonating %s was refused: %.200s; %s", target,
			   h ? h + 2 : k.msg, fix);
		e->http_status = k.http_status;
		memcpy(e->status, k.status, sizeof(e->status));
	}
	goto out;
nomem:
	rc = bf_err_set(e, ENOMEM,
			"out of memory building generateAccessToken");
out:
	bf_auth_free_secret(auth);
	free(body);
	cJSON_Delete(b);
	return rc;
}

void bf_imp_free(struct bf_imp *m)
{
	if (!m)
		return;
	if (m->src) {
		m->ld->unload(m->src);
		free(m->src);
	}
	free(m->url);
	for (char **d = m->delegates; d && *d; d++)
		free(*d);
	free(m->delegates);
	free(m);
}

static int load_delegates(struct bf_imp *m, const cJSON *arr, const char *path,
			  const char *origin, struct bf_err *e)
{
	static const char pre[] = "projects/-/serviceAccounts/";
	const cJSON *d;
	int n = 0, i = 0;

	if (!arr || cJSON_IsNull(arr))
		return 0;
	if (!cJSON_IsArray(arr) ||
	    (n = cJSON_GetArraySize(arr)) > IMP_MAX_DELEGATES)
		return bf_err_set(e, EACCES,
				  "impersonated credentials %s (from %s): "
				  "\"delegates\" is not a list of at most %d "
				  "service accounts",
				  path, origin, IMP_MAX_DELEGATES);
	m->delegates = calloc((size_t)n + 1, sizeof(*m->delegates));
	if (!m->delegates)
		return bf_err_set(e, ENOMEM, "out of memory");
	cJSON_ArrayForEach(d, arr)
	{
		const char *s = cJSON_IsString(d) ? d->valuestring : NULL;
		size_t l;

		if (!s || !*s || strlen(s) > 256 || !header_word(s))
			return bf_err_set(e, EACCES,
					  "impersonated credentials %s (from "
					  "%s): a delegate is not a service "
					  "account email",
					  path, origin);
		/* IAM wants resource names; gcloud writes emails. */
		l = strlen(pre) + strlen(s) + 1;
		m->delegates[i] = malloc(l);
		if (!m->delegates[i])
			return bf_err_set(e, ENOMEM, "out of memory");
		snprintf(m->delegates[i], l, "%s%s",
			 strncmp(s, "projects/", 9) == 0 ? "" : pre, s);
		i++;
	}
	return 0;
}

int bf_imp_load(struct bf_auth *a, const cJSON *j, const struct bf_auth_opts *o,
		const char *path, const char *origin,
		const struct bf_cred_loader *ld, struct bf_err *e)
{
	static const char fix[] = "run 'gcloud auth application-default login "
				  "--impersonate-service-account=EMAIL' again";
	const char *url = bf_auth_jstr(j, "service_account_impersonation_url");
	const cJSON *sc =
		cJSON_GetObjectItemCaseSensitive(j, "source_credentials");
	const char *st = cJSON_IsObject(sc) ? bf_auth_jstr(sc, "type") : NULL;
	char target[208];
	struct bf_imp *m;
	int rc;

	if (!url)
		return bf_err_set(e, EACCES,
				  "impersonated credentials %s (from %s) have "
				  "no \"service_account_impersonation_url\"; "
				  "%s",
				  path, origin, fix);
	if (!bf_auth_token_uri_ok(url) || !strstr(url, ":generateAccessToken"))
		return bf_err_set(e, EACCES,
				  "impersonated credentials %s (from %s): "
				  "service_account_impersonation_url is not an "
				  "https generateAccessToken URL; %s",
				  path, origin, fix);
	/* No nesting: a chain is what "delegates" is for. */
	if (!st || (strcmp(st, "service_account") != 0 &&
		    strcmp(st, "authorized_user") != 0 &&
		    strcmp(st, "external_account_authorized_user") != 0))
		return bf_err_set(e, EACCES,
				  "impersonated credentials %s (from %s) need "
				  "\"source_credentials\" of type "
				  "service_account, authorized_user or "
				  "external_account_authorized_user; %s",
				  path, origin, fix);
	m = calloc(1, sizeof(*m));
	if (!m)
		return bf_err_set(e, ENOMEM, "out of memory");
	a->imp = m;
	m->ld = ld;
	m->url = strdup(url);
	m->src = calloc(1, sizeof(*m->src));
	if (!m->url || !m->src)
		return bf_err_set(e, ENOMEM, "out of memory");
	m->src->http = a->http;
	rc = load_delegates(m, cJSON_GetObjectItemCaseSensitive(j, "delegates"),
			    path, origin, e);
	if (rc < 0)
		return rc;
	rc = ld->load(m->src, sc, o, path, origin, e);
	if (rc < 0)
		return rc;
	target_of(url, target, sizeof(target));
	a->src = BF_SRC_IMPERSONATED;
	a->fetch = bf_imp_fetch;
	/* Truncation is fine for a description. */
	if (snprintf(a->describe, sizeof(a->describe),
		     "service account %s impersonated%s by %.300s", target,
		     m->delegates && *m->delegates ? " through delegates" : "",
		     m->src->describe) < 0)
		a->describe[0] = '\0';
	return 0;
}

int bf_imp_fetch(struct bf_auth *a, char **token, long *lifetime_s,
		 struct bf_err *e)
{
	struct bf_imp *m = a->imp;
	char *stok = NULL;
	long slife = 0;
	int rc;

	if (!m)
		return bf_err_set(e, EINVAL, "no impersonation configured");
	m->src->http = a->http;
	rc = bf_auth_fetch(m->src, &stok, &slife, e);
	if (rc < 0)
		return rc;
	rc = bf_imp_generate(a, m->url, stok, m->delegates, IMP_LIFETIME_S,
			     token, lifetime_s, e);
	bf_auth_free_secret(stok);
	return rc;
}
