/* fuzz.h - what every libFuzzer target in tests/fuzz shares: a quiet log
 * (lines are still formatted and redacted, so that code runs too) and
 * NUL-terminated copies of the input for parsers that take C strings.
 *
 * The input is handed to length-taking parsers as an exact-size heap copy
 * with no terminator, so ASan reports any read past len.
 */
#ifndef BATCHFS_FUZZ_H
#define BATCHFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchfs/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_sink_(enum bf_log_level l, const char *line)
{
	(void)l;
	(void)line;
}

static inline void fuzz_quiet(void)
{
	static int done;

	if (!done) {
		bf_log_set_sink(fuzz_sink_);
		bf_log_set_level(BF_LOG_DEBUG);
		done = 1;
	}
}

/* Exact-size copy (no terminator); malloc(0) is avoided. */
static inline char *fuzz_dup(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);

	if (p && size)
		memcpy(p, data, size);
	return p;
}

/* NUL-terminated copy; embedded NULs simply end the string early. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 1);

	if (p) {
		memcpy(p, data, size);
		p[size] = '\0';
	}
	return p;
}

/* Abort on a broken property so libFuzzer saves the input. */
#define FUZZ_ASSERT(cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: property failed: %s\n",        \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
