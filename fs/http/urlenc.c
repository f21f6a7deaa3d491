/* urlenc.c - percent-encoding of object names and query values.
 *
 * GCS object names go into one path segment, so '/' must be encoded too;
 * only RFC 3986 unreserved characters pass through. Encoding '+' matters:
 * some servers decode it as a space in queries.
 */
#include <stdlib.h>
#include <string.h>

#include "batchfs/http.h"

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

char *bf_url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	char *out, *o;

	if (!s)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += unreserved(*p) ? 1 : 3;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
