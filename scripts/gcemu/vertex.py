"""Vertex AI projects.locations.batchPredictionJobs and operations (v1 and
v1beta1): validation, the job store and its JSON, list with filter/paging/
readMask, cancel and delete. Execution lives in runner.py.
"""
import base64
import random
import re
import threading
import time

from . import filters, model
from .server import Response
from .util import ApiError, apply_fields, now_us, parse_fields, rfc3339

TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
            "JOB_STATE_EXPIRED", "JOB_STATE_PARTIALLY_SUCCEEDED"}
ROUTE_RE = re.compile(
    r"^/(v1|v1beta1)/projects/([^/]+)/locations/([^/]+)/"
    r"(batchPredictionJobs|operations)(?:/([^/:]+))?(?::([A-Za-z]+))?/?$")

# Known request fields (camelCase) and the sub-messages we check deeply.
JOB_FIELDS = {
    "name", "displayName", "model", "modelVersionId", "unmanagedContainerModel",
    "inputConfig", "instanceConfig", "modelParameters", "outputConfig",
    "dedicatedResources", "serviceAccount", "manualBatchTuningParameters",
    "generateExplanation", "explanationSpec", "outputInfo", "state", "error",
    "partialFailures", "resourcesConsumed", "completionStats", "createTime",
    "startTime", "endTime", "updateTime", "labels", "encryptionSpec",
    "disableContainerLogging", "satisfiesPzs", "satisfiesPzi",
    "modelMonitoringConfig", "modelMonitoringStatsAnomalies",
    "modelMonitoringStatus",
}
SUB_FIELDS = {
    "inputConfig": {"instancesFormat", "gcsSource", "bigquerySource",
                    "vertexMultimodalDatasetSource"},
    "outputConfig": {"predictionsFormat", "gcsDestination", "bigqueryDestination",
                     "vertexMultimodalDatasetDestination"},
    "inputConfig.gcsSource": {"uris"},
    "inputConfig.bigquerySource": {"inputUri"},
    "inputConfig.vertexMultimodalDatasetSource": {"datasetName"},
    "outputConfig.gcsDestination": {"outputUriPrefix"},
    "outputConfig.bigqueryDestination": {"outputUri"},
    "encryptionSpec": {"kmsKeyName"},
    "manualBatchTuningParameters": {"batchSize"},
}
# Output order follows the proto's field order.
OUTPUT_ORDER = [
    "name", "displayName", "model", "modelVersionId", "unmanagedContainerModel",
    "inputConfig", "instanceConfig", "modelParameters", "outputConfig",
    "dedicatedResources", "serviceAccount", "manualBatchTuningParameters",
    "generateExplanation", "explanationSpec", "outputInfo", "state", "error",
    "partialFailures", "resourcesConsumed", "completionStats", "createTime",
    "startTime", "endTime", "updateTime", "labels", "encryptionSpec",
    "disableContainerLogging",
]


def camel(s):
    parts = s.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def snake(s):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), s)


def empty(v):
    """proto3 JSON omits default values."""
    return v is None or v is False or v == 0 and not isinstance(v, bool) \
        or v in ("", {}, [])


def invalid(msg, field=None):
    details = None
    if field:
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field, "description": msg}]}]
    return ApiError(400, msg, "INVALID_ARGUMENT", details=details)


def required(fields):
    msg = "List of found errors:\t" + "".join(
        "%d.Field: %s; Message: Required field is not set.\t" % (i + 1, f)
        for i, f in enumerate(fields))
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": f,
                                     "description": "Required field is not set."}
                                    for f in fields]}]
    return ApiError(400, msg, "INVALID_ARGUMENT", details=details)


def normalize(obj, path, where):
    """camelCases keys (accepting snake_case), rejecting unknown names."""
    out = {}
    known = JOB_FIELDS if path == "" else SUB_FIELDS.get(path)
    for k, v in obj.items():
        ck = camel(k)
        if known is not None and ck not in known:
            msg = ("Invalid JSON payload received. Unknown name \"%s\" at '%s': "
                   "Cannot find field." % (k, where))
            raise invalid(msg, where)
        sub = ck if not path else path + "." + ck
        if isinstance(v, dict) and sub in SUB_FIELDS:
            v = normalize(v, sub, where + "." + snake(ck))
        out[ck] = v
    return out


