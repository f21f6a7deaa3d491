"""The job runner's Cloud Storage client: plain HTTP to --gcs-endpoint (the
emulator itself by default), so the Vertex half can run against any GCS
server. Requests carry X-Emulator-Internal so that, when the endpoint is
this emulator, they skip auth, counters and (unless asked) fault rules.
"""
import http.client
import json
import os
import urllib.parse


class GcsError(Exception):
    def __init__(self, status, body):
        super().__init__("GCS HTTP %s: %s" % (status, body[:300]))
        self.status = status


class GcsClient:
    def __init__(self, endpoint, ssl_context=None):
        u = urllib.parse.urlsplit(endpoint)
        self.ssl_context = ssl_context
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.https = u.scheme == "https"
        self.base = (u.path or "").rstrip("/")
        if self.base.endswith("/storage/v1"):
            self.base = self.base[:-len("/storage/v1")]
        self.conn = None

    def _conn(self):
        if self.conn is None:
            if self.https:
                self.conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=120, context=self.ssl_context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return self.conn

    def request(self, method, path, body=None, headers=None):
        hdrs = {"X-Emulator-Internal": "vertex"}
        hdrs.update(headers or {})
        for attempt in range(2):
            c = self._conn()
            try:
                if hasattr(body, "seek"):
                    body.seek(0)
                c.request(method, self.base + path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                try:
                    c.close()
                except OSError:
                    pass
                self.conn = None
                if attempt == 1:
                    raise

    def bucket_exists(self, bucket):
        st, _ = self.request("GET", "/storage/v1/b/%s?fields=name" % q(bucket))
        return st == 200

    def read(self, bucket, name):
        st, data = self.request("GET", "/storage/v1/b/%s/o/%s?alt=media"
                                % (q(bucket), q(name)))
        if st == 404:
            return None
        if st != 200:
            raise GcsError(st, data)
        return data

    def list(self, bucket, prefix):
        names, tok = [], None
        while True:
            qs = {"prefix": prefix, "fields": "items(name),nextPageToken"}
            if tok:
                qs["pageToken"] = tok
            st, data = self.request("GET", "/storage/v1/b/%s/o?%s" % (
                q(bucket), urllib.parse.urlencode(qs)))
            if st != 200:
                raise GcsError(st, data)
            d = json.loads(data)
            names += [i["name"] for i in d.get("items", [])]
            tok = d.get("nextPageToken")
            if not tok:
                return names

    def upload_file(self, bucket, name, path, ctype="application/octet-stream"):
        size = os.path.getsize(path)
        qs = urllib.parse.urlencode({"uploadType": "media", "name": name})
        with open(path, "rb") as f:
            st, data = self.request(
                "POST", "/upload/storage/v1/b/%s/o?%s" % (q(bucket), qs), f,
                {"Content-Type": ctype, "Content-Length": str(size)})
        if st != 200:
            raise GcsError(st, data)
        return json.loads(data)

    def upload(self, bucket, name, data, ctype="application/octet-stream"):
        qs = urllib.parse.urlencode({"uploadType": "media", "name": name})
        st, body = self.request(
            "POST", "/upload/storage/v1/b/%s/o?%s" % (q(bucket), qs), data,
            {"Content-Type": ctype, "Content-Length": str(len(data))})
        if st != 200:
            raise GcsError(st, body)
        return json.loads(body)

    def delete(self, bucket, name):
        st, body = self.request("DELETE", "/storage/v1/b/%s/o/%s" % (
            q(bucket), q(name)))
        if st not in (204, 200, 404):
            raise GcsError(st, body)


def q(s):
    return urllib.parse.quote(s, safe="")


def split_gs(uri):
    """gs://bucket/object -> (bucket, object)."""
    if not uri.startswith("gs://"):
        raise ValueError(uri)
    rest = uri[5:]
    bucket, _, obj = rest.partition("/")
    return bucket, obj
