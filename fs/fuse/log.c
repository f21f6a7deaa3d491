/* log.c (fuse) - sends libfuse's own messages to bf_log, so they reach
 * syslog when daemonized like ours do. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fuse/fuse_int.h"

static void bridge(enum fuse_log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;
	enum bf_log_level l;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	if (level <= FUSE_LOG_ERR)
		l = BF_LOG_ERR;
	else if (level == FUSE_LOG_WARNING)
		l = BF_LOG_WARN;
	else if (level <= FUSE_LOG_INFO)
		l = BF_LOG_INFO;
	else
		l = BF_LOG_DEBUG;
	bf_log(l, "fuse: %s", line);
}

void bf_fuse_log_bridge(void)
{
	fuse_set_log_func(bridge);
}
