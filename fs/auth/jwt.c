/* jwt.c - base64url and RS256 signing of compact JWTs with OpenSSL EVP.
 *
 * Owns the only code that touches private key bytes for signing. Key
 * material never reaches an error message or a log line: failures report
 * OpenSSL's reason string only. The returned assertion is a credential
 * too: callers wipe it (OPENSSL_cleanse) before freeing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "batchfs/auth.h"
#include "auth/auth_int.h"

static const char b64url_tab[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *bf_b64url_encode(const unsigned char *p, size_t n)
{
	size_t olen = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	char *out = malloc(olen + 1);
	char *o = out;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 |
			     p[i + 2];
		*o++ = b64url_tab[v >> 18 & 63];
		*o++ = b64url_tab[v >> 12 & 63];
		*o++ = b64url_tab[v >> 6 & 63];
		*o++ = b64url_tab[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		*o++ = b64url_tab[v >> 18 & 63];
		*o++ = b64url_tab[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		*o++ = b64url_tab[v >> 18 & 63];
		*o++ = b64url_tab[v >> 12 & 63];
		*o++ = b64url_tab[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

/* Takes the oldest queued OpenSSL error as a reason string and clears the
 * thread's queue so a later failure does not report a stale reason. */
void bf_ossl_reason(char *out, size_t n)
{
	unsigned long code = ERR_get_error();
	const char *r;

	if (!code) {
		snprintf(out, n, "unknown OpenSSL error");
	} else {
		r = ERR_reason_error_string(code);
		if (r)
			snprintf(out, n, "%s", r);
		else
			ERR_error_string_n(code, out, n);
	}
	ERR_clear_error();
}

/* PEM decoding must never fall back to OpenSSL's default passphrase
 * callback, which would prompt on the controlling terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *bf_jwt_rsa_key_load(const char *pem_key, struct bf_err *e)
{
	char why[160];
	BIO *bio;
	EVP_PKEY *pk;

	if (!pem_key || !*pem_key) {
		bf_err_set(e, EINVAL, "private key is empty");
		return NULL;
	}
	ERR_clear_error();
	bio = BIO_new_mem_buf(pem_key, -1);
	if (!bio) {
		bf_err_set(e, ENOMEM, "out of memory loading private key");
		return NULL;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pk) {
		bf_ossl_reason(why, sizeof(why));
		bf_err_set(e, EINVAL, "private key does not load: %s", why);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		bf_err_set(e, EINVAL, "private key is not an RSA key");
		return NULL;
	}
	return pk;
}

char *bf_jwt_rs256_pkey(EVP_PKEY *pk, const char *header_json,
			const char *claims_json, struct bf_err *e)
{
	char why[160];
	char *h64 = NULL, *c64 = NULL, *s64 = NULL, *input = NULL;
	char *jwt = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, inlen;
	EVP_MD_CTX *md = NULL;

	h64 = bf_b64url_encode((const unsigned char *)header_json,
			       strlen(header_json));
	c64 = bf_b64url_encode((const unsigned char *)claims_json,
			       strlen(claims_json));
	if (!h64 || !c64)
		goto nomem;
	inlen = strlen(h64) + 1 + strlen(c64);
	input = malloc(inlen + 1);
	if (!input)
		goto nomem;
	snprintf(input, inlen + 1, "%s.%s", h64, c64);

	ERR_clear_error();
	md = EVP_MD_CTX_new();
	if (!md)
		goto nomem;
	/* RS256 = RSASSA-PKCS1-v1_5 with SHA-256, the RSA default padding. */
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input,
			   inlen) != 1)
		goto ossl;
	sig = malloc(siglen);
	if (!sig)
		goto nomem;
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input,
			   inlen) != 1)
		goto ossl;
	s64 = bf_b64url_encode(sig, siglen);
	if (!s64)
		goto nomem;
	jwt = malloc(inlen + 1 + strlen(s64) + 1);
	if (!jwt)
		goto nomem;
	sprintf(jwt, "%s.%s", input, s64);
	goto out;

ossl:
	bf_ossl_reason(why, sizeof(why));
	bf_err_set(e, EINVAL, "RS256 signing failed: %s", why);
	goto out;
nomem:
	bf_err_set(e, ENOMEM, "out of memory signing JWT");
out:
	EVP_MD_CTX_free(md);
	free(sig);
	free(s64);
	free(input);
	free(c64);
	free(h64);
	return jwt;
}

char *bf_jwt_rs256(const char *pem_key, const char *header_json,
		   const char *claims_json, struct bf_err *e)
{
	EVP_PKEY *pk;
	char *jwt;

	if (!header_json || !claims_json) {
		bf_err_set(e, EINVAL, "JWT header or claims missing");
		return NULL;
	}
	pk = bf_jwt_rsa_key_load(pem_key, e);
	if (!pk)
		return NULL;
	jwt = bf_jwt_rs256_pkey(pk, header_json, claims_json, e);
	EVP_PKEY_free(pk);
	return jwt;
}
