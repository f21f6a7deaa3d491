/* timefmt.h - RFC 3339 parsing shared by the API clients. */
#ifndef BATCHFS_TIMEFMT_H
#define BATCHFS_TIMEFMT_H

#include <stdint.h>

/* RFC 3339 (any fraction digits, Z or an offset) to epoch us; -1 if
 * invalid or before 1970. */
int64_t bf_parse_rfc3339_us(const char *s);

#endif
