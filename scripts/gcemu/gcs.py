"""Cloud Storage JSON API: buckets, objects, listing, media, uploads.

Objects live on disk under DATA/gcs/buckets/<bucket>/objects/<sha1(name)>/
as one data file per generation plus a JSON sidecar with the metadata; an
in-memory sorted index per bucket serves listings. Uploads stream to a temp
file (hashing as they go) and are renamed into place, so objects of any
size never sit in memory.
"""
import base64
import bisect
import fnmatch
import hashlib
import json
import os
import re
import shutil
import threading
import urllib.parse
import uuid

from .server import Response
from .util import (ApiError, Crc32c, apply_fields, gcs_error, now_us,
                   parse_fields, rfc3339_ms, http_date)

RESUMABLE_QUANTUM = 256 * 1024
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


def gerr(http, message, reason=None):
    return ApiError(http, message, reason=reason)


def quote_name(name):
    return urllib.parse.quote(name, safe="")


def upper_bound(prefix):
    """Smallest string greater than every string that starts with prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


class Obj:
    __slots__ = ("bucket", "name", "generation", "metageneration", "size",
                 "md5", "crc32c", "content_type", "created", "updated",
                 "metadata", "extra", "path")

    def to_json(self):
        return {"bucket": self.bucket, "name": self.name,
                "generation": self.generation,
                "metageneration": self.metageneration, "size": self.size,
                "md5": self.md5, "crc32c": self.crc32c,
                "contentType": self.content_type, "created": self.created,
                "updated": self.updated, "metadata": self.metadata,
                "extra": self.extra}

    @classmethod
    def from_json(cls, d, path):
        o = cls()
        o.bucket = d["bucket"]
        o.name = d["name"]
        o.generation = int(d["generation"])
        o.metageneration = int(d["metageneration"])
        o.size = int(d["size"])
        o.md5 = d["md5"]
        o.crc32c = d["crc32c"]
        o.content_type = d["contentType"]
        o.created = d["created"]
        o.updated = d["updated"]
        o.metadata = d.get("metadata")
        o.extra = d.get("extra") or {}
        o.path = path
        return o


class Bucket:
    def __init__(self, name, project_number, created):
        self.name = name
        self.project_number = project_number
        self.created = created
        self.objects = {}
        self.names = []  # sorted object names
        self.labels = {}
        self.location = "US"
        self.storage_class = "STANDARD"

    def resource(self, base):
        ts = rfc3339_ms(self.created)
        r = {"kind": "storage#bucket",
             "selfLink": "%s/storage/v1/b/%s" % (base, self.name),
             "id": self.name, "name": self.name,
             "projectNumber": str(self.project_number),
             "generation": str(self.created),
             "metageneration": "1", "location": self.location,
             "storageClass": self.storage_class, "etag": "CAE=",
             "timeCreated": ts, "updated": ts,
             "iamConfiguration": {
                 "bucketPolicyOnly": {"enabled": True, "lockedTime": ts},
                 "uniformBucketLevelAccess": {"enabled": True, "lockedTime": ts},
                 "publicAccessPrevention": "inherited"},
             "locationType": "multi-region" if self.location in (
                 "US", "EU", "ASIA") else "region", "rpo": "DEFAULT"}
        if self.labels:
            r["labels"] = dict(self.labels)
        return r


class Hasher:
    def __init__(self):
        self.md5 = hashlib.md5()
        self.crc = Crc32c()
        self.size = 0

    def update(self, data):
        self.md5.update(data)
        self.crc.update(data)
        self.size += len(data)

    def md5_b64(self):
        return base64.b64encode(self.md5.digest()).decode()


class Session:
    """A resumable upload session."""

    def __init__(self, uid, bucket, name, meta, query, path):
        self.id = uid
        self.bucket = bucket
        self.name = name
        self.meta = meta
        self.query = query
        self.path = path
        self.persisted = 0
        self.total = None
        self.hasher = Hasher()
        self.result = None  # Obj once finalized
        self.lock = threading.Lock()


class Storage:
    def __init__(self, app, data_dir):
        self.app = app
        self.root = os.path.join(data_dir, "gcs")
        self.bdir = os.path.join(self.root, "buckets")
        self.tmp = os.path.join(self.root, "tmp")
        os.makedirs(self.bdir, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        self.lock = threading.RLock()
        self.buckets = {}
        self.sessions = {}
        self.load()

    # --- persistence ------------------------------------------------------
    def load(self):
        for bname in sorted(os.listdir(self.bdir)):
            bpath = os.path.join(self.bdir, bname)
            try:
                with open(os.path.join(bpath, "bucket.json")) as f:
                    bj = json.load(f)
            except (OSError, ValueError):
                continue
            b = Bucket(bj["name"], bj["projectNumber"], bj["created"])
            b.labels = bj.get("labels") or {}
            b.location = bj.get("location", "US")
            b.storage_class = bj.get("storageClass", "STANDARD")
            odir = os.path.join(bpath, "objects")
            for h in os.listdir(odir) if os.path.isdir(odir) else []:
                best = None
                for fn in os.listdir(os.path.join(odir, h)):
                    if not fn.endswith(".json"):
                        continue
                    p = os.path.join(odir, h, fn)
                    try:
                        with open(p) as f:
                            d = json.load(f)
                    except (OSError, ValueError):
                        continue
                    o = Obj.from_json(d, p[:-5])
                    if best is None or o.generation > best.generation:
                        best = o
                if best is not None and os.path.exists(best.path):
                    b.objects[best.name] = best
            b.names = sorted(b.objects)
            self.buckets[b.name] = b

    def reset(self):
        with self.lock:
            self.buckets = {}
            self.sessions = {}
            shutil.rmtree(self.bdir, ignore_errors=True)
            shutil.rmtree(self.tmp, ignore_errors=True)
            os.makedirs(self.bdir, exist_ok=True)
            os.makedirs(self.tmp, exist_ok=True)

    def temp_path(self):
        return os.path.join(self.tmp, uuid.uuid4().hex)

    # --- buckets ----------------------------------------------------------
    def create_bucket(self, name, labels=None, location=None, storage_class=None):
        if not valid_bucket_name(name):
            raise gerr(400, "Invalid bucket name: '%s'" % name, "invalid")
        with self.lock:
            if name in self.buckets:
                raise gerr(409, "Your previous request to create the named bucket "
                           "succeeded and you already own it.", "conflict")
            b = Bucket(name, self.app.project_number, now_us())
            b.labels = labels or {}
            b.location = (location or "US").upper()
            b.storage_class = (storage_class or "STANDARD").upper()
            bpath = os.path.join(self.bdir, name)
            os.makedirs(os.path.join(bpath, "objects"), exist_ok=True)
            with open(os.path.join(bpath, "bucket.json"), "w") as f:
                json.dump({"name": name, "projectNumber": b.project_number,
                           "created": b.created, "labels": b.labels,
                           "location": b.location,
                           "storageClass": b.storage_class}, f)
            self.buckets[name] = b
            return b

    def bucket(self, name):
        b = self.buckets.get(name)
        if b is None:
            raise gerr(404, "The specified bucket does not exist.", "notFound")
        return b

    def delete_bucket(self, name):
        with self.lock:
            b = self.bucket(name)
            if b.objects:
                raise gerr(409, "The bucket you tried to delete is not empty.",
                           "conflict")
            del self.buckets[name]
            shutil.rmtree(os.path.join(self.bdir, name), ignore_errors=True)

    # --- objects ----------------------------------------------------------
    def obj_dir(self, bucket, name):
        h = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()
        return os.path.join(self.bdir, bucket, "objects", h)

    def lookup(self, bucket, name, generation=None):
        b = self.bucket(bucket)
        o = b.objects.get(name)
        if o is None or (generation not in (None, "") and
                         str(o.generation) != str(generation)):
            raise gerr(404, "No such object: %s/%s" % (bucket, name), "notFound")
        return o

    @staticmethod
    def check_preconditions(o, q, get=False):
        def num(k):
            v = q.get(k)
            if v in (None, ""):
                return None
            try:
                return int(v)
            except ValueError:
                raise gerr(400, "Invalid value for %s: %s" % (k, v), "invalid")
        gm, gnm = num("ifGenerationMatch"), num("ifGenerationNotMatch")
        mm, mnm = num("ifMetagenerationMatch"), num("ifMetagenerationNotMatch")
        gen = o.generation if o else 0
        meta = o.metageneration if o else None
        failed = False
        if gm is not None and gm != gen:
            failed = True
        if mm is not None and (meta is None or mm != meta):
            failed = True
        if failed:
            raise gerr(412, "At least one of the pre-conditions you specified "
                       "did not hold.", "conditionNotMet")
        if (gnm is not None and gnm == gen) or \
                (mnm is not None and meta is not None and mnm == meta):
            if get:
                raise ApiError(304, "Not Modified", reason="notModified")
            raise gerr(412, "At least one of the pre-conditions you specified "
                       "did not hold.", "conditionNotMet")

    def resource(self, o, base):
        q = quote_name(o.name)
        r = {"kind": "storage#object",
             "id": "%s/%s/%d" % (o.bucket, o.name, o.generation),
             "selfLink": "%s/storage/v1/b/%s/o/%s" % (base, o.bucket, q),
             "mediaLink": "%s/download/storage/v1/b/%s/o/%s?generation=%d&alt=media"
                          % (base, o.bucket, q, o.generation),
             "name": o.name, "bucket": o.bucket,
             "generation": str(o.generation),
             "metageneration": str(o.metageneration),
             "contentType": o.content_type, "storageClass": "STANDARD",
             "size": str(o.size), "md5Hash": o.md5, "crc32c": o.crc32c,
             "etag": base64.b64encode(
                 ("%d/%d" % (o.generation, o.metageneration)).encode()
             ).decode().rstrip("="),
             "timeCreated": rfc3339_ms(o.created),
             "updated": rfc3339_ms(o.updated),
             "timeStorageClassUpdated": rfc3339_ms(o.created),
             "timeFinalized": rfc3339_ms(o.created)}
        if o.metadata:
            r["metadata"] = dict(o.metadata)
        for k, v in (o.extra or {}).items():
            if v not in (None, ""):
                r[k] = v
        return r

    def write_sidecar(self, o):
        tmp = o.path + ".json.tmp"
        with open(tmp, "w") as f:
            json.dump(o.to_json(), f)
        os.replace(tmp, o.path + ".json")

    def commit(self, bucket, name, tmp_path, hasher, meta, query,
               expect_hashes=None):
        """Makes a fully written temp file the new generation of name."""
        validate_name(name)
        ctype = meta.get("contentType") or "application/octet-stream"
        md5 = hasher.md5_b64()
        crc = hasher.crc.b64()
        if expect_hashes:
            if expect_hashes.get("md5") and expect_hashes["md5"] != md5:
                os.unlink(tmp_path)
                raise gerr(400, "Provided MD5 hash \"%s\" doesn't match calculated "
                           "MD5 hash \"%s\"." % (expect_hashes["md5"], md5), "invalid")
            if expect_hashes.get("crc32c") and expect_hashes["crc32c"] != crc:
                os.unlink(tmp_path)
                raise gerr(400, "Provided CRC32C \"%s\" doesn't match calculated "
                           "CRC32C \"%s\"." % (expect_hashes["crc32c"], crc), "invalid")
        with self.lock:
            try:
                b = self.bucket(bucket)
                old = b.objects.get(name)
                self.check_preconditions(old, query)
            except ApiError:
                os.unlink(tmp_path)
                raise
            o = Obj()
            o.bucket, o.name = bucket, name
            o.generation = now_us()
            o.metageneration = 1
            o.size = hasher.size
            o.md5, o.crc32c = md5, crc
            o.content_type = ctype
            o.created = o.updated = o.generation
            md = meta.get("metadata")
            o.metadata = {str(k): str(v) for k, v in md.items() if v is not None} \
                if isinstance(md, dict) else None
            o.extra = {k: meta[k] for k in ("contentEncoding", "contentDisposition",
                                            "cacheControl", "contentLanguage")
                       if meta.get(k)}
            d = self.obj_dir(bucket, name)
            os.makedirs(d, exist_ok=True)
            o.path = os.path.join(d, str(o.generation))
            os.rename(tmp_path, o.path)
            self.write_sidecar(o)
            b.objects[name] = o
            if old is None:
                bisect.insort(b.names, name)
            else:
                self.remove_files(old)
            return o

    @staticmethod
    def remove_files(o):
        for p in (o.path, o.path + ".json"):
            try:
                os.unlink(p)
            except OSError:
                pass

    def delete(self, bucket, name, query):
        with self.lock:
            o = self.lookup(bucket, name, query.get("generation"))
            self.check_preconditions(o, query)
            b = self.buckets[bucket]
            del b.objects[name]
            i = bisect.bisect_left(b.names, name)
            if i < len(b.names) and b.names[i] == name:
                del b.names[i]
            self.remove_files(o)

    def patch(self, bucket, name, query, body):
        with self.lock:
            o = self.lookup(bucket, name, query.get("generation"))
            self.check_preconditions(o, query)
            if not isinstance(body, dict):
                raise gerr(400, "Invalid JSON payload", "invalid")
            if "contentType" in body:
                o.content_type = body["contentType"] or "application/octet-stream"
            if "metadata" in body:
                md = body["metadata"]
                if md is None:
                    o.metadata = None
                else:
                    cur = dict(o.metadata or {})
                    for k, v in md.items():
                        if v is None:
                            cur.pop(k, None)
                        else:
                            cur[k] = str(v)
                    o.metadata = cur or None
            for k in ("contentEncoding", "contentDisposition", "cacheControl",
                      "contentLanguage"):
                if k in body:
                    o.extra[k] = body[k]
            o.metageneration += 1
            o.updated = now_us()
            self.write_sidecar(o)
            return o

    def copy(self, src_bucket, src_name, dst_bucket, dst_name, query, body):
        with self.lock:
            src = self.lookup(src_bucket, src_name, query.get("sourceGeneration"))
            self.bucket(dst_bucket)
            tmp = self.temp_path()
            os.link(src.path, tmp)
        h = Hasher()
        h.size = src.size
        meta = {"contentType": src.content_type, "metadata": src.metadata}
        meta.update(src.extra or {})
        if isinstance(body, dict):
            meta.update({k: v for k, v in body.items() if v is not None})
        o = self.commit_prehashed(dst_bucket, dst_name, tmp, src, meta, query)
        return o

    def commit_prehashed(self, bucket, name, tmp, src, meta, query):
        class H:
            pass
        h = H()
        h.size = src.size
        h.md5_b64 = lambda: src.md5
        h.crc = type("C", (), {"b64": lambda self: src.crc32c})()
        return self.commit(bucket, name, tmp, h, meta, query)

    def compose(self, bucket, name, query, body):
        if not isinstance(body, dict) or not body.get("sourceObjects"):
            raise gerr(400, "Required", "required")
        srcs = []
        with self.lock:
            for s in body["sourceObjects"]:
                srcs.append(self.lookup(bucket, s.get("name"), s.get("generation")))
        tmp = self.temp_path()
        h = Hasher()
        with open(tmp, "wb") as out:
            for s in srcs:
                with open(s.path, "rb") as f:
                    while True:
                        d = f.read(1 << 20)
                        if not d:
                            break
                        h.update(d)
                        out.write(d)
        meta = dict(body.get("destination") or {})
        return self.commit(bucket, name, tmp, h, meta, query)

    def list(self, bucket, q):
        b = self.bucket(bucket)
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        try:
            maxr = int(q.get("maxResults") or 1000)
        except ValueError:
            raise gerr(400, "Invalid value for maxResults", "invalid")
        maxr = max(1, min(maxr, 1000))
        start_off = q.get("startOffset", "")
        end_off = q.get("endOffset", "")
        glob = q.get("matchGlob", "")
        trailing = q.get("includeTrailingDelimiter", "").lower() == "true"
        globre = re.compile(glob_to_re(glob)) if glob else None
        with self.lock:
            names = b.names
            objs = b.objects
            i = bisect.bisect_left(names, max(prefix, start_off))
            tok = q.get("pageToken")
            if tok:
                try:
                    raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
                    flag, after = raw[0], raw[1:]
                except (ValueError, UnicodeDecodeError, IndexError):
                    raise gerr(400, "Invalid page token", "invalid")
                if flag == "p":
                    i = max(i, bisect.bisect_left(names, upper_bound(after)))
                else:
                    i = max(i, bisect.bisect_right(names, after))
            items, prefixes = [], []
            next_tok = None
            n_total = len(names)
            while i < n_total:
                n = names[i]
                if not n.startswith(prefix):
                    break
                if end_off and n >= end_off:
                    break
                if delim:
                    j = n.find(delim, len(prefix))
                    if j >= 0:
                        p = n[:j + len(delim)]
                        if globre and not globre.match(p):
                            i = bisect.bisect_left(names, upper_bound(p))
                            continue
                        if len(items) + len(prefixes) >= maxr:
                            next_tok = self.token(items, prefixes)
                            break
                        prefixes.append(p)
                        if trailing and n == p:
                            items.append(objs[n])
                        i = bisect.bisect_left(names, upper_bound(p))
                        continue
                if globre and not globre.match(n):
                    i += 1
                    continue
                if len(items) + len(prefixes) >= maxr:
                    next_tok = self.token(items, prefixes)
                    break
                items.append(objs[n])
                i += 1
        return items, prefixes, next_tok

    @staticmethod
    def token(items, prefixes):
        last_item = items[-1].name if items else None
        last_pref = prefixes[-1] if prefixes else None
        # With includeTrailingDelimiter a name can be both; resume after
        # the whole prefix then.
        if last_pref is not None and (last_item is None or last_pref >= last_item):
            raw = "p" + last_pref
        else:
            raw = "n" + last_item
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def valid_bucket_name(name):
    """Cloud Storage's bucket naming rules (the subset the emulator checks)."""
    return isinstance(name, str) and bool(BUCKET_RE.match(name)) and \
        ".." not in name and len(name) <= 222 and \
        (len(name) <= 63 or "." in name)


def validate_name(name):
    if not isinstance(name, str) or not name:
        raise gerr(400, "Required", "required")
    if len(name.encode("utf-8", "surrogateescape")) > 1024:
        raise gerr(400, "The maximum object length is 1024 characters, but got a "
                   "name with %d characters" % len(name), "invalid")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise gerr(400, "The specified object name is not valid UTF-8.", "invalid")
    if "\r" in name or "\n" in name or name in (".", ".."):
        raise gerr(400, "Invalid object name", "invalid")


def glob_to_re(glob):
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = glob.find("]", i)
            if j < 0:
                out.append(re.escape(c))
            else:
                out.append(glob[i:j + 1])
                i = j
        elif c == "{":
            j = glob.find("}", i)
            if j < 0:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(re.escape(x) for x in
                                            glob[i + 1:j].split(",")) + ")")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out) + r"\Z"


__all__ = ["Storage", "Hasher", "quote_name", "fnmatch"]
