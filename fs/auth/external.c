/* external.c - workload and workforce identity federation: the
 * external_account credential (a subject token from a file or a URL,
 * exchanged at STS per RFC 8693, then optionally a service account
 * impersonated with the STS token) and external_account_authorized_user
 * (a workforce refresh token redeemed at STS with the client's basic auth).
 *
 * Subject tokens, STS tokens, client secrets and refresh tokens are secrets:
 * wiped after use, never quoted in messages. Everything read from a
 * credential source or a server is untrusted and size-capped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "batchfs/http.h"
#include "auth/auth_int.h"

#define SUBJECT_MAX (1 << 20) /* as Go's library caps it */
/* Headers a credential file adds to the subject-token request. */
#define HEADER_NAME_MAX 128
#define HEADER_VALUE_MAX 4096
#define EXT_MAX_HEADERS 16
#define STS_DEFAULT_URL "https://sts.googleapis.com/v1/token"
#define WORKFORCE_AUD "//iam.googleapis.com/locations/global/workforcePools/"

/* Filled by bf_ext_load, then used only by the refreshing thread (one at a
 * time); a reload swaps in a new one under the bf_auth's mu. */
struct bf_ext {
	int user; /* external_account_authorized_user */
	char *token_url;
	char *audience;
	char *subject_token_type;
	char *imp_url; /* service_account_impersonation_url */
	long imp_lifetime_s;
	char *client_id;
	char *client_secret; /* secret */
	char *user_project;  /* workforce_pool_user_project */
	char *src_file;
	char *src_url;
	char **src_headers;  /* "Name: value", NULL-terminated */
	char *field;	     /* format json: subject_token_field_name */
	char *refresh_token; /* secret (authorized user) */
};

void bf_ext_free(struct bf_ext *x)
{
	if (!x)
		return;
	free(x->token_url);
	free(x->audience);
	free(x->subject_token_type);
	free(x->imp_url);
	free(x->client_id);
	bf_auth_free_secret(x->client_secret);
	free(x->user_project);
	free(x->src_file);
	free(x->src_url);
	for (char **h = x->src_headers; h && *h; h++)
		bf_auth_free_secret(*h);
	free(x->src_headers);
	free(x->field);
	bf_auth_free_secret(x->refresh_token);
	free(x);
}

/* s[0..n) trimmed, as a string; NULL when empty or holding a NUL. */
static char *trimmed_dup(const char *s, size_t n)
{
	char *out, *t;

	if (memchr(s, '\0', n))
		return NULL;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	t = bf_auth_trim(out);
	if (!*t) {
		free(out);
		return NULL;
	}
	memmove(out, t, strlen(t) + 1);
	return out;
}

int bf_ext_subject_token(const char *body, size_t len, const char *field,
			 char **out, struct bf_err *e)
{
	cJSON *j;
	const cJSON *v;
	int rc = 0;

	*out = NULL;
	if (!body || len > SUBJECT_MAX)
		return bf_err_set(e, EACCES,
				  "subject token is missing or "
				  "larger than 1 MiB");
	if (!field) {
		*out = trimmed_dup(body, len);
		if (!*out)
			return bf_err_set(e, EACCES,
					  "subject token is empty or holds a "
					  "NUL byte");
		return 0;
	}
	j = cJSON_ParseWithLength(body, len);
	v = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, field)
			      : NULL;
	if (!j || !cJSON_IsObject(j))
		rc = bf_err_set(e, EACCES,
				"subject token source did not answer a JSON "
				"object (format type json)");
	else if (!cJSON_IsString(v) || !v->valuestring[0])
		rc = bf_err_set(e, EACCES,
				"subject token source's JSON has no string "
				"field \"%.64s\"",
				field);
	else if (!(*out = strdup(v->valuestring)))
		rc = bf_err_set(e, ENOMEM, "out of memory");
	bf_auth_json_wipe_delete(j);
	return rc;
}

/* A header from credential_source.headers: a token name, a value without
 * line breaks. */
static int header_ok(const char *name, const char *value)
{
	const char *p;

	if (!*name || strlen(name) > HEADER_NAME_MAX ||
	    strlen(value) > HEADER_VALUE_MAX)
		return 0;
	for (p = name; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == ':')
			return 0;
	for (p = value; *p; p++)
		if (*p == '\r' || *p == '\n' || *p == '\0')
			return 0;
	return 1;
}

