/* tls.c - what batchfs adds to libcurl's TLS: extra trusted CAs and the
 * reason a server's certificate was refused.
 *
 * Extra CAs (-o cafile=, else CURL_CA_BUNDLE, else SSL_CERT_FILE; the
 * caller resolves which) are ADDED to the store libcurl built from the
 * system's bundle, never put in its place. CURLOPT_CAINFO would replace
 * the bundle, so a file holding only a proxy's or a company's CA would then
 * break every public endpoint not behind that proxy. The certificates are
 * parsed once, here, and added from CURLOPT_SSL_CTX_FUNCTION, which libcurl
 * (OpenSSL backend) calls for each new TLS connection after it loaded its
 * own CA file and directory; X509_STORE_add_cert takes a reference and
 * ignores duplicates.
 *
 * One store for all connections: libcurl would otherwise parse the system
 * bundle (~150 certificates, ~0.8 MiB parsed) into a new store for every
 * connection, and parallel ranged reads keep up to 16 of them open (15 MiB
 * of the daemon's RSS with 4 readers). So the store is built once, from
 * libcurl's own CA file and directory plus the extra CAs, libcurl is told
 * to load none, and the callback hands each new SSL_CTX that store
 * (reference counted). Verification is the same: same CAs, same checks.
 * When building it fails, libcurl loads its files as before.
 *
 * The same callback installs a verify callback that only watches: it
 * returns OpenSSL's verdict unchanged (verification is never relaxed) and
 * records, per thread, the first certificate that failed, so a refusal can
 * name its subject and issuer. The handshake runs on the thread of
 * curl_easy_perform, hence the thread-local record.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "http_int.h"

struct vfail {
	int set;
	int err;
	char subject[160];
	char issuer[160];
};

static __thread struct vfail vfail;

static void name_line(X509_NAME *nm, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = 0;
	if (!b)
		return;
	/* The server chose these bytes: control and non-ASCII bytes are
	 * escaped (\XX), so nothing reaches a terminal or log raw. */
	X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253);
	len = BIO_read(b, out, (int)n - 1);
	out[len > 0 ? len : 0] = 0;
	BIO_free(b);
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	X509 *cur;

	if (ok || vfail.set)
		return ok;
	cur = X509_STORE_CTX_get_current_cert(xs);
	vfail.set = 1;
	vfail.err = X509_STORE_CTX_get_error(xs);
	if (cur) {
		name_line(X509_get_subject_name(cur), vfail.subject,
			  sizeof(vfail.subject));
		name_line(X509_get_issuer_name(cur), vfail.issuer,
			  sizeof(vfail.issuer));
	}
	return ok; /* OpenSSL's verdict, always */
}

static pthread_mutex_t store_mu = PTHREAD_MUTEX_INITIALIZER;

/* The shared store, built at the first call; NULL when it cannot be. */
static X509_STORE *shared_store(struct bf_http *h, CURL *c)
{
	X509_STORE *st;
	char *file = NULL, *dir = NULL;

	pthread_mutex_lock(&store_mu);
	st = h->store;
	if (st || h->store_failed)
		goto out;
#if LIBCURL_VERSION_NUM >= 0x075400 /* CURLINFO_CAINFO/CAPATH: 7.84 */
	curl_easy_getinfo(c, CURLINFO_CAINFO, &file);
	curl_easy_getinfo(c, CURLINFO_CAPATH, &dir);
#endif
	st = X509_STORE_new();
	if (!st || (!file && !dir) ||
	    (file && X509_STORE_load_locations(st, file, NULL) != 1 && !dir) ||
	    (dir && X509_STORE_load_locations(st, NULL, dir) != 1 && !file)) {
		X509_STORE_free(st);
		st = NULL;
		h->store_failed = 1;
		goto out;
	}
	for (int i = 0; h->ca && i < sk_X509_num(h->ca); i++)
		X509_STORE_add_cert(st, sk_X509_value(h->ca, i));
	h->store = st;
out:
	ERR_clear_error();
	pthread_mutex_unlock(&store_mu);
	return st;
}

static CURLcode ssl_ctx_cb(CURL *c, void *sslctx, void *ud)
{
	struct bf_http *h = ud;
	SSL_CTX *ctx = sslctx;
	X509_STORE *shared = shared_store(h, c);

	if (shared) {
		X509_STORE_up_ref(shared);
		SSL_CTX_set_cert_store(ctx, shared);
	} else if (h->ca) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);

		for (int i = 0; st && i < sk_X509_num(h->ca); i++)
			X509_STORE_add_cert(st, sk_X509_value(h->ca, i));
		ERR_clear_error();
	}
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), verify_cb);
	return CURLE_OK;
}

