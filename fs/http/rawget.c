/* rawget.c - one GET over plain http:// whose body stays in the socket.
 *
 * libcurl hands every body byte to user space; a media body that only
 * passes through (to /dev/fuse) can instead be spliced from the socket
 * into a pipe and on, which saves one copy per byte (reader's splice
 * path, fs/gcs/pipe.c). This is only that: connect, send, read the status
 * and headers, leave the body. One attempt, no redirect, no retry: every
 * failure is reported and the caller goes back to bf_http_do, which has
 * the whole retry policy. Plain http:// only, which exists when the user
 * named such an endpoint; with a proxy in the environment we refuse,
 * since libcurl would have used it (-o proxy=, or the environment).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batchfs/log.h"
#include "http/http_int.h"

#define REQ_MAX 8192

static int proxy_configured(void)
{
	static const char *const vars[] = {"http_proxy", "HTTP_PROXY",
					   "all_proxy", "ALL_PROXY"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);

		if (v && *v)
			return 1;
	}
	return 0;
}

/* "http://host[:port]/path?q" -> host, port, authority and path. */
static int split_url(const char *url, char *host, size_t hn, char *port,
		     size_t pn, char *auth, size_t an, const char **path)
{
	const char *a = url + 7, *end = a + strcspn(a, "/?#");
	const char *h = a, *he, *colon;
	size_t len = (size_t)(end - a);

	if (strncmp(url, "http://", 7) != 0)
		return -EPROTONOSUPPORT;
	if (!len || len >= an || memchr(a, '@', len))
		return -EINVAL;
	memcpy(auth, a, len);
	auth[len] = 0;
	if (*h == '[') {
		h++;
		he = memchr(h, ']', (size_t)(end - h));
		if (!he)
			return -EINVAL;
		colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		he = colon ? colon : end;
	}
	if ((size_t)(he - h) >= hn || he == h)
		return -EINVAL;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = 0;
	if (colon) {
		size_t l = (size_t)(end - colon - 1);

		if (!l || l >= pn || strspn(colon + 1, "0123456789") < l)
			return -EINVAL;
		memcpy(port, colon + 1, l);
		port[l] = 0;
	} else {
		snprintf(port, pn, "80");
	}
	*path = end;
	return 0;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - bf_now_ms();
		struct pollfd p = {.fd = fd, .events = ev};
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (bf_cancelled())
			return -EINTR;
		n = poll(&p, 1, left < 100 ? (int)left : 100);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int dial(const char *host, const char *port, int rcvbuf,
		int64_t deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int fd = -1, rc = -EHOSTUNREACH;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int err = 0;
		socklen_t el = sizeof(err);

		fd = socket(ai->ai_family,
			    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		/* Before connect, so the window scale covers it. */
		if (rcvbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				   sizeof(rcvbuf));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			if (rc == 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) ==
				    0 &&
			    err == 0)
				break;
			if (rc == 0)
				rc = -(err ? err : ECONNREFUSED);
		} else {
			rc = -errno;
		}
		close(fd);
		fd = -1;
		if (rc == -EINTR || rc == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, deadline);

		if (rc)
			return rc;
	}
	return 0;
}

/* Headers we must understand to leave the body as it is. */
static int check_header(struct bf_rawget *g, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t nl;
	const char *v;

	if (!colon)
		return 0;
	nl = (size_t)(colon - line);
	v = colon + 1;
	while (v < line + len && (*v == ' ' || *v == '\t'))
		v++;
	if (nl == 17 && strncasecmp(line, "Transfer-Encoding", nl) == 0)
		return -EPROTO; /* chunked framing would be spliced as data */
	if (nl == 16 && strncasecmp(line, "Content-Encoding", nl) == 0 &&
	    strncasecmp(v, "identity", 8) != 0)
		return -EPROTO;
	if (nl == 14 && strncasecmp(line, "Content-Length", nl) == 0) {
		uint64_t x = 0;
		int digits = 0;

		for (; v < line + len && *v >= '0' && *v <= '9'; v++) {
			if (x > (UINT64_MAX - 9) / 10)
				return -EPROTO;
			x = x * 10 + (uint64_t)(*v - '0');
			digits++;
		}
		if (!digits)
			return -EPROTO;
		g->length = x;
	}
	bf_http_hdr_parse(&g->resp, line, len + 2);
	return 0;
}

/* "HTTP/1.x NNN ..." up to the first CRLF; strict, no sscanf (whose %d
 * would skip the CRLF and read on). */
static int parse_status(const char *p, size_t len)
{
	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' ||
	    p[7] > '9' || p[8] != ' ')
		return -EPROTO;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EPROTO;
	if (len > 12 && p[12] != ' ')
		return -EPROTO;
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

int bf_http__raw_head(struct bf_rawget *g, const char *head, size_t len)
{
	const char *p = head, *end = head + len, *eol;
	int status, rc;

	eol = memmem(p, len, "\r\n", 2);
	if (!eol)
		return -EPROTO;
	status = parse_status(p, (size_t)(eol - p));
	if (status < 100 || status > 599)
		return -EPROTO;
	g->resp.status = status;
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol || eol == p)
			break;
		rc = check_header(g, p, (size_t)(eol - p));
		if (rc)
			return rc;
	}
	return 0;
}

