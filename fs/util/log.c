/* log.c - one-line log records to stderr, syslog or a file (-o log_file=),
 * as text or JSON (-o log_format=json), with secret redaction.
 *
 * Every line passes through bf_redact before it leaves the process, so a
 * token that slips into a format argument (a curl error, a server message
 * echoing a request) still never reaches a log file. Lines are formatted
 * into a fixed stack buffer: logging never allocates and never fails.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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

/* A leaf: guards the destination (the four below it) and each write, so
 * lines do not interleave. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_to_stderr = 1;
static int log_syslog_open;
static void (*log_sink)(enum bf_log_level, const char *);
static int log_fd = -1; /* -o log_file=, O_APPEND: wins over both */
/* No lock: a word read on every call, changed with no ordering needed. */
static volatile int log_level = BF_LOG_INFO;
/* No lock: set once at start, before any other thread logs. */
static int log_json;

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

int bf_log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void bf_log_set_json(int on)
{
	log_json = on;
}

void bf_log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	pthread_mutex_unlock(&log_lock);
}

/* Appends s as the body of a JSON string (no quotes) to out[*n..cap),
 * dropping what does not fit; the line is already one line and redacted. */
static void json_escape(char *out, size_t cap, size_t *n, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		size_t k;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			k = 2;
		} else if (c < 0x20 || c == 0x7f) {
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else if (c >= 0x80) {
			/* A whole valid UTF-8 sequence passes; a stray byte
			 * (a server's Latin-1, a cut sequence) would make the
			 * line invalid JSON, so it becomes U+FFFD. */
			size_t want = c >= 0xf0 && c < 0xf5   ? 4
				      : c >= 0xe0 && c < 0xf0 ? 3
				      : c >= 0xc2 && c < 0xe0 ? 2
							      : 0;
			size_t ok = want > 1;

			for (size_t i = 1; ok && i < want; i++)
				ok = ((unsigned char)s[i] & 0xc0) == 0x80;
			if (ok && want <= sizeof(esc)) {
				memcpy(esc, s, want);
				k = want;
				s += want - 1;
			} else {
				memcpy(esc, "\\ufffd", 6);
				k = 6;
			}
		} else {
			esc[0] = (char)c;
			k = 1;
		}
		if (*n + k >= cap)
			return;
		memcpy(out + *n, esc, k);
		*n += k;
	}
	out[*n] = '\0';
}

/* One record, text or JSON, with time, thread and level; ends in \n. */
static size_t format_record(char *out, size_t cap, enum bf_log_level level,
			    const char *line)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	size_t n;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (!log_json) {
		k = snprintf(out, cap, "%s.%03ldZ batchfs[%ld] %s: %s\n", stamp,
			     ts.tv_nsec / 1000000, (long)syscall(SYS_gettid),
			     level_names[level], line);
		if (k < 0)
			return 0;
		if ((size_t)k >= cap) {
			out[cap - 2] = '\n';
			return cap - 1;
		}
		return (size_t)k;
	}
	k = snprintf(out, cap,
		     "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"pid\":%ld,"
		     "\"tid\":%ld,\"msg\":\"",
		     stamp, ts.tv_nsec / 1000000, level_names[level],
		     (long)getpid(), (long)syscall(SYS_gettid));
	if (k < 0 || (size_t)k >= cap)
		return 0;
	n = (size_t)k;
	json_escape(out, cap - 3, &n, line);
	memcpy(out + n, "\"}\n", 4);
	return n + 3;
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
	} else if (log_fd >= 0 || log_to_stderr) {
		char rec[LOG_LINE_MAX * 2 + 128];
		size_t len = format_record(rec, sizeof(rec), level, line);
		ssize_t w;

		/* One write per record: O_APPEND keeps records whole when
		 * logrotate's copytruncate or another writer is around. */
		do
			w = write(log_fd >= 0 ? log_fd : 2, rec, len);
		while (w < 0 && errno == EINTR);
	} else if (log_json) {
		char rec[LOG_LINE_MAX * 2 + 128];
		size_t len = format_record(rec, sizeof(rec), level, line);

		if (len)
			rec[len - 1] = '\0';
		syslog(level_syslog[level], "%s", rec);
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
