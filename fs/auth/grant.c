/* grant.c - getting one access token from a token endpoint or the metadata
 * server: the JWT-bearer grant (service accounts), the refresh_token grant
 * (authorized users) and the metadata server's token route; bf_auth_post
 * is the one POST to a token endpoint that external.c and impersonate.c
 * use too.
 *
 * Retries and deadlines are the HTTP layer's; this file decides what a
 * failure means. A 4xx from a token endpoint is a credential problem
 * (EACCES with the server's error_description); 5xx, transport errors and
 * timeouts keep the HTTP layer's errno so callers can tell "try later" from
 * "fix your setup". Request bodies and replies hold secrets and are wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "auth/auth_int.h"

#define MAX_LIFETIME_S (24L * 3600)
#define DEFAULT_LIFETIME_S 3600L

static void json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			OPENSSL_cleanse(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

/* A token goes into an HTTP header: refuse anything that could split it. */
static int token_chars_ok(const char *t)
{
	for (; *t; t++)
		if (*t <= 0x20 || *t >= 0x7f)
			return 0;
	return 1;
}

int bf_auth_parse_token_reply(const char *body, size_t len, char **token,
			      long *lifetime_s, struct bf_err *e)
{
	cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *t, *x;
	long life = DEFAULT_LIFETIME_S;
	char *end;
	int rc = 0;

	*token = NULL;
	if (!j || !cJSON_IsObject(j)) {
		rc = bf_err_set(e, EIO, "token reply is not a JSON object");
		goto out;
	}
	t = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	if (!cJSON_IsString(t) || !t->valuestring[0]) {
		rc = bf_err_set(e, EIO, "token reply has no access_token");
		goto out;
	}
	if (!token_chars_ok(t->valuestring)) {
		rc = bf_err_set(e, EIO,
				"token reply's access_token has characters "
				"not allowed in a header");
		goto out;
	}
	x = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
	if (cJSON_IsNumber(x)) {
		/* Clamp before the cast: a huge negative double does not fit
		 * a long (undefined behaviour). */
		life = x->valuedouble >= (double)MAX_LIFETIME_S ? MAX_LIFETIME_S
		       : x->valuedouble > 0 ? (long)x->valuedouble
					    : 0;
	} else if (cJSON_IsString(x)) {
		errno = 0;
		life = strtol(x->valuestring, &end, 10);
		if (errno || end == x->valuestring || *end) {
			rc = bf_err_set(e, EIO,
					"token reply's expires_in is not a "
					"number");
			goto out;
		}
	} else if (x && !cJSON_IsNull(x)) {
		rc = bf_err_set(e, EIO,
				"token reply's expires_in is not a number");
		goto out;
	}
	if (life < 0)
		life = 0;
	if (life > MAX_LIFETIME_S)
		life = MAX_LIFETIME_S;
	*token = strdup(t->valuestring);
	if (!*token) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	*lifetime_s = life;
out:
	json_wipe(j);
	cJSON_Delete(j);
	return rc;
}

/* Pulls an OAuth error ({"error": "invalid_grant", "error_description":
 * ...}) or a Google envelope's message out of an error body. */
static void oauth_error(const char *body, size_t len, char *code, size_t cn,
			char *desc, size_t dn)
{
	cJSON *j = body ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *er, *d;

	*code = *desc = '\0';
	if (!j)
		return;
	er = cJSON_GetObjectItemCaseSensitive(j, "error");
	d = cJSON_GetObjectItemCaseSensitive(j, "error_description");
	if (cJSON_IsString(er))
		snprintf(code, cn, "%s", er->valuestring);
	if (cJSON_IsString(d))
		snprintf(desc, dn, "%s", d->valuestring);
	if (cJSON_IsObject(er)) {
		const cJSON *m =
			cJSON_GetObjectItemCaseSensitive(er, "message");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(er, "status");

		if (cJSON_IsString(s))
			snprintf(code, cn, "%s", s->valuestring);
		if (cJSON_IsString(m))
			snprintf(desc, dn, "%s", m->valuestring);
	}
	json_wipe(j);
	cJSON_Delete(j);
	/* Servers do not echo secrets, but these strings reach logs. */
	bf_redact(code);
	bf_redact(desc);
}

/* Replaces e's message, keeping status fields the HTTP layer filled. */
static int reword(struct bf_err *e, int err, const char *prefix,
		  const char *detail, const char *fix)
{
	struct bf_err keep = *e;

	bf_err_set(e, err, "%s%s%s%s", prefix, detail, fix ? "; " : "",
		   fix ? fix : "");
	e->http_status = keep.http_status;
	e->curl_code = keep.curl_code;
	if (err == keep.err)
		memcpy(e->status, keep.status, sizeof(e->status));
	return -err;
}

