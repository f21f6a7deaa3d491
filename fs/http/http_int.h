/* http_int.h - helpers shared by the files of fs/http (not public). */
#ifndef BATCHFS_HTTP_INT_H
#define BATCHFS_HTTP_INT_H

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
 * network I/O. "Setup" fields are set by bf_http_new and the bf_http_set_*
 * calls before the first request, and read-only after. */
#define POOL_MAX 16

struct bf_http {
	struct bf_http_opts o;	   /* setup */
	struct bf_token_source ts; /* setup */
	CURLSH *share;		   /* setup; its data under share_lock[] */
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	CURL *idle[POOL_MAX];	  /* pool_lock */
	int n_idle;		  /* pool_lock */
	struct bf_http_stats st;  /* updated with __atomic builtins */
	struct stack_st_X509 *ca; /* setup: extra trusted CAs, or NULL */
	/* every connection's CAs, built at the first TLS connection, and
	 * whether that failed (curl's own then): tls.c's store_mu */
	struct x509_store_st *store;
	int store_failed;
	char *proxy;   /* CURLOPT_PROXY, or NULL: environment; setup */
	char *noproxy; /* CURLOPT_NOPROXY, or NULL: environment; setup */
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
