"""The job runner: one background thread advancing every active batch job
through PENDING -> QUEUED -> RUNNING -> SUCCEEDED (or CANCELLING ->
CANCELLED), reading input and writing output through the GCS client (or
the in-memory BigQuery tables), with continuous exports while RUNNING. Only active jobs are visited,
so thousands of finished jobs cost nothing. Control-API finishes run on this
thread too (queued commands), so a job is only ever mutated here or under
its lock for a state flip.
"""
import fnmatch
import json
import math
import os
import queue
import random
import sys
import threading
import time
import traceback

from . import bigquery, model
from .gcsclient import GcsClient, GcsError, split_gs
from .util import ApiError, now_us, processed_time, rfc3339
from .vertex import TERMINAL

CANCEL_SECONDS = 0.3
FINISH_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_EXPIRED",
                 "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_CANCELLED"}


class JobFailure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def gcs_output_dir(j):
    prefix = j.spec["outputConfig"]["gcsDestination"]["outputUriPrefix"]
    return prefix.rstrip("/") + "/prediction-model-" + rfc3339(j.create_us)


class Runtime:
    """Per-job execution state (not part of the API view)."""

    def __init__(self):
        self.phase_t = time.monotonic()
        self.lines = None      # parsed input lines
        self.order = None      # processing order (a deterministic shuffle)
        self.done = 0
        self.out_path = None
        self.exported = 0
        self.last_export = 0.0
        self.run_t = None
        self.cancel_t = None
        self.retype = None     # members the importer typed as numbers
        self.parts = []        # partial files written ("beside" mode)
        self.part_done = 0     # rows in those files


