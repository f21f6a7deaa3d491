/* test_auth.c - unit tests for fs/auth without a network: base64url,
 * RS256 signing checked with OpenSSL's verifier, credential file loading
 * and its EACCES messages, the ADC search order (driven by environment
 * variables), explicit tokens, token replies, and the cache's refresh,
 * single flight and invalidation through a fake fetch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "batchfs/auth.h"
#include "batchfs/http.h"
#include "batchfs/log.h"
#include "auth/auth_int.h"
#include "check.h"

static char tmpdir[256];
static char *test_pem; /* PKCS#8 PEM of a key made at test time */
static EVP_PKEY *test_key;

/* ---- helpers -------------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static const char *tpath(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
	return buf[i];
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* JSON string escaping for the PEM's newlines. */
static char *json_escape(const char *s)
{
	char *o = xmalloc(strlen(s) * 2 + 1), *p = o;

	for (; *s; s++) {
		if (*s == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return o;
}

static void write_sa(const char *path, const char *pem, const char *type,
		     const char *email, mode_t mode)
{
	char *k = json_escape(pem);
	size_t n = strlen(k) + 1024;
	char *text = xmalloc(n);

	snprintf(text, n,
		 "{\"type\": \"%s\", \"project_id\": \"test-project\", "
		 "\"private_key_id\": \"kid-1\", \"private_key\": \"%s\", "
		 "%s%s%s"
		 "\"token_uri\": \"http://127.0.0.1:1/token\"}",
		 type, k, email ? "\"client_email\": \"" : "",
		 email ? email : "", email ? "\", " : "");
	write_file(path, text, mode);
	free(text);
	free(k);
}

static const char au_json[] =
	"{\"type\": \"authorized_user\", \"client_id\": \"cid.apps\", "
	"\"client_secret\": \"shh-secret\", \"refresh_token\": \"1//rt\"}";

static unsigned char *b64url_decode(const char *s, size_t len, size_t *out)
{
	unsigned char *o = xmalloc(len * 3 / 4 + 3);
	unsigned v = 0;
	int bits = 0;
	size_t n = 0, i;

	for (i = 0; i < len; i++) {
		const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789-_";
		const char *p = strchr(tab, s[i]);

		if (!p || !s[i]) {
			free(o);
			return NULL;
		}
		v = v << 6 | (unsigned)(p - tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(v >> bits);
		}
	}
	*out = n;
	return o;
}

static void clear_env(void)
{
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("CLOUDSDK_CONFIG");
	unsetenv("GCE_METADATA_ROOT");
	/* Nothing in these tests may reach a real metadata server. */
	setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);
	setenv("HOME", tpath("emptyhome"), 1);
}

static int load(const struct bf_auth_opts *o, struct bf_auth **a,
		struct bf_err *e)
{
	bf_err_clear(e);
	*a = NULL;
	return bf_auth_new(o, NULL, a, e);
}

/* ---- base64url ------------------------------------------------------ */

static void test_b64url(void)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{"", ""},
		{"f", "Zg"},
		{"fo", "Zm8"},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg"},
		{"fooba", "Zm9vYmE"},
		{"foobar", "Zm9vYmFy"},
	};
	static const unsigned char bin[] = {0xfb, 0xff, 0xbf, 0xfe, 0x00};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = bf_b64url_encode((const unsigned char *)v[i].in,
				     strlen(v[i].in));
		CHECK_STR(s, v[i].out);
		free(s);
	}
	/* Standard base64 would be "+/+/" and "+/8=": url-safe, unpadded. */
	s = bf_b64url_encode(bin, 3);
	CHECK_STR(s, "-_-_");
	free(s);
	s = bf_b64url_encode(bin, 2);
	CHECK_STR(s, "-_8");
	free(s);
	s = bf_b64url_encode(bin, 5);
	CHECK_STR(s, "-_-__gA");
	free(s);
}

/* ---- JWT ------------------------------------------------------------ */

