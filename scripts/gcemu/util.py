"""Shared helpers: timestamps, error envelopes, partial responses, CRC32C.

Everything here is pure and thread-safe; the services import it.
"""
import base64
import ctypes
import ctypes.util
import datetime
import json
import threading
import time

# --- time -------------------------------------------------------------------

_clock_lock = threading.Lock()
_last_us = 0


def now_us():
    """Strictly increasing wall-clock microseconds.

    Never a multiple of 1000: protobuf's JSON printer would then emit only 3
    fractional digits, and Vertex names output directories after createTime
    with 6 digits; keeping every stamp at 6 digits keeps both consistent.
    """
    global _last_us
    with _clock_lock:
        t = int(time.time() * 1_000_000)
        if t <= _last_us:
            t = _last_us + 1
        if t % 1000 == 0:
            t += 1
        _last_us = t
        return t


def rfc3339(us):
    """RFC 3339 UTC with microseconds and Z, as Vertex and GCS print."""
    secs, frac = divmod(int(us), 1_000_000)
    d = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % frac


def rfc3339_ms(us):
    """GCS prints object timestamps with milliseconds."""
    secs, frac = divmod(int(us), 1_000_000)
    d = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (frac // 1000)


def processed_time(us):
    """Output rows carry processed_time with a +00:00 offset and 3 digits."""
    secs, frac = divmod(int(us), 1_000_000)
    d = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d+00:00" % (frac // 1000)


def http_date(us):
    secs = int(us) // 1_000_000
    d = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return d.strftime("%a, %d %b %Y %H:%M:%S GMT")


def parse_rfc3339(text):
    """Parses an RFC 3339 timestamp (any offset, 0-9 digits) to microseconds."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    frac_us = 0
    if "." in s:
        head, rest = s.split(".", 1)
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        tz = rest[i:]
        frac_us = int((digits + "000000")[:6]) if digits else 0
        s = head + tz
    if len(s) == 10:
        s += "T00:00:00+00:00"
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1_000_000 + frac_us


# --- errors -----------------------------------------------------------------

STATUS_HTTP = {
    "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503,
    "DATA_LOSS": 500, "UNAUTHENTICATED": 401,
}
HTTP_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED",
               403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED",
               412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
               499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
               502: "UNAVAILABLE", 503: "UNAVAILABLE",
               504: "DEADLINE_EXCEEDED"}
GCS_REASON = {400: "invalid", 401: "authError", 403: "forbidden",
              404: "notFound", 408: "requestTimeout", 409: "conflict",
              412: "conditionNotMet", 416: "requestedRangeNotSatisfiable",
              429: "rateLimitExceeded", 500: "backendError",
              502: "backendError", 503: "backendError", 504: "backendError"}


class ApiError(Exception):
    """An error answered in the envelope of the service that raised it."""

    def __init__(self, http, message, status=None, reason=None, details=None,
                 headers=None):
        super().__init__(message)
        self.http = http
        self.message = message
        self.status = status or HTTP_STATUS.get(http, "UNKNOWN")
        self.reason = reason
        self.details = details
        self.headers = headers or {}


def google_error(http, message, status=None, details=None):
    """AIP-193 envelope used by Vertex (code = HTTP status)."""
    err = {"code": http, "message": message,
           "status": status or HTTP_STATUS.get(http, "UNKNOWN")}
    if details:
        err["details"] = details
    return {"error": err}


def gcs_error(http, message, reason=None, extra=None):
    """GCS's older envelope with errors[{domain, reason, message}]."""
    e = {"domain": "global", "reason": reason or GCS_REASON.get(http, "backendError"),
         "message": message}
    if extra:
        e.update(extra)
    return {"error": {"code": http, "message": message, "errors": [e]}}


def dumps(obj):
    # surrogateescape: names decoded from invalid percent-encodings still
    # serialize (as their original bytes) instead of crashing the reply.
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogateescape")


# --- partial responses (?fields=) ---------------------------------------------

def parse_fields(spec):
    """Parses a Google `fields` selector into a nested dict (None = all).

    Grammar: list of paths separated by ',', a path is a/b/c, and a(b,c)
    selects sub-fields of every element of a (objects or arrays).
    """
    pos = 0

    def parse_list(end):
        nonlocal pos
        tree = {}
        while pos < len(spec):
            if end and spec[pos] == end:
                pos += 1
                return tree
            if spec[pos] in ", ":
                pos += 1
                continue
            start = pos
            while pos < len(spec) and spec[pos] not in ",()/ ":
                pos += 1
            name = spec[start:pos]
            node = tree.setdefault(name, {})
            cur = node
            while pos < len(spec) and spec[pos] == "/":
                pos += 1
                start = pos
                while pos < len(spec) and spec[pos] not in ",()/ ":
                    pos += 1
                sub = spec[start:pos]
                if cur is None:
                    break
                cur = cur.setdefault(sub, {})
            if pos < len(spec) and spec[pos] == "(":
                pos += 1
                sub = parse_list(")")
                if cur is not None:
                    cur.update(sub)
        return tree

    tree = parse_list(None)
    return tree


def apply_fields(obj, tree):
    """Keeps only the selected members; empty subtree = keep whole value."""
    if not tree:
        return obj
    if isinstance(obj, list):
        return [apply_fields(v, tree) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, sub in tree.items():
        if k == "*":
            return obj
        if k in obj:
            out[k] = apply_fields(obj[k], sub) if sub else obj[k]
    return out


# --- CRC32C -----------------------------------------------------------------

def _load_crc32c():
    """Finds a C CRC32C routine: Google's libcrc32c (shipped with the
    preinstalled gcloud SDK, SSE4.2, several GB/s), else libext2fs's
    (~1 GB/s); None means the slow pure-Python loop."""
    import glob
    cands = sorted(glob.glob("/usr/lib/google-cloud-sdk/platform/bundledpython*/lib/"
                             "python3*/site-packages/google_crc32c.libs/libcrc32c*.so*"))
    for path in cands:
        try:
            fn = ctypes.CDLL(path).crc32c_extend
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_uint32
        fn.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
        if fn(0, b"123456789", 9) == 0xE3069283:
            return lambda crc, data: fn(crc, data, len(data))
    for lib in ("libext2fs.so.2", ctypes.util.find_library("ext2fs")):
        if not lib:
            continue
        try:
            fn = ctypes.CDLL(lib).ext2fs_crc32c_le
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_uint32
        fn.argtypes = [ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t]
        # ext2fs works on the raw register: pre/post inversion is ours.
        return lambda crc, data: fn(crc ^ 0xFFFFFFFF, data, len(data)) ^ 0xFFFFFFFF
    return None


_crc_fn = _load_crc32c()


def _make_table():
    tab = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        tab.append(c)
    return tab


_TABLE = _make_table()


class Crc32c:
    """Incremental CRC32C (Castagnoli) over a C routine when one exists."""

    def __init__(self):
        self.crc = 0  # the finalized CRC of the bytes so far

    def update(self, data):
        if not data:
            return
        if _crc_fn is not None:
            if not isinstance(data, bytes):
                data = bytes(data)
            self.crc = _crc_fn(self.crc, data)
            return
        c = self.crc ^ 0xFFFFFFFF
        tab = _TABLE
        for b in data:
            c = tab[(c ^ b) & 0xFF] ^ (c >> 8)
        self.crc = c ^ 0xFFFFFFFF

    def value(self):
        return self.crc

    def b64(self):
        return base64.b64encode(self.value().to_bytes(4, "big")).decode()


def crc32c_b64(data):
    c = Crc32c()
    c.update(data)
    return c.b64()
