"""A tiny HTTP CONNECT proxy for the proxy tests: tunnels to 127.0.0.1 only,
counts the tunnels it opened and the requests it refused (all of them with
refuse=True, as a proxy that forbids the target does). Runs in threads of
the test process, bound to 127.0.0.1; stop() closes it."""
import select
import socket
import threading


class ConnectProxy:
    def __init__(self, refuse=False):
        self.refuse = refuse
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.lock = threading.Lock()
        self.tunnels = 0
        self.refused = []  # request lines it would not serve
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        up = None
        try:
            c.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16384:
                d = c.recv(4096)
                if not d:
                    return
                head += d
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split()
            host, _, port = parts[1].rpartition(":") if len(parts) == 3 else ("", "", "")
            if parts[:1] != ["CONNECT"] or host not in ("127.0.0.1", "localhost") \
                    or self.refuse:
                with self.lock:
                    self.refused.append(line)
                c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
                return
            up = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
            with self.lock:
                self.tunnels += 1
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            rest = head.split(b"\r\n\r\n", 1)[1]
            if rest:
                up.sendall(rest)
            c.settimeout(None)
            up.settimeout(None)
            socks = [c, up]
            while True:
                r, _, _ = select.select(socks, [], [], 60)
                if not r:
                    return
                for s in r:
                    d = s.recv(1 << 18)
                    if not d:
                        return
                    (up if s is c else c).sendall(d)
        except OSError:
            return
        finally:
            for s in (c, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