static int verify_jwt(const char *jwt, EVP_PKEY *pub)
{
	const char *dot2 = strrchr(jwt, '.');
	unsigned char *sig;
	size_t siglen;
	EVP_MD_CTX *md;
	int ok;

	if (!dot2)
		return 0;
	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
	if (!sig)
		return 0;
	md = EVP_MD_CTX_new();
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
	     EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
			      (size_t)(dot2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	free(sig);
	return ok;
}

static void test_jwt(void)
{
	const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
	const char *cl = "{\"iss\":\"a@b\",\"exp\":2}";
	struct bf_err e;
	char *jwt, *jwt2, *h64, *c64, *expect, *bad;
	EVP_PKEY *other;
	BIO *bio;
	BUF_MEM *bm;
	char *enc_pem, *ec_pem;
	EVP_PKEY *ec;
	size_t n;

	bf_err_clear(&e);
	jwt = bf_jwt_rs256(test_pem, hdr, cl, &e);
	CHECK(jwt != NULL);
	if (!jwt)
		return;
	h64 = bf_b64url_encode((const unsigned char *)hdr, strlen(hdr));
	c64 = bf_b64url_encode((const unsigned char *)cl, strlen(cl));
	if (!h64 || !c64) {
		CHECK(0);
		return;
	}
	n = strlen(h64) + strlen(c64) + 3;
	expect = xmalloc(n);
	snprintf(expect, n, "%s.%s.", h64, c64);
	CHECK(strncmp(jwt, expect, strlen(expect)) == 0);
	CHECK(strchr(jwt, '=') == NULL && strchr(jwt, '+') == NULL &&
	      strchr(jwt, '/') == NULL);
	/* 2048-bit signature: 256 bytes -> 342 base64url characters. */
	CHECK_INT(strlen(strrchr(jwt, '.') + 1), 342);
	CHECK(verify_jwt(jwt, test_key));

	/* PKCS#1 v1.5 is deterministic. */
	jwt2 = bf_jwt_rs256(test_pem, hdr, cl, &e);
	CHECK_STR(jwt2, jwt);
	free(jwt2);

	/* A changed payload or another key does not verify. */
	bad = strdup(jwt);
	bad[strlen(h64) + 3] ^= 1;
	CHECK(!verify_jwt(bad, test_key));
	free(bad);
	other = EVP_RSA_gen(2048);
	CHECK(!verify_jwt(jwt, other));
	EVP_PKEY_free(other);

	/* Broken keys: EINVAL with OpenSSL's reason, no key text. */
	bf_err_clear(&e);
	CHECK(bf_jwt_rs256("-----BEGIN PRIVATE KEY-----\nQUJDRA==\n"
			   "-----END PRIVATE KEY-----\n",
			   hdr, cl, &e) == NULL);
	CHECK_INT(e.err, EINVAL);
	CHECK(strstr(e.msg, "does not load") != NULL);
	CHECK(strstr(e.msg, "QUJDRA") == NULL);
	bf_err_clear(&e);
	CHECK(bf_jwt_rs256("", hdr, cl, &e) == NULL);
	CHECK_INT(e.err, EINVAL);

	/* An encrypted key fails instead of prompting for a passphrase. */
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PKCS8PrivateKey(bio, test_key, EVP_aes_128_cbc(), NULL, 0,
				      NULL, (void *)"pass");
	BIO_get_mem_ptr(bio, &bm);
	enc_pem = strndup(bm->data, bm->length);
	BIO_free(bio);
	bf_err_clear(&e);
	CHECK(bf_jwt_rs256(enc_pem, hdr, cl, &e) == NULL);
	CHECK_INT(e.err, EINVAL);
	free(enc_pem);

	/* A non-RSA key is refused. */
	ec = EVP_EC_gen("P-256");
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL);
	BIO_get_mem_ptr(bio, &bm);
	ec_pem = strndup(bm->data, bm->length);
	BIO_free(bio);
	EVP_PKEY_free(ec);
	bf_err_clear(&e);
	CHECK(bf_jwt_rs256(ec_pem, hdr, cl, &e) == NULL);
	CHECK(strstr(e.msg, "not an RSA key") != NULL);
	free(ec_pem);

	free(expect);
	free(h64);
	free(c64);
	free(jwt);
}

/* ---- credential files ----------------------------------------------- */

static void expect_eacces(const struct bf_auth_opts *o, const char *needle1,
			  const char *needle2, int line)
{
	struct bf_auth *a;
	struct bf_err e;
	int rc = load(o, &a, &e);

	CHECK_INT(rc, -EACCES);
	CHECK_INT(e.err, EACCES);
	CHECK(a == NULL);
	if (!strstr(e.msg, needle1) || (needle2 && !strstr(e.msg, needle2))) {
		check_fail_++;
		fprintf(stderr, "line %d: message \"%s\" lacks \"%s\"/\"%s\"\n",
			line, e.msg, needle1, needle2 ? needle2 : "");
	}
	/* Never the key, the client secret or the refresh token. */
	CHECK(strstr(e.msg, "PRIVATE KEY") == NULL);
	CHECK(strstr(e.msg, "shh-secret") == NULL);
	bf_auth_free(a);
}

