/* http_priv.h - helpers shared by the files of fs/http (not public). */
#ifndef BATCHFS_HTTP_PRIV_H
#define BATCHFS_HTTP_PRIV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "batchfs/http.h"

/* Room for an access token (Google's are about 2 KiB). */
#define BF_TOKEN_MAX 4096

/* wait.c: whether this thread takes a place in the network gate
 * (bf_req_limits), for client.c's gate. */
int bf__req_gated(void);

/* Forgets the reply headers of a previous response (keeps status). */
void bf_http_hdr_reset(struct bf_http_resp *r);
/* Records one raw header line ("Name: value\r\n") if we track it. */
void bf_http_hdr_parse(struct bf_http_resp *r, const char *line, size_t len);
/* The status line and headers of a raw GET's reply (rawget.c), up to and
 * including the CRLF of the last header; exposed for the fuzzer. */
struct bf_rawget;
int bf_http__raw_head(struct bf_rawget *g, const char *head, size_t len);
/* url with secret query values masked, for logs and messages. */
void bf_http_url_for_log(const char *url, char *out, size_t n);

/* The client (client.c). Shared by all threads; no lock is held across
 * network I/O. */
#define POOL_MAX 16

struct bf_http {
	struct bf_http_opts o;
	struct bf_auth *auth;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *idle[POOL_MAX];
	int n_idle;
	struct bf_http_stats st; /* updated with __atomic builtins */
	struct stack_st_X509 *ca; /* extra trusted CAs (tls.c), or NULL */
	struct x509_store_st *store; /* every connection's CAs (tls.c) */
	int store_failed;	     /* building it failed: curl's own */
	char *proxy;		  /* CURLOPT_PROXY, or NULL: environment */
	char *noproxy;		  /* CURLOPT_NOPROXY, or NULL: environment */
};

/* tls.c: per-attempt TLS and proxy options of an easy handle (after
 * curl_easy_reset), the owner's CA list, and the words for a refused
 * certificate (reads this thread's record of the last handshake). */
void bf_http_tls_setup(struct bf_http *h, CURL *c);
void bf_http_tls_free(struct bf_http *h);
void bf_http_tls_explain(const char *url, const char *curl_text, char *out,
			 size_t n);

void bf_http_stat_add(uint64_t *ctr, uint64_t n);
/* A reset-ready easy handle bound to the share, or NULL; and back. */
CURL *bf_http_pool_get(struct bf_http *h);
void bf_http_pool_put(struct bf_http *h, CURL *c);

#endif
