"""Cloud Storage HTTP surface: routing of /storage/v1, /b, /upload,
/download and XML-style GETs onto gcs.Storage, media (Range, 206/416,
sendfile) and the three upload types (media, multipart, resumable).
"""
import json
import os
import re
import urllib.parse
import uuid

from .gcs import Hasher, Session, gerr, quote_name, RESUMABLE_QUANTUM
from .server import Response
from .util import ApiError, apply_fields, http_date, parse_fields

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CRANGE_RE = re.compile(r"^bytes (\*|(\d+)-(\d+|\*))/(\d+|\*)$")


def unq(s):
    return urllib.parse.unquote(s, errors="surrogateescape")


class GcsApi:
    def __init__(self, app, storage):
        self.app = app
        self.st = storage

    # --- routing ------------------------------------------------------------
    def route(self, req, rule):
        """Returns a Response, or None when the path is not a GCS path."""
        p = req.raw_path
        if p.startswith("/storage/v1/"):
            return self.json_api(req, p[len("/storage/v1"):], rule)
        if p.startswith("/upload/storage/v1/b/"):
            return self.upload_api(req, p[len("/upload/storage/v1"):])
        if p.startswith("/resumable/upload/storage/v1/b/"):  # gcloud (apitools)
            return self.upload_api(req, p[len("/resumable/upload/storage/v1"):])
        if p.startswith("/download/storage/v1/b/"):
            rest = p[len("/download/storage/v1/b/"):]
            bucket, _, obj = rest.partition("/o/")
            if "/" in obj or not obj:
                raise gerr(404, "Not Found", "notFound")
            return self.media(req, unq(bucket), unq(obj), rule)
        if p == "/b" or p.startswith("/b/") or p.startswith("/b?"):
            return self.json_api(req, p, rule)
        # XML-style GET /bucket/object as some clients download.
        if req.method in ("GET", "HEAD") and p.count("/") >= 2:
            bucket, _, obj = p[1:].partition("/")
            if unq(bucket) in self.st.buckets and obj:
                return self.media(req, unq(bucket), unq(obj), rule)
        return None

    def json_api(self, req, p, rule):
        m = req.method
        parts = p.split("/", 4)  # '', 'b', bucket, 'o', rest
        if p in ("/b", "/b/"):
            if m == "GET":
                self.app.count("gcs.bucket.list")
                return self.reply(req, {"kind": "storage#buckets", "items": [
                    b.resource(req.base_url()) for _, b in
                    sorted(self.st.buckets.items())]} if self.st.buckets
                    else {"kind": "storage#buckets"})
            if m == "POST":
                self.app.count("gcs.bucket.insert")
                return self.insert_bucket(req)
            raise gerr(405, "Method not allowed", "methodNotAllowed")
        bucket = unq(parts[2]) if len(parts) > 2 else ""
        if len(parts) == 3 or (len(parts) == 4 and parts[3] == ""):
            if m == "GET":
                self.app.count("gcs.bucket.get")
                return self.reply(req, self.st.bucket(bucket).resource(req.base_url()))
            if m == "DELETE":
                self.app.count("gcs.bucket.delete")
                self.st.delete_bucket(bucket)
                return Response(204)
            if m in ("PATCH", "PUT"):
                self.app.count("gcs.bucket.patch")
                body = req.json() or {}
                b = self.st.bucket(bucket)
                if isinstance(body.get("labels"), dict):
                    b.labels.update({k: v for k, v in body["labels"].items()
                                     if v is not None})
                return self.reply(req, b.resource(req.base_url()))
            raise gerr(405, "Method not allowed", "methodNotAllowed")
        if parts[3] != "o":
            raise gerr(404, "Not Found", "notFound")
        if len(parts) == 4 or parts[4] == "":
            if m == "GET":
                self.app.count("gcs.list")
                return self.list_objects(req, bucket)
            if m == "POST":
                return self.upload_api(req, "/b/%s/o" % parts[2])
            raise gerr(405, "Method not allowed", "methodNotAllowed")
        rest = parts[4]
        for verb in ("/copyTo/b/", "/rewriteTo/b/"):
            if verb in rest and m == "POST":
                src, _, dst = rest.partition(verb)
                dbucket, _, dobj = dst.partition("/o/")
                self.app.count("gcs.copy")
                o = self.st.copy(bucket, unq(src), unq(dbucket), unq(dobj),
                                 req.query, req.json())
                res = self.st.resource(o, req.base_url())
                if verb == "/rewriteTo/b/":
                    res = {"kind": "storage#rewriteResponse",
                           "totalBytesRewritten": res["size"],
                           "objectSize": res["size"], "done": True,
                           "resource": res}
                return self.reply(req, res)
        if rest.endswith("/compose") and m == "POST":
            self.app.count("gcs.compose")
            o = self.st.compose(bucket, unq(rest[:-len("/compose")]), req.query,
                                req.json())
            return self.reply(req, self.st.resource(o, req.base_url()))
        if "/" in rest:
            # The object name must be ONE percent-encoded path segment (%2F
            # for '/'); GCS's router finds no method for a raw slash.
            raise gerr(404, "Not Found", "notFound")
        name = unq(rest)
        if m in ("GET", "HEAD"):
            if req.query.get("alt") == "media":
                return self.media(req, bucket, name, rule)
            self.app.count("gcs.get")
            o = self.st.lookup(bucket, name, req.query.get("generation"))
            self.st.check_preconditions(o, req.query, get=True)
            return self.reply(req, self.st.resource(o, req.base_url()))
        if m == "DELETE":
            self.app.count("gcs.delete")
            self.st.delete(bucket, name, req.query)
            return Response(204)
        if m in ("PATCH", "PUT"):
            self.app.count("gcs.patch")
            o = self.st.patch(bucket, name, req.query, req.json())
            return self.reply(req, self.st.resource(o, req.base_url()))
        raise gerr(405, "Method not allowed", "methodNotAllowed")

    def reply(self, req, obj, status=200):
        f = req.query.get("fields")
        if f:
            obj = apply_fields(obj, parse_fields(f))
        return Response.json(obj, status)

    def insert_bucket(self, req):
        body = req.json() or {}
        if not req.query.get("project"):
            raise gerr(400, "Required parameter: project", "required")
        name = body.get("name") or req.query.get("name")
        if not name:
            raise gerr(400, "Required", "required")
        b = self.st.create_bucket(name, body.get("labels"), body.get("location"),
                                  body.get("storageClass"))
        return self.reply(req, b.resource(req.base_url()))

    def list_objects(self, req, bucket):
        items, prefixes, tok = self.st.list(bucket, req.query)
        base = req.base_url()
        out = {"kind": "storage#objects"}
        if tok:
            out["nextPageToken"] = tok
        if prefixes:
            out["prefixes"] = prefixes
        if items:
            out["items"] = [self.st.resource(o, base) for o in items]
        return self.reply(req, out)

    # --- media ----------------------------------------------------------------
    def media(self, req, bucket, name, rule):
        self.app.count("gcs.media")
        self.app.count_media(bucket, name)
        if req.header("Range"):
            self.app.count("gcs.media.ranged")
        with self.st.lock:
            o = self.st.lookup(bucket, name, req.query.get("generation"))
            self.st.check_preconditions(o, req.query, get=True)
            path, size = o.path, o.size
            # Serve through a private hard link so the generation stays
            # readable even if it is overwritten or deleted mid-send.
            link = self.st.temp_path()
            try:
                os.link(path, link)
            except OSError:
                link = path
        headers = [
            ("Content-Type", o.content_type),
            ("Accept-Ranges", "bytes"),
            ("ETag", '"%s"' % o.md5),
            ("Last-Modified", http_date(o.updated)),
            ("X-Goog-Generation", str(o.generation)),
            ("X-Goog-Metageneration", str(o.metageneration)),
            ("X-Goog-Hash", "crc32c=%s,md5=%s" % (o.crc32c, o.md5)),
            ("X-Goog-Stored-Content-Length", str(size)),
            ("X-Goog-Stored-Content-Encoding",
             (o.extra or {}).get("contentEncoding") or "identity"),
            ("X-Goog-Storage-Class", "STANDARD"),
            ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
        ]
        if (o.extra or {}).get("contentDisposition"):
            headers.append(("Content-Disposition", o.extra["contentDisposition"]))
        rng = req.header("Range")
        kind = rule.kind if rule else None
        status, start, length = 200, 0, size
        if rng and kind != "ignore_range":
            m = RANGE_RE.match(rng.strip().replace(" ", ""))
            if m and (m.group(1) or m.group(2)):
                a, b = m.group(1), m.group(2)
                if a == "":
                    n = int(b)
                    start = max(0, size - n)
                    end = size - 1
                else:
                    start = int(a)
                    end = min(int(b), size - 1) if b else size - 1
                if a != "" and b and int(b) < start:
                    pass  # syntactically invalid range: ignored, full reply
                elif start >= size or (a == "" and int(b) == 0):
                    self.unlink_later(link, path)
                    raise ApiError(416, "Request range not satisfiable",
                                   reason="requestedRangeNotSatisfiable",
                                   headers={"Content-Range": "bytes */%d" % size})
                else:
                    if kind == "wrong_range":
                        start += 1
                        end = min(end + 1, size - 1)
                    status = 206
                    length = max(0, end - start + 1)
                    headers.append(("Content-Range", "bytes %d-%d/%d" %
                                    (start, start + length - 1, size)))
        r = Response.send_file(link, start, length, status, headers)
        r.media = not req.internal  # counted in media_streams_max
        if link != path:
            r.cleanup = link
        return r

    @staticmethod
    def unlink_later(link, path):
        if link != path:
            try:
                os.unlink(link)
            except OSError:
                pass

    # --- uploads --------------------------------------------------------------
    def upload_api(self, req, p):
        m = re.match(r"^/b/([^/]+)/o/?$", p)
        if not m:
            raise gerr(404, "Not Found", "notFound")
        bucket = unq(m.group(1))
        q = req.query
        uid = q.get("upload_id")
        if uid:
            return self.resumable_put(req, uid)
        utype = q.get("uploadType", "")
        self.app.count("gcs.upload")
        self.st.bucket(bucket)
        ctype = req.header("Content-Type") or ""
        if utype == "resumable":
            return self.resumable_start(req, bucket)
        if utype == "multipart" or ctype.lower().startswith("multipart/"):
            return self.multipart(req, bucket)
        if utype in ("media", ""):
            if utype == "" and not q.get("name"):
                # metadata-only insert (POST /storage/v1/b/B/o with JSON)
                meta = req.json() or {}
                h = Hasher()
                tmp = self.st.temp_path()
                open(tmp, "wb").close()
                o = self.st.commit(bucket, meta.get("name"), tmp, h, meta, q)
                return self.reply(req, self.st.resource(o, req.base_url()))
            name = q.get("name")
            if not name:
                raise gerr(400, "Required", "required")
            meta = {"contentType": ctype or "application/octet-stream",
                    "contentEncoding": q.get("contentEncoding")}
            tmp, h = self.stream_to_temp(req)
            o = self.st.commit(bucket, name, tmp, h, meta, q, self.goog_hash(req))
            return self.reply(req, self.st.resource(o, req.base_url()))
        raise gerr(400, "Invalid upload type: %s" % utype, "invalid")

    @staticmethod
    def goog_hash(req):
        out = {}
        for part in (req.header("X-Goog-Hash") or "").split(","):
            k, _, v = part.strip().partition("=")
            if k in ("md5", "crc32c") and v:
                out[k] = v
        return out

    def stream_to_temp(self, req):
        tmp = self.st.temp_path()
        h = Hasher()
        with open(tmp, "wb", buffering=0) as f:
            try:
                while True:
                    d = req.body.read(4 << 20)
                    if not d:
                        break
                    h.update(d)
                    f.write(d)
            except Exception:
                os.unlink(tmp)
                raise
        return tmp, h

    def multipart(self, req, bucket):
        ctype = req.header("Content-Type") or ""
        # gcloud (Python email) quotes the boundary with single quotes.
        m = re.search(r"""boundary=(?:"([^"]+)"|'([^']+)'|([^;\s]+))""", ctype)
        if not m:
            raise gerr(400, "Missing boundary in multipart body", "invalid")
        boundary = (m.group(1) or m.group(2) or m.group(3)).encode()
        raw_tmp, _ = self.stream_to_temp(req)
        try:
            meta, data_off, data_end, part_ct = parse_multipart(raw_tmp, boundary)
            tmp = self.st.temp_path()
            h = Hasher()
            with open(raw_tmp, "rb") as src, open(tmp, "wb", buffering=0) as out:
                src.seek(data_off)
                left = data_end - data_off
                while left > 0:
                    d = src.read(min(4 << 20, left))
                    if not d:
                        break
                    left -= len(d)
                    h.update(d)
                    out.write(d)
        finally:
            os.unlink(raw_tmp)
        name = meta.get("name") or req.query.get("name")
        if not name:
            os.unlink(tmp)
            raise gerr(400, "Required", "required")
        if not meta.get("contentType"):
            meta["contentType"] = part_ct or "application/octet-stream"
        expect = {k2: meta[k1] for k1, k2 in (("md5Hash", "md5"), ("crc32c", "crc32c"))
                  if meta.get(k1)}
        expect.update(self.goog_hash(req))
        o = self.st.commit(bucket, name, tmp, h, meta, req.query, expect)
        return self.reply(req, self.st.resource(o, req.base_url()))

    def resumable_start(self, req, bucket):
        meta = req.json() or {}
        if not isinstance(meta, dict):
            raise gerr(400, "Invalid JSON payload", "invalid")
        name = meta.get("name") or req.query.get("name")
        if not name:
            raise gerr(400, "Required", "required")
        if not meta.get("contentType") and req.header("X-Upload-Content-Type"):
            meta["contentType"] = req.header("X-Upload-Content-Type")
        uid = "ADPyc" + uuid.uuid4().hex + uuid.uuid4().hex[:16]
        path = self.st.temp_path()
        open(path, "wb").close()
        s = Session(uid, bucket, name, meta, dict(req.query), path)
        total = req.header("X-Upload-Content-Length")
        if total and total.isdigit():
            s.total = int(total)
        with self.st.lock:
            self.st.sessions[uid] = s
        q = {"uploadType": "resumable", "name": name, "upload_id": uid}
        loc = "%s/upload/storage/v1/b/%s/o?%s" % (
            req.base_url(), quote_name(bucket), urllib.parse.urlencode(q))
        return Response(200, b"", [("Location", loc),
                                   ("X-GUploader-UploadID", uid)])

    def resumable_put(self, req, uid):
        s = self.st.sessions.get(uid)
        if s is None:
            raise gerr(404, "No such upload session: %s" % uid, "notFound")
        if req.method == "DELETE":
            with self.st.lock:
                self.st.sessions.pop(uid, None)
            try:
                os.unlink(s.path)
            except OSError:
                pass
            return Response(499, b"", ctype="text/plain")
        self.app.count("gcs.upload.chunk")
        with s.lock:
            if s.result is not None:
                req.body.drain()
                return self.reply(req, self.st.resource(s.result, req.base_url()))
            cr = (req.header("Content-Range") or "").strip()
            first = last = None
            total = None
            open_end = False
            if cr:
                m = CRANGE_RE.match(cr)
                if not m:
                    raise gerr(400, "Invalid Content-Range: %s" % cr, "invalid")
                if m.group(4) != "*":
                    total = int(m.group(4))
                if m.group(1) != "*":
                    first = int(m.group(2))
                    if m.group(3) == "*":
                        open_end = True
                    else:
                        last = int(m.group(3))
            else:
                first = s.persisted if s.persisted else 0
                open_end = True
            if total is not None:
                s.total = total
            if first is None:
                # status query
                req.body.drain()
                if s.total is not None and s.persisted == s.total:
                    return self.finalize(req, s)
                return self.incomplete(s, req)
            if first > s.persisted:
                req.body.drain()
                raise gerr(400, "Invalid request. The upload starts at byte %d but "
                           "only %d bytes were persisted." % (first, s.persisted),
                           "invalid")
            skip = s.persisted - first
            pos = s.persisted
            with open(s.path, "r+b", buffering=0) as f:
                f.seek(pos)
                while True:
                    d = req.body.read(4 << 20)
                    if not d:
                        break
                    if skip:
                        if len(d) <= skip:
                            skip -= len(d)
                            continue
                        d = d[skip:]
                        skip = 0
                    f.write(d)
                    pos += len(d)
                end = pos
                final = open_end or (s.total is not None and end >= s.total)
                if open_end and s.total is None and cr:
                    s.total = end
                if not final:
                    keep = max(s.persisted, end - end % RESUMABLE_QUANTUM)
                else:
                    keep = end
                f.truncate(keep)
                f.seek(s.persisted)
                left = keep - s.persisted
                while left > 0:
                    d = f.read(min(4 << 20, left))
                    if not d:
                        break
                    s.hasher.update(d)
                    left -= len(d)
                s.persisted = keep
            if final:
                if s.total is None:
                    s.total = s.persisted
                if s.persisted != s.total:
                    raise gerr(400, "Invalid request. There were %d byte(s) (or less) "
                               "in the upload but the Content-Range header said %d."
                               % (s.persisted, s.total), "invalid")
                return self.finalize(req, s)
            return self.incomplete(s, req)

    @staticmethod
    def incomplete(s, req):
        h = [("X-GUploader-UploadID", s.id)]
        if s.persisted:
            h.append(("Range", "bytes=0-%d" % (s.persisted - 1)))
        if (req.header("X-GUploader-No-308") or "").lower() == "yes":
            # Go clients ask for this: 200 plus an override header, since
            # net/http treats a bare 308 as a redirect.
            h.append(("X-Http-Status-Code-Override", "308"))
            return Response(200, b"", h, "text/plain; charset=utf-8")
        return Response(308, b"", h, "text/plain; charset=utf-8")

    def finalize(self, req, s):
        tmp = self.st.temp_path()
        os.link(s.path, tmp)
        expect = {k2: s.meta[k1] for k1, k2 in (("md5Hash", "md5"), ("crc32c", "crc32c"))
                  if s.meta.get(k1)}
        o = self.st.commit(s.bucket, s.name, tmp, s.hasher, s.meta, s.query, expect)
        s.result = o
        try:
            os.unlink(s.path)
        except OSError:
            pass
        return self.reply(req, self.st.resource(o, req.base_url()))


