/* fuzz_federation.c - what workload identity federation reads from outside:
 * IAM Credentials generateAccessToken replies (bf_auth_parse_iam_reply) and
 * subject tokens from a credential source, as text or as a JSON field
 * (bf_ext_subject_token). The first byte picks the parser. A token that
 * comes back must be header-safe with a lifetime in range; a subject token
 * non-empty. */
#include <errno.h>
#include <string.h>

#include "auth/auth_int.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_err e = {0};
	char *body, *tok = NULL;
	long life = -12345;
	int rc, mode;

	fuzz_quiet();
	if (size < 1)
		return 0;
	mode = data[0] % 3;
	body = fuzz_dup(data + 1, size - 1);
	if (!body)
		return 0;
	if (mode == 0) {
		rc = bf_auth_parse_iam_reply(body, size - 1, 1764720000L, &tok,
					     &life, &e);
		if (rc == 0) {
			for (const char *p = tok; *p; p++)
				FUZZ_ASSERT(*p > 0x20 && *p < 0x7f);
			FUZZ_ASSERT(life > 0 && life <= 12 * 3600);
		}
	} else {
		rc = bf_ext_subject_token(body, size - 1,
					  mode == 2 ? "id_token" : NULL, &tok,
					  &e);
		if (rc == 0)
			FUZZ_ASSERT(tok && *tok);
	}
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		FUZZ_ASSERT(tok && *tok);
		bf_auth_free_secret(tok);
	} else {
		FUZZ_ASSERT(tok == NULL);
		FUZZ_ASSERT(e.err == -rc);
	}
	free(body);
	return 0;
}
