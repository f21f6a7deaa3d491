"""The HTTP/1.1 keep-alive server: request parsing, body streams, response
writing (one piece for small replies, sendfile for media) and the
connection-level faults (reset, stall, truncate, slow, lost responses).

http.server's stock handler writes headers and body separately, which with
Nagle and delayed ACK costs ~40 ms per kept-alive reply; here TCP_NODELAY is
set and each small reply leaves in a single send.
"""
import http.server
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

from .util import ApiError, dumps, gcs_error, google_error

REASONS = {308: "Resume Incomplete", 499: "Client Closed Request"}
SMALL_FILE = 256 * 1024


class BodyReader:
    """Reads a request body (Content-Length or chunked) from rfile."""

    def __init__(self, rfile, headers):
        self.rfile = rfile
        te = (headers.get("Transfer-Encoding") or "").lower()
        self.chunked = "chunked" in te
        cl = headers.get("Content-Length")
        self.remaining = int(cl) if (cl and not self.chunked) else 0
        self.length = None if self.chunked else self.remaining
        self.chunk_left = 0
        self.done = not self.chunked and self.remaining == 0

    def read(self, n=1 << 20):
        """Returns up to n bytes; b'' at the end of the body."""
        if self.done:
            return b""
        if not self.chunked:
            data = self.rfile.read(min(n, self.remaining))
            if not data:
                raise ConnectionError("client closed mid-body")
            self.remaining -= len(data)
            if self.remaining == 0:
                self.done = True
            return data
        if self.chunk_left == 0:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("client closed mid-body")
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers
                    t = self.rfile.readline(65537)
                    if t in (b"\r\n", b"\n", b""):
                        break
                self.done = True
                return b""
            self.chunk_left = size
        data = self.rfile.read(min(n, self.chunk_left))
        if not data:
            raise ConnectionError("client closed mid-body")
        self.chunk_left -= len(data)
        if self.chunk_left == 0:
            self.rfile.readline(3)
        return data

    def read_all(self, limit=None):
        parts = []
        total = 0
        while True:
            d = self.read()
            if not d:
                break
            parts.append(d)
            total += len(d)
            if limit is not None and total > limit:
                raise ApiError(413, "request body too large")
        return b"".join(parts)

    def drain(self, limit=16 << 20):
        """Discards the unread body; False if it was too big to bother."""
        total = 0
        while not self.done:
            d = self.read()
            if not d:
                break
            total += len(d)
            if total > limit:
                return False
        return True


class Request:
    def __init__(self, handler):
        self.handler = handler
        self.method = handler.command
        self.target = handler.path
        raw_path, _, qs = self.target.partition("?")
        if raw_path.startswith("http://") or raw_path.startswith("https://"):
            raw_path = "/" + raw_path.split("/", 3)[3] if raw_path.count("/") >= 3 else "/"
        self.raw_path = raw_path
        self.query_string = qs
        self.query = {}
        for k, v in urllib.parse.parse_qsl(qs, keep_blank_values=True,
                                            errors="surrogateescape"):
            self.query.setdefault(k, v)
        self.headers = handler.headers
        self.body = BodyReader(handler.rfile, handler.headers)
        self.internal = bool(handler.headers.get("X-Emulator-Internal"))
        self._json = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def base_url(self):
        host = self.headers.get("Host")
        if host:
            return self.handler.server.scheme + "://" + host
        return self.handler.server.base_url

    def json(self):
        """The body as JSON (None when empty); raises ApiError(400)."""
        import json
        raw = self.body.read_all(limit=256 << 20)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "Invalid JSON payload received. %s" % e,
                           "INVALID_ARGUMENT")