/* How much of a URL messages show: up to the query, 200 at most. */
static size_t url_shown(const char *u)
{
	size_t n = strcspn(u, "?#");

	return n < 200 ? n : 200;
}

static char *xdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

#define BAD(...)                                                               \
	do {                                                                   \
		rc = bf_err_set(e, EACCES, __VA_ARGS__);                       \
		goto out;                                                      \
	} while (0)

static int load_source(struct bf_ext *x, const cJSON *cs, const char *path,
		       const char *origin, struct bf_err *e)
{
	const char *file = bf_auth_jstr(cs, "file");
	const char *url = bf_auth_jstr(cs, "url");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(cs, "format");
	const cJSON *hs = cJSON_GetObjectItemCaseSensitive(cs, "headers");
	const cJSON *h;
	const char *ft;
	int rc = 0, n = 0;

	if (bf_auth_jstr(cs, "environment_id") ||
	    cJSON_HasObjectItem(cs, "executable"))
		BAD("external account %s (from %s): only file and url "
		    "credential sources are supported (not AWS or executable "
		    "sources); use a file or url source",
		    path, origin);
	if (!!file == !!url)
		BAD("external account %s (from %s): credential_source needs "
		    "exactly one of \"file\" or \"url\"",
		    path, origin);
	if (url && strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0)
		BAD("external account %s (from %s): credential_source.url is "
		    "not an http(s) URL",
		    path, origin);
	x->src_file = xdup(file);
	x->src_url = xdup(url);
	if (hs && !cJSON_IsNull(hs)) {
		if (!cJSON_IsObject(hs) ||
		    cJSON_GetArraySize(hs) > EXT_MAX_HEADERS)
			BAD("external account %s (from %s): "
			    "credential_source.headers is not an object of at "
			    "most %d strings",
			    path, origin, EXT_MAX_HEADERS);
		x->src_headers = calloc((size_t)cJSON_GetArraySize(hs) + 1,
					sizeof(char *));
		if (!x->src_headers)
			return bf_err_set(e, ENOMEM, "out of memory");
		cJSON_ArrayForEach(h, hs)
		{
			size_t l;

			if (!cJSON_IsString(h) || !h->string ||
			    !header_ok(h->string, h->valuestring))
				BAD("external account %s (from %s): a "
				    "credential_source header is not a valid "
				    "HTTP header",
				    path, origin);
			l = strlen(h->string) + strlen(h->valuestring) + 3;
			x->src_headers[n] = malloc(l);
			if (!x->src_headers[n])
				return bf_err_set(e, ENOMEM, "out of memory");
			snprintf(x->src_headers[n], l, "%s: %s", h->string,
				 h->valuestring);
			n++;
		}
	}
	if (fmt && !cJSON_IsNull(fmt)) {
		ft = cJSON_IsObject(fmt) ? bf_auth_jstr(fmt, "type") : NULL;
		if (ft && strcmp(ft, "json") == 0) {
			const char *f =
				bf_auth_jstr(fmt, "subject_token_field_name");

			if (!f)
				BAD("external account %s (from %s): format "
				    "json needs \"subject_token_field_name\"",
				    path, origin);
			x->field = strdup(f);
			if (!x->field)
				return bf_err_set(e, ENOMEM, "out of memory");
		} else if (ft && strcmp(ft, "text") != 0) {
			BAD("external account %s (from %s): "
			    "credential_source.format.type must be text or "
			    "json",
			    path, origin);
		}
	}
	if ((file && !x->src_file) || (url && !x->src_url))
		return bf_err_set(e, ENOMEM, "out of memory");
out:
	return rc;
}

static int load_impersonation(struct bf_ext *x, const cJSON *j,
			      const char *path, const char *origin,
			      struct bf_err *e)
{
	const char *u = bf_auth_jstr(j, "service_account_impersonation_url");
	const cJSON *sai = cJSON_GetObjectItemCaseSensitive(
		j, "service_account_impersonation");
	const cJSON *lt = cJSON_IsObject(sai)
				  ? cJSON_GetObjectItemCaseSensitive(
					    sai, "token_lifetime_seconds")
				  : NULL;
	int rc = 0;

