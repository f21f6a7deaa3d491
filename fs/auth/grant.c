/* grant.c - getting one access token from a token endpoint or the metadata
 * server: the JWT-bearer grant (service accounts), the refresh_token grant
 * (authorized users) and the metadata server's token route; and
 * bf_auth_fetch, which calls the fetcher the credential's loader chose
 * (a->fetch), so this file needs none of the files above it.
 *
 * What a failure means is post.c's. Request bodies and replies hold
 * secrets and are wiped.
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

static int post_form(struct bf_auth *a, const char *body, const char *fix,
		     char **token, long *life, struct bf_err *e)
{
	return bf_auth_post(a, a->token_uri, body,
			    "application/x-www-form-urlencoded", NULL,
			    bf_auth_parse_token_reply, fix, token, life, e);
}

int bf_grant_service_account(struct bf_auth *a, char **token, long *life,
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
	bf_auth_free_secret(body);
	bf_auth_free_secret(jwt);
	free(hs);
	free(cs);
	cJSON_Delete(h);
	cJSON_Delete(c);
	return rc;
}

int bf_grant_authorized_user(struct bf_auth *a, char **token, long *life,
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
	bf_auth_free_secret(body);
	free(id);
	bf_auth_free_secret(secret);
	bf_auth_free_secret(refresh);
	return rc;
}

int bf_grant_metadata(struct bf_auth *a, char **token, long *life,
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
		rc = bf_auth_post_failure(a, a->md_url, rc, &r,
					  "attach a service account to this "
					  "machine or use a key file",
					  e);
	} else {
		a->md_seen = 1;
		rc = bf_auth_parse_token_reply(r.body, r.body_len, token, life,
					       e);
	}
	bf_auth_resp_wipe_free(&r);
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
	if (!a->fetch)
		return bf_err_set(e, EINVAL, "%s has no token endpoint",
				  a->describe);
	return a->fetch(a, token, lifetime_s, e);
}