static int failure(struct bf_auth *a, const char *url, int rc,
		   const struct bf_http_resp *r, const char *fix,
		   struct bf_err *e)
{
	char prefix[600], detail[400], code[64], desc[300];
	long st = r->status;

	if (st >= 400 && st < 500 && st != 408 && st != 429) {
		oauth_error(r->body, r->body_len, code, sizeof(code), desc,
			    sizeof(desc));
		snprintf(prefix, sizeof(prefix),
			 "token endpoint %s rejected %s: ", url, a->describe);
		snprintf(detail, sizeof(detail), "HTTP %ld%s%s%s%s", st,
			 *code ? " " : "", code, *desc ? ": " : "", desc);
		return reword(e, EACCES, prefix, detail, fix);
	}
	if (rc >= 0) {
		/* 1xx/3xx: no token and nothing to retry. */
		snprintf(prefix, sizeof(prefix),
			 "token endpoint %s answered HTTP %ld without a token",
			 url, st);
		return reword(e, EIO, prefix, "", NULL);
	}
	snprintf(prefix, sizeof(prefix), "token endpoint %s (for %s): ", url,
		 a->describe);
	bf_copy_str(detail, sizeof(detail), e->msg);
	return reword(e, -rc, prefix, detail, NULL);
}

static void resp_wipe_free(struct bf_http_resp *r)
{
	if (r->body)
		OPENSSL_cleanse(r->body, r->body_len);
	bf_http_resp_free(r);
}

int bf_auth_post(struct bf_auth *a, const char *url, const char *body,
		 const char *content_type, const char *const *headers,
		 bf_token_parser parse, const char *fix, char **token,
		 long *life, struct bf_err *e)
{
	struct bf_http_resp r = {0};
	struct bf_http_req req = {
		.method = "POST",
		.url = url,
		.body = body,
		.body_len = strlen(body),
		.content_type = content_type,
		.headers = headers,
		.no_auth = 1,
		/* Asking for a token twice is harmless. */
		.retry = BF_RETRY_IDEMPOTENT,
	};
	int rc;

	rc = bf_http_do(a->http, &req, &r, e);
	if (rc < 0 || r.status != 200)
		rc = failure(a, url, rc, &r, fix, e);
	else
		rc = parse(r.body, r.body_len, token, life, e);
	resp_wipe_free(&r);
	return rc;
}

static int post_form(struct bf_auth *a, const char *body, const char *fix,
		     char **token, long *life, struct bf_err *e)
{
	return bf_auth_post(a, a->token_uri, body,
			    "application/x-www-form-urlencoded", NULL,
			    bf_auth_parse_token_reply, fix, token, life, e);
}

static int fetch_service_account(struct bf_auth *a, char **token, long *life,
				 struct bf_err *e)
{
	static const char grant[] =
		"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3A"
		"jwt-bearer&assertion=";
	cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
	char *hs = NULL, *cs = NULL, *jwt = NULL, *body = NULL;
	struct bf_err je;
	double now = (double)time(NULL);
	size_t n;
	int rc;

	if (!h || !c || !cJSON_AddStringToObject(h, "alg", "RS256") ||
	    !cJSON_AddStringToObject(h, "typ", "JWT") ||
	    (a->key_id && !cJSON_AddStringToObject(h, "kid", a->key_id)) ||
	    !cJSON_AddStringToObject(c, "iss", a->client_email) ||
	    !cJSON_AddStringToObject(c, "scope", BF_AUTH_SCOPE) ||
	    !cJSON_AddStringToObject(c, "aud", a->token_uri) ||
	    !cJSON_AddNumberToObject(c, "iat", now) ||
	    !cJSON_AddNumberToObject(c, "exp", now + 3600))
		goto nomem;
	hs = cJSON_PrintUnformatted(h);
	cs = cJSON_PrintUnformatted(c);
	if (!hs || !cs)
		goto nomem;
	bf_err_clear(&je);
	jwt = bf_jwt_rs256_pkey(a->pkey, hs, cs, &je);
	if (!jwt) {
		rc = bf_err_set(e, je.err == ENOMEM ? ENOMEM : EACCES,
				"service account key %s: %s; download a new "
				"JSON key for the service account",
				a->path, je.msg);
		goto out;
	}
	n = sizeof(grant) + strlen(jwt);
	body = malloc(n);
	if (!body)
		goto nomem;
	snprintf(body, n, "%s%s", grant, jwt);
	rc = post_form(a, body,
		       "check that the key is not deleted or disabled and "
		       "that the clock is right",
		       token, life, e);
	goto out;
nomem:
	rc = bf_err_set(e, ENOMEM, "out of memory building the JWT grant");
out:
	bf_free_secret(body);
	bf_free_secret(jwt);
	free(hs);
	free(cs);
	cJSON_Delete(h);
	cJSON_Delete(c);
	return rc;
}