void bf_http_tls_setup(struct bf_http *h, CURL *c)
{
	vfail.set = 0;
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, h);
	if (shared_store(h, c)) {
		/* The callback brings the CAs: libcurl parses no file. */
		curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	if (h->proxy)
		curl_easy_setopt(c, CURLOPT_PROXY, h->proxy);
	if (h->noproxy)
		curl_easy_setopt(c, CURLOPT_NOPROXY, h->noproxy);
}

/* Is path libcurl's own CA bundle? Environments often point CURL_CA_BUNDLE
 * or SSL_CERT_FILE at it; adding its ~150 certificates again to every new
 * connection's store would only cost time. */
static int is_default_bundle(const char *path)
{
	char a[PATH_MAX], b[PATH_MAX];
	char *def = NULL;
	int same = 0;
	CURL *c;

#if LIBCURL_VERSION_NUM >= 0x075400 /* CURLINFO_CAINFO: 7.84 */
	c = curl_easy_init();
	if (!c)
		return 0;
	if (curl_easy_getinfo(c, CURLINFO_CAINFO, &def) == CURLE_OK && def &&
	    realpath(def, a) && realpath(path, b))
		same = strcmp(a, b) == 0;
	curl_easy_cleanup(c);
#else
	(void)a;
	(void)b;
	(void)def;
	(void)c;
#endif
	return same;
}

int bf_http_set_cafile(struct bf_http *h, const char *path, const char *what,
		       struct bf_err *e)
{
	STACK_OF(X509) *sk;
	BIO *b;
	X509 *x;

	if (!path || !*path)
		return 0;
	if (is_default_bundle(path))
		return 0; /* already trusted, and readable by libcurl */
	b = BIO_new_file(path, "r");
	if (!b) {
		int err = errno ? errno : EIO;

		/* EINVAL: a bad option, whatever the reason (ENOENT or
		 * EACCES would read as "no such job" or "bad credential"). */
		ERR_clear_error();
		return bf_err_set(e, EINVAL, "CA file %s (%s): %s", path, what,
				  strerror(err));
	}
	sk = sk_X509_new_null();
	if (!sk) {
		BIO_free(b);
		return bf_err_set(e, ENOMEM, "out of memory");
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	}
	ERR_clear_error(); /* the read that ended the loop */
	BIO_free(b);
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return bf_err_set(e, EINVAL,
				  "CA file %s (%s) holds no PEM certificate "
				  "(-----BEGIN CERTIFICATE-----)",
				  path, what);
	}
	if (h->ca)
		sk_X509_pop_free(h->ca, X509_free);
	h->ca = sk;
	pthread_mutex_lock(&store_mu);
	X509_STORE_free(h->store); /* built again, with these */
	h->store = NULL;
	h->store_failed = 0;
	pthread_mutex_unlock(&store_mu);
	return 0;
}

void bf_http_tls_free(struct bf_http *h)
{
	X509_STORE_free(h->store);
	h->store = NULL;
	if (h->ca)
		sk_X509_pop_free(h->ca, X509_free);
	h->ca = NULL;
}

/* "host[:port]" of an absolute URL, for messages. */
static void url_authority(const char *url, char *out, size_t n)
{
	const char *a = strstr(url, "://");
	size_t len;

	a = a ? a + 3 : url;
	len = strcspn(a, "/?#");
	if (memchr(a, '@', len)) { /* never print userinfo */
		const char *at = memchr(a, '@', len);

		len -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	if (len >= n)
		len = n - 1;
	memcpy(out, a, len);
	out[len] = 0;
}

void bf_http_tls_explain(const char *url, const char *curl_text, char *out,
			 size_t n)
{
	char host[256];

	url_authority(url, host, sizeof(host));
	if (vfail.set && vfail.issuer[0])
		snprintf(out, n,
			 "TLS: the certificate of %s is not trusted: %s "
			 "(certificate \"%s\", issued by \"%s\")",
			 host, X509_verify_cert_error_string(vfail.err),
			 vfail.subject, vfail.issuer);
	else
		snprintf(out, n, "TLS: the certificate of %s was refused: %s",
			 host, curl_text);
}