	x->imp_lifetime_s = 3600;
	if (!u)
		return 0;
	if (!bf_auth_token_uri_ok(u) || !strstr(u, ":generateAccessToken"))
		BAD("external account %s (from %s): "
		    "service_account_impersonation_url is not an https "
		    "generateAccessToken URL",
		    path, origin);
	if (lt && !cJSON_IsNull(lt)) {
		/* The range IAM accepts (beyond 3600 s with an org policy). */
		if (!cJSON_IsNumber(lt) || lt->valuedouble < 600 ||
		    lt->valuedouble > 43200)
			BAD("external account %s (from %s): "
			    "token_lifetime_seconds must be 600 to 43200",
			    path, origin);
		x->imp_lifetime_s = (long)lt->valuedouble;
	}
	x->imp_url = strdup(u);
	if (!x->imp_url)
		return bf_err_set(e, ENOMEM, "out of memory");
out:
	return rc;
}

int bf_ext_load(struct bf_auth *a, const cJSON *j, const char *type,
		const char *path, const char *origin, struct bf_err *e)
{
	struct bf_ext *x = calloc(1, sizeof(*x));
	const char *url = bf_auth_jstr(j, "token_url");
	const char *aud = bf_auth_jstr(j, "audience");
	const char *stt = bf_auth_jstr(j, "subject_token_type");
	const char *id = bf_auth_jstr(j, "client_id");
	const char *secret = bf_auth_jstr(j, "client_secret");
	const char *up = bf_auth_jstr(j, "workforce_pool_user_project");
	const cJSON *cs;
	char how[300];
	int rc = 0;

	if (!x)
		return bf_err_set(e, ENOMEM, "out of memory");
	a->ext = x;
	x->user = strcmp(type, "external_account_authorized_user") == 0;
	if (x->user) {
		const char *rt = bf_auth_jstr(j, "refresh_token");

		/* Without these Google's libraries cannot refresh either. */
		if (!rt || !url || !id || !secret)
			BAD("external account authorized user file %s (from "
			    "%s) needs refresh_token, token_url, client_id "
			    "and client_secret; run 'gcloud auth "
			    "application-default login --login-config=...' "
			    "again",
			    path, origin);
		x->refresh_token = strdup(rt);
		if (!x->refresh_token)
			return bf_err_set(e, ENOMEM, "out of memory");
	} else {
		if (!aud || !stt)
			BAD("external account %s (from %s) needs \"audience\" "
			    "and \"subject_token_type\"; generate it again "
			    "with 'gcloud iam workload-identity-pools "
			    "create-cred-config'",
			    path, origin);
		cs = cJSON_GetObjectItemCaseSensitive(j, "credential_source");
		if (!cJSON_IsObject(cs))
			BAD("external account %s (from %s) has no "
			    "\"credential_source\" object",
			    path, origin);
		rc = load_source(x, cs, path, origin, e);
		if (rc < 0)
			return rc;
		rc = load_impersonation(x, j, path, origin, e);
		if (rc < 0)
			return rc;
		if (up && strncmp(aud, WORKFORCE_AUD, strlen(WORKFORCE_AUD)))
			BAD("external account %s (from %s): "
			    "workforce_pool_user_project is only for "
			    "workforce pool audiences",
			    path, origin);
	}
	if (!url)
		url = STS_DEFAULT_URL;
	if (!bf_auth_token_uri_ok(url))
		BAD("external account %s (from %s) has a token_url that is "
		    "not https (%.80s)",
		    path, origin, url);
	x->token_url = strdup(url);
	x->audience = xdup(aud);
	x->subject_token_type = xdup(stt);
	x->client_id = xdup(id);
	/* A public client: basic auth with an empty secret, as Google's
	 * libraries send it. */
	x->client_secret = id ? strdup(secret ? secret : "") : NULL;
	x->user_project = xdup(up);
	if (!x->token_url || (aud && !x->audience) ||
	    (stt && !x->subject_token_type) ||
	    (id && (!x->client_id || !x->client_secret)))
		return bf_err_set(e, ENOMEM, "out of memory");
	a->project = xdup(bf_auth_jstr(j, "project_id"));
	if (x->user) {
		a->src = BF_SRC_EXTERNAL_USER;
		a->fetch = bf_ext_fetch;
		snprintf(a->describe, sizeof(a->describe),
			 "external account authorized user from %s (%s)", path,
			 origin);
		return 0;
	}
	a->src = BF_SRC_EXTERNAL;
	a->fetch = bf_ext_fetch;
	/* A URL's query may carry a secret: described without it. */
	snprintf(how, sizeof(how), "%s %.*s", x->src_file ? "file" : "url",
		 x->src_file ? 200 : (int)url_shown(x->src_url),
		 x->src_file ? x->src_file : x->src_url);
	if (x->imp_url) {
		const char *p = strstr(x->imp_url, "/serviceAccounts/");

		snprintf(a->describe, sizeof(a->describe),
			 "service account %.*s via external account "
			 "(subject token from %s) from %s (%s)",
			 p ? (int)strcspn(p + 17, ":") : 1, p ? p + 17 : "?",
			 how, path, origin);
	} else {
		snprintf(a->describe, sizeof(a->describe),
			 "external account (subject token from %s) from %s "
			 "(%s)",
			 how, path, origin);
	}
	return 0;
out:
	return rc;
}