static int fetch_authorized_user(struct bf_auth *a, char **token, long *life,
				 struct bf_err *e)
{
	char *id = bf_url_encode(a->client_id);
	char *secret = bf_url_encode(a->client_secret);
	char *refresh = bf_url_encode(a->refresh_token);
	char *body = NULL;
	size_t n;
	int rc;

	if (!id || !secret || !refresh) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	n = strlen(id) + strlen(secret) + strlen(refresh) + 80;
	body = malloc(n);
	if (!body) {
		rc = bf_err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	snprintf(body, n,
		 "grant_type=refresh_token&client_id=%s&client_secret=%s"
		 "&refresh_token=%s",
		 id, secret, refresh);
	rc = post_form(a, body,
		       "run 'gcloud auth application-default login' again",
		       token, life, e);
out:
	bf_free_secret(body);
	free(id);
	bf_free_secret(secret);
	bf_free_secret(refresh);
	return rc;
}

static int fetch_metadata(struct bf_auth *a, char **token, long *life,
			  struct bf_err *e)
{
	static const char *const hdrs[] = {"Metadata-Flavor: Google", NULL};
	struct bf_http_resp r = {0};
	struct bf_http_req req = {
		.url = a->md_url,
		.headers = hdrs,
		.no_auth = 1,
		/* Link-local: a proxy (-o proxy=, all_proxy) cannot reach
		 * it, and an fstab mount cannot list it in no_proxy. */
		.direct = 1,
	};
	char why[160];
	int rc;

	/* Off Google Cloud there is no metadata server; finding that out
	 * must be quick, so the first contact has a short deadline. */
	if (!a->md_seen) {
		req.timeout_ms = a->md_probe_ms;
		req.budget_ms = a->md_probe_ms;
	}
	rc = bf_http_do(a->http, &req, &r, e);
	if (rc < 0 && r.status == 0 && !a->md_seen) {
		bf_copy_str(why, sizeof(why), e->msg);
		/* The fix first: a long path or reason may be truncated. */
		rc = bf_err_set(e, EACCES,
				"no Google credentials found (set "
				"GOOGLE_APPLICATION_CREDENTIALS to a service "
				"account key file, run 'gcloud auth "
				"application-default login', or use an access "
				"token); tried %s, metadata server at %s (no "
				"answer: %s)",
				a->searched[0] ? a->searched : "key files",
				a->md_host, why);
	} else if (rc < 0 || r.status != 200) {
		rc = failure(a, a->md_url, rc, &r,
			     "attach a service account to this machine or use "
			     "a key file",
			     e);
	} else {
		a->md_seen = 1;
		rc = bf_auth_parse_token_reply(r.body, r.body_len, token, life,
					       e);
	}
	resp_wipe_free(&r);
	return rc;
}

int bf_auth_fetch(struct bf_auth *a, char **token, long *lifetime_s,
		  struct bf_err *e)
{
	if (a->fetch_hook)
		return a->fetch_hook(a, token, lifetime_s, e);
	if (!a->http)
		return bf_err_set(e, EINVAL,
				  "no HTTP client to fetch a token for %s",
				  a->describe);
	switch (a->src) {
	case BF_SRC_SERVICE_ACCOUNT:
		return fetch_service_account(a, token, lifetime_s, e);
	case BF_SRC_AUTHORIZED_USER:
		return fetch_authorized_user(a, token, lifetime_s, e);
	case BF_SRC_METADATA:
		return fetch_metadata(a, token, lifetime_s, e);
	case BF_SRC_EXTERNAL:
	case BF_SRC_EXTERNAL_USER:
		return bf_ext_fetch(a, token, lifetime_s, e);
	case BF_SRC_IMPERSONATED:
		return bf_imp_fetch(a, token, lifetime_s, e);
	default:
		return bf_err_set(e, EINVAL, "%s has no token endpoint",
				  a->describe);
	}
}