class Job:
    __slots__ = ("id", "version", "project_number", "location", "spec", "state",
                 "create_us", "update_us", "start_us", "end_us", "error",
                 "output_dir", "bq_out", "ok", "failed", "total", "cache", "fview",
                 "rt", "lock")

    app = None  # the App, for its runtime config (one per process)

    @staticmethod
    def cfg():
        return Job.app.cfg if Job.app is not None else {}

    def name(self):
        return "projects/%s/locations/%s/batchPredictionJobs/%s" % (
            self.project_number, self.location, self.id)

    def touch(self):
        self.update_us = now_us()
        self.cache = None
        self.fview = None

    def to_json(self):
        # Under the lock the runner changes the job under: a view built
        # from the old state must not be cached after the change's touch()
        # (a finished job is touched no more, so it showed PENDING for good).
        with self.lock:
            c = self.cache
            if c is None:
                c = self.cache = self._render()
            return c

    def _render(self):
        d = dict(self.spec)
        d["name"] = self.name()
        d["state"] = self.state
        if self.error:
            d["error"] = self.error
        if self.output_dir:
            d["outputInfo"] = {"gcsOutputDirectory": self.output_dir}
        elif self.bq_out:
            d["outputInfo"] = {"bigqueryOutputDataset": self.bq_out[0],
                               "bigqueryOutputTable": self.bq_out[1]}
        cfg = Job.cfg()
        stats = {}
        if self.ok:
            stats["successfulCount"] = str(self.ok)
        if self.failed:
            stats["failedCount"] = str(self.failed)
        inc = self.incomplete()
        if inc:
            stats["incompleteCount"] = str(inc)
        if self.state not in TERMINAL:
            mode = cfg.get("running_stats", "counts")
            if mode == "absent":
                stats = {}
            elif mode == "unknown" and self.state == "JOB_STATE_RUNNING":
                stats["incompleteCount"] = "-1"
        if stats:
            d["completionStats"] = stats
        d["createTime"] = rfc3339(self.create_us)
        if self.start_us:
            d["startTime"] = rfc3339(self.start_us)
        if self.end_us and (not cfg.get("end_time_some_states") or self.state in (
                "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED")):
            d["endTime"] = rfc3339(self.end_us)
        d["updateTime"] = rfc3339(self.update_us)
        out = {k: d[k] for k in OUTPUT_ORDER if k in d and not empty(d[k])}
        for k, v in d.items():
            if k not in out and not empty(v) and k not in (
                    "outputInfo", "completionStats", "partialFailures",
                    "resourcesConsumed", "satisfiesPzs", "satisfiesPzi",
                    "modelMonitoringStatsAnomalies", "modelMonitoringStatus"):
                out[k] = v
        return out

    def incomplete(self):
        if self.total is None:
            return 0
        if self.state in ("JOB_STATE_RUNNING", "JOB_STATE_CANCELLING") or \
                self.state in TERMINAL:
            return max(0, self.total - self.ok - self.failed)
        return 0

    def filter_view(self):
        with self.lock:
            return self._filter_view()

    def _filter_view(self):
        v = self.fview
        if v is None:
            j = self.to_json()
            v = dict(j)
            v["modelDisplayName"] = (self.spec.get("model") or "").rsplit("/", 1)[-1]
            v["_createTime"] = self.create_us
            v["_updateTime"] = self.update_us
            if self.start_us:
                v["_startTime"] = self.start_us
            if self.end_us:
                v["_endTime"] = self.end_us
            self.fview = v
        return v