static void test_cred_files(void)
{
	struct bf_auth_opts o = {.mode = BF_AUTH_ADC};
	struct bf_auth *a;
	struct bf_err e;
	char *k;
	static char big[8192];

	clear_env();

	o.credentials_file = tpath("missing.json");
	expect_eacces(&o, "does not exist", "missing.json", __LINE__);

	write_file(tpath("bad.json"), "{\"type\": \"service_account\", ", 0600);
	o.credentials_file = tpath("bad.json");
	expect_eacces(&o, "not a JSON object", "bad.json", __LINE__);

	write_file(tpath("arr.json"), "[1,2]", 0600);
	o.credentials_file = tpath("arr.json");
	expect_eacces(&o, "not a JSON object", NULL, __LINE__);

	write_file(tpath("notype.json"), "{\"client_email\": \"x\"}", 0600);
	o.credentials_file = tpath("notype.json");
	expect_eacces(&o, "\"type\"", "notype.json", __LINE__);

	write_file(tpath("ext.json"),
		   "{\"type\": \"external_account\", \"audience\": \"x\"}",
		   0600);
	o.credentials_file = tpath("ext.json");
	expect_eacces(&o, "needs \"audience\" and \"subject_token_type\"",
		      "ext.json", __LINE__);
	write_file(tpath("future.json"), "{\"type\": \"future_kind\"}", 0600);
	o.credentials_file = tpath("future.json");
	expect_eacces(&o, "unsupported credential type future_kind",
		      "impersonated_service_account", __LINE__);

	write_sa(tpath("noemail.json"), test_pem, "service_account", NULL,
		 0600);
	o.credentials_file = tpath("noemail.json");
	expect_eacces(&o, "client_email", "noemail.json", __LINE__);

	write_sa(tpath("badkey.json"),
		 "-----BEGIN PRIVATE KEY-----\nMIIBroken\n"
		 "-----END PRIVATE KEY-----\n",
		 "service_account", "sa@p.iam.gserviceaccount.com", 0600);
	o.credentials_file = tpath("badkey.json");
	expect_eacces(&o, "does not load", "badkey.json", __LINE__);

	/* Wrong type of value for a field. */
	write_file(tpath("numemail.json"),
		   "{\"type\": \"service_account\", \"client_email\": 5}",
		   0600);
	o.credentials_file = tpath("numemail.json");
	expect_eacces(&o, "client_email", NULL, __LINE__);

	/* Credentials only go over https, or http to this machine. */
	k = xmalloc(strlen(test_pem) * 2 + 1024);
	{
		char *esc = json_escape(test_pem);

		sprintf(k,
			"{\"type\": \"service_account\", \"client_email\": "
			"\"a@b\", \"private_key\": \"%s\", \"token_uri\": "
			"\"http://oauth2.example.com/token\"}",
			esc);
		free(esc);
	}
	write_file(tpath("plain.json"), k, 0600);
	free(k);
	o.credentials_file = tpath("plain.json");
	expect_eacces(&o, "not https", "plain.json", __LINE__);
	write_file(tpath("au.json"), au_json, 0600);
	o.credentials_file = tpath("au.json");
	o.token_uri = "file:///etc/passwd";
	expect_eacces(&o, "not https", "au.json", __LINE__);
	o.token_uri = NULL;

	/* Group/world writable: refused with the fix, unless allowed. */
	write_sa(tpath("open.json"), test_pem, "service_account",
		 "sa@p.iam.gserviceaccount.com", 0664);
	o.credentials_file = tpath("open.json");
	expect_eacces(&o, "chmod go-w", "open.json", __LINE__);
	chmod(tpath("open.json"), 0602);
	expect_eacces(&o, "writable by group or others", "open.json",
		      __LINE__);
	o.allow_insecure_keyfile = 1;
	CHECK_INT(load(&o, &a, &e), 0);
	bf_auth_free(a);
	o.allow_insecure_keyfile = 0;
	/* Readable by others (a Kubernetes secret volume): loaded. */
	chmod(tpath("open.json"), 0644);
	CHECK_INT(load(&o, &a, &e), 0);
	bf_auth_free(a);

	o.credentials_file = tmpdir;
	expect_eacces(&o, "not a regular file", NULL, __LINE__);

	/* Only whitespace: not JSON. Oversized: refused unread. */
	memset(big, ' ', 8191);
	big[8191] = '\0';
	write_file(tpath("spaces.json"), big, 0600);
	o.credentials_file = tpath("spaces.json");
	expect_eacces(&o, "not a JSON object", NULL, __LINE__);
	{
		FILE *f = fopen(tpath("huge.json"), "w");
		int i;

		for (i = 0; i < 200; i++)
			fwrite(big, 1, 8191, f);
		fclose(f);
		chmod(tpath("huge.json"), 0600);
	}
	o.credentials_file = tpath("huge.json");
	expect_eacces(&o, "cannot read", "huge.json", __LINE__);

	/* A good service account. */
	write_sa(tpath("sa.json"), test_pem, "service_account",
		 "sa@p.iam.gserviceaccount.com", 0600);
	o.credentials_file = tpath("sa.json");
	CHECK_INT(load(&o, &a, &e), 0);
	if (a) {
		CHECK(strstr(bf_auth_describe(a),
			     "service account sa@p.iam.gserviceaccount.com") !=
		      NULL);
		CHECK(strstr(bf_auth_describe(a), "sa.json") != NULL);
		CHECK_STR(bf_auth_project(a), "test-project");
		CHECK(a->src == BF_SRC_SERVICE_ACCOUNT);
		CHECK_STR(a->token_uri, "http://127.0.0.1:1/token");
		CHECK_STR(a->key_id, "kid-1");
	}
	bf_auth_free(a);

	/* A traditional (PKCS#1) PEM key loads as well. */
	{
		BIO *bio = BIO_new(BIO_s_mem());
		BUF_MEM *bm;
		char *pem1;

		PEM_write_bio_PrivateKey_traditional(bio, test_key, NULL, NULL,
						     0, NULL, NULL);
		BIO_get_mem_ptr(bio, &bm);
		pem1 = strndup(bm->data, bm->length);
		BIO_free(bio);
		CHECK(strstr(pem1, "BEGIN RSA PRIVATE KEY") != NULL);
		write_sa(tpath("sa1.json"), pem1, "service_account",
			 "sa@p.iam.gserviceaccount.com", 0600);
		free(pem1);
		o.credentials_file = tpath("sa1.json");
		CHECK_INT(load(&o, &a, &e), 0);
		bf_auth_free(a);
	}

	/* Authorized user: fixed endpoint unless overridden. */
	write_file(tpath("au.json"), au_json, 0600);
	o.credentials_file = tpath("au.json");
	CHECK_INT(load(&o, &a, &e), 0);
	if (a) {
		CHECK(a->src == BF_SRC_AUTHORIZED_USER);
		CHECK_STR(a->token_uri, "https://oauth2.googleapis.com/token");
		CHECK(strstr(bf_auth_describe(a), "authorized user") != NULL);
		CHECK(strstr(bf_auth_describe(a), "shh") == NULL);
		CHECK(bf_auth_project(a) == NULL);
	}
	bf_auth_free(a);
	o.token_uri = "http://127.0.0.1:9/token";
	CHECK_INT(load(&o, &a, &e), 0);
	if (a)
		CHECK_STR(a->token_uri, "http://127.0.0.1:9/token");
	bf_auth_free(a);
	o.token_uri = NULL;

	k = strdup(au_json);
	*strstr(k, "\"refresh_token\"") = '\0';
	strcat(k, "\"x\": 1}");
	write_file(tpath("au-bad.json"), k, 0600);
	free(k);
	o.credentials_file = tpath("au-bad.json");
	expect_eacces(&o, "refresh_token", "gcloud auth application-default",
		      __LINE__);
}