/* Reads up to the blank line; body bytes read with it go to g->pre. */
static int read_head(struct bf_rawget *g, int64_t deadline)
{
	char *buf = g->pre;
	size_t have = 0;

	for (;;) {
		ssize_t k = recv(g->fd, buf + have, BF_RAWGET_HEAD - have, 0);
		char *blank;

		if (k == 0)
			return -ECONNRESET;
		if (k < 0) {
			int rc;

			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			rc = wait_fd(g->fd, POLLIN, deadline);
			if (rc)
				return rc;
			continue;
		}
		have += (size_t)k;
		blank = memmem(buf, have, "\r\n\r\n", 4);
		if (blank) {
			size_t hl = (size_t)(blank - buf) + 4;
			int rc = bf_http__raw_head(g, buf, hl - 2);

			if (rc)
				return rc;
			memmove(buf, buf + hl, have - hl);
			g->pre_len = have - hl;
			return 0;
		}
		if (have == BF_RAWGET_HEAD)
			return -EPROTO;
	}
}

int bf_http_rawget(struct bf_http *h, const char *url,
		   const char *const *headers, int rcvbuf, struct bf_rawget *g,
		   struct bf_err *e)
{
	char host[256], port[8], authority[300], req[REQ_MAX], logurl[512];
	const char *path;
	char token[BF_TOKEN_MAX];
	int64_t deadline;
	size_t n;
	int rc;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->length = UINT64_MAX;
	g->resp.retry_after_ms = -1;
	bf_err_clear(e);
	rc = split_url(url, host, sizeof(host), port, sizeof(port), authority,
		       sizeof(authority), &path);
	if (rc)
		return bf_err_set(e, -rc, "not a plain http URL");
	if (h->proxy || proxy_configured())
		return bf_err_set(e, EPROTONOSUPPORT, "a proxy is configured");
	g->pre = malloc(BF_RAWGET_HEAD);
	if (!g->pre)
		return bf_err_set(e, ENOMEM, "out of memory");
	token[0] = 0;
	if (h->ts.token) {
		rc = h->ts.token(h->ts.ud, token, sizeof(token), e);
		if (rc < 0)
			goto fail;
		if (rc > 0)
			token[0] = 0;
	}
	n = (size_t)snprintf(req, sizeof(req),
			     "GET %s%s HTTP/1.1\r\nHost: %s\r\n"
			     "User-Agent: batchfs/" BATCHFS_VERSION "\r\n"
			     "Accept-Encoding: identity\r\n",
			     *path == '/' ? "" : "/", path, authority);
	for (const char *const *hp = headers; hp && *hp && n < sizeof(req);
	     hp++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "%s\r\n", *hp);
	if (token[0] && n < sizeof(req)) {
		const char *q = h->ts.quota_project
					? h->ts.quota_project(h->ts.ud)
					: NULL;

		n += (size_t)snprintf(req + n, sizeof(req) - n,
				      "Authorization: Bearer %s\r\n", token);
		if (q && n < sizeof(req))
			n += (size_t)snprintf(req + n, sizeof(req) - n,
					      "x-goog-user-project: %s\r\n", q);
	}
	explicit_bzero(token, sizeof(token));
	if (n < sizeof(req))
		n += (size_t)snprintf(req + n, sizeof(req) - n,
				      "Connection: close\r\n\r\n");
	if (n >= sizeof(req)) {
		rc = bf_err_set(e, EOVERFLOW, "request headers too long");
		goto fail;
	}
	bf_http_url_for_log(url, logurl, sizeof(logurl));
	deadline = bf_now_ms() + h->o.connect_timeout_ms;
	rc = dial(host, port, rcvbuf, deadline);
	if (rc < 0) {
		bf_err_set(e, -rc, "connect %s: %s", authority, strerror(-rc));
		goto fail;
	}
	g->fd = rc;
	bf_http_stat_add(&h->st.requests, 1);
	bf_http_stat_add(&h->st.connects, 1);
	deadline = bf_now_ms() + h->o.request_timeout_ms;
	rc = send_all(g->fd, req, n, deadline);
	if (rc == 0)
		rc = read_head(g, deadline);
	explicit_bzero(req, sizeof(req));
	if (rc) {
		bf_err_set(e, -rc, "GET %s: %s", logurl, strerror(-rc));
		goto fail;
	}
	if (h->o.trace)
		bf_log_debug("raw GET %s -> %ld", logurl, g->resp.status);
	return 0;
fail:
	explicit_bzero(req, sizeof(req));
	bf_rawget_close(g);
	return rc < 0 ? rc : -EIO;
}

void bf_rawget_close(struct bf_rawget *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	free(g->pre);
	g->pre = NULL;
	g->pre_len = 0;
}

void bf_http_count_in(struct bf_http *h, uint64_t n)
{
	bf_http_stat_add(&h->st.bytes_in, n);
}
