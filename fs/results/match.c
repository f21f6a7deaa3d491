/* match.c - what makes an output row the answer to an input line when the
 * service changes its form: a key's canonical text (the importer re-types a
 * numeric-looking key string, "000000" comes back as 0) and a fingerprint
 * of a request's content (rows may echo no key at all; the echoed request
 * has members reordered, null members added and numbers re-typed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "batchfs/buf.h"
#include "results/results_int.h"

#define MAX_DEPTH 200

/* -?digits(.digits)?([eE][-+]?digits)?, the strings an importer may read
 * as numbers. */
static int numeric_looking(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d)
		return 0;
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i == n;
}

static void number_text(double d, char *out, size_t cap)
{
	/* Range first: casting 1e300 to long long is UB. */
	if (d > -9e15 && d < 9e15 && d == (double)(long long)d)
		snprintf(out, cap, "%lld", (long long)d);
	else
		snprintf(out, cap, "%.17g", d);
}

size_t bf_match_key(const char *key, size_t klen, char *out, size_t cap)
{
	char tmp[400];

	if (klen < sizeof(tmp) && numeric_looking(key, klen)) {
		memcpy(tmp, key, klen);
		tmp[klen] = '\0';
		number_text(strtod(tmp, NULL), out, cap);
		return strlen(out);
	}
	if (klen > cap)
		klen = cap;
	memcpy(out, key, klen);
	return klen;
}

/* Canonical text: object members sorted by name, null members left out,
 * numbers (and numeric-looking strings) as their numeric text, strings
 * length-prefixed so that no two values print the same. */
static int canon(struct bf_buf *b, const cJSON *v, int depth)
{
	char num[64];

	if (depth > MAX_DEPTH)
		return -EINVAL;
	if (cJSON_IsNumber(v)) {
		number_text(v->valuedouble, num, sizeof(num));
		return bf_buf_printf(b, "n%s;", num);
	}
	if (cJSON_IsString(v)) {
		const char *s = v->valuestring ? v->valuestring : "";
		size_t n = strlen(s);

		if (n < 300 && numeric_looking(s, n)) {
			number_text(strtod(s, NULL), num, sizeof(num));
			return bf_buf_printf(b, "n%s;", num);
		}
		if (bf_buf_printf(b, "s%zu:", n) < 0)
			return -ENOMEM;
		return bf_buf_append(b, s, n);
	}
	if (cJSON_IsBool(v))
		return bf_buf_puts(b, cJSON_IsTrue(v) ? "t" : "f");
	if (cJSON_IsNull(v))
		return bf_buf_puts(b, "z");
	if (cJSON_IsArray(v)) {
		const cJSON *it;

		if (bf_buf_puts(b, "[") < 0)
			return -ENOMEM;
		cJSON_ArrayForEach(it, v)
		{
			int rc = canon(b, it, depth + 1);

			if (rc < 0)
				return rc;
		}
		return bf_buf_puts(b, "]");
	}
	if (cJSON_IsObject(v)) {
		const cJSON *it, **m;
		size_t n = 0, k = 0;
		int rc = 0;

		cJSON_ArrayForEach(it, v) n++;
		m = calloc(n ? n : 1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		cJSON_ArrayForEach(it, v)
		{
			if (!cJSON_IsNull(it) && it->string)
				m[k++] = it;
		}
		/* insertion sort by name: objects in requests are small */
		for (size_t i = 1; i < k; i++)
			for (size_t j = i; j > 0 &&
					   strcmp(m[j - 1]->string, m[j]->string) > 0;
			     j--) {
				const cJSON *t = m[j];

				m[j] = m[j - 1];
				m[j - 1] = t;
			}
		rc = bf_buf_puts(b, "{");
		for (size_t i = 0; i < k && rc >= 0; i++) {
			size_t nl = strlen(m[i]->string);

			rc = bf_buf_printf(b, "%zu:", nl);
			if (rc >= 0)
				rc = bf_buf_append(b, m[i]->string, nl);
			if (rc >= 0)
				rc = canon(b, m[i], depth + 1);
		}
		if (rc >= 0)
			rc = bf_buf_puts(b, "}");
		free(m);
		return rc;
	}
	return bf_buf_puts(b, "?");
}

int bf_match_request(const cJSON *req, unsigned char fp[BF_FP_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct bf_buf b;
	int rc;

	if (!cJSON_IsObject(req))
		return 0;
	bf_buf_init(&b, 0);
	rc = canon(&b, req, 0);
	if (rc >= 0 && !EVP_Digest(b.data ? b.data : "", b.len, md, &mdlen,
				   EVP_sha256(), NULL))
		rc = -ENOMEM;
	bf_buf_free(&b);
	if (rc < 0)
		return rc == -EINVAL ? 0 : rc;
	memcpy(fp, md, BF_FP_LEN);
	return 1;
}