/* ---- ADC order ------------------------------------------------------- */

static void test_adc_order(void)
{
	struct bf_auth_opts o = {.mode = BF_AUTH_ADC};
	struct bf_auth *a;
	struct bf_err e;
	char p[512];

	clear_env();
	mkdir(tpath("gc"), 0700);
	mkdir(tpath("home"), 0700);
	mkdir(tpath("home/.config"), 0700);
	mkdir(tpath("home/.config/gcloud"), 0700);
	write_file(tpath("gc/application_default_credentials.json"), au_json,
		   0600);
	write_sa(tpath("home/.config/gcloud/application_default_credentials"
		       ".json"),
		 test_pem, "service_account", "home@p.iam.gserviceaccount.com",
		 0600);
	write_sa(tpath("gac.json"), test_pem, "service_account",
		 "gac@p.iam.gserviceaccount.com", 0600);
	write_sa(tpath("opt.json"), test_pem, "service_account",
		 "opt@p.iam.gserviceaccount.com", 0600);

	/* 4. nothing: the metadata server, chosen without a network call. */
	CHECK_INT(load(&o, &a, &e), 0);
	if (a) {
		CHECK_STR(bf_auth_describe(a),
			  "metadata server at 127.0.0.1:1");
		CHECK(strstr(a->searched, "GOOGLE_APPLICATION_CREDENTIALS "
					  "(not set)") != NULL);
		CHECK_STR(a->md_url, "http://127.0.0.1:1/computeMetadata/v1/"
				     "instance/service-accounts/default/token");
		CHECK_INT(a->md_probe_ms, 3000);
	}
	bf_auth_free(a);
	o.metadata_host = "127.0.0.1:7";
	CHECK_INT(load(&o, &a, &e), 0);
	if (a)
		CHECK_STR(bf_auth_describe(a),
			  "metadata server at 127.0.0.1:7");
	bf_auth_free(a);
	o.metadata_host = NULL;
	unsetenv("GCE_METADATA_HOST");
	CHECK_INT(load(&o, &a, &e), 0);
	if (a)
		CHECK_STR(a->md_host, "metadata.google.internal");
	bf_auth_free(a);
	setenv("GCE_METADATA_HOST", "127.0.0.1:1", 1);

	/* 3. ~/.config/gcloud */
	setenv("HOME", tpath("home"), 1);
	CHECK_INT(load(&o, &a, &e), 0);
	if (a)
		CHECK(strstr(bf_auth_describe(a), "home@p") != NULL);
	bf_auth_free(a);

	/* 2. CLOUDSDK_CONFIG wins over HOME */
	setenv("CLOUDSDK_CONFIG", tpath("gc"), 1);
	CHECK_INT(load(&o, &a, &e), 0);
	if (a) {
		snprintf(p, sizeof(p),
			 "authorized user credentials from %s/gc/"
			 "application_default_credentials.json",
			 tmpdir);
		CHECK(strncmp(bf_auth_describe(a), p, strlen(p)) == 0);
	}
	bf_auth_free(a);

	/* 1. GOOGLE_APPLICATION_CREDENTIALS wins over gcloud */
	setenv("GOOGLE_APPLICATION_CREDENTIALS", tpath("gac.json"), 1);
	CHECK_INT(load(&o, &a, &e), 0);
	if (a) {
		CHECK(strstr(bf_auth_describe(a), "gac@p") != NULL);
		CHECK(strstr(bf_auth_describe(a),
			     "GOOGLE_APPLICATION_CREDENTIALS") != NULL);
	}
	bf_auth_free(a);

	/* 0. the option wins over everything */
	o.credentials_file = tpath("opt.json");
	CHECK_INT(load(&o, &a, &e), 0);
	if (a)
		CHECK(strstr(bf_auth_describe(a), "opt@p") != NULL);
	bf_auth_free(a);
	o.credentials_file = NULL;

	/* A named file that is missing is an error, not a fallback. */
	setenv("GOOGLE_APPLICATION_CREDENTIALS", tpath("nope.json"), 1);
	expect_eacces(&o, "GOOGLE_APPLICATION_CREDENTIALS", "nope.json",
		      __LINE__);
	/* An empty variable counts as unset. */
	setenv("GOOGLE_APPLICATION_CREDENTIALS", "", 1);
	CHECK_INT(load(&o, &a, &e), 0);
	if (a)
		CHECK(a->src == BF_SRC_AUTHORIZED_USER);
	bf_auth_free(a);

	/* A broken gcloud file is reported, not skipped. */
	write_file(tpath("gc/application_default_credentials.json"), "{", 0600);
	expect_eacces(&o, "gcloud", "not a JSON object", __LINE__);
	clear_env();
}