/* "Authorization: Basic base64(id:secret)" as Google's libraries send
 * client credentials to STS. A secret; caller wipes. */
static char *basic_auth(const struct bf_ext *x)
{
	size_t l = strlen(x->client_id) + strlen(x->client_secret) + 2;
	size_t bl = 4 * ((l + 2) / 3) + 1;
	char *raw = malloc(l), *out = malloc(bl + 32);

	if (!raw || !out) {
		free(raw);
		free(out);
		return NULL;
	}
	snprintf(raw, l, "%s:%s", x->client_id, x->client_secret);
	memcpy(out, "Authorization: Basic ", 21);
	EVP_EncodeBlock((unsigned char *)out + 21, (unsigned char *)raw,
			(int)(l - 1));
	bf_auth_free_secret(raw);
	return out;
}

static int subject_from_url(struct bf_auth *a, struct bf_ext *x, char **out,
			    struct bf_err *e)
{
	struct bf_http_resp r = {0};
	struct bf_http_req req = {
		.url = x->src_url,
		.headers = (const char *const *)x->src_headers,
		.no_auth = 1,
	};
	char why[200];
	int rc;

	rc = bf_http_do(a->http, &req, &r, e);
	if (rc < 0 && r.status >= 400 && r.status < 500 && r.status != 408 &&
	    r.status != 429) {
		rc = bf_err_set(e, EACCES,
				"subject token URL %.*s for %s answered "
				"HTTP %ld",
				(int)url_shown(x->src_url), x->src_url,
				a->describe, r.status);
	} else if (rc < 0) {
		/* Down or slow: keep the HTTP layer's errno (try later). */
		bf_copy_str(why, sizeof(why), e->msg);
		rc = bf_err_set(e, -rc, "subject token URL %.*s: %s",
				(int)url_shown(x->src_url), x->src_url, why);
	} else if (r.status != 200) {
		rc = bf_err_set(e, EIO,
				"subject token URL %.*s answered HTTP %ld "
				"without a token",
				(int)url_shown(x->src_url), x->src_url,
				r.status);
	} else {
		rc = bf_ext_subject_token(r.body, r.body_len, x->field, out, e);
	}
	if (r.body)
		OPENSSL_cleanse(r.body, r.body_len);
	bf_http_resp_free(&r);
	return rc;
}