class Runner:
    def __init__(self, app, work_dir):
        self.app = app
        self.work_dir = work_dir
        os.makedirs(work_dir, exist_ok=True)
        self.active = {}
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.commands = queue.Queue()
        self.gcs = None
        self.gcs_ep = None
        self.thread = threading.Thread(target=self.loop, name="runner", daemon=True)
        self.loop_t = time.monotonic()  # the loop's last turn
        self.stepping = None            # (job id, since) while stepping one

    def start(self):
        self.thread.start()

    def client(self):
        ep = self.app.cfg.get("gcs_endpoint") or self.app.base_url
        if self.gcs is None or self.gcs_ep != ep:
            self.gcs = GcsClient(ep, self.app.client_ssl)
            self.gcs_ep = ep
        return self.gcs

    def add(self, job):
        job.rt = Runtime()
        with self.cond:
            self.active[job.id] = job
            self.cond.notify()

    def forget(self, job):
        with self.cond:
            self.active.pop(job.id, None)
        self.cleanup(job)

    def poke(self):
        with self.cond:
            self.cond.notify()

    def reset(self):
        """Drops all jobs; runs on the runner thread to avoid races."""
        self.call(self._reset)

    def _reset(self):
        with self.cond:
            jobs = list(self.active.values())
            self.active = {}
        for j in jobs:
            self.cleanup(j)

    def call(self, fn, *args, timeout=120):
        """Runs fn on the runner thread and returns its result."""
        if threading.current_thread() is self.thread:
            return fn(*args)
        box = {}
        ev = threading.Event()
        self.commands.put((fn, args, box, ev))
        self.poke()
        if not ev.wait(timeout):
            raise ApiError(504, "job runner busy", "DEADLINE_EXCEEDED")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    def cleanup(self, job):
        rt = job.rt
        if rt and rt.out_path:
            try:
                os.unlink(rt.out_path)
            except OSError:
                pass

    # --- timing -------------------------------------------------------------
    def secs(self, key):
        cfg = self.app.cfg
        return max(0.0, float(cfg[key]) * float(cfg["time_scale"]))

    # --- the loop -----------------------------------------------------------
    def loop(self):
        while True:
            with self.cond:
                if not self.active and self.commands.empty():
                    self.cond.wait(0.5)
                else:
                    self.cond.wait(self.tick())
                jobs = list(self.active.values())
            self.loop_t = time.monotonic()
            ran = False
            while not self.commands.empty():
                fn, args, box, ev = self.commands.get()
                try:
                    box["result"] = fn(*args)
                except Exception as e:  # delivered to the caller
                    box["error"] = e
                ev.set()
                ran = True
            if ran:
                # A command may have reset or forgotten jobs of the
                # snapshot: those are not stepped again.
                with self.cond:
                    jobs = [j for j in jobs if self.active.get(j.id) is j]
            for j in jobs:
                self.stepping = (j.id, time.monotonic())
                try:
                    self.step(j)
                except Exception as e:
                    traceback.print_exc()
                    self.fail(j, 13, "System error. Please try this operation "
                                     "again. (emulator: %r)" % e)
            self.stepping = None

    def status(self):
        """What the runner is doing (GET /_emulator/runner), for tests that
        wait on a job: the age of its last turn, the job it is stepping and
        for how long, the active jobs and the runner thread's stack."""
        now = time.monotonic()
        st = self.stepping
        with self.cond:
            active = {i: j.state for i, j in self.active.items()}
        frame = sys._current_frames().get(self.thread.ident)
        return {"loop_age_s": round(now - self.loop_t, 3),
                "stepping": st and {"job": st[0], "for_s": round(now - st[1], 3)},
                "active": active, "commands": self.commands.qsize(),
                "stack": traceback.format_stack(frame)[-8:] if frame else []}

    def tick(self):
        ts = float(self.app.cfg["time_scale"])
        if ts == 0:
            return 0.002
        return min(0.05, max(0.002, self.secs("row_seconds") / 2 or 0.01))

    def set_state(self, j, state):
        with j.lock:
            j.state = state
            j.touch()

    def step(self, j):
        rt = j.rt
        now = time.monotonic()
        st = j.state
        if st in TERMINAL:
            self.done_with(j)
            return
        if st == "JOB_STATE_CANCELLING":
            if rt.cancel_t is None:
                rt.cancel_t = now
            if now - rt.cancel_t >= self.secs_cancel():
                self.finish_cancel(j)
            return
        if st == "JOB_STATE_PENDING":
            if now - rt.phase_t >= self.secs("pending_seconds"):
                rt.phase_t = now
                self.set_state(j, "JOB_STATE_QUEUED")
                st = j.state
            else:
                return
        if st == "JOB_STATE_QUEUED":
            if now - rt.phase_t >= self.secs("queued_seconds"):
                try:
                    self.start_job(j)
                except JobFailure as f:
                    self.fail(j, f.code, f.message)
                    return
            else:
                return
        if j.state == "JOB_STATE_RUNNING":
            self.run(j)

    def secs_cancel(self):
        return CANCEL_SECONDS * float(self.app.cfg["time_scale"])

    def done_with(self, j):
        with self.cond:
            self.active.pop(j.id, None)
        self.cleanup(j)
        if j.rt is not None:
            j.rt.lines = j.rt.order = None  # free the input of finished jobs
            j.rt.out_path = None

    # --- phases -------------------------------------------------------------
    def start_job(self, j):
        """QUEUED -> RUNNING: checks buckets, imports the input."""
        rt = j.rt
        self.load_input(j)
        bq_out = None
        if "bigqueryDestination" in j.spec["outputConfig"]:
            try:
                bq_out = self.app.bigquery.output_table(j)
            except bigquery.Failure as f:
                raise JobFailure(f.code, f.message)
        with j.lock:
            if j.state != "JOB_STATE_QUEUED":
                return
            if bq_out:
                j.bq_out = bq_out
            else:
                j.output_dir = gcs_output_dir(j)
            j.start_us = now_us()
            j.state = "JOB_STATE_RUNNING"
            j.touch()
        rt.run_t = time.monotonic()
        rt.last_export = rt.run_t

    def load_input(self, j):
        rt = j.rt
        if rt.lines is not None:
            return
        gcs = self.client()
        ic, oc = j.spec["inputConfig"], j.spec["outputConfig"]
        uris = ic["gcsSource"]["uris"] if "gcsSource" in ic else []
        buckets = {split_gs(u)[0] for u in uris}
        if "gcsDestination" in oc:
            buckets.add(split_gs(oc["gcsDestination"]["outputUriPrefix"])[0])
        try:
            for b in sorted(buckets):
                if not gcs.bucket_exists(b):
                    raise JobFailure(9, "Failed to get GCS bucket location for %s. "
                                        "Please check that the bucket exists and "
                                        "permissions are set correctly." % b)
            blobs = []
            for u in uris:
                bucket, name = split_gs(u)
                if any(c in name for c in "*?["):
                    cut = min(name.find(c) for c in "*?[" if c in name)
                    names = [n for n in gcs.list(bucket, name[:cut])
                             if fnmatch.fnmatchcase(n, name)]
                    if not names:
                        raise JobFailure(9, "Failed to import data. No files match "
                                            "the input URI %s." % u)
                else:
                    names = [name]
                for n in names:
                    data = gcs.read(bucket, n)
                    if data is None:
                        raise JobFailure(9, "Failed to import data. The input file "
                                            "gs://%s/%s does not exist or is not "
                                            "readable." % (bucket, n))
                    blobs.append(data)
        except GcsError as e:
            raise JobFailure(13, "Failed to import data. Cloud Storage error: %s" % e)
        except OSError as e:
            raise JobFailure(13, "Failed to import data. Cannot reach Cloud "
                                 "Storage: %s" % e)
        lines = []
        if "bigquerySource" in ic:
            try:
                lines = self.app.bigquery.input_rows(j)
            except bigquery.Failure as f:
                raise JobFailure(f.code, f.message)
        for data in blobs:
            for no, raw in enumerate(data.split(b"\n"), 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as e:
                    raise JobFailure(3, "Failed to import data. Please check 'Prepare "
                                        "input' section of the batch predictions "
                                        "documentation. Error: invalid JSON on line "
                                        "%d: %s" % (no, e))
                if not isinstance(obj, dict) or not isinstance(obj.get("request"), dict):
                    raise JobFailure(3, "Failed to import data. Please check 'Prepare "
                                        "input' section of the batch predictions "
                                        "documentation. Error: line %d has no "
                                        "\"request\" object." % no)
                lines.append(obj)
        if self.app.cfg.get("retype_keys"):
            retyped, conflict = model.column_types(lines)
            if conflict is not None:
                raise JobFailure(3, "Failed to import data. Please check 'Prepare "
                                    "input' section of the batch predictions "
                                    "documentation. Error: field %r has "
                                    "incompatible types across lines (a number "
                                    "on one, a string on another)." % conflict)
            rt.retype = retyped
        order = list(range(len(lines)))
        random.Random(int(j.id)).shuffle(order)
        rt.lines = lines
        rt.order = order
        rt.out_path = os.path.join(self.work_dir, "%s.jsonl" % j.id)
        open(rt.out_path, "wb").close()
        with j.lock:
            j.total = len(lines)
            j.touch()

    def process(self, j, upto):
        """Predicts rows until `upto` rows are done."""
        rt = j.rt
        upto = min(upto, len(rt.lines))
        if upto <= rt.done:
            return
        mdl = j.spec.get("model") or model.DEFAULT_MODEL
        cfg = self.app.cfg
        ok = failed = 0
        with open(rt.out_path, "ab") as f:
            buf = []
            for k in range(rt.done, upto):
                line = rt.lines[rt.order[k]]
                row = model.output_row(
                    line, mdl, processed_time(now_us()),
                    echo_keys=cfg.get("echo_keys", True), retype=rt.retype,
                    empty_failed=cfg.get("failed_response_empty", False))
                if row["status"]:
                    failed += 1
                else:
                    ok += 1
                buf.append(json.dumps(row, ensure_ascii=False))
                buf.append("\n")
            f.write("".join(buf).encode())
        rt.done = upto
        with j.lock:
            j.ok += ok
            j.failed += failed
            j.touch()

    def run(self, j):
        rt = j.rt
        now = time.monotonic()
        n = len(rt.lines)
        row_s = self.secs("row_seconds")
        target = n if row_s <= 0 else int((now - rt.run_t) / row_s)
        self.process(j, target)
        if rt.done >= n:
            self.complete(j, "JOB_STATE_SUCCEEDED")
            return
        if rt.done > rt.exported and now - rt.last_export >= self.secs("export_interval"):
            self.export_incremental(j)
            rt.last_export = now

    def export_bq(self, j):
        """The rows done so far are the output table (BigQuery output
        grows in place)."""
        rt = j.rt
        with open(rt.out_path, "rb") as f:
            rows = [json.loads(l) for l in f.read().splitlines() if l.strip()]
        self.app.bigquery.write(j.bq_out[0], j.bq_out[1], rows)
        rt.exported = rt.done

    def export_incremental(self, j):
        rt = j.rt
        if j.bq_out:
            self.export_bq(j)
            return
        bucket, prefix = split_gs(j.output_dir)
        try:
            if self.app.cfg.get("partials") == "beside":
                # A new file beside predictions.jsonl with the rows since
                # the last one (the real names of partial files are unknown).
                name = "%s/predictions-partial-%05d.jsonl" % (prefix, len(rt.parts) + 1)
                with open(rt.out_path, "rb") as f:
                    f.seek(rt.part_done)
                    data = f.read()
                self.client().upload(bucket, name, data, "application/jsonl")
                rt.parts.append(name)
                rt.part_done += len(data)
            else:
                self.client().upload_file(
                    bucket, prefix + "/incremental_predictions/predictions.jsonl",
                    rt.out_path, "application/jsonl")
        except (GcsError, OSError) as e:
            raise JobFailure(13, "Failed to export data. %s" % e)
        rt.exported = rt.done

    def drop_some_parts(self, j):
        """After the final file: every other partial file is deleted, the
        rest stay beside predictions.jsonl."""
        rt = j.rt
        bucket, _ = split_gs(j.output_dir)
        for name in rt.parts[::2]:
            try:
                self.client().delete(bucket, name)
            except (GcsError, OSError):
                pass
        rt.parts = []

    def write_final(self, j):
        rt = j.rt
        if rt is not None and rt.out_path is not None and j.bq_out:
            self.export_bq(j)
            return
        if rt is None or rt.out_path is None or j.output_dir is None:
            return
        if rt.exported and rt.done > rt.exported:
            self.export_incremental(j)
        bucket, prefix = split_gs(j.output_dir)
        try:
            self.client().upload_file(bucket, prefix + "/predictions.jsonl",
                                      rt.out_path, "application/jsonl")
        except (GcsError, OSError) as e:
            raise JobFailure(13, "Failed to export data. %s" % e)
        if rt.parts:
            self.drop_some_parts(j)

    def complete(self, j, state, error=None):
        try:
            self.write_final(j)
        except JobFailure as f:
            self.fail(j, f.code, f.message)
            return
        with j.lock:
            j.state = state
            j.error = error
            j.end_us = now_us()
            j.touch()
        self.done_with(j)

    def fail(self, j, code, message):
        with j.lock:
            j.state = "JOB_STATE_FAILED"
            j.error = {"code": code, "message": message}
            j.end_us = now_us()
            if j.output_dir is None and "gcsDestination" in j.spec["outputConfig"]:
                j.output_dir = gcs_output_dir(j)
            j.touch()
        self.done_with(j)

    def finish_cancel(self, j):
        rt = j.rt
        if rt.lines is not None and rt.done:
            try:
                self.write_final(j)
            except JobFailure:
                pass
        with j.lock:
            j.state = "JOB_STATE_CANCELLED"
            j.error = {"code": 1, "message": "CANCELED"}
            j.end_us = now_us()
            j.touch()
        self.done_with(j)

    # --- control: finish now ------------------------------------------------
    def finish_now(self, j, body):
        state = body.get("state", "JOB_STATE_SUCCEEDED")
        if state not in FINISH_STATES:
            raise ApiError(400, "state must be one of %s" % ", ".join(sorted(FINISH_STATES)))
        return self.call(self._finish_now, j, state, body)

    def _finish_now(self, j, state, body):
        if j.state in TERMINAL:
            raise ApiError(400, "job is already in %s" % j.state, "FAILED_PRECONDITION")
        if j.rt is None:
            j.rt = Runtime()
        rt = j.rt
        if state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
            if j.output_dir is None and j.bq_out is None:
                try:
                    j.state = "JOB_STATE_QUEUED"
                    self.start_job(j)
                except JobFailure as f:
                    self.fail(j, f.code, f.message)
                    return j.to_json()
            n = len(rt.lines)
            self.process(j, n if state == "JOB_STATE_SUCCEEDED" else
                         max(rt.done, int(math.ceil(n / 2.0)) if n > 1 else 0))
            err = None
            if body.get("code") is not None and state != "JOB_STATE_SUCCEEDED":
                err = {"code": int(body["code"]),
                       "message": body.get("message", "Some results may be missing.")}
            self.complete(j, state, err)
            return j.to_json()
        if state == "JOB_STATE_CANCELLED":
            self.finish_cancel(j)
            return j.to_json()
        if state == "JOB_STATE_FAILED":
            self.fail(j, int(body.get("code", 13)),
                      body.get("message", "System error. Please try this operation "
                                          "again."))
            return j.to_json()
        # EXPIRED: never ran (or stopped); no output beyond what was exported.
        with j.lock:
            j.state = state
            if body.get("code") is not None:
                j.error = {"code": int(body["code"]), "message": body.get("message", "")}
            j.end_us = now_us()
            j.touch()
        self.done_with(j)
        return j.to_json()