/* ---- explicit tokens and none ---------------------------------------- */

static void test_fixed_tokens(void)
{
	struct bf_auth_opts o = {.mode = BF_AUTH_TOKEN};
	struct bf_auth *a;
	struct bf_err e;
	struct timespec ts[2] = {{1000, 0}, {1000, 0}};
	char tok[256];

	o.mode = BF_AUTH_NONE;
	CHECK_INT(load(&o, &a, &e), 0);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 1);
	CHECK_STR(bf_auth_describe(a), "no authentication");
	bf_auth_free(a);

	o.mode = BF_AUTH_TOKEN;
	expect_eacces(&o, "token", NULL, __LINE__);

	unsetenv("BF_TEST_TOKEN");
	o.token_env = "BF_TEST_TOKEN";
	expect_eacces(&o, "BF_TEST_TOKEN", "export", __LINE__);
	setenv("BF_TEST_TOKEN", "ya29.env-token", 1);
	CHECK_INT(load(&o, &a, &e), 0);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.env-token");
	CHECK_INT(bf_auth_token(a, tok, 5, &e), -ERANGE);
	bf_auth_invalidate(a, "ya29.env-token");
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(bf_auth_describe(a), "access token from $BF_TEST_TOKEN");
	bf_auth_free(a);
	o.token_env = NULL;

	o.token_file = tpath("tokfile");
	expect_eacces(&o, "tokfile", "cannot be read", __LINE__);
	write_file(tpath("tokfile"), "  ya29.first\n", 0600);
	utimensat(AT_FDCWD, tpath("tokfile"), ts, 0);
	CHECK_INT(load(&o, &a, &e), 0);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.first");
	/* Same size and mtime: the cached copy is used. */
	write_file(tpath("tokfile"), "  ya29.FIRST\n", 0600);
	utimensat(AT_FDCWD, tpath("tokfile"), ts, 0);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.first");
	/* A rejected token makes the next call read the file again. */
	bf_auth_invalidate(a, "ya29.first");
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.FIRST");
	/* A changed mtime is noticed. */
	write_file(tpath("tokfile"), "ya29.second", 0600);
	ts[0].tv_sec = ts[1].tv_sec = 2000;
	utimensat(AT_FDCWD, tpath("tokfile"), ts, 0);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.second");
	write_file(tpath("tokfile"), "\n", 0600);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EACCES);
	CHECK(strstr(e.msg, "tokfile") != NULL);
	write_file(tpath("tokfile"), "two\ntokens\n", 0600);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EACCES);
	unlink(tpath("tokfile"));
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EACCES);
	CHECK(strstr(e.msg, "tokfile") != NULL);
	bf_auth_free(a);
}