class Response:
    def __init__(self, status=200, body=b"", headers=None, ctype=None):
        self.status = status
        self.body = body
        self.headers = list((headers or {}).items()) if isinstance(headers, dict) \
            else list(headers or [])
        if ctype:
            self.headers.append(("Content-Type", ctype))
        self.file = None  # (path, offset, length)
        self.cleanup = None  # temp file to unlink once sent

    @classmethod
    def json(cls, obj, status=200, headers=None):
        r = cls(status, dumps(obj), headers, "application/json; charset=UTF-8")
        return r

    @classmethod
    def send_file(cls, path, offset, length, status=200, headers=None):
        r = cls(status, b"", headers)
        r.file = (path, offset, length)
        return r

    def content_length(self):
        return self.file[2] if self.file else len(self.body)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gcemu"
    sys_version = ""
    rbufsize = 256 * 1024
    wbufsize = 0
    exempt = False  # control route or the job runner: no WAN model

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            # The handshake runs here, on the connection's own thread,
            # so a slow or failing client never holds up accept().
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def handle_one_request(self):
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(414)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self.serve()
        except (ConnectionError, BrokenPipeError, socket.timeout, OSError):
            self.close_connection = True

    # --- the request cycle ------------------------------------------------
    def serve(self):
        app = self.server.app
        req = Request(self)
        t0 = time.time()
        is_control = req.raw_path.startswith("/_emulator/")
        self.exempt = is_control or req.internal
        rule = None
        if not is_control:
            ranged = req.method == "GET" and bool(req.header("Range"))
            rule = app.faults.match(req.method, req.target, req.internal, ranged)
        kind = rule.kind if rule else None
        if kind == "reset":
            self.reset()
            return
        if kind == "status":
            if not req.body.drain():
                self.close_connection = True
            self.write(self.fault_status_response(req, rule))
            return
        if kind == "stall":
            time.sleep(float(rule.get("seconds", 5)))
        try:
            resp = app.dispatch(req, rule)
        except ApiError as e:
            resp = app.error_response(req, e)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
            return
        except Exception as e:  # a bug: answer 500 rather than hang
            import traceback
            traceback.print_exc()
            resp = Response.json(google_error(500, "emulator bug: %r" % e), 500)
        if not req.body.done and not req.body.drain():
            self.close_connection = True
        if kind == "lose_response":
            if rule.get("reset"):
                self.reset()
                if getattr(resp, "cleanup", None):
                    os.unlink(resp.cleanup)
                return
            st = int(rule.get("status", 503))
            lost, resp = resp, self.fault_status_response(req, rule, st)
            resp.cleanup = getattr(lost, "cleanup", None)
        media = getattr(resp, "media", False)
        if media:
            app.media_streams(1)
        try:
            self.write(resp, rule)
        finally:
            if media:
                app.media_streams(-1)
            cleanup = getattr(resp, "cleanup", None)
            if cleanup:
                try:
                    os.unlink(cleanup)
                except OSError:
                    pass
        if not self.server.quiet:
            self.log_message('"%s %s" %d %.1fms', req.method, req.target[:200],
                             resp.status, (time.time() - t0) * 1000)

    def fault_status_response(self, req, rule, status=None):
        st = int(status or rule.get("status", 503))
        headers = {}
        if rule.get("retry_after") is not None:
            headers["Retry-After"] = str(rule.get("retry_after"))
        if rule.get("body") is not None:
            body = rule.get("body")
            if isinstance(body, str):
                return Response(st, body.encode(), headers, "text/plain")
            return Response.json(body, st, headers)
        msg = {429: "Quota exceeded.", 500: "Internal error encountered.",
               503: "The service is currently unavailable.",
               504: "Deadline exceeded."}.get(st, "Injected fault.")
        if self.server.app.is_gcs_path(req.raw_path):
            return Response.json(gcs_error(st, msg), st, headers)
        return Response.json(google_error(st, msg), st, headers)

    def reset(self):
        """Closes the connection with an RST and no reply."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def head_bytes(self, resp, length):
        reason = REASONS.get(resp.status) or self.responses.get(
            resp.status, ("Unknown",))[0]
        lines = ["HTTP/1.1 %d %s" % (resp.status, reason)]
        has_ct = False
        for k, v in resp.headers:
            if k.lower() == "content-type":
                has_ct = True
            lines.append("%s: %s" % (k, v))
        if not has_ct and length:
            lines.append("Content-Type: application/octet-stream")
        lines.append("Content-Length: %d" % length)
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")

    def wan(self):
        """The WAN model (--latency-ms, --stream-bytes-per-second): the
        status line's delay in seconds and the body's rate (0 = none).
        Control routes and the job runner's own requests are exempt."""
        if self.exempt:
            return 0.0, 0
        cfg = self.server.app.cfg
        return (max(0.0, float(cfg.get("latency_ms") or 0)) / 1000.0,
                max(0, int(cfg.get("stream_bytes_per_second") or 0)))

    def write(self, resp, rule=None):
        length = resp.content_length()
        head = self.head_bytes(resp, length)
        sock = self.connection
        kind = rule.kind if rule else None
        no_body = self.command == "HEAD" or resp.status in (204, 304)
        delay, bps = self.wan()
        if delay:
            time.sleep(delay)
        if no_body:
            sock.sendall(head)
            return
        if kind in ("stall_body", "truncate", "slow") or (bps and length):
            self.write_faulty(head, resp, rule, bps)
            return
        if resp.file is None:
            sock.sendall(head + resp.body)
            return
        path, offset, count = resp.file
        with open(path, "rb") as f:
            if count <= SMALL_FILE:
                sock.sendall(head + os.pread(f.fileno(), count, offset))
                return
            sock.sendall(head)
            if isinstance(sock, ssl.SSLSocket):
                # sendfile(2) would bypass the encryption: big writes
                # instead (OpenSSL cuts them into records itself).
                for chunk in self.body_chunks(resp, 1 << 20):
                    sock.sendall(chunk)
                return
            sent = 0
            while sent < count:
                n = os.sendfile(sock.fileno(), f.fileno(), offset + sent,
                                min(count - sent, 1 << 30))
                if n == 0:
                    raise ConnectionError("file shrank during send")
                sent += n

    def body_chunks(self, resp, chunk=64 * 1024):
        if resp.file is None:
            mv = memoryview(resp.body)
            for i in range(0, len(mv), chunk):
                yield bytes(mv[i:i + chunk])
            return
        path, offset, count = resp.file
        with open(path, "rb") as f:
            done = 0
            while done < count:
                d = os.pread(f.fileno(), min(chunk, count - done), offset + done)
                if not d:
                    break
                done += len(d)
                yield d

    def write_faulty(self, head, resp, rule, stream_bps=0):
        """A body with a fault rule's effect, or throttled to stream_bps
        (the WAN model's per-response limit; the lower rate wins)."""
        sock = self.connection
        sock.sendall(head)
        kind = rule.kind if rule else None
        after = int(rule.get("after_bytes", 0)) if rule else 0
        bps = float(rule.get("bytes_per_second", 1 << 20)) if kind == "slow" else 0
        sent = 0
        stalled = False
        step = 64 * 1024
        if bps:
            step = max(1, min(step, int(bps / 20) or 1))
        if stream_bps and (not bps or stream_bps < bps):
            bps = float(stream_bps)
            # ~50 sends a second: smooth enough, cheap in Python.
            step = max(16 * 1024, min(1 << 20, int(bps / 50)))
        t0 = time.time()
        for chunk in self.body_chunks(resp, step):
            if kind in ("stall_body", "truncate") and sent + len(chunk) > after \
                    and not stalled:
                cut = after - sent
                if cut > 0:
                    sock.sendall(chunk[:cut])
                    sent += cut
                chunk = chunk[max(cut, 0):]
                if kind == "truncate":
                    self.close_connection = True
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                time.sleep(float(rule.get("seconds", 5)))
                stalled = True
            sock.sendall(chunk)
            sent += len(chunk)
            if bps:
                ahead = sent / bps - (time.time() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        if kind == "stall_body" and not stalled:
            time.sleep(float(rule.get("seconds", 5)))
        if kind == "truncate" and not stalled:
            # after_bytes >= body: still end the connection so the client
            # sees a short read if it expected more.
            self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, addr, app, quiet=False, ssl_context=None):
        self.app = app
        self.quiet = quiet
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context else "http"
        super().__init__(addr, Handler)
        self.base_url = "%s://127.0.0.1:%d" % (self.scheme, self.server_address[1])

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context:
            # Handshake later, in the handler's thread (Handler.setup).
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, BrokenPipeError, ssl.SSLError,
                            socket.timeout)):
            return  # includes clients that refuse our certificate
        super().handle_error(request, client_address)


def serve_forever_in_thread(server):
    t = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    t.start()
    return t