class Vertex:
    def __init__(self, app):
        self.app = app
        Job.app = app
        self.lock = threading.RLock()
        self.jobs = {}
        self.order = []  # [(create_us, id)] ascending
        self.ops = {}
        self.pending_ops = []  # delete Operations not done yet
        self.rng = random.Random()

    def reset(self):
        with self.lock:
            self.jobs = {}
            self.order = []
            self.ops = {}
            self.pending_ops = []

    def new_id(self):
        while True:
            i = str(self.rng.randrange(10 ** 18, 9 * 10 ** 18))
            if i not in self.jobs:
                return i

    def new_job(self, location, spec, state="JOB_STATE_PENDING", create_us=None):
        j = Job()
        j.id = self.new_id()
        j.version = 0
        j.project_number = self.app.project_number
        j.location = location
        j.spec = spec
        j.state = state
        j.create_us = create_us or now_us()
        j.update_us = j.create_us
        j.start_us = j.end_us = None
        j.error = None
        j.output_dir = None
        j.bq_out = None
        j.ok = j.failed = 0
        j.total = None
        j.cache = j.fview = None
        j.rt = None
        j.lock = threading.RLock()  # to_json may run under it
        return j

    def insert(self, j):
        with self.lock:
            self.jobs[j.id] = j
            self.order.append((j.create_us, j.id))
            if len(self.order) > 1 and self.order[-2] > self.order[-1]:
                self.order.sort()

    # --- routing ----------------------------------------------------------
    def route(self, req):
        m = ROUTE_RE.match(req.raw_path)
        if not m:
            return None
        version, project, location, coll, rid, verb = m.groups()
        self.check_project(project)
        self.settle_ops()
        create = coll != "operations" and rid is None and \
            req.method == "POST" and not verb
        self.app.quota.check("create" if create else "crud", project, location)
        if coll == "operations":
            if req.method != "GET" or not rid or verb:
                raise ApiError(404, "Method not found.", "NOT_FOUND")
            self.app.count("vertex.operation.get")
            op = self.ops.get(rid)
            if op is None or op["location"] != location:
                raise ApiError(404, "Operation \"projects/%s/locations/%s/operations/%s\""
                               " not found." % (self.app.project_number, location, rid),
                               "NOT_FOUND")
            return self.reply(req, op["json"])
        if rid is None:
            if req.method == "POST" and not verb:
                self.app.count("vertex.create")
                return self.create(req, version, location)
            if req.method == "GET" and not verb:
                self.app.count("vertex.list")
                return self.list(req, location)
            raise ApiError(404, "Method not found.", "NOT_FOUND")
        if verb == "cancel" and req.method == "POST":
            self.app.count("vertex.cancel")
            return self.cancel(req, location, rid)
        if verb:
            raise ApiError(404, "Method not found.", "NOT_FOUND")
        if req.method == "GET":
            self.app.count("vertex.get")
            return self.reply(req, self.get(location, rid).to_json())
        if req.method == "DELETE":
            self.app.count("vertex.delete")
            return self.delete(req, version, location, rid)
        raise ApiError(404, "Method not found.", "NOT_FOUND")

    def check_project(self, project):
        if not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", project):
            raise ApiError(400, "Invalid project: %s" % project, "INVALID_ARGUMENT")

    def reply(self, req, obj):
        f = req.query.get("fields")
        if f:
            obj = apply_fields(obj, parse_fields(f))
        return Response.json(obj)

    def get(self, location, rid):
        if not rid.isdigit() or len(rid) > 19:
            raise invalid("Invalid BatchPredictionJob resource name: "
                          "batchPredictionJobs/%s" % rid)
        j = self.jobs.get(rid)
        if j is None or j.location != location:
            raise ApiError(404, "The BatchPredictionJob \"projects/%s/locations/%s/"
                           "batchPredictionJobs/%s\" does not exist."
                           % (self.app.project_number, location, rid), "NOT_FOUND")
        return j

    # --- create -----------------------------------------------------------
    def create(self, req, version, location):
        body = req.json()
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received. Expected an object for "
                          "'batch_prediction_job'.", "batch_prediction_job")
        spec = normalize(body, "", "batch_prediction_job")
        for k in ("name", "state", "error", "outputInfo", "completionStats",
                  "createTime", "startTime", "endTime", "updateTime",
                  "partialFailures", "resourcesConsumed", "modelVersionId"):
            spec.pop(k, None)
        missing = []
        if not spec.get("displayName"):
            missing.append("batch_prediction_job.display_name")
        if not spec.get("model") and not spec.get("unmanagedContainerModel"):
            missing.append("batch_prediction_job.model")
        ic = spec.get("inputConfig")
        oc = spec.get("outputConfig")
        if not isinstance(ic, dict) or not ic:
            missing.append("batch_prediction_job.input_config")
        elif not ic.get("instancesFormat"):
            missing.append("batch_prediction_job.input_config.instances_format")
        if not isinstance(oc, dict) or not oc:
            missing.append("batch_prediction_job.output_config")
        elif not oc.get("predictionsFormat"):
            missing.append("batch_prediction_job.output_config.predictions_format")
        if missing:
            raise required(missing)
        self.check_model(spec.get("model"), location)
        self.check_input(ic)
        self.check_output(oc)
        self.app.bigquery.check_spec(spec, location)
        labels = spec.get("labels")
        if labels is not None:
            if not isinstance(labels, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
                raise invalid("Invalid JSON payload received. labels must map "
                              "strings to strings.", "batch_prediction_job.labels")
            for k, v in labels.items():
                if not re.match(r"^[\w-]{1,63}$", k) or not k[0].isalpha() or \
                        k != k.lower() or len(v) > 63 or (v and not re.match(r"^[\w-]*$", v)) \
                        or v != v.lower():
                    raise invalid("Label keys and values must be at most 63 "
                                  "characters of lowercase letters, digits, '_' and "
                                  "'-', keys starting with a letter: %r=%r." % (k, v),
                                  "batch_prediction_job.labels")
        j = self.new_job(location, spec)
        self.insert(j)
        self.app.runner.add(j)
        self.app.count("jobs_created", top=True)
        return self.reply(req, j.to_json())

    @staticmethod
    def one_of(cfg, names, oneof, where):
        """proto3 JSON: at most one member of a oneof."""
        given = [n for n in names if n in cfg]
        if len(given) > 1:
            raise invalid("Invalid JSON payload received. Oneof field '%s' is "
                          "already set. Cannot set '%s'." % (oneof, given[1]), where)
        return given[0] if given else None

    def check_input(self, ic):
        src = self.one_of(ic, ("gcsSource", "bigquerySource",
                               "vertexMultimodalDatasetSource"), "source",
                          "batch_prediction_job.input_config")
        fmt = ic["instancesFormat"]
        if src == "bigquerySource":
            if fmt != "bigquery":
                raise invalid("The instances format %r cannot be used with a "
                              "BigQuery source: use \"bigquery\"." % fmt,
                              "batch_prediction_job.input_config.instances_format")
            if not isinstance(ic[src], dict) or not ic[src].get("inputUri"):
                raise required(["batch_prediction_job.input_config.bigquery_source."
                                "input_uri"])
            return
        if src == "vertexMultimodalDatasetSource":
            raise invalid("Vertex dataset input is not supported by this emulator.",
                          "batch_prediction_job.input_config")
        if src is None:
            raise required(["batch_prediction_job.input_config.gcs_source"])
        if fmt != "jsonl":
            raise invalid("The instances format %r is not supported for this model. "
                          "Supported formats: jsonl, bigquery." % fmt,
                          "batch_prediction_job.input_config.instances_format")
        uris = ic["gcsSource"].get("uris") if isinstance(ic["gcsSource"], dict) else None
        if isinstance(uris, str):
            uris = [uris]
            ic["gcsSource"]["uris"] = uris
        if not uris:
            raise required(["batch_prediction_job.input_config.gcs_source.uris"])
        for u in uris:
            if not isinstance(u, str) or not u.startswith("gs://") or \
                    len(u) < 6 or u[5:].startswith("/"):
                raise invalid("Invalid Cloud Storage URI: %r." % (u,),
                              "batch_prediction_job.input_config.gcs_source.uris")

    def check_output(self, oc):
        dst = self.one_of(oc, ("gcsDestination", "bigqueryDestination",
                               "vertexMultimodalDatasetDestination"), "destination",
                          "batch_prediction_job.output_config")
        fmt = oc["predictionsFormat"]
        if dst == "bigqueryDestination":
            if fmt != "bigquery":
                raise invalid("The predictions format %r cannot be used with a "
                              "BigQuery destination: use \"bigquery\"." % fmt,
                              "batch_prediction_job.output_config.predictions_format")
            if not isinstance(oc[dst], dict) or not oc[dst].get("outputUri"):
                raise required(["batch_prediction_job.output_config."
                                "bigquery_destination.output_uri"])
            return
        if dst == "vertexMultimodalDatasetDestination":
            raise invalid("Vertex dataset output is not supported by this emulator.",
                          "batch_prediction_job.output_config")
        if dst is None:
            raise required(["batch_prediction_job.output_config.gcs_destination"])
        if fmt != "jsonl":
            raise invalid("The predictions format %r is not supported for this model."
                          % fmt, "batch_prediction_job.output_config.predictions_format")
        prefix = (oc["gcsDestination"] or {}).get("outputUriPrefix")
        if not prefix:
            raise required(["batch_prediction_job.output_config.gcs_destination."
                            "output_uri_prefix"])
        if not prefix.startswith("gs://") or len(prefix) < 6:
            raise invalid("Invalid Cloud Storage URI: %r." % prefix,
                          "batch_prediction_job.output_config.gcs_destination")

    def check_model(self, m, location):
        if m is None:
            return
        if not isinstance(m, str):
            raise invalid("Invalid model name.", "batch_prediction_job.model")
        mm = re.match(r"^(?:projects/[^/]+/locations/[^/]+/)?publishers/([^/]+)/"
                      r"models/([^/@]+)(?:@[^/]+)?$", m)
        if mm:
            pub, mid = mm.groups()
            if pub != "google" or mid not in model.KNOWN_MODELS:
                raise ApiError(404, "The PublisherModel %s does not exist." % mid,
                               "NOT_FOUND")
            return
        mm = re.match(r"^projects/[^/]+/locations/[^/]+/(models|endpoints)/([^/@]+)", m)
        if mm:
            raise ApiError(404, "The %s %s does not exist." % (
                "Model" if mm.group(1) == "models" else "Endpoint", m), "NOT_FOUND")
        raise invalid("Invalid Model resource name: %s" % m, "batch_prediction_job.model")

    # --- list -------------------------------------------------------------
    def list(self, req, location):
        q = req.query
        try:
            pred = filters.compile(q.get("filter", ""),
                                   strict=self.app.cfg.get("strict_filter"))
        except ValueError as e:
            raise invalid(str(e), "filter")
        try:
            size = int(q.get("pageSize") or 0)
        except ValueError:
            raise invalid("Invalid value for pageSize: %s" % q.get("pageSize"))
        if size < 0:
            raise invalid("pageSize must not be negative.")
        size = min(size or 100, 1000)
        mask = q.get("readMask")
        tree = parse_fields(mask.replace(".", "/")) if mask else None
        with self.lock:
            order = self.order
            pos = len(order)
            tok = q.get("pageToken")
            if tok:
                try:
                    raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)).decode()
                    cu, jid = raw.split(":", 1)
                    key = (int(cu), jid)
                except (ValueError, UnicodeDecodeError):
                    raise invalid("Invalid page token: %s" % tok, "page_token")
                import bisect
                pos = bisect.bisect_left(order, key)
            out = []
            last = None
            more = False
            i = pos - 1
            while i >= 0:
                cu, jid = order[i]
                j = self.jobs.get(jid)
                i -= 1
                if j is None or j.location != location:
                    continue
                if not pred(j.filter_view()):
                    continue
                if len(out) >= size:
                    more = True
                    break
                out.append(j.to_json() if tree is None else apply_fields(j.to_json(), tree))
                last = (cu, jid)
        res = {}
        if out:
            res["batchPredictionJobs"] = out
        if more and last:
            res["nextPageToken"] = base64.urlsafe_b64encode(
                ("%d:%s" % last).encode()).decode().rstrip("=")
        return self.reply(req, res)

    # --- cancel / delete ----------------------------------------------------
    def cancel(self, req, location, rid):
        req.json()
        j = self.get(location, rid)
        with j.lock:
            if j.state in TERMINAL:
                raise ApiError(400, "BatchPredictionJob %s is in state %s and cannot "
                               "be cancelled." % (j.name(), j.state),
                               "FAILED_PRECONDITION")
            if j.state != "JOB_STATE_CANCELLING":
                j.state = "JOB_STATE_CANCELLING"
                j.touch()
        self.app.runner.poke()
        return Response.json({})

    def delete(self, req, version, location, rid):
        j = self.get(location, rid)
        with j.lock:
            if j.state not in TERMINAL:
                raise ApiError(400, "BatchPredictionJob %s is in state %s; only "
                               "finished jobs can be deleted." % (j.name(), j.state),
                               "FAILED_PRECONDITION")
        delay = float(self.app.cfg.get("delete_seconds") or 0)
        with self.lock:
            opid = self.new_id()
            ts = rfc3339(now_us())
            op = {
                "name": "projects/%s/locations/%s/operations/%s" % (
                    self.app.project_number, location, opid),
                "metadata": {
                    "@type": "type.googleapis.com/google.cloud.aiplatform.%s."
                             "DeleteOperationMetadata" % version,
                    "genericMetadata": {"createTime": ts, "updateTime": ts}},
                "done": True,
                "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
            }
            entry = {"location": location, "json": op}
            if delay > 0:
                # Long-running: the job stays until the operation is done.
                op["done"] = False
                del op["response"]
                entry["done_at"] = time.monotonic() + delay
                entry["job"] = j
                self.ops[opid] = entry
                self.pending_ops.append(entry)
                reply = dict(op)
            else:
                self.drop_job(j)
                self.ops[opid] = entry
                reply = op
        if delay <= 0:
            self.app.runner.forget(j)
        return self.reply(req, reply)

    def drop_job(self, j):
        with self.lock:
            self.jobs.pop(j.id, None)
            try:
                self.order.remove((j.create_us, j.id))
            except ValueError:
                pass

    def settle_ops(self):
        """Completes delete operations whose time has come."""
        if not self.pending_ops:
            return
        now = time.monotonic()
        done = []
        with self.lock:
            for entry in list(self.pending_ops):
                at = entry.get("done_at")
                if at is not None and now >= at:
                    self.pending_ops.remove(entry)
                    entry.pop("done_at")
                    op = entry["json"]
                    op["done"] = True
                    op["response"] = {"@type": "type.googleapis.com/"
                                               "google.protobuf.Empty"}
                    op["metadata"]["genericMetadata"]["updateTime"] = rfc3339(now_us())
                    j = entry.pop("job")
                    self.drop_job(j)
                    done.append(j)
        for j in done:
            self.app.runner.forget(j)

    # --- control ----------------------------------------------------------
    def bulk(self, body):
        n = int(body.get("count", 0))
        if n < 0 or n > 1_000_000:
            raise ApiError(400, "count out of range")
        prefix = body.get("display_name_prefix", "bulk-job-")
        state = body.get("state", "JOB_STATE_SUCCEEDED")
        location = body.get("location", "us-central1")
        mdl = body.get("model", "publishers/google/models/gemini-2.5-flash")
        labels = body.get("labels")
        bucket = body.get("bucket", "bulk-bucket")
        ids = []
        base = now_us() - n * 1000 - 1000
        with self.lock:
            for i in range(n):
                cu = base + i * 1000 + 1
                spec = {
                    "displayName": "%s%d" % (prefix, i),
                    "model": mdl,
                    "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {
                        "uris": ["gs://%s/in/%d.jsonl" % (bucket, i)]}},
                    "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {
                        "outputUriPrefix": "gs://%s/out/%d" % (bucket, i)}},
                }
                if labels:
                    spec["labels"] = dict(labels)
                j = self.new_job(location, spec, state, cu)
                if state in TERMINAL or state == "JOB_STATE_RUNNING":
                    j.start_us = cu + 1
                    j.output_dir = "gs://%s/out/%d/prediction-model-%s" % (
                        bucket, i, rfc3339(cu))
                if state in TERMINAL:
                    j.end_us = cu + 3
                    j.update_us = cu + 3
                if state == "JOB_STATE_SUCCEEDED":
                    j.ok = 1
                    j.total = 1
                if state == "JOB_STATE_FAILED":
                    j.error = {"code": 13, "message": "System error."}
                if state == "JOB_STATE_CANCELLED":
                    j.error = {"code": 1, "message": "CANCELED"}
                self.jobs[j.id] = j
                self.order.append((j.create_us, j.id))
                ids.append(j.id)
            self.order.sort()
        return ids