def parse_multipart(path, boundary):
    """Finds the metadata JSON and the media byte range of a multipart/related
    body stored in path. Tolerates LF-only line ends and missing part
    headers. Returns (meta, data_start, data_end, media_content_type)."""
    size = os.path.getsize(path)
    delim = b"--" + boundary
    with open(path, "rb") as f:
        head = f.read(min(size, 4 << 20))
        i = head.find(delim)
        if i < 0:
            raise gerr(400, "Multipart body does not start with the boundary", "invalid")
        # part 1
        p1 = head.find(b"\n", i) + 1
        hdr_end, sep = find_header_end(head, p1)
        j = head.find(delim, hdr_end)
        if j < 0:
            raise gerr(400, "Malformed multipart body", "invalid")
        meta_raw = head[hdr_end:j].rstrip(b"\r\n")
        try:
            meta = json.loads(meta_raw) if meta_raw.strip() else {}
        except ValueError:
            raise gerr(400, "Metadata part is not valid JSON", "invalid")
        if not isinstance(meta, dict):
            raise gerr(400, "Metadata part is not a JSON object", "invalid")
        # part 2
        p2 = head.find(b"\n", j) + 1
        hdr2_end, _ = find_header_end(head, p2)
        part_ct = None
        for line in head[p2:hdr2_end].splitlines():
            k, _, v = line.decode("latin-1").partition(":")
            if k.strip().lower() == "content-type":
                part_ct = v.strip()
        # closing delimiter: search the tail
        tail_len = min(size, len(delim) + 4096)
        f.seek(size - tail_len)
        tail = f.read()
        k = tail.rfind(b"\n" + delim + b"--")
        if k < 0:
            raise gerr(400, "Multipart body is missing the closing boundary", "invalid")
        end = size - tail_len + k
        if end > 0 and tail[k - 1:k] == b"\r":
            end -= 1
        return meta, hdr2_end, max(end, hdr2_end), part_ct


def find_header_end(buf, start):
    """Returns (offset after the blank line ending part headers, sep)."""
    a = buf.find(b"\r\n\r\n", start)
    b = buf.find(b"\n\n", start)
    if start < len(buf) and buf[start:start + 2] == b"\r\n":
        return start + 2, b"\r\n"
    if start < len(buf) and buf[start:start + 1] == b"\n":
        return start + 1, b"\n"
    if a >= 0 and (b < 0 or a <= b):
        return a + 4, b"\r\n"
    if b >= 0:
        return b + 2, b"\n"
    raise gerr(400, "Malformed multipart part headers", "invalid")
