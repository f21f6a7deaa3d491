/* errmap.c - THE errno table: HTTP status, curl code and gRPC status to
 * errno, plus the parser for Google's error envelope.
 *
 * Nothing else in batchfs invents errnos for remote failures. Rows:
 *
 *   source                                   errno       note
 *   ---------------------------------------  ----------  ----
 *   HTTP 1xx-3xx                             0
 *   HTTP 400 (INVALID_ARGUMENT, no status)   EINVAL
 *   HTTP 400 FAILED_PRECONDITION             EBUSY       (a)
 *   HTTP 400 OUT_OF_RANGE                    ERANGE
 *   HTTP 401, 403; token failures            EACCES      (b)
 *   HTTP 403 RESOURCE_EXHAUSTED (quota)      EAGAIN
 *   HTTP 404                                 ENOENT
 *   HTTP 405                                 EOPNOTSUPP
 *   HTTP 408                                 ETIMEDOUT   retried first
 *   HTTP 409 (ALREADY_EXISTS)                EEXIST
 *   HTTP 409 ABORTED                         EAGAIN
 *   HTTP 410 (expired upload session)        ENOENT
 *   HTTP 411                                 EINVAL
 *   HTTP 412 (generation precondition)       ESTALE
 *   HTTP 413                                 EFBIG
 *   HTTP 416                                 ERANGE      readers: EOF
 *   HTTP 429                                 EAGAIN      after retries
 *   HTTP 499 (client closed)                 ECANCELED
 *   HTTP 501                                 EOPNOTSUPP  (c)
 *   HTTP 504                                 ETIMEDOUT   after retries
 *   HTTP other 5xx                           EIO         after retries
 *   HTTP other 4xx, no reply at all          EIO
 *   curl OPERATION_TIMEDOUT                  ETIMEDOUT
 *   curl COULDNT_CONNECT, COULDNT_RESOLVE_*  EIO         (d)
 *   curl SEND/RECV_ERROR, GOT_NOTHING,
 *        PARTIAL_FILE, SSL_*, others         EIO         (d)
 *   curl PEER_FAILED_VERIFICATION (60),
 *        SSL_CACERT_BADFILE (77)             EIO         (e) not retried
 *   curl ABORTED_BY_CALLBACK                 EINTR       cancel check fired
 *   curl URL_MALFORMAT, UNSUPPORTED_PROTOCOL EINVAL
 *   curl OUT_OF_MEMORY                       ENOMEM
 *   curl FILESIZE_EXCEEDED                   EFBIG
 *   curl LOGIN_DENIED, REMOTE_ACCESS_DENIED  EACCES
 *   curl RANGE_ERROR                         ERANGE
 *   gRPC 0 OK                                0
 *   gRPC 1 CANCELLED                         ECANCELED
 *   gRPC 2 UNKNOWN, 13 INTERNAL,
 *        14 UNAVAILABLE, 15 DATA_LOSS        EIO
 *   gRPC 3 INVALID_ARGUMENT                  EINVAL
 *   gRPC 4 DEADLINE_EXCEEDED                 ETIMEDOUT
 *   gRPC 5 NOT_FOUND                         ENOENT
 *   gRPC 6 ALREADY_EXISTS                    EEXIST
 *   gRPC 7 PERMISSION_DENIED                 EACCES
 *   gRPC 8 RESOURCE_EXHAUSTED                EAGAIN
 *   gRPC 9 FAILED_PRECONDITION               EBUSY       (a)
 *   gRPC 10 ABORTED                          EAGAIN
 *   gRPC 11 OUT_OF_RANGE                     ERANGE
 *   gRPC 12 UNIMPLEMENTED                    EOPNOTSUPP  (c)
 *   gRPC 16 UNAUTHENTICATED                  EACCES
 *   gRPC other                               EIO
 *
 * (a) The resource is in the wrong state, e.g. deleting a running job.
 *     Callers that know the operation better override it (cancel of a
 *     finished job is EINVAL in the job layer).
 * (b) Never bare EIO for permission problems (gcsfuse's top complaint).
 * (c) Not ENOSYS: FUSE remembers ENOSYS and stops calling the operation.
 * (d) A network failure is never ENOENT. ECONNREFUSED/EHOSTUNREACH are not
 *     documented for read(2)/open(2) and programs mishandle them, so
 *     transport failures are EIO; curl's text stays in bf_err.msg.
 *
 * (e) An untrusted server certificate is not a permission problem (the
 *     credential is fine and was never sent): EIO like other transport
 *     failures, never retried, with a message naming the host, the
 *     certificate's issuer and -o cafile= (http/tls.c, main.c's hint).
 *
 * The status name in an envelope refines only the generic HTTP codes (400,
 * 403, 409, unknown 4xx); a specific status (404, 412, 416, 429, 5xx) wins.
 * Local errors (EINTR cancel, EFBIG body cap) are set by their callers.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "batchfs/err.h"
#include "batchfs/log.h"

void bf_err_clear(struct bf_err *e)
{
	if (e)
		*e = (struct bf_err){0};
}

/* Copies src[0, n) into dst (size dn) without splitting a UTF-8 sequence
 * and with control characters turned into spaces. */