static int subject_from_file(struct bf_ext *x, char **out, struct bf_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = bf_auth_read_small_file(x->src_file, SUBJECT_MAX, &text, &len);
	if (rc < 0)
		return bf_err_set(e, EACCES,
				  "cannot read the subject token file %s "
				  "(credential_source.file): %s",
				  x->src_file, strerror(-rc));
	rc = bf_ext_subject_token(text, len, x->field, out, e);
	if (rc < 0) {
		struct bf_err k = *e;

		bf_err_set(e, k.err, "subject token file %s: %s", x->src_file,
			   k.msg);
	}
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

/* Appends "&name=urlencoded(value)" to a secret form body. */
static int form_add(char **body, const char *name, const char *value)
{
	char *v = bf_url_encode(value), *nb;
	size_t l;

	if (!v)
		return -ENOMEM;
	l = (*body ? strlen(*body) : 0) + strlen(name) + strlen(v) + 3;
	nb = malloc(l);
	if (nb)
		snprintf(nb, l, "%s%s%s=%s", *body ? *body : "",
			 *body ? "&" : "", name, v);
	bf_auth_free_secret(v);
	bf_auth_free_secret(*body);
	*body = nb;
	return nb ? 0 : -ENOMEM;
}

static int sts_exchange(struct bf_auth *a, struct bf_ext *x,
			const char *subject, char **token, long *life,
			struct bf_err *e)
{
	const char *hdrs[2] = {NULL, NULL};
	char *body = NULL, *auth = NULL, *opts = NULL;
	int rc = 0;

	if (x->client_id && !(auth = basic_auth(x)))
		return bf_err_set(e, ENOMEM, "out of memory");
	hdrs[0] = auth;
	if (!x->client_id && x->user_project) {
		cJSON *o = cJSON_CreateObject();

		if (o &&
		    cJSON_AddStringToObject(o, "userProject", x->user_project))
			opts = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if (!opts)
			rc = -ENOMEM;
	}
	if (!rc)
		rc = form_add(
			&body, "grant_type",
			"urn:ietf:params:oauth:grant-type:token-exchange");
	if (!rc)
		rc = form_add(&body, "audience", x->audience);
	if (!rc)
		rc = form_add(&body, "scope", BF_AUTH_SCOPE);
	if (!rc)
		rc = form_add(&body, "requested_token_type",
			      "urn:ietf:params:oauth:token-type:access_token");
	if (!rc)
		rc = form_add(&body, "subject_token", subject);
	if (!rc)
		rc = form_add(&body, "subject_token_type",
			      x->subject_token_type);
	if (!rc && opts)
		rc = form_add(&body, "options", opts);
	if (rc < 0)
		rc = bf_err_set(e, ENOMEM, "out of memory");
	else
		rc = bf_auth_post(a, x->token_url, body,
				  "application/x-www-form-urlencoded",
				  auth ? hdrs : NULL, bf_auth_parse_token_reply,
				  "check the workload identity pool provider's "
				  "audience and attribute conditions, and that "
				  "the subject token is current",
				  token, life, e);
	bf_auth_free_secret(body);
	bf_auth_free_secret(auth);
	free(opts);
	return rc;
}

static int refresh_user(struct bf_auth *a, struct bf_ext *x, char **token,
			long *life, struct bf_err *e)
{
	const char *hdrs[2] = {NULL, NULL};
	char *body = NULL, *auth = basic_auth(x);
	int rc;

	hdrs[0] = auth;
	rc = auth ? form_add(&body, "grant_type", "refresh_token") : -ENOMEM;
	if (!rc)
		rc = form_add(&body, "refresh_token", x->refresh_token);
	if (rc < 0)
		rc = bf_err_set(e, ENOMEM, "out of memory");
	else
		rc = bf_auth_post(a, x->token_url, body,
				  "application/x-www-form-urlencoded", hdrs,
				  bf_auth_parse_token_reply,
				  "run 'gcloud auth application-default login "
				  "--login-config=...' again",
				  token, life, e);
	bf_auth_free_secret(body);
	bf_auth_free_secret(auth);
	return rc;
}

int bf_ext_fetch(struct bf_auth *a, char **token, long *lifetime_s,
		 struct bf_err *e)
{
	struct bf_ext *x = a->ext;
	char *subject = NULL, *sts = NULL;
	long sts_life = 0;
	int rc;

	if (!x)
		return bf_err_set(e, EINVAL, "no external account configured");
	if (x->user)
		return refresh_user(a, x, token, lifetime_s, e);
	rc = x->src_file ? subject_from_file(x, &subject, e)
			 : subject_from_url(a, x, &subject, e);
	if (rc < 0)
		return rc;
	rc = sts_exchange(a, x, subject, x->imp_url ? &sts : token,
			  x->imp_url ? &sts_life : lifetime_s, e);
	bf_auth_free_secret(subject);
	if (rc < 0 || !x->imp_url)
		return rc;
	rc = bf_imp_generate(a, x->imp_url, sts, NULL, x->imp_lifetime_s, token,
			     lifetime_s, e);
	bf_auth_free_secret(sts);
	return rc;
}