/* ---- token replies -------------------------------------------------- */

static void test_token_reply(void)
{
	static const struct {
		const char *body;
		int rc;
		long life;
	} v[] = {
		{"{\"access_token\":\"ya29.a\",\"expires_in\":3599,"
		 "\"token_type\":\"Bearer\"}",
		 0, 3599},
		{"{\"access_token\":\"ya29.a\",\"expires_in\":\"120\"}", 0,
		 120},
		{"{\"access_token\":\"ya29.a\"}", 0, 3600},
		{"{\"access_token\":\"ya29.a\",\"expires_in\":-5}", 0, 0},
		{"{\"access_token\":\"ya29.a\",\"expires_in\":1e300}", 0,
		 86400},
		{"{\"access_token\":\"ya29.a\",\"expires_in\":\"12x\"}", -EIO,
		 0},
		{"{\"access_token\":\"ya29.a\",\"expires_in\":[1]}", -EIO, 0},
		{"{\"access_token\":\"\"}", -EIO, 0},
		{"{\"access_token\":7}", -EIO, 0},
		{"{\"access_token\":\"a\\r\\nX-Evil: 1\"}", -EIO, 0},
		{"{\"access_token\":\"a b\"}", -EIO, 0},
		{"{\"token_type\":\"Bearer\"}", -EIO, 0},
		{"[]", -EIO, 0},
		{"{\"access_token\":\"ya29", -EIO, 0},
		{"", -EIO, 0},
	};
	struct bf_err e;
	char *tok;
	long life;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		bf_err_clear(&e);
		life = -1;
		rc = bf_auth_parse_token_reply(v[i].body, strlen(v[i].body),
					       &tok, &life, &e);
		CHECK_INT(rc, v[i].rc);
		if (rc == 0) {
			CHECK_STR(tok, "ya29.a");
			CHECK_INT(life, v[i].life);
			free(tok);
		} else {
			CHECK(tok == NULL);
			CHECK(strstr(e.msg, "ya29") == NULL);
		}
	}
	CHECK_INT(bf_auth_parse_token_reply(NULL, 0, &tok, &life, &e), -EIO);
}

