"""BigQuery as batch jobs see it: bq:// URI checks, the datasets' regions
and the tables (input fixtures, job output), in memory. There is no
BigQuery API here; tests set and read tables through /_emulator/bigquery.
"""
import json
import re
import threading

from .util import ApiError, rfc3339

# A project id, then dataset and table names as BigQuery allows them
# (tables: letters, digits, '_' and '-'; the Unicode classes BigQuery also
# takes are left out).
PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
DATASET = r"[A-Za-z0-9_]{1,1024}"
TABLE = r"[A-Za-z0-9_-]{1,1024}"
INPUT_RE = re.compile(r"^bq://(%s)\.(%s)\.(%s)$" % (PROJECT, DATASET, TABLE))
OUTPUT_RE = re.compile(r"^bq://(%s)(?:\.(%s)(?:\.(%s))?)?$" % (PROJECT, DATASET, TABLE))
MAX_URI = 2000
ROWS_LABEL = "emulator_rows"
FAILED_LABEL = "emulator_failed_rows"


class Failure(Exception):
    """The job fails with this google.rpc code and message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def field_error(field, message):
    """Vertex's validation form (seen for a bad bq:// destination)."""
    msg = "List of found errors:\t1.Field: %s; Message: %s\t" % (field, message)
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}]}]
    return ApiError(400, msg, "INVALID_ARGUMENT", details=details)


def parse_input(uri):
    """bq://project.dataset.table -> (project, dataset, table)."""
    m = INPUT_RE.match(uri) if isinstance(uri, str) and len(uri) <= MAX_URI else None
    if not m:
        raise field_error("batch_prediction_job.input_config.bigquery_source.input_uri",
                          "Invalid BigQuery source path: %s" % (uri,))
    return m.groups()


def parse_output(uri):
    """bq://project[.dataset[.table]] -> (project, dataset|None, table|None)."""
    m = OUTPUT_RE.match(uri) if isinstance(uri, str) and len(uri) <= MAX_URI else None
    if not m:
        raise field_error("batch_prediction_job.output_config.bigquery_destination."
                          "output_uri", "Invalid BigQuery destination path: %s" % (uri,))
    return m.groups()


def stamp(us):
    """2026-09-02T20:06:30.166279Z -> 2026_09_02T20_06_30_166Z, the
    "based on ISO-8601" form Vertex puts in BigQuery names."""
    t = rfc3339(us)
    return t[:23].replace("-", "_").replace(":", "_").replace(".", "_") + "Z"


def synthetic_rows(n, failed):
    """n input rows for a table given by label; the last `failed` of them
    fail (a role the model refuses)."""
    out = []
    for i in range(n):
        role = "tester" if i >= n - failed else "user"
        out.append({"request": {"contents": [{"role": role, "parts": [
            {"text": "row %d" % i}]}]}})
    return out


