/* auth_int.h - the credential state shared by the files of fs/auth.
 *
 * Files, top to bottom (each calls only the ones below it): auth.c owns
 * the token cache and single flight; project.c finds the project when the
 * options name none; creds.c finds and loads a credential (ADC order) and
 * picks its fetcher (a->fetch); external.c does workload/workforce
 * identity federation (STS); impersonate.c the IAM Credentials
 * generateAccessToken step; grant.c the service account, authorized user
 * and metadata grants and bf_auth_fetch; post.c the POST to a token
 * endpoint; jwt.c signs; common.c holds small helpers.
 * Not a public header: nothing outside fs/auth includes it.
 */
#ifndef BATCHFS_AUTH_INT_H
#define BATCHFS_AUTH_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "batchfs/auth.h"
#include "batchfs/err.h"

#define BF_AUTH_SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define BF_GOOGLE_TOKEN_URI "https://oauth2.googleapis.com/token"
#define BF_METADATA_TOKEN_PATH                                                 \
	"/computeMetadata/v1/instance/service-accounts/default/token"

enum bf_src {
	BF_SRC_NONE,
	BF_SRC_TOKEN_FILE,
	BF_SRC_TOKEN_ENV,
	BF_SRC_SERVICE_ACCOUNT,
	BF_SRC_AUTHORIZED_USER,
	BF_SRC_METADATA,
	BF_SRC_EXTERNAL,      /* external_account: STS, then impersonation */
	BF_SRC_EXTERNAL_USER, /* external_account_authorized_user */
	BF_SRC_IMPERSONATED,  /* impersonated_service_account */
};

struct bf_ext; /* external.c */
struct bf_imp; /* impersonate.c */

typedef int (*bf_auth_fetcher)(struct bf_auth *a, char **token,
			       long *lifetime_s, struct bf_err *e);

/* Locking: "immutable" fields are set by bf_auth_new (or the loader of a
 * source credential) before the object is shared. "cred" fields are the
 * credential a reload replaces: swapped under mu (creds.c, swap_cred) by
 * the refreshing thread, and read without mu only by that thread (there is
 * one flight at a time). */
struct bf_auth {
	struct bf_http *http; /* immutable */
	/* cred; whether it is a file's never changes */
	enum bf_src src;
	bf_auth_fetcher fetch; /* cred: the loader's choice, NULL: none */
	char describe[512];    /* cred */
	char *project;	       /* immutable */
	/* quota_project_id, for x-goog-user-project; immutable */
	char *quota_project;
	long margin_s;	    /* immutable */
	int allow_insecure; /* immutable */

	/* Where the ADC search looked, for the "nothing found" message;
	 * immutable. */
	char searched[384];

	/* service_account / authorized_user */
	char *path;	     /* credential file; immutable */
	char *origin;	     /* how it was found, for messages; immutable */
	char *opt_token_uri; /* -o token_uri, for a reload; immutable */
	struct stat cred_st; /* identity of the file when loaded (mu) */
	int cred_refused;    /* a 401 since: re-read the file (mu) */
	char *token_uri;     /* cred */
	char *client_email;  /* cred */
	char *key_id;	     /* cred */
	EVP_PKEY *pkey;	     /* cred */
	char *client_id;     /* cred */
	char *client_secret; /* cred; secret */
	char *refresh_token; /* cred; secret */

	/* external_account(_authorized_user), impersonated_service_account:
	 * owned by their files, one pointer each so a reload swaps them. */
	struct bf_ext *ext; /* cred */
	struct bf_imp *imp; /* cred */
	/* project.c's answer, owned here, and where it was found: written
	 * by bf_auth_find_project, called once at start before sharing. */
	char *found_project;
	char found_from[300];

	/* metadata server */
	char *md_host;	  /* immutable */
	char *md_url;	  /* immutable */
	int md_seen;	  /* answered once: normal deadlines from now on;
			   * only the refreshing thread uses it */
	long md_probe_ms; /* first contact deadline; immutable */

	/* explicit token */
	char *token_path;     /* immutable */
	char *token_env;      /* immutable */
	struct stat token_st; /* the token's file when read (mu) */
	int token_reread;     /* mu */

	/* cache and single flight, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *token;	    /* secret */
	int64_t refresh_at; /* bf_now_ms() after which we refresh */
	int64_t expires_at; /* bf_now_ms() after which it is unusable */
	int refreshing;
	unsigned long flight_seq;
	int flight_rc;
	struct bf_err flight_err;
	int64_t fail_until; /* negative cache of a credential failure */

	/* Unit tests replace the network fetch to exercise the cache;
	 * set before the object is shared. */
	int (*fetch_hook)(struct bf_auth *a, char **token, long *lifetime_s,
			  struct bf_err *e);
};

/* creds.c: fills the source fields of a from the options (ADC search). */
int bf_auth_load(struct bf_auth *a, const struct bf_auth_opts *o,
		 struct bf_err *e);
void bf_auth_unload(struct bf_auth *a);
/* A key file is rotated in place: 1 when the credential file is no longer
 * the one loaded (inode, size or mtime), else 0; mu held. */
int bf_auth_cred_changed(struct bf_auth *a);
/* Loads the credential file again when it changed, or when force (its
 * credential was refused); swaps the new credential in under mu, keeps the
 * old one when the file does not load (logged). Only the refreshing thread
 * calls it. 1 reloaded, 0 not. */
int bf_auth_reload(struct bf_auth *a, int force);

