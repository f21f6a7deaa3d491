/* auth.h - OAuth2 access tokens for Google APIs.
 *
 * Sources, in Application Default Credentials order unless one is forced:
 * an explicit token (file or env var), the credentials option /
 * GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials
 * .json (CLOUDSDK_CONFIG or ~/.config/gcloud), the metadata server.
 * Types: service_account (RS256 JWT grant at token_uri), authorized_user
 * (refresh_token grant), external_account (workload identity federation:
 * a subject token from a file or URL exchanged at STS, optionally then
 * impersonating a service account), external_account_authorized_user
 * (workforce refresh token at STS), impersonated_service_account (gcloud's
 * --impersonate-service-account), metadata server tokens; or none at all.
 * Tokens are cached, refreshed before expiry by one thread while the others
 * wait (single flight), and never logged.
 */
#ifndef BATCHFS_AUTH_H
#define BATCHFS_AUTH_H

#include <stddef.h>

#include "batchfs/err.h"

struct bf_http;
struct bf_auth;
struct bf_token_source;

enum bf_auth_mode {
	BF_AUTH_ADC = 0,   /* search in ADC order */
	BF_AUTH_NONE,	   /* send no Authorization (emulators that allow it) */
	BF_AUTH_TOKEN,	   /* fixed token from token_file or token_env */
};

struct bf_auth_opts {
	enum bf_auth_mode mode;
	const char *credentials_file; /* overrides GOOGLE_APPLICATION_CREDENTIALS */
	const char *token_file;	      /* BF_AUTH_TOKEN: re-read when it changes */
	const char *token_env;	      /* BF_AUTH_TOKEN: env var name */
	const char *metadata_host;    /* default GCE_METADATA_HOST or
					 metadata.google.internal */
	const char *token_uri;	      /* override for authorized_user (tests) */
	long refresh_margin_s;	      /* refresh this early: 225 (at most
					 half the token's lifetime) */
	int allow_insecure_keyfile;   /* else group/world-writable keys refused */
	const char *credentials_origin; /* where credentials_file came from,
					   for messages: "GOOGLE_APPLICATION_
					   CREDENTIALS" or (NULL) the option */
};

/* Loads and checks the credential (file exists, parses, key loads); makes
 * no network call. -EACCES with a message naming the source tried and what
 * to do when nothing usable is found. */
int bf_auth_new(const struct bf_auth_opts *o, struct bf_http *http,
		struct bf_auth **out, struct bf_err *e);
void bf_auth_free(struct bf_auth *a);

/* A valid access token ("ya29..."), refreshing it if needed.
 * Returns 0 and writes the token (no "Bearer ") into out, 1 when the mode
 * sends no token, or -errno (-EACCES for credential failures, -ERANGE when
 * out is too small). A token endpoint that is down or slow keeps the HTTP
 * layer's errno (-EAGAIN, -EIO, -ETIMEDOUT...), not -EACCES; a 4xx from it
 * is -EACCES with the server's error_description. Threads that wait for
 * another thread's refresh share its outcome. */
int bf_auth_token(struct bf_auth *a, char *out, size_t n, struct bf_err *e);

/* Forget a token the server rejected (401); the next call refreshes.
 * Only drops it while it is still the current token (NULL: whatever is
 * current). A token file is re-read on the next call. */
void bf_auth_invalidate(struct bf_auth *a, const char *token);

/* Human description of the source, e.g. "service account x@p.iam... from
 * /path/key.json". Never contains secrets. */
const char *bf_auth_describe(const struct bf_auth *a);

/* project_id from the credential, or NULL. */
const char *bf_auth_project(const struct bf_auth *a);

/* The project to use when the options name none, found as Google's
 * libraries do: the credential's project_id, its quota_project_id,
 * gcloud's active configuration ([core] project), then (only when the
 * credential is the metadata server's) the metadata server's project-id.
 * NULL when none; *from (may be NULL) says which, for messages. May make one
 * network call with a short deadline; call once at start. */
const char *bf_auth_find_project(struct bf_auth *a, const char **from);

/* quota_project_id from the credential, or NULL: sent as
 * x-goog-user-project with every authorized call, as Google's libraries
 * do, so quota and billing go to that project. */
const char *bf_auth_quota_project(const struct bf_auth *a);

/* Fills ts with callbacks to bf_auth_token, bf_auth_invalidate and
 * bf_auth_quota_project on a, for bf_http_set_token_source. */
void bf_auth_token_source(struct bf_auth *a, struct bf_token_source *ts);

/* base64url without padding; caller frees. */
char *bf_b64url_encode(const unsigned char *p, size_t n);
/* RS256 signature of header.claims with a PEM PKCS#8 RSA key; returns the
 * compact JWT (caller frees) or NULL with e set. */
char *bf_jwt_rs256(const char *pem_key, const char *header_json,
		   const char *claims_json, struct bf_err *e);

#endif
