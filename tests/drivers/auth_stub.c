/* auth_stub.c - stand-in for libbf_auth in the http tests: a fixed token
 * that changes whenever it is invalidated, and a count of invalidations.
 */
#include <stdio.h>
#include <string.h>

#include "batchfs/auth.h"

int stub_invalidations;

int bf_auth_token(struct bf_auth *a, char *out, size_t n, struct bf_err *e)
{
	(void)a;
	(void)e;
	snprintf(out, n, "stub-token-%d",
		 __atomic_load_n(&stub_invalidations, __ATOMIC_RELAXED));
	return 0;
}

void bf_auth_invalidate(struct bf_auth *a, const char *token)
{
	(void)a;
	(void)token;
	__atomic_add_fetch(&stub_invalidations, 1, __ATOMIC_RELAXED);
}
