/* check.h - the unit tests' few assertions.
 *
 * Each test executable calls CHECK* freely and ends main() with
 * CHECK_DONE(), which prints "N passed, N failed" and returns nonzero when
 * anything failed, so meson test reports it.
 */
#ifndef BATCHFS_CHECK_H
#define BATCHFS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (cond) {                                                   \
			check_pass_++;                                        \
		} else {                                                      \
			check_fail_++;                                        \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                             \
		}                                                             \
	} while (0)

#define CHECK_INT(a, b)                                                       \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ == b_) {                                               \
			check_pass_++;                                        \
		} else {                                                      \
			check_fail_++;                                        \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, a_, #b, b_);          \
		}                                                             \
	} while (0)

#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (a_ && b_ && strcmp(a_, b_) == 0) {                        \
			check_pass_++;                                        \
		} else {                                                      \
			check_fail_++;                                        \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, a_ ? a_ : "(null)",   \
				b_ ? b_ : "(null)");                          \
		}                                                             \
	} while (0)

#define CHECK_DONE()                                                          \
	(printf("%d passed, %d failed\n", check_pass_, check_fail_),          \
	 check_fail_ ? 1 : 0)

#endif