/* generateAccessToken replies and subject tokens: untrusted text. */
static void test_iam_and_subject(void)
{
	static const long now = 1764720000; /* 2025-12-03T00:00:00Z */
	static const struct {
		const char *body;
		int rc;
		long life;
	} v[] = {
		{"{\"accessToken\":\"ya29.i\",\"expireTime\":"
		 "\"2025-12-03T01:00:00Z\"}",
		 0, 3600},
		{"{\"accessToken\":\"ya29.i\",\"expireTime\":"
		 "\"2025-12-03T00:30:00.5+00:00\"}",
		 0, 1800},
		{"{\"accessToken\":\"ya29.i\",\"expireTime\":"
		 "\"2030-01-01T00:00:00Z\"}",
		 0, 43200},
		{"{\"accessToken\":\"ya29.i\",\"expireTime\":"
		 "\"2025-12-02T00:00:00Z\"}",
		 -EIO, 0},
		{"{\"accessToken\":\"ya29.i\"}", -EIO, 0},
		{"{\"accessToken\":\"ya29.i\",\"expireTime\":3600}", -EIO, 0},
		{"{\"accessToken\":\"a\\r\\nX: 1\",\"expireTime\":"
		 "\"2025-12-03T01:00:00Z\"}",
		 -EIO, 0},
		{"{\"access_token\":\"ya29.i\"}", -EIO, 0},
		{"[1]", -EIO, 0},
		{"{\"accessToken\":\"ya29", -EIO, 0},
	};
	struct bf_err e;
	char *tok;
	long life;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		bf_err_clear(&e);
		rc = bf_auth_parse_iam_reply(v[i].body, strlen(v[i].body), now,
					     &tok, &life, &e);
		CHECK_INT(rc, v[i].rc);
		if (rc == 0) {
			CHECK_STR(tok, "ya29.i");
			CHECK_INT(life, v[i].life);
			free(tok);
		} else {
			CHECK(tok == NULL);
			CHECK(strstr(e.msg, "ya29") == NULL);
		}
	}

	/* Text: trimmed; JSON: the named string field. */
	CHECK_INT(bf_ext_subject_token(" eyJ.a.b\n", 9, NULL, &tok, &e), 0);
	CHECK_STR(tok, "eyJ.a.b");
	free(tok);
	CHECK_INT(bf_ext_subject_token("\n \n", 3, NULL, &tok, &e), -EACCES);
	CHECK_INT(bf_ext_subject_token("a\0b", 3, NULL, &tok, &e), -EACCES);
	CHECK_INT(bf_ext_subject_token("{\"id_token\":\"eyJ.s\"}", 20,
				       "id_token", &tok, &e),
		  0);
	CHECK_STR(tok, "eyJ.s");
	free(tok);
	CHECK_INT(bf_ext_subject_token("{\"id_token\":7}", 14, "id_token", &tok,
				       &e),
		  -EACCES);
	CHECK(strstr(e.msg, "id_token") != NULL);
	CHECK_INT(bf_ext_subject_token("eyJ.secret", 10, "id_token", &tok, &e),
		  -EACCES);
	CHECK(strstr(e.msg, "secret") == NULL);
}

/* ---- cache, single flight, invalidation (fake fetch) ----------------- */

static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static int fk_calls;
static int fk_rc;
static long fk_life = 3600;
static int fk_sleep_ms;

static int fake_fetch(struct bf_auth *a, char **token, long *life,
		      struct bf_err *e)
{
	char buf[64];
	int n;

	(void)a;
	pthread_mutex_lock(&fk_mu);
	n = ++fk_calls;
	pthread_mutex_unlock(&fk_mu);
	if (fk_sleep_ms)
		usleep((useconds_t)fk_sleep_ms * 1000);
	if (fk_rc)
		return bf_err_set(e, fk_rc, "fake failure %d", n);
	snprintf(buf, sizeof(buf), "ya29.fake-%d", n);
	*token = strdup(buf);
	*life = fk_life;
	return 0;
}

struct worker {
	struct bf_auth *a;
	int rc;
	char tok[64];
	struct bf_err e;
};

static void *worker_main(void *p)
{
	struct worker *w = p;

	w->rc = bf_auth_token(w->a, w->tok, sizeof(w->tok), &w->e);
	return NULL;
}

