"""A tiny stdlib HTTP server for hostile replies: it forwards every
request to the emulator except those a rule claims, which get a crafted
reply (huge, endless, deeply nested, out-of-range numbers, ...).

    fs = FakeServer(emu.url); fs.start()
    fs.add("GET", r"batchPredictionJobs/\\d+$", body=b"...", status=200)
    fs.add("GET", r"batchPredictionJobs\\?", stream=endless(b"["))
    fs.add("GET", r"/o\\?", rewrite=lambda body: body[::-1])  # upstream's, changed
    fs.add("GET", r"alt=media", forward_headers={"X-Pad": "a" * 20000})
    ... mount with endpoint=fs.url ...
    fs.stop()

Listens on 127.0.0.1, port 0. Threads are daemons; stop() closes the
listener and tells streaming replies to end.
"""
import http.client
import http.server
import re
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
       "host", "proxy-connection", "te", "trailer", "upgrade"}


def endless(chunk, rate=None):
    """A generator of the same chunk forever (rate: bytes per second)."""
    def gen():
        while True:
            yield chunk
            if rate:
                time.sleep(len(chunk) / rate)
    return gen


class Rule:
    def __init__(self, method, pattern, status, body, stream, headers, times,
                 rewrite=None, forward_headers=None):
        self.method = method
        self.rewrite = rewrite
        self.forward_headers = forward_headers
        self.re = re.compile(pattern)
        self.status = status
        self.body = body
        self.stream = stream
        self.headers = headers or {}
        self.times = times
        self.hits = 0
        self.bytes_sent = 0


class FakeServer:
    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = u.hostname, u.port
        self.rules = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests = []  # (method, path) of every request seen
        # (method, path, headers, body, reply body) of forwarded requests
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                outer._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, method, pattern, status=200, body=None, stream=None,
            headers=None, times=-1, rewrite=None, forward_headers=None):
        r = Rule(method, pattern, status, body, stream, headers, times,
                 rewrite, forward_headers)
        with self.lock:
            self.rules.append(r)
        return r

    def clear(self):
        with self.lock:
            self.rules = []

    def _match(self, method, path):
        with self.lock:
            self.requests.append((method, path))
            for r in self.rules:
                if r.method not in (None, method) or not r.re.search(path):
                    continue
                if r.times == 0:
                    continue
                if r.times > 0:
                    r.times -= 1
                r.hits += 1
                return r
        return None

    def _handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        rule = self._match(h.command, h.path)
        try:
            if rule is None or rule.rewrite or rule.forward_headers:
                self._forward(h, body, rule.rewrite if rule else None,
                              rule.forward_headers if rule else None)
            else:
                self._reply(h, rule)
        except (BrokenPipeError, ConnectionResetError, OSError):
            h.close_connection = True

    def _forward(self, h, body, rewrite=None, extra=None):
        conn = http.client.HTTPConnection(self.up_host, self.up_port,
                                          timeout=60)
        try:
            hdrs = {k: v for k, v in h.headers.items()
                    if k.lower() not in HOP and
                    not (rewrite and k.lower() == "accept-encoding")}
            conn.request(h.command, h.path, body=body or None, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            if rewrite and resp.status == 200:
                data = rewrite(data)
            with self.lock:
                self.seen.append((h.command, h.path, dict(h.headers.items()),
                                  body, data))
            h.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() not in ("server", "date"):
                    h.send_header(k, v)
            for k, v in (extra or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(data)
        finally:
            conn.close()

    def _reply(self, h, rule):
        h.send_response(rule.status)
        h.send_header("Content-Type", "application/json; charset=UTF-8")
        for k, v in rule.headers.items():
            h.send_header(k, v)
        if rule.stream is None:
            body = rule.body or b""
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            rule.bytes_sent += len(body)
            return
        # Endless (or long) stream: no length, the connection closes.
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        for chunk in rule.stream():
            if self.stopping.is_set():
                break
            h.wfile.write(chunk)
            rule.bytes_sent += len(chunk)
