/* fuzz_urlenc.c - percent-encoding of object names and query values
 * (bf_url_encode): only unreserved characters and %XX come out, and
 * decoding gives the input back. Also the log-safe URL writer
 * (bf_http_url_for_log) with every output size. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "http/http_int.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *enc, *dec, *o, out[300];
	size_t n;

	fuzz_quiet();
	s = fuzz_str(data, size);
	if (!s)
		return 0;
	enc = bf_url_encode(s);
	FUZZ_ASSERT(enc != NULL);
	dec = malloc(strlen(enc) + 1);
	FUZZ_ASSERT(dec != NULL);
	o = dec;
	for (const char *p = enc; *p; p++) {
		if (*p == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			FUZZ_ASSERT(hi >= 0 && lo >= 0);
			*o++ = (char)(hi << 4 | lo);
			p += 2;
		} else {
			FUZZ_ASSERT(strchr("-._~", *p) ||
				    (*p >= 'A' && *p <= 'Z') ||
				    (*p >= 'a' && *p <= 'z') ||
				    (*p >= '0' && *p <= '9'));
			*o++ = *p;
		}
	}
	*o = '\0';
	FUZZ_ASSERT(strcmp(dec, s) == 0);
	free(dec);
	free(enc);

	n = size ? data[0] % sizeof(out) : 0;
	memset(out, 'X', sizeof(out));
	bf_http_url_for_log(s, out, n);
	if (n) {
		FUZZ_ASSERT(memchr(out, '\0', n) != NULL);
		FUZZ_ASSERT(out[n] == 'X' || n == sizeof(out));
	}
	free(s);
	return 0;
}
