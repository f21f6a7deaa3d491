/* backoff.c - the retry schedule: jittered exponential backoff, Retry-After
 * parsing and the monotonic clock every deadline is measured on.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batchfs/http.h"

/* Longest wait we accept from a server, so a bogus header cannot park a
 * thread for days (the op budget cuts it much shorter anyway). */
#define RETRY_AFTER_MAX_S (24L * 3600)

int64_t bf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* attempt 0 is the first retry. Full jitter (the AWS scheme): spreading the
 * whole interval avoids synchronised retry storms from many threads. */
long bf_backoff_ms(int attempt, long initial_ms, long cap_ms, double rnd)
{
	long ceil_ms;

	if (initial_ms <= 0 || cap_ms <= 0)
		return 0;
	if (attempt < 0)
		attempt = 0;
	if (!(rnd >= 0.0)) /* also catches NaN */
		rnd = 0.0;
	if (rnd >= 1.0)
		rnd = 0.999999;
	ceil_ms = initial_ms;
	for (int i = 0; i < attempt && ceil_ms < cap_ms; i++)
		ceil_ms = ceil_ms > cap_ms / 2 ? cap_ms : ceil_ms * 2;
	if (ceil_ms > cap_ms)
		ceil_ms = cap_ms;
	return (long)(rnd * (double)(ceil_ms + 1));
}

static int all_digits(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

long bf_parse_retry_after(const char *value, long now_s)
{
	static const char *const formats[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT", /* obsolete RFC 850 */
		"%a %b %e %H:%M:%S %Y",	     /* asctime */
	};
	char tmp[64];
	size_t n;

	if (!value)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	n = strlen(value);
	while (n && isspace((unsigned char)value[n - 1]))
		n--;
	if (!n || n >= sizeof(tmp))
		return -1;
	if (all_digits(value, n)) {
		long s = 0;

		for (size_t i = 0; i < n && s <= RETRY_AFTER_MAX_S; i++)
			s = s * 10 + (value[i] - '0');
		if (s > RETRY_AFTER_MAX_S)
			s = RETRY_AFTER_MAX_S;
		return s * 1000;
	}
	memcpy(tmp, value, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = {0};
		const char *end = strptime(tmp, formats[i], &tm);
		long d;

		if (!end || *end)
			continue;
		d = (long)timegm(&tm) - now_s;
		if (d < 0)
			d = 0;
		if (d > RETRY_AFTER_MAX_S)
			d = RETRY_AFTER_MAX_S;
		return d * 1000;
	}
	return -1;
}
