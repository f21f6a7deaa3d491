/* fuzz_token.c - OAuth token endpoint and metadata server replies
 * (bf_auth_parse_token_reply): a token that comes back must be safe to put
 * in a header, its lifetime in range. */
#include <errno.h>
#include <string.h>

#include "auth/auth_int.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bf_err e = {0};
	char *body, *tok = NULL;
	long life = -12345;
	int rc;

	fuzz_quiet();
	body = fuzz_dup(data, size);
	if (!body)
		return 0;
	rc = bf_auth_parse_token_reply(body, size, &tok, &life, &e);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0) {
		FUZZ_ASSERT(tok && *tok);
		for (const char *p = tok; *p; p++)
			FUZZ_ASSERT(*p > 0x20 && *p < 0x7f);
		FUZZ_ASSERT(life >= 0);
		bf_auth_free_secret(tok);
	} else {
		FUZZ_ASSERT(tok == NULL);
		FUZZ_ASSERT(e.err == -rc);
	}
	free(body);
	return 0;
}
