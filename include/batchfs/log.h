/* log.h - logging to stderr (foreground) or syslog, with secret redaction. */
#ifndef BATCHFS_LOG_H
#define BATCHFS_LOG_H

#include <stddef.h>

enum bf_log_level { BF_LOG_ERR, BF_LOG_WARN, BF_LOG_INFO, BF_LOG_DEBUG };

/* to_stderr: 1 = stderr, 0 = syslog(LOG_DAEMON). Safe to call again. */
void bf_log_init(int to_stderr, enum bf_log_level level);
void bf_log_set_level(enum bf_log_level level);
/* Sends every record to PATH (appended, created 0640) instead of stderr or
 * syslog; -errno when it cannot be opened. bf_log_close undoes it. */
int bf_log_open_file(const char *path);
void bf_log_close(void);
/* 1: each record is one JSON object {"time","level","pid","tid","msg"}
 * (msg redacted like text records are). */
void bf_log_set_json(int on);
int bf_log_enabled(enum bf_log_level level);

/* Formats, redacts secrets, writes one line. Thread-safe. */
void bf_log(enum bf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define bf_log_err(...) bf_log(BF_LOG_ERR, __VA_ARGS__)
#define bf_log_warn(...) bf_log(BF_LOG_WARN, __VA_ARGS__)
#define bf_log_info(...) bf_log(BF_LOG_INFO, __VA_ARGS__)
#define bf_log_debug(...) bf_log(BF_LOG_DEBUG, __VA_ARGS__)

/* Rewrites, in place, anything that looks like a secret: "Bearer <tok>",
 * "access_token":"...", "refresh_token", "private_key", "assertion=",
 * "client_secret". Used by bf_log and by anything writing user-visible files. */
void bf_redact(char *s);

/* notify.c: sends state ("READY=1\nSTATUS=...") to systemd's
 * $NOTIFY_SOCKET; 0 when unset (not started by systemd), else -errno. */
int bf_sd_notify(const char *state);

/* Test hook: captures every formatted line (after redaction). NULL to stop. */
void bf_log_set_sink(void (*sink)(enum bf_log_level, const char *line));

#endif