class BigQuery:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.datasets = {}  # "p.d" -> location
            self.tables = {}    # "p.d.t" -> [rows]

    # --- what jobs ask --------------------------------------------------------
    def location(self, project, dataset, job_location):
        """A dataset's region: registered, else the job's own (an
        unregistered dataset exists where the job runs)."""
        with self.lock:
            return self.datasets.get("%s.%s" % (project, dataset), job_location)

    def region_error(self, project, dataset, job_location):
        """The message when a dataset is not in the job's region, else None.
        A global job takes a dataset in any region."""
        loc = self.location(project, dataset, job_location)
        if job_location == "global" or loc == job_location:
            return None
        return ("BigQuery dataset %s.%s is in location %s, but the job is in %s. "
                "The dataset must be in the job's region." % (
                    project, dataset, loc, job_location))

    def check_spec(self, spec, location):
        """Create-time checks of the bq:// URIs; the region too unless
        bq_region_check is "run"."""
        ic, oc = spec["inputConfig"], spec["outputConfig"]
        sets = []
        if "bigquerySource" in ic:
            p, d, _ = parse_input((ic["bigquerySource"] or {}).get("inputUri"))
            sets.append((p, d, "batch_prediction_job.input_config.bigquery_source"))
        if "bigqueryDestination" in oc:
            p, d, _ = parse_output((oc["bigqueryDestination"] or {}).get("outputUri"))
            if d:
                sets.append((p, d, "batch_prediction_job.output_config."
                                   "bigquery_destination"))
        if self.app.cfg.get("bq_region_check") == "run":
            return
        for p, d, field in sets:
            msg = self.region_error(p, d, location)
            if msg:
                raise field_error(field, msg)

    def input_rows(self, j):
        """The input table's rows (Failure when it cannot be read). The
        labels emulator_rows=N (and emulator_failed_rows=M) stand for a
        table of N rows, the last M failing."""
        labels = j.spec.get("labels") or {}
        p, d, t = parse_input(j.spec["inputConfig"]["bigquerySource"]["inputUri"])
        msg = self.region_error(p, d, j.location)
        if msg:
            raise Failure(9, msg)
        if ROWS_LABEL in labels:
            try:
                n = int(labels[ROWS_LABEL])
                bad = int(labels.get(FAILED_LABEL, "0"))
            except ValueError:
                raise Failure(3, "Failed to import data. emulator_rows is not a number.")
            return synthetic_rows(n, min(bad, n))
        with self.lock:
            rows = self.tables.get("%s.%s.%s" % (p, d, t))
        if rows is None:
            raise Failure(3, ("Failed to import data. Not found: Table %s:%s.%s was not "
                       "found in location %s" % (p, d, t, self.location(p, d, j.location))))
        out = []
        for no, r in enumerate(rows, 1):
            r = dict(r)
            req = r.get("request")
            if isinstance(req, str):  # a STRING column holding JSON
                try:
                    req = r["request"] = json.loads(req)
                except ValueError:
                    req = None
            if not isinstance(req, dict):
                raise Failure(3, "Failed to import data. Row %d of %s.%s.%s has no "
                                 "valid \"request\" column." % (no, p, d, t))
            out.append(r)
        return out

    def output_table(self, j):
        """(dataset URI, table) the job writes; Failure when it cannot."""
        p, d, t = parse_output(j.spec["outputConfig"]["bigqueryDestination"]["outputUri"])
        if d is None:
            # Only a project: a new dataset (the proto's rule for it).
            mid = (j.spec.get("model") or "").rsplit("/", 1)[-1].split("@", 1)[0]
            d = "prediction_%s_%s" % (re.sub(r"[^A-Za-z0-9_]", "_", mid),
                                      stamp(j.create_us))
        else:
            msg = self.region_error(p, d, j.location)
            if msg:
                raise Failure(9, msg)
        if t is None:
            t = "predictions_" + stamp(j.create_us)
        elif self.get_table("%s.%s.%s" % (p, d, t)) is not None:
            raise Failure(9, "Table %s:%s.%s already exists." % (p, d, t))
        return "bq://%s.%s" % (p, d), t

    def write(self, dataset_uri, table, rows):
        with self.lock:
            self.tables["%s.%s" % (dataset_uri[5:], table)] = list(rows)

    def get_table(self, ref):
        with self.lock:
            rows = self.tables.get(ref)
            return None if rows is None else list(rows)

    # --- control: /_emulator/bigquery/... --------------------------------------
    def control(self, method, path, body):
        if path == "datasets" and method == "POST":
            ref, loc = body.get("dataset"), body.get("location")
            if not isinstance(ref, str) or not re.match(
                    r"^%s\.%s$" % (PROJECT, DATASET), ref) or not isinstance(loc, str):
                raise ApiError(400, "want {\"dataset\": \"project.dataset\", "
                                    "\"location\": \"REGION\"}")
            with self.lock:
                self.datasets[ref] = loc
            return {"dataset": ref, "location": loc}
        if path == "tables" and method == "POST":
            ref, rows = body.get("table"), body.get("rows")
            if not isinstance(ref, str) or not INPUT_RE.match("bq://" + ref):
                raise ApiError(400, "want {\"table\": \"project.dataset.table\", "
                                    "\"rows\": N or [row, ...]}")
            if isinstance(rows, int) and not isinstance(rows, bool):
                rows = synthetic_rows(rows, 0)
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise ApiError(400, "rows must be a count or a list of objects")
            with self.lock:
                self.tables[ref] = rows
            return {"table": ref, "rows": len(rows)}
        m = re.match(r"^tables/([^/]+)$", path)
        if m and method == "GET":
            rows = self.get_table(m.group(1))
            if rows is None:
                raise ApiError(404, "no table %s" % m.group(1), "NOT_FOUND")
            return {"table": m.group(1), "rows": rows}
        if path == "" and method == "GET":
            with self.lock:
                return {"datasets": dict(self.datasets),
                        "tables": {k: len(v) for k, v in self.tables.items()}}
        raise ApiError(404, "unknown control route %s bigquery/%s" % (method, path),
                       "NOT_FOUND")
