/* err.h - one failure: a negative errno for FUSE plus the cause for logs.
 *
 * Every core call returns 0 (or a count) on success and -errno on failure,
 * and fills a struct bf_err when the caller passes one. The errno comes from
 * the single mapping table in fs/util/errmap.c; nothing else invents errnos
 * for remote failures.
 */
#ifndef BATCHFS_ERR_H
#define BATCHFS_ERR_H

#include <stddef.h>

struct bf_err {
	int err;	  /* positive errno, 0 when no failure */
	long http_status; /* HTTP status of the failing reply, 0 if none */
	int curl_code;	  /* CURLcode of a transport failure, 0 if none */
	char status[40];  /* canonical name, e.g. "NOT_FOUND", "" if none */
	char msg[512];	  /* server's message or local reason, no secrets */
};

void bf_err_clear(struct bf_err *e);

/* Fills e (if non-NULL) and returns -err. */
int bf_err_set(struct bf_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "CODE: message" style one-liner for error files and logs. */
void bf_err_format(const struct bf_err *e, char *out, size_t n);

/* gRPC status codes (google.rpc.Code), as the error envelope's "code" and
 * a job's error.code carry them. */
enum bf_grpc_code {
	BF_GRPC_OK = 0,
	BF_GRPC_CANCELLED = 1,
	BF_GRPC_UNKNOWN = 2,
	BF_GRPC_INVALID_ARGUMENT = 3,
	BF_GRPC_DEADLINE_EXCEEDED = 4,
	BF_GRPC_NOT_FOUND = 5,
	BF_GRPC_ALREADY_EXISTS = 6,
	BF_GRPC_PERMISSION_DENIED = 7,
	BF_GRPC_RESOURCE_EXHAUSTED = 8,
	BF_GRPC_FAILED_PRECONDITION = 9,
	BF_GRPC_ABORTED = 10,
	BF_GRPC_OUT_OF_RANGE = 11,
	BF_GRPC_UNIMPLEMENTED = 12,
	BF_GRPC_INTERNAL = 13,
	BF_GRPC_UNAVAILABLE = 14,
	BF_GRPC_DATA_LOSS = 15,
	BF_GRPC_UNAUTHENTICATED = 16,
};

/* The mapping table (positive errno). status_name may be NULL. */
int bf_errno_from_http(long http_status, const char *status_name);
int bf_errno_from_curl(int curl_code);
int bf_errno_from_grpc(int grpc_code);
const char *bf_grpc_name(int grpc_code);      /* "UNKNOWN" if out of range */
int bf_grpc_from_name(const char *name);      /* -1 if unknown */
long bf_http_from_grpc(int grpc_code);

int bf_http_retryable(long http_status);       /* 408, 429, 5xx */
int bf_curl_retryable(int curl_code);          /* transport failures */
/* The server's certificate was not trusted (or the CA file was unusable):
 * EIO, never retried; the fix is -o cafile=, not the credential. */
int bf_curl_cert_error(int curl_code);

/* Parses Google's error envelope ({"error":{code,status,message,details}},
 * a one-element array of it, or GCS's older form) into e. Always sets e->err
 * and e->http_status; uses the body as message when it is not an envelope.
 * Returns -e->err. */
int bf_err_from_reply(struct bf_err *e, long http_status, const char *body,
		      size_t len);

/* Retry delay from RetryInfo in details[] ("1.5s"), in ms; -1 if absent. */
long bf_err_retry_delay_ms(const char *body, size_t len);

#endif
