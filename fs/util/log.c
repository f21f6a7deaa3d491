/* log.c - one-line log records to stderr or syslog, with secret redaction.
 *
 * Every line passes through bf_redact before it leaves the process, so a
 * token that slips into a format argument (a curl error, a server message
 * echoing a request) still never reaches a log file. Lines are formatted
 * into a fixed stack buffer: logging never allocates and never fails.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "batchfs/log.h"

#define LOG_LINE_MAX 2048

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_to_stderr = 1;
static int log_syslog_open;
static volatile int log_level = BF_LOG_INFO;
static void (*log_sink)(enum bf_log_level, const char *);

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int level_syslog[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

void bf_log_init(int to_stderr, enum bf_log_level level)
{
	pthread_mutex_lock(&log_lock);
	log_to_stderr = to_stderr;
	log_level = level;
	if (!to_stderr && !log_syslog_open) {
		openlog("batchfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog_open = 1;
	}
	pthread_mutex_unlock(&log_lock);
}

void bf_log_set_level(enum bf_log_level level)
{
	log_level = level;
}

int bf_log_enabled(enum bf_log_level level)
{
	return (int)level <= log_level;
}

void bf_log_set_sink(void (*sink)(enum bf_log_level, const char *line))
{
	pthread_mutex_lock(&log_lock);
	log_sink = sink;
	pthread_mutex_unlock(&log_lock);
}

void bf_log(enum bf_log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	int n;

	if (level < BF_LOG_ERR || level > BF_LOG_DEBUG)
		level = BF_LOG_ERR;
	if (!bf_log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		memcpy(line + sizeof(line) - 4, "...", 4);
	/* One record is one line: embedded newlines would forge records. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	bf_redact(line);

	pthread_mutex_lock(&log_lock);
	if (log_sink) {
		log_sink(level, line);
	} else if (log_to_stderr) {
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ batchfs[%ld] %s: %s\n", stamp,
			ts.tv_nsec / 1000000, (long)syscall(SYS_gettid),
			level_names[level], line);
	} else {
		syslog(level_syslog[level], "%s", line);
	}
	pthread_mutex_unlock(&log_lock);
}

/* ---- redaction ---------------------------------------------------------- */

#define MASK "***"

/* Replaces s[start, end) by MASK (or by '*'s when shorter), shifting the
 * tail left; returns the index just past the mask. Never grows s. */
static size_t mask_span(char *s, size_t start, size_t end)
{
	size_t len = end - start, mlen = strlen(MASK);

	if (len <= mlen) {
		memset(s + start, '*', len);
		return end;
	}
	memcpy(s + start, MASK, mlen);
	memmove(s + start + mlen, s + end, strlen(s + end) + 1);
	return start + mlen;
}

static int is_token_char(unsigned char c)
{
	return isalnum(c) || strchr("-._~+/=", c) != NULL;
}

static int is_word_char(unsigned char c)
{
	return isalnum(c) || c == '_';
}

/* "Bearer <token>" anywhere, case-insensitive. */
static void redact_bearer(char *s)
{
	size_t i = 0;

	while (s[i]) {
		size_t j;

		if (strncasecmp(s + i, "bearer", 6) != 0 ||
		    (i && is_word_char((unsigned char)s[i - 1]))) {
			i++;
			continue;
		}
		j = i + 6;
		if (s[j] != ' ' && s[j] != '\t' && s[j] != '+' &&
		    strncmp(s + j, "%20", 3) != 0) {
			i++;
			continue;
		}
		j += s[j] == '%' ? 3 : 1;
		while (s[j] == ' ' || s[j] == '\t')
			j++;
		if (!is_token_char((unsigned char)s[j]) ||
		    !strcmp(s + j, "***") || !strncmp(s + j, "*** ", 4)) {
			i = j;
			continue;
		}
		{
			size_t k = j;

			while (s[k] && is_token_char((unsigned char)s[k]))
				k++;
			i = mask_span(s, j, k);
		}
	}
}

/* Google access tokens are recognisable even without context. */
static void redact_ya29(char *s)
{
	char *p = s;

	while ((p = strstr(p, "ya29.")) != NULL) {
		size_t st = (size_t)(p - s), k = st + 5;

		if (st && is_token_char((unsigned char)s[st - 1])) {
			p += 5;
			continue;
		}
		while (s[k] && is_token_char((unsigned char)s[k]))
			k++;
		p = s + mask_span(s, st, k);
	}
}

static const char *const secret_keys[] = {
	"access_token",	 "refresh_token", "id_token",	   "private_key",
	"client_secret", "assertion",	  "subject_token",
};

/* key"?  ws [:=] ws  then a quoted ("..." or \"...\") or bare value. */
static void redact_key(char *s, const char *key)
{
	size_t klen = strlen(key), i = 0;

	while (s[i]) {
		char *hit = strstr(s + i, key);
		size_t st, j;

		if (!hit)
			return;
		st = (size_t)(hit - s);
		j = st + klen;
		i = st + 1;
		if (st && is_word_char((unsigned char)s[st - 1]))
			continue;
		if (s[j] == '\\' && s[j + 1] == '"')
			j += 2;
		else if (s[j] == '"')
			j++;
		while (s[j] == ' ' || s[j] == '\t')
			j++;
		if (s[j] != ':' && s[j] != '=')
			continue;
		j++;
		while (s[j] == ' ' || s[j] == '\t')
			j++;
		if (s[j] == '\\' && s[j + 1] == '"') {
			/* Escaped JSON inside a string: ends at the next \" */
			size_t k = j + 2;

			while (s[k] && !(s[k] == '\\' && s[k + 1] == '"'))
				k++;
			i = mask_span(s, j + 2, k);
		} else if (s[j] == '"') {
			size_t k = j + 1;

			while (s[k] && s[k] != '"') {
				if (s[k] == '\\' && s[k + 1])
					k++;
				k++;
			}
			i = mask_span(s, j + 1, k);
		} else {
			size_t k = j;

			while (s[k] && !strchr("&\"', ;}\t\r\n", s[k]))
				k++;
			if (k == j || (k - j == 3 && !strncmp(s + j, MASK, 3)))
				continue;
			i = mask_span(s, j, k);
		}
	}
}

void bf_redact(char *s)
{
	if (!s)
		return;
	redact_bearer(s);
	for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]);
	     i++)
		redact_key(s, secret_keys[i]);
	redact_ya29(s);
}