/* creds.c's loader of a credential JSON object and its unloader, handed
 * to impersonate.c for the source credential (a file below creds.c). */
struct bf_cred_loader {
	int (*load)(struct bf_auth *a, const cJSON *j,
		    const struct bf_auth_opts *o, const char *path,
		    const char *origin, struct bf_err *e);
	void (*unload)(struct bf_auth *a);
};

/* external.c */
int bf_ext_load(struct bf_auth *a, const cJSON *j, const char *type,
		const char *path, const char *origin, struct bf_err *e);
int bf_ext_fetch(struct bf_auth *a, char **token, long *lifetime_s,
		 struct bf_err *e);
void bf_ext_free(struct bf_ext *x);
/* Picks the subject token out of a credential source's answer: the whole
 * text (trimmed) or a JSON object's string field. Exposed for tests and
 * the fuzzer. *out is a malloc'd secret. */
int bf_ext_subject_token(const char *body, size_t len, const char *field,
			 char **out, struct bf_err *e);

/* impersonate.c */
int bf_imp_load(struct bf_auth *a, const cJSON *j, const struct bf_auth_opts *o,
		const char *path, const char *origin,
		const struct bf_cred_loader *ld, struct bf_err *e);
int bf_imp_fetch(struct bf_auth *a, char **token, long *lifetime_s,
		 struct bf_err *e);
void bf_imp_free(struct bf_imp *m);
/* POSTs generateAccessToken at url with bearer as the caller's token. */
int bf_imp_generate(struct bf_auth *a, const char *url, const char *bearer,
		    char *const *delegates, long lifetime_s, char **token,
		    long *out_life_s, struct bf_err *e);
/* Parses {"accessToken": ..., "expireTime": RFC 3339}; now_s is the wall
 * clock. Exposed for tests and the fuzzer. */
int bf_auth_parse_iam_reply(const char *body, size_t len, long now_s,
			    char **token, long *lifetime_s, struct bf_err *e);

/* grant.c: one token from the configured source (a->fetch). On success
 * *token is a malloc'd secret (caller wipes) and *lifetime_s its
 * expires_in. */
int bf_auth_fetch(struct bf_auth *a, char **token, long *lifetime_s,
		  struct bf_err *e);
/* The fetchers creds.c picks for the types it loads itself. */
int bf_grant_service_account(struct bf_auth *a, char **token, long *life,
			     struct bf_err *e);
int bf_grant_authorized_user(struct bf_auth *a, char **token, long *life,
			     struct bf_err *e);
int bf_grant_metadata(struct bf_auth *a, char **token, long *life,
		      struct bf_err *e);

/* post.c: POSTs body to a token endpoint (bounded retries, the HTTP layer's
 * deadlines) and parses a 200 with parse; a 4xx is EACCES with the
 * server's reason and fix. headers may carry an Authorization line. */
typedef int (*bf_token_parser)(const char *body, size_t len, char **token,
			       long *lifetime_s, struct bf_err *e);
int bf_auth_post(struct bf_auth *a, const char *url, const char *body,
		 const char *content_type, const char *const *headers,
		 bf_token_parser parse, const char *fix, char **token,
		 long *life, struct bf_err *e);
/* Parses a token endpoint / metadata reply. Exposed for unit tests. */
int bf_auth_parse_token_reply(const char *body, size_t len, char **token,
			      long *lifetime_s, struct bf_err *e);
/* The error for a failed call to a token endpoint (rc and r from
 * bf_http_do): EACCES for a 4xx with the server's reason and fix, else the
 * HTTP layer's errno; returns -errno. */
struct bf_http_resp;
int bf_auth_post_failure(struct bf_auth *a, const char *url, int rc,
			 const struct bf_http_resp *r, const char *fix,
			 struct bf_err *e);
/* Wipes a reply's body (it may hold a token) and frees it. */
void bf_auth_resp_wipe_free(struct bf_http_resp *r);

/* strlcpy: copies what fits, always terminates (truncation is fine for
 * messages). */
static inline void bf_copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);

	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* common.c */
/* Wipes and frees a secret string. */
void bf_auth_free_secret(char *s);
/* cJSON frees without wiping: clears every string value, then frees. */
void bf_auth_json_wipe_delete(cJSON *j);
/* Reads a whole small file into a NUL-terminated secret buffer. */
int bf_auth_read_small_file(const char *path, size_t max, char **out,
			    size_t *len);
/* A string member's value, NULL when missing, not a string or empty. */
const char *bf_auth_jstr(const cJSON *o, const char *key);
/* https, or plain http to this machine only (emulators). */
int bf_auth_token_uri_ok(const char *u);
/* Drops surrounding whitespace in place (a trailing newline from `echo`,
 * a config line); returns the first kept character. */
char *bf_auth_trim(char *s);

/* jwt.c */
/* Loads a PEM (PKCS#8 or traditional) RSA private key; never prompts for a
 * passphrase. NULL with e set (EINVAL + OpenSSL's reason) on failure. */
EVP_PKEY *bf_jwt_rsa_key_load(const char *pem_key, struct bf_err *e);
/* Compact RS256 JWT of header.claims signed with pk; caller frees. */
char *bf_jwt_rs256_pkey(EVP_PKEY *pk, const char *header_json,
			const char *claims_json, struct bf_err *e);
/* Oldest queued OpenSSL error as text; clears the thread's error queue. */
void bf_ossl_reason(char *out, size_t n);

#endif