static void run_workers(struct bf_auth *a, struct worker *w, int n)
{
	pthread_t th[16];
	int i;

	for (i = 0; i < n; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].a = a;
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static char log_seen[8192];

static void log_sink(enum bf_log_level lvl, const char *line)
{
	(void)lvl;
	if (strlen(log_seen) + strlen(line) + 2 < sizeof(log_seen)) {
		strcat(log_seen, line);
		strcat(log_seen, "\n");
	}
}

static void test_cache(void)
{
	struct bf_auth_opts o = {.mode = BF_AUTH_ADC};
	struct bf_auth *a;
	struct bf_err e;
	struct worker w[16];
	char tok[64];
	int i, same;

	clear_env();
	bf_log_set_sink(log_sink);
	bf_log_set_level(BF_LOG_DEBUG);
	CHECK_INT(load(&o, &a, &e), 0);
	if (!a)
		return;
	/* Without the fake, no HTTP client: a clean error, no crash. */
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EINVAL);
	a->fetch_hook = fake_fetch;

	/* Sixteen threads, one fetch, one token for all. */
	fk_calls = 0;
	fk_sleep_ms = 300;
	run_workers(a, w, 16);
	CHECK_INT(fk_calls, 1);
	same = 0;
	for (i = 0; i < 16; i++)
		same += w[i].rc == 0 && strcmp(w[i].tok, "ya29.fake-1") == 0;
	CHECK_INT(same, 16);

	/* Cached. */
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.fake-1");
	CHECK_INT(fk_calls, 1);

	/* A stale token's invalidation does not drop the current one. */
	bf_auth_invalidate(a, "ya29.something-old");
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_INT(fk_calls, 1);
	/* The current one's does; many invalidations, one refresh. */
	for (i = 0; i < 4; i++)
		bf_auth_invalidate(a, "ya29.fake-1");
	run_workers(a, w, 8);
	CHECK_INT(fk_calls, 2);
	CHECK_STR(w[7].tok, "ya29.fake-2");

	/* A failing flight is shared by its waiters. */
	bf_auth_invalidate(a, "ya29.fake-2");
	fk_rc = EAGAIN;
	run_workers(a, w, 8);
	CHECK_INT(fk_calls, 3);
	same = 0;
	for (i = 0; i < 8; i++)
		same += w[i].rc == -EAGAIN && w[i].e.err == EAGAIN &&
			strstr(w[i].e.msg, "fake failure 3") != NULL;
	CHECK_INT(same, 8);
	/* Transient failures are not held: the next call tries again. */
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EAGAIN);
	CHECK_INT(fk_calls, 4);
	/* Credential failures are, briefly (metadata: 30 s). */
	fk_rc = EACCES;
	fk_sleep_ms = 0;
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EACCES);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), -EACCES);
	CHECK_INT(fk_calls, 5);
	CHECK(strstr(e.msg, "fake failure 5") != NULL);
	a->fail_until = 0;
	fk_rc = 0;

	/* Refresh before expiry: a 2 s token is refreshed after 1 s (half
	 * its life, since the 225 s margin is longer than that). */
	fk_life = 2;
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.fake-6");
	usleep(500 * 1000);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.fake-6");
	usleep(700 * 1000);
	/* Due: one refresh; while it runs, the not yet expired token is
	 * handed to the other callers instead of making them wait. */
	fk_sleep_ms = 300;
	run_workers(a, w, 8);
	CHECK_INT(fk_calls, 7);
	same = 0;
	for (i = 0; i < 8; i++)
		same += w[i].rc == 0 && (strcmp(w[i].tok, "ya29.fake-6") == 0 ||
					 strcmp(w[i].tok, "ya29.fake-7") == 0);
	CHECK_INT(same, 8);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.fake-7");

	/* A failed early refresh keeps the still-valid token. */
	usleep(1100 * 1000);
	fk_rc = EAGAIN;
	fk_sleep_ms = 0;
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK_STR(tok, "ya29.fake-7");
	CHECK_INT(fk_calls, 8);
	fk_rc = 0;

	/* A long-lived token waits for the full margin. */
	fk_life = 3600;
	bf_auth_invalidate(a, NULL);
	CHECK_INT(bf_auth_token(a, tok, sizeof(tok), &e), 0);
	CHECK(a->refresh_at - bf_now_ms() > (3600 - 225 - 5) * 1000L);
	CHECK(a->refresh_at - bf_now_ms() <= (3600 - 225) * 1000L);

	bf_auth_free(a);
	bf_log_set_sink(NULL);
	/* Nothing above logged a token. */
	CHECK(strstr(log_seen, "ya29") == NULL);
	CHECK(strstr(log_seen, "metadata server at 127.0.0.1:1") != NULL);
}

int main(void)
{
	BIO *bio;
	BUF_MEM *bm;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bf-auth-test-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	mkdir(tpath("emptyhome"), 0700);
	bf_log_init(1, BF_LOG_WARN);

	test_key = EVP_RSA_gen(2048);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, test_key, NULL, NULL, 0, NULL, NULL);
	BIO_get_mem_ptr(bio, &bm);
	test_pem = strndup(bm->data, bm->length);
	BIO_free(bio);

	test_b64url();
	test_jwt();
	test_cred_files();
	test_adc_order();
	test_fixed_tokens();
	test_token_reply();
	test_iam_and_subject();
	test_cache();

	free(test_pem);
	EVP_PKEY_free(test_key);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return CHECK_DONE();
}