static void copy_text(char *dst, size_t dn, const char *src, size_t n)
{
	size_t o = 0, i = 0;

	if (!dn)
		return;
	while (i < n && src[i]) {
		unsigned char c = (unsigned char)src[i];
		size_t clen = 1;

		if (c >= 0xf0)
			clen = 4;
		else if (c >= 0xe0)
			clen = 3;
		else if (c >= 0xc0)
			clen = 2;
		if (i + clen > n || o + clen >= dn)
			break;
		if (clen == 1) {
			dst[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
		} else {
			size_t k;

			for (k = 1; k < clen; k++)
				if (((unsigned char)src[i + k] & 0xc0) != 0x80)
					break;
			if (k < clen) { /* invalid sequence: one '?' */
				dst[o++] = '?';
				i++;
				continue;
			}
			memcpy(dst + o, src + i, clen);
			o += clen;
		}
		i += clen;
	}
	dst[o] = '\0';
}

int bf_err_set(struct bf_err *e, int err, const char *fmt, ...)
{
	if (err < 0)
		err = -err;
	if (e) {
		char tmp[sizeof(e->msg)];
		va_list ap;

		e->err = err;
		va_start(ap, fmt);
		vsnprintf(tmp, sizeof(tmp), fmt, ap);
		va_end(ap);
		copy_text(e->msg, sizeof(e->msg), tmp, strlen(tmp));
		bf_redact(e->msg);
	}
	return -err;
}

void bf_err_format(const struct bf_err *e, char *out, size_t n)
{
	const char *msg;

	if (!n)
		return;
	if (!e || !e->err) {
		snprintf(out, n, "OK");
		return;
	}
	msg = e->msg[0] ? e->msg : strerror(e->err);
	if (e->status[0])
		snprintf(out, n, "%s: %s", e->status, msg);
	else if (e->http_status)
		snprintf(out, n, "HTTP %ld: %s", e->http_status, msg);
	else if (e->curl_code)
		snprintf(out, n, "transport error (curl %d): %s", e->curl_code,
			 msg);
	else
		snprintf(out, n, "%s: %s",
			 strerrorname_np(e->err) ? strerrorname_np(e->err)
						 : "ERROR",
			 msg);
}

/* ---- the table ---------------------------------------------------------- */

static const struct {
	const char *name;
	int err;
	long http;
} grpc_rows[] = {
	[BF_GRPC_OK] = {"OK", 0, 200},
	[BF_GRPC_CANCELLED] = {"CANCELLED", ECANCELED, 499},
	[BF_GRPC_UNKNOWN] = {"UNKNOWN", EIO, 500},
	[BF_GRPC_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", EINVAL, 400},
	[BF_GRPC_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", ETIMEDOUT, 504},
	[BF_GRPC_NOT_FOUND] = {"NOT_FOUND", ENOENT, 404},
	[BF_GRPC_ALREADY_EXISTS] = {"ALREADY_EXISTS", EEXIST, 409},
	[BF_GRPC_PERMISSION_DENIED] = {"PERMISSION_DENIED", EACCES, 403},
	[BF_GRPC_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", EAGAIN, 429},
	[BF_GRPC_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", EBUSY, 400},
	[BF_GRPC_ABORTED] = {"ABORTED", EAGAIN, 409},
	[BF_GRPC_OUT_OF_RANGE] = {"OUT_OF_RANGE", ERANGE, 400},
	[BF_GRPC_UNIMPLEMENTED] = {"UNIMPLEMENTED", EOPNOTSUPP, 501},
	[BF_GRPC_INTERNAL] = {"INTERNAL", EIO, 500},
	[BF_GRPC_UNAVAILABLE] = {"UNAVAILABLE", EIO, 503},
	[BF_GRPC_DATA_LOSS] = {"DATA_LOSS", EIO, 500},
	[BF_GRPC_UNAUTHENTICATED] = {"UNAUTHENTICATED", EACCES, 401},
};
#define GRPC_ROWS ((int)(sizeof(grpc_rows) / sizeof(grpc_rows[0])))

int bf_errno_from_grpc(int grpc_code)
{
	if (grpc_code < 0 || grpc_code >= GRPC_ROWS)
		return EIO;
	return grpc_rows[grpc_code].err;
}

const char *bf_grpc_name(int grpc_code)
{
	if (grpc_code < 0 || grpc_code >= GRPC_ROWS)
		return "UNKNOWN";
	return grpc_rows[grpc_code].name;
}

int bf_grpc_from_name(const char *name)
{
	if (!name)
		return -1;
	/* Both spellings of 1 occur in the wild. */
	if (!strcmp(name, "CANCELED"))
		return BF_GRPC_CANCELLED;
	for (int i = 0; i < GRPC_ROWS; i++)
		if (!strcmp(name, grpc_rows[i].name))
			return i;
	return -1;
}

long bf_http_from_grpc(int grpc_code)
{
	if (grpc_code < 0 || grpc_code >= GRPC_ROWS)
		return 500;
	return grpc_rows[grpc_code].http;
}

int bf_errno_from_http(long s, const char *status_name)
{
	int g = bf_grpc_from_name(status_name);

	if (s >= 100 && s < 400)
		return 0;
	switch (s) {
	case 401:
		return EACCES;
	case 403:
		return g == BF_GRPC_RESOURCE_EXHAUSTED ? EAGAIN : EACCES;
	case 404:
		return ENOENT;
	case 405:
		return EOPNOTSUPP;
	case 408:
		return ETIMEDOUT;
	case 409:
		return g == BF_GRPC_ABORTED ? EAGAIN : EEXIST;
	case 410:
		return ENOENT;
	case 411:
		return EINVAL;
	case 412:
		return ESTALE;
	case 413:
		return EFBIG;
	case 416:
		return ERANGE;
	case 429:
		return EAGAIN;
	case 499:
		return ECANCELED;
	case 501:
		return EOPNOTSUPP;
	case 504:
		return ETIMEDOUT;
	}
	if (s >= 500 && s < 600)
		return EIO;
	/* Generic 400 and unknown 4xx: the status name refines. */
	if (g > 0)
		return grpc_rows[g].err;
	if (s == 400)
		return EINVAL;
	return EIO;
}

int bf_errno_from_curl(int c)
{
	switch ((CURLcode)c) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return EINTR;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	case CURLE_FILESIZE_EXCEEDED:
		return EFBIG;
	case CURLE_LOGIN_DENIED:
	case CURLE_REMOTE_ACCESS_DENIED:
		return EACCES;
	case CURLE_RANGE_ERROR:
		return ERANGE;
	default:
		return EIO;
	}
}

int bf_http_retryable(long s)
{
	return s == 408 || s == 429 || (s >= 500 && s < 600 && s != 501);
}

int bf_curl_cert_error(int c)
{
	return c == CURLE_PEER_FAILED_VERIFICATION ||
	       c == CURLE_SSL_CACERT_BADFILE || c == CURLE_SSL_ISSUER_ERROR ||
	       c == CURLE_SSL_CRL_BADFILE;
}

int bf_curl_retryable(int c)
{
	switch ((CURLcode)c) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* ---- the envelope ------------------------------------------------------- */

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_IsObject(o)
				 ? cJSON_GetObjectItemCaseSensitive(o, key)
				 : NULL;

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* Integer-valued number within [lo, hi], else -1. */
static long json_int(const cJSON *o, const char *key, long lo, long hi)
{
	const cJSON *v = cJSON_IsObject(o)
				 ? cJSON_GetObjectItemCaseSensitive(o, key)
				 : NULL;
	double d;

	if (!cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!isfinite(d) || d < (double)lo || d > (double)hi || d != floor(d))
		return -1;
	return (long)d;
}

static void append_text(char *dst, size_t dn, const char *s)
{
	size_t used = strlen(dst);

	if (used + 1 < dn)
		copy_text(dst + used, dn - used, s, strlen(s));
}

/* Picks a machine-readable reason from details[] (ErrorInfo) or GCS's
 * errors[] to append to the message. */
static const char *envelope_reason(const cJSON *err)
{
	const cJSON *arr, *it;

	arr = cJSON_GetObjectItemCaseSensitive(err, "details");
	if (cJSON_IsArray(arr)) {
		cJSON_ArrayForEach(it, arr)
		{
			const char *t = json_str(it, "@type");

			if (t && strstr(t, "google.rpc.ErrorInfo") &&
			    json_str(it, "reason"))
				return json_str(it, "reason");
		}
	}
	arr = cJSON_GetObjectItemCaseSensitive(err, "errors");
	if (cJSON_IsArray(arr))
		return json_str(cJSON_GetArrayItem(arr, 0), "reason");
	return NULL;
}

static int fill_from_envelope(struct bf_err *e, const cJSON *root,
			      long *code_out)
{
	const cJSON *err;
	const char *msg, *status, *reason;

	if (cJSON_IsArray(root) && cJSON_GetArraySize(root) >= 1)
		root = cJSON_GetArrayItem(root, 0);
	if (!cJSON_IsObject(root))
		return -1;
	err = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsString(err) && err->valuestring) {
		/* OAuth: {"error":"invalid_grant","error_description":"..."} */
		const char *d = json_str(root, "error_description");

		copy_text(e->msg, sizeof(e->msg), err->valuestring,
			  strlen(err->valuestring));
		if (d) {
			append_text(e->msg, sizeof(e->msg), ": ");
			append_text(e->msg, sizeof(e->msg), d);
		}
		return 0;
	}
	if (!cJSON_IsObject(err))
		return -1;
	*code_out = json_int(err, "code", 100, 599);
	status = json_str(err, "status");
	if (status && bf_grpc_from_name(status) >= 0)
		copy_text(e->status, sizeof(e->status), status, strlen(status));
	msg = json_str(err, "message");
	if (!msg) {
		const cJSON *errs =
			cJSON_GetObjectItemCaseSensitive(err, "errors");

		if (cJSON_IsArray(errs))
			msg = json_str(cJSON_GetArrayItem(errs, 0), "message");
	}
	if (msg)
		copy_text(e->msg, sizeof(e->msg), msg, strlen(msg));
	reason = envelope_reason(err);
	if (reason && !strstr(e->msg, reason)) {
		append_text(e->msg, sizeof(e->msg), e->msg[0] ? " (" : "(");
		append_text(e->msg, sizeof(e->msg), reason);
		append_text(e->msg, sizeof(e->msg), ")");
	}
	return 0;
}

int bf_err_from_reply(struct bf_err *e, long http_status, const char *body,
		      size_t len)
{
	struct bf_err tmp;
	cJSON *root = NULL;
	long code = -1;
	int parsed = -1;

	if (!e)
		e = &tmp;
	bf_err_clear(e);
	if (body && len)
		root = cJSON_ParseWithLength(body, len);
	if (root)
		parsed = fill_from_envelope(e, root, &code);
	cJSON_Delete(root);
	if (http_status <= 0 && code > 0)
		http_status = code;
	e->http_status = http_status;
	e->err = bf_errno_from_http(http_status,
				    e->status[0] ? e->status : NULL);
	if (!e->err)
		e->err = EIO; /* only failures come here */
	if (parsed < 0 && body && len) {
		/* Not an envelope (HTML from a proxy, plain text): its start
		 * is still the best description we have. */
		copy_text(e->msg, 200, body, len);
	}
	if (!e->msg[0]) {
		if (http_status > 0)
			snprintf(e->msg, sizeof(e->msg),
				 "HTTP %ld with %s body", http_status,
				 len ? "unparsable" : "no");
		else
			snprintf(e->msg, sizeof(e->msg), "no reply");
	}
	bf_redact(e->msg);
	return -e->err;
}

/* Duration: "1.5s" as JSON, or {"seconds": n, "nanos": n}. */
static long duration_ms(const cJSON *d)
{
	if (cJSON_IsString(d) && d->valuestring) {
		char *end;
		double s = strtod(d->valuestring, &end);

		if (end == d->valuestring || (*end && strcmp(end, "s")) ||
		    !isfinite(s) || s < 0 || s > 86400.0 * 365)
			return -1;
		return (long)(s * 1000.0 + 0.5);
	}
	if (cJSON_IsObject(d)) {
		long sec = json_int(d, "seconds", 0, 86400L * 365);
		long ns = json_int(d, "nanos", 0, 999999999);

		if (sec < 0 && ns < 0)
			return -1;
		return (sec > 0 ? sec * 1000 : 0) + (ns > 0 ? ns / 1000000 : 0);
	}
	return -1;
}

long bf_err_retry_delay_ms(const char *body, size_t len)
{
	cJSON *root;
	const cJSON *err, *details, *it;
	long ms = -1;

	if (!body || !len)
		return -1;
	root = cJSON_ParseWithLength(body, len);
	if (!root)
		return -1;
	err = root;
	if (cJSON_IsArray(err))
		err = cJSON_GetArrayItem(err, 0);
	err = cJSON_IsObject(err)
		      ? cJSON_GetObjectItemCaseSensitive(err, "error")
		      : NULL;
	details = cJSON_IsObject(err)
			  ? cJSON_GetObjectItemCaseSensitive(err, "details")
			  : NULL;
	if (cJSON_IsArray(details)) {
		cJSON_ArrayForEach(it, details)
		{
			const char *t = json_str(it, "@type");

			if (!t || !strstr(t, "google.rpc.RetryInfo"))
				continue;
			ms = duration_ms(cJSON_GetObjectItemCaseSensitive(
				it, "retryDelay"));
			if (ms >= 0)
				break;
		}
	}
	cJSON_Delete(root);
	return ms;
}
