/* post.c - the one POST to a token endpoint (bf_auth_post), which
 * grant.c, external.c and impersonate.c all use, and the parse of an OAuth
 * token reply.
 *
 * Retries and deadlines are the HTTP layer's; this file decides what a
 * failure means. A 4xx from a token endpoint is a credential problem
 * (EACCES with the server's error_description); 5xx, transport errors and
 * timeouts keep the HTTP layer's errno so callers can tell "try later" from
 * "fix your setup". Replies hold secrets and are wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "batchfs/http.h"
#include "batchfs/log.h"
#include "auth/auth_int.h"

#define MAX_LIFETIME_S (24L * 3600)
#define DEFAULT_LIFETIME_S 3600L

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
	bf_auth_json_wipe_delete(j);
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
	bf_auth_json_wipe_delete(j);
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

int bf_auth_post_failure(struct bf_auth *a, const char *url, int rc,
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

void bf_auth_resp_wipe_free(struct bf_http_resp *r)
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
		rc = bf_auth_post_failure(a, url, rc, &r, fix, e);
	else
		rc = parse(r.body, r.body_len, token, life, e);
	bf_auth_resp_wipe_free(&r);
	return rc;
}
