"""The application: configuration, counters, the router over the services
(Vertex, Cloud Storage, OAuth, metadata) and the /_emulator control API.
"""
import os
import re
import threading

from .bigquery import BigQuery
from .faults import Faults
from .gcs import Storage
from .gcs_api import GcsApi
from .oauth import OAuth
from .quota import Quota
from .sts import Sts
from .runner import Runner
from .server import Response
from .util import ApiError, gcs_error, google_error
from .vertex import Vertex

DEFAULTS = {
    "time_scale": 1.0,
    "pending_seconds": 0.5,
    "queued_seconds": 0.5,
    "row_seconds": 0.2,
    "export_interval": 0.5,
    "require_auth": False,
    "token_lifetime": 3600,
    "gcs_endpoint": None,
    # Unknowns of Google's behaviour: the kind answer by default, the unkind
    # one with --pessimistic (README "Unknowns").
    "echo_keys": True,
    "retype_keys": False,
    "running_stats": "counts",
    "delete_seconds": 0.0,
    "failed_response_empty": False,
    "strict_filter": False,
    "partials": "incremental",
    "end_time_some_states": False,
    "token_reply_strings": False,
    "bq_region_check": "create",
    "latency_ms": 0.0,
    "stream_bytes_per_second": 0,
    "crud_quota_per_minute": 0,
    "create_quota_per_minute": 0,
}
# The unkind answer of every unknown (scripts/emulator --pessimistic and
# {"pessimistic": true} on /_emulator/config).
PESSIMISTIC = {
    "echo_keys": False,
    "retype_keys": True,
    "running_stats": "absent",
    "delete_seconds": 1.0,
    "failed_response_empty": True,
    "strict_filter": True,
    "partials": "beside",
    "end_time_some_states": True,
    "token_reply_strings": True,
    "bq_region_check": "run",
}
CHOICES = {"running_stats": ("counts", "absent", "unknown"),
           "partials": ("incremental", "beside"),
           "bq_region_check": ("create", "run")}
CONFIG_TYPES = {"time_scale": float, "pending_seconds": float,
                "queued_seconds": float, "row_seconds": float,
                "export_interval": float, "require_auth": bool,
                "token_lifetime": int, "gcs_endpoint": str,
                "echo_keys": bool, "retype_keys": bool, "running_stats": str,
                "delete_seconds": float, "failed_response_empty": bool,
                "strict_filter": bool, "partials": str,
                "end_time_some_states": bool, "token_reply_strings": bool,
                "bq_region_check": str,
                "latency_ms": float, "stream_bytes_per_second": int,
                "crud_quota_per_minute": int, "create_quota_per_minute": int}


