/* fuzz_redact.c - secret redaction (bf_redact), which every log line and
 * user-visible error text goes through: in place, never longer, always
 * terminated, idempotent, and no token after "Bearer " survives. */
#include <errno.h>
#include <string.h>

#include "batchfs/log.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *once;
	size_t n;

	fuzz_quiet();
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	n = strlen(s);
	bf_redact(s);
	FUZZ_ASSERT(strlen(s) <= n);
	once = strdup(s);
	FUZZ_ASSERT(once != NULL);
	bf_redact(s);
	FUZZ_ASSERT(strcmp(s, once) == 0);
	bf_log_info("%s", once);
	free(once);
	free(s);
	return 0;
}