class App:
    def __init__(self, data_dir, project_number=123456789012, buckets=(),
                 pessimistic=False, **cfg):
        self.data_dir = data_dir
        self.project_number = int(project_number)
        self.cfg = dict(DEFAULTS)
        if pessimistic:
            self.cfg.update(PESSIMISTIC)
        self.cfg.update({k: v for k, v in cfg.items() if v is not None})
        self.initial_cfg = dict(self.cfg)
        self.initial_buckets = list(buckets)
        self.base_url = None
        self.client_ssl = None  # --tls: trusts DATA/ca.pem (job runner)
        self.counter_lock = threading.Lock()
        self.tls = threading.local()  # .internal: serving the job runner
        self.counters = {}
        self.media_by_object = {}  # "BUCKET/NAME" -> media GETs of it
        self.total = 0
        self.jobs_created = 0
        self.streams = self.streams_max = 0  # media bodies being sent
        self.faults = Faults()
        self.storage = Storage(self, data_dir)
        self.gcs = GcsApi(self, self.storage)
        self.vertex = Vertex(self)
        self.bigquery = BigQuery(self)
        self.quota = Quota(self)
        self.oauth = OAuth(self, data_dir)
        self.sts = Sts(self, self.oauth)
        self.runner = Runner(self, os.path.join(data_dir, "vertex"))

    def started(self, base_url):
        self.base_url = base_url
        self.oauth.write_files(base_url, self.sts.external_user_file(base_url))
        for b in self.initial_buckets:
            if b not in self.storage.buckets:
                self.storage.create_bucket(b)
        self.runner.start()

    # --- counters -----------------------------------------------------------
    def count(self, name, top=False):
        with self.counter_lock:
            if top:
                self.jobs_created += 1
                return
            if getattr(self.tls, "internal", False):
                name = "internal." + name  # the job runner's own traffic
            self.counters[name] = self.counters.get(name, 0) + 1

    def count_media(self, bucket, name):
        """One client GET of an object's bytes (the runner's not counted)."""
        if getattr(self.tls, "internal", False):
            return
        key = bucket + "/" + name
        with self.counter_lock:
            self.media_by_object[key] = self.media_by_object.get(key, 0) + 1

    def count_total(self, req):
        if req.internal or req.raw_path.startswith("/_emulator/"):
            return
        with self.counter_lock:
            self.total += 1

    def media_streams(self, d):
        """A client's media body starts (+1) or ends (-1) being sent."""
        with self.counter_lock:
            self.streams += d
            self.streams_max = max(self.streams_max, self.streams)

    def counters_json(self):
        with self.counter_lock:
            return {"total": self.total, "routes": dict(self.counters),
                    "jobs_created": self.jobs_created,
                    "media_streams_max": self.streams_max,
                    "media_by_object": dict(self.media_by_object),
                    "throttled": self.quota.throttled}

    # --- dispatch -------------------------------------------------------------
    @staticmethod
    def is_gcs_path(p):
        return p.startswith(("/storage/", "/upload/storage/", "/download/storage/",
                             "/resumable/upload/storage/", "/b/")) or p == "/b"

    @staticmethod
    def is_vertex_path(p):
        return p.startswith(("/v1/", "/v1beta1/"))

    def error_response(self, req, e):
        headers = dict(e.headers)
        if e.http == 304:
            return Response(304, b"", headers)
        if self.is_gcs_path(req.raw_path) or (
                req.method in ("GET", "HEAD") and not self.is_vertex_path(req.raw_path)
                and not req.raw_path.startswith(("/_emulator/", "/token",
                                                  "/computeMetadata"))):
            return Response.json(gcs_error(e.http, e.message, e.reason), e.http, headers)
        return Response.json(google_error(e.http, e.message, e.status, e.details),
                             e.http, headers)

    def dispatch(self, req, rule):
        p = req.raw_path
        self.tls.internal = req.internal
        self.count_total(req)
        if p.startswith("/_emulator/"):
            return self.control(req)
        if p == "/token" or p == "/oauth2/v4/token":
            return self.oauth.token_endpoint(req)
        if p.startswith("/computeMetadata"):
            return self.oauth.metadata(req)
        if p.startswith(("/v1/token", "/v1/oauthtoken", "/v1/projects/-/")):
            r = self.sts.route(req)
            if r is not None:
                return r
        if p == "/":
            if req.header("Metadata-Flavor") == "Google":
                return self.oauth.metadata(req)
            return Response(200, b"OK", {"Metadata-Flavor": "Google"}, "text/plain")
        gcs = self.is_gcs_path(p)
        vertex = self.is_vertex_path(p)
        # A resumable session URI is itself the credential (as in GCS): its
        # PUTs need no Authorization header.
        session = p.startswith(("/upload/", "/resumable/upload/")) and \
            "upload_id" in req.query
        if self.cfg["require_auth"] and not req.internal and (gcs or vertex) \
                and not session:
            self.oauth.check_request(req, gcs)
        if vertex:
            r = self.vertex.route(req)
            if r is not None:
                return r
            raise ApiError(404, "Method not found.", "NOT_FOUND")
        r = self.gcs.route(req, rule)
        if r is not None:
            return r
        if self.cfg["require_auth"] and not req.internal:
            self.oauth.check_request(req, True)
        raise ApiError(404, "Not Found", reason="notFound")

    # --- control API ----------------------------------------------------------
    def control(self, req):
        p = req.raw_path[len("/_emulator/"):]
        m = req.method
        if p == "reset" and m == "POST":
            req.body.drain()
            self.reset()
            return Response.json({})
        if p == "config":
            if m == "POST":
                body = req.json() or {}
                self.set_config(body)
            out = dict(self.cfg)
            out["project_number"] = self.project_number
            out["base_url"] = self.base_url
            return Response.json(out)
        if p == "faults":
            if m == "POST":
                return Response.json({"id": self.faults.add(req.json())})
            if m == "DELETE":
                self.faults.clear()
                return Response.json({})
            if m == "GET":
                return Response.json({"faults": self.faults.list()})
        if p == "counters" and m == "GET":
            return Response.json(self.counters_json())
        if p == "counters" and m == "DELETE":
            self.reset_counters()
            return Response.json({})
        if p == "keys:rotate" and m == "POST":
            return Response.json(self.oauth.rotate_key())
        if p == "subject-token" and m == "GET":
            return self.sts.subject_token(req)
        if p == "auth-log" and m == "GET":
            return Response.json(self.sts.log_json())
        if p == "tokens:expire" or p == "tokens/expire":
            self.oauth.expire_all()
            return Response.json({})
        if p == "jobs:bulk" and m == "POST":
            ids = self.vertex.bulk(req.json() or {})
            return Response.json({"count": len(ids), "ids": ids[:1000]})
        mm = re.match(r"^jobs/(\d+):finish$", p)
        if mm and m == "POST":
            body = req.json() or {}
            j = self.vertex.jobs.get(mm.group(1))
            if j is None:
                raise ApiError(404, "no such job %s" % mm.group(1), "NOT_FOUND")
            return Response.json(self.runner.finish_now(j, body))
        if p == "bigquery" or p.startswith("bigquery/"):
            body = req.json() if m == "POST" else None
            return Response.json(self.bigquery.control(m, p[len("bigquery/"):],
                                                       body or {}))
        if p == "runner" and m == "GET":
            return Response.json(self.runner.status())
        if p == "health":
            return Response.json({"ok": True})
        raise ApiError(404, "unknown control route %s %s" % (m, p), "NOT_FOUND")

    def set_config(self, body):
        if not isinstance(body, dict):
            raise ApiError(400, "config body must be an object")
        body = dict(body)
        if "pessimistic" in body:
            # Sets every unknown at once; keys given beside it win.
            on = body.pop("pessimistic")
            for k, v in PESSIMISTIC.items():
                body.setdefault(k, v if on else DEFAULTS[k])
        for k, v in body.items():
            if k not in CONFIG_TYPES:
                raise ApiError(400, "unknown config key %r (known: %s)" %
                               (k, ", ".join(sorted(CONFIG_TYPES))))
            t = CONFIG_TYPES[k]
            if v is None:
                self.cfg[k] = DEFAULTS[k]
            elif t is bool:
                self.cfg[k] = v if isinstance(v, bool) else str(v).lower() in (
                    "1", "true", "yes")
            else:
                try:
                    val = t(v)
                except (TypeError, ValueError):
                    raise ApiError(400, "bad value for %s: %r" % (k, v))
                if k in CHOICES and val not in CHOICES[k]:
                    raise ApiError(400, "%s must be one of %s" %
                                   (k, ", ".join(CHOICES[k])))
                self.cfg[k] = val
        self.runner.poke()

    def reset_counters(self):
        with self.counter_lock:
            self.counters = {}
            self.media_by_object = {}
            self.total = 0
            self.jobs_created = 0
            self.streams_max = self.streams
        self.quota.reset_counters()

    def reset(self):
        self.runner.reset()
        self.vertex.reset()
        self.bigquery.reset()
        self.storage.reset()
        self.faults.clear()
        self.oauth.reset()
        self.quota.reset()
        self.sts.reset()
        self.reset_counters()
        self.cfg = dict(self.initial_cfg)
        for b in self.initial_buckets:
            if b not in self.storage.buckets:
                self.storage.create_bucket(b)
