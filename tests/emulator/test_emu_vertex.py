"""Vertex AI batchPredictionJobs: create/get/list/cancel/delete, errors,
the job lifecycle and the output files."""
import json
import random
import re
import sys
import threading
import time
import urllib.parse

import pytest

from lib.emuhelp import jsonl, rows, spawn, stop

from gcemu import model

JOBS = "/v1/projects/test-project/locations/us-central1/batchPredictionJobs"


def body(**over):
    b = {"displayName": "d", "model": "publishers/google/models/gemini-2.5-flash",
         "inputConfig": {"instancesFormat": "jsonl",
                         "gcsSource": {"uris": ["gs://bkt/in.jsonl"]}},
         "outputConfig": {"predictionsFormat": "jsonl",
                          "gcsDestination": {"outputUriPrefix": "gs://bkt/out"}}}
    b.update(over)
    return b


def setup_input(emu, n=3, name="in.jsonl", bucket="bkt"):
    emu.make_bucket(bucket)
    emu.put_object(bucket, name, jsonl(rows(n)))


def test_create_shape(emu):
    setup_input(emu)
    st, _, j = emu.request("POST", JOBS, body(labels={"client_token": "abc"}))
    assert st == 200
    assert re.match(r"^projects/123456789012/locations/us-central1/"
                    r"batchPredictionJobs/\d{19}$", j["name"])
    assert j["state"] == "JOB_STATE_PENDING"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", j["createTime"])
    assert j["updateTime"] == j["createTime"]
    assert j["labels"] == {"client_token": "abc"}
    for absent in ("completionStats", "error", "startTime", "endTime", "outputInfo"):
        assert absent not in j
    assert j["inputConfig"]["gcsSource"]["uris"] == ["gs://bkt/in.jsonl"]


def test_snake_case_input_and_v1beta1_global(emu):
    setup_input(emu)
    b = {"display_name": "snake", "model": "projects/test-project/locations/global/"
         "publishers/google/models/gemini-2.0-flash-001",
         "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": "gs://bkt/in.jsonl"}},
         "output_config": {"predictions_format": "jsonl",
                           "gcs_destination": {"output_uri_prefix": "gs://bkt/o2/"}}}
    st, _, j = emu.request("POST", "/v1beta1/projects/123456789012/locations/global/"
                           "batchPredictionJobs", b)
    assert st == 200, j
    assert j["displayName"] == "snake"
    assert j["name"].startswith("projects/123456789012/locations/global/")
    assert j["inputConfig"] == {"instancesFormat": "jsonl",
                                "gcsSource": {"uris": ["gs://bkt/in.jsonl"]}}
    st, _, g = emu.request("GET", "/v1beta1/" + j["name"])
    assert st == 200 and g["name"] == j["name"]
    # other location: not found
    jid = j["name"].rsplit("/", 1)[1]
    st, _, e = emu.request("GET", JOBS + "/" + jid)
    assert st == 404 and e["error"]["status"] == "NOT_FOUND"


@pytest.mark.parametrize("mutate,code,status,text", [
    (lambda b: b.update(model="publishers/google/models/gemini-does-not-exist"), 404,
     "NOT_FOUND", "The PublisherModel gemini-does-not-exist does not exist."),
    (lambda b: b.pop("displayName"), 400, "INVALID_ARGUMENT", "display_name"),
    (lambda b: b.pop("inputConfig"), 400, "INVALID_ARGUMENT", "input_config"),
    (lambda b: b.pop("outputConfig"), 400, "INVALID_ARGUMENT", "output_config"),
    (lambda b: b.update(displayNam="x"), 400, "INVALID_ARGUMENT",
     "Invalid JSON payload received. Unknown name \"displayNam\""),
    (lambda b: b["inputConfig"].update(bogus=1), 400, "INVALID_ARGUMENT",
     "Unknown name \"bogus\" at 'batch_prediction_job.input_config'"),
    (lambda b: b.update(model="gemini-2.5-flash"), 400, "INVALID_ARGUMENT", "Model"),
])
def test_create_errors(emu, mutate, code, status, text):
    b = body()
    mutate(b)
    st, _, e = emu.request("POST", JOBS, b)
    assert st == code, e
    assert set(e) == {"error"}
    assert e["error"]["code"] == code and e["error"]["status"] == status
    assert text in e["error"]["message"]
    assert emu.counters()["jobs_created"] == 0


def test_get_unknown_and_bad_ids(emu):
    st, _, e = emu.request("GET", JOBS + "/1234567890123456789")
    assert st == 404 and e["error"]["status"] == "NOT_FOUND"
    st, _, e = emu.request("GET", JOBS + "/abc")
    assert st == 400 and e["error"]["status"] == "INVALID_ARGUMENT"


def test_lifecycle_default_timing(emu):
    setup_input(emu, 3)
    t0 = time.time()
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    seen = set()
    while True:
        g = emu.get_job(j["name"])
        seen.add(g["state"])
        if g["state"] == "JOB_STATE_SUCCEEDED":
            break
        assert time.time() - t0 < 5, g
        time.sleep(0.02)
    assert {"JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING"} <= seen
    assert time.time() - t0 < 3.5
    assert g["completionStats"] == {"successfulCount": "3"}
    assert g["outputInfo"]["gcsOutputDirectory"] == \
        "gs://bkt/out/prediction-model-" + g["createTime"]
    assert g["startTime"] <= g["endTime"] and "error" not in g


def test_output_rows_predictable(fast):
    emu = fast
    emu.make_bucket("bkt")
    inp = rows(6) + [
        {"custom_id": "bad", "request": {"contents": [
            {"role": "tester", "parts": [{"text": "Explain how AI works"}]}]}},
        {"key": "media", "request": {"contents": [{"role": "user", "parts": [
            {"text": "What is this?"},
            {"fileData": {"fileUri": "gs://x/a.mp4", "mimeType": "video/mp4"}}]}],
            "generationConfig": {"temperature": 0.9, "maxOutputTokens": 3}}}]
    emu.put_object("bkt", "in.jsonl", jsonl(inp))
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out/")
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_SUCCEEDED"
    assert g["completionStats"] == {"successfulCount": "7", "failedCount": "1"}
    out = emu.job_output(g)
    assert len(out) == len(inp)
    ids = [r.get("key") or r.get("custom_id") for r in out]
    assert sorted(ids) == sorted(r.get("key") or r.get("custom_id") for r in inp)
    assert ids != [r.get("key") or r.get("custom_id") for r in inp]  # shuffled
    for r in out:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$", r["processed_time"])
        src = next(i for i in inp if (i.get("key") or i.get("custom_id")) ==
                   (r.get("key") or r.get("custom_id")))
        status, resp = model.predict(src["request"], "gemini-2.5-flash")
        assert r["status"] == status
        if resp is None:
            assert "response" not in r
            assert status == ('Bad Request: {"error": {"code": 400, "message": '
                              '"Please use a valid role: user, model.", '
                              '"status": "INVALID_ARGUMENT"}}')
        else:
            assert r["response"] == resp
            assert resp["modelVersion"] == "gemini-2.5-flash-001@default"
    media = next(r for r in out if r.get("key") == "media")
    parts = media["request"]["contents"][0]["parts"]
    assert parts[0]["fileData"] is None and parts[1]["text"] is None
    assert media["response"]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    # the same job input gives the same order again (deterministic per job id)
    assert list(media["request"]) == sorted(media["request"])


def test_missing_input_fails_async(fast):
    emu = fast
    emu.make_bucket("bkt")
    j = emu.create_job("gs://bkt/nothing.jsonl", "gs://bkt/out")
    assert j["state"] == "JOB_STATE_PENDING"
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_FAILED" and g["error"]["code"] == 9
    j = emu.create_job("gs://no-such-bucket/x.jsonl", "gs://bkt/out")
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_FAILED" and g["error"]["code"] == 9
    assert "no-such-bucket" in g["error"]["message"]


def test_malformed_input_fails_code_3(fast):
    emu = fast
    emu.make_bucket("bkt")
    emu.put_object("bkt", "bad.jsonl", b'{"request": {"contents": []}}\nnot json\n')
    g = emu.wait_job(emu.create_job("gs://bkt/bad.jsonl", "gs://bkt/out")["name"])
    assert g["state"] == "JOB_STATE_FAILED" and g["error"]["code"] == 3
    assert g["error"]["message"].startswith("Failed to import data.")


def test_wildcard_input(fast):
    emu = fast
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in/a.jsonl", jsonl(rows(2, "a")))
    emu.put_object("bkt", "in/b.jsonl", jsonl(rows(3, "b")))
    g = emu.wait_job(emu.create_job("gs://bkt/in/*.jsonl", "gs://bkt/out")["name"])
    assert g["completionStats"] == {"successfulCount": "5"}


def test_incremental_export_grows(emu):
    setup_input(emu, 12)
    # 3 s of rows, an export every 0.25 s: a loaded machine (parallel
    # tests) still sees several generations while the job runs.
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0.25, export_interval=0.25)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    gens, sizes, stats = [], [], []
    deadline = time.time() + 20
    while time.time() < deadline:
        g = emu.get_job(j["name"])
        if g["state"] == "JOB_STATE_RUNNING":
            stats.append(int(g.get("completionStats", {}).get("successfulCount", "0")))
            d = g["outputInfo"]["gcsOutputDirectory"][len("gs://bkt/"):]
            st, _, m = emu.request("GET", "/storage/v1/b/bkt/o/" + urllib.parse.quote(
                d + "/incremental_predictions/predictions.jsonl", safe=""))
            if st == 200 and (not gens or gens[-1] != m["generation"]):
                gens.append(m["generation"])
                data = emu.request("GET", "/storage/v1/b/bkt/o/%s?alt=media&generation=%s" % (
                    urllib.parse.quote(m["name"], safe=""), m["generation"]), raw=True)[2]
                sizes.append(data)
        if g["state"] == "JOB_STATE_SUCCEEDED":
            break
        time.sleep(0.03)
    assert g["state"] == "JOB_STATE_SUCCEEDED"
    assert len(gens) >= 2, gens
    for a, b in zip(sizes, sizes[1:]):
        assert b.startswith(a) and len(b) > len(a)  # append-only growth
    assert stats == sorted(stats) and stats[-1] > stats[0]
    final = emu.job_output(g)
    assert len(final) == 12


def test_cancel_keeps_rows(emu):
    setup_input(emu, 40)
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0.05, export_interval=0.1)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    deadline = time.time() + 10
    while True:
        g = emu.get_job(j["name"])
        if int(g.get("completionStats", {}).get("successfulCount", "0")) >= 5:
            break
        assert time.time() < deadline
        time.sleep(0.02)
    st, _, r = emu.request("POST", j["name"].join(["/v1/", ":cancel"]), {})
    assert st == 200 and r == {}
    g = emu.get_job(j["name"])
    assert g["state"] in ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED")
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_CANCELLED"
    assert g["error"] == {"code": 1, "message": "CANCELED"}
    out = emu.job_output(g)
    done = int(g["completionStats"]["successfulCount"])
    assert 5 <= len(out) == done < 40
    assert int(g["completionStats"]["incompleteCount"]) == 40 - done
    # cancel of a terminal job
    st, _, e = emu.request("POST", j["name"].join(["/v1/", ":cancel"]), {})
    assert st == 400 and e["error"]["status"] == "FAILED_PRECONDITION"


def test_cancel_pending(emu):
    setup_input(emu)
    emu.config(pending_seconds=30)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    st, _, r = emu.request("POST", "/v1/" + j["name"] + ":cancel", {})
    assert st == 200
    g = emu.wait_job(j["name"])
    assert g["state"] == "JOB_STATE_CANCELLED" and "completionStats" not in g


def test_delete(fast):
    emu = fast
    setup_input(emu)
    emu.config(time_scale=1, pending_seconds=30)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    st, _, e = emu.request("DELETE", "/v1/" + j["name"], {})
    assert st == 400 and e["error"]["status"] == "FAILED_PRECONDITION"
    emu.finish_job(j["name"], "JOB_STATE_FAILED", code=13, message="boom")
    st, _, op = emu.request("DELETE", "/v1/" + j["name"], {})
    assert st == 200, op
    assert op["done"] is True
    assert re.match(r"^projects/123456789012/locations/us-central1/operations/\d+$", op["name"])
    assert op["metadata"]["@type"] == \
        "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata"
    assert op["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert "createTime" in op["metadata"]["genericMetadata"]
    st, _, e = emu.request("GET", "/v1/" + j["name"])
    assert st == 404
    st, _, o = emu.request("GET", "/v1/" + op["name"])
    assert st == 200 and o == op


@pytest.mark.parametrize("state,code", [("JOB_STATE_FAILED", 7), ("JOB_STATE_EXPIRED", None),
                                        ("JOB_STATE_PARTIALLY_SUCCEEDED", None),
                                        ("JOB_STATE_SUCCEEDED", None)])
def test_control_finish(emu, state, code):
    setup_input(emu, 4)
    emu.config(pending_seconds=30)
    j = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    kw = {"code": code, "message": "nope"} if code else {}
    emu.finish_job(j["name"], state, **kw)
    g = emu.get_job(j["name"])
    assert g["state"] == state and "endTime" in g
    if state == "JOB_STATE_FAILED":
        assert g["error"] == {"code": 7, "message": "nope"}
    if state == "JOB_STATE_SUCCEEDED":
        assert len(emu.job_output(g)) == 4
    if state == "JOB_STATE_PARTIALLY_SUCCEEDED":
        assert len(emu.job_output(g)) == 2
        assert g["completionStats"] == {"successfulCount": "2", "incompleteCount": "2"}


def test_list_paging_filter_readmask(fast):
    emu = fast
    setup_input(emu, 1)
    emu.config(time_scale=1, pending_seconds=60)
    made = []
    for i in range(7):
        made.append(emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out",
                                   display_name="job-%d" % i,
                                   labels={"team": "a" if i % 2 else "b"}))
    names, tok, pages = [], None, 0
    while True:
        qs = {"pageSize": "3"}
        if tok:
            qs["pageToken"] = tok
        st, _, r = emu.request("GET", JOBS + "?" + urllib.parse.urlencode(qs))
        assert st == 200
        names += [x["name"] for x in r.get("batchPredictionJobs", [])]
        pages += 1
        tok = r.get("nextPageToken")
        if not tok:
            break
    assert pages == 3
    assert names == [m["name"] for m in reversed(made)]  # newest first

    def flt(f):
        st, _, r = emu.request("GET", JOBS + "?" + urllib.parse.urlencode({"filter": f}))
        assert st == 200, r
        return sorted(x["displayName"] for x in r.get("batchPredictionJobs", []))
    assert flt('display_name="job-3"') == ["job-3"]
    assert flt('display_name:"job-*"') == ["job-%d" % i for i in range(7)]
    assert flt('labels.team=a') == ["job-1", "job-3", "job-5"]
    assert flt('labels.team="b" AND NOT display_name="job-0"') == ["job-2", "job-4", "job-6"]
    assert flt('display_name="job-1" OR display_name="job-2"') == ["job-1", "job-2"]
    assert flt('state="JOB_STATE_PENDING"') == ["job-%d" % i for i in range(7)]
    assert flt('state!="JOB_STATE_PENDING"') == []
    ct = made[3]["createTime"]
    assert flt('create_time>"%s"' % ct) == ["job-4", "job-5", "job-6"]
    assert flt('create_time<=%s' % ct) == ["job-0", "job-1", "job-2", "job-3"]
    st, _, e = emu.request("GET", JOBS + "?filter=" + urllib.parse.quote("bogus_field=1"))
    assert st == 400 and e["error"]["status"] == "INVALID_ARGUMENT"
    st, _, r = emu.request("GET", JOBS + "?readMask=name,state&pageSize=2")
    assert all(set(x) == {"name", "state"} for x in r["batchPredictionJobs"])
    st, _, r = emu.request("GET", JOBS + "?fields=batchPredictionJobs(name)&pageSize=1")
    assert set(r) == {"batchPredictionJobs"}
    st, _, r = emu.request("GET", JOBS + "?filter=" + urllib.parse.quote('display_name="zz"'))
    assert r == {}


def test_bulk_and_fast_list(emu):
    t0 = time.time()
    r = emu.control("POST", "jobs:bulk", {"count": 10000, "display_name_prefix": "bulk-",
                                          "state": "JOB_STATE_SUCCEEDED"})
    assert r["count"] == 10000
    total, tok, t1 = 0, None, time.time()
    while True:
        qs = {"pageSize": "1000"}
        if tok:
            qs["pageToken"] = tok
        st, _, r = emu.request("GET", JOBS + "?" + urllib.parse.urlencode(qs))
        total += len(r["batchPredictionJobs"])
        tok = r.get("nextPageToken")
        if not tok:
            break
    assert total == 10000
    assert time.time() - t1 < 10
    st, _, r = emu.request("GET", JOBS + "?" + urllib.parse.urlencode(
        {"filter": 'display_name="bulk-77"'}))
    assert [x["displayName"] for x in r["batchPredictionJobs"]] == ["bulk-77"]
    assert r["batchPredictionJobs"][0]["state"] == "JOB_STATE_SUCCEEDED"


def test_counters_jobs_created(fast):
    emu = fast
    setup_input(emu)
    emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    c = emu.counters()
    assert c["jobs_created"] == 1 and c["routes"]["vertex.create"] == 1


def test_gcs_endpoint_elsewhere(tmp_path):
    """The job runner reaches GCS only over HTTP through --gcs-endpoint."""
    from lib.emulator import Emulator
    gproc, gurl = spawn(tmp_path / "gcs")
    vproc, vurl = spawn(tmp_path / "vertex", "--gcs-endpoint", gurl, "--time-scale", "0")
    try:
        g = Emulator(gproc, gurl, str(tmp_path / "gcs"))
        v = Emulator(vproc, vurl, str(tmp_path / "vertex"))
        g.make_bucket("bkt")
        g.put_object("bkt", "in.jsonl", jsonl(rows(2)))
        j = v.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
        done = v.wait_job(j["name"])
        assert done["state"] == "JOB_STATE_SUCCEEDED", done
        assert len(g.job_output(done)) == 2
        st, _, _ = v.request("GET", "/storage/v1/b/bkt")
        assert st == 404  # nothing was written into the Vertex emulator's own GCS
    finally:
        stop(vproc)
        stop(gproc)


def test_runner_traffic_not_in_route_counters(fast):
    emu = fast
    setup_input(emu, 2)
    before = emu.counters()["routes"]
    g = emu.wait_job(emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")["name"])
    assert g["state"] == "JOB_STATE_SUCCEEDED"
    after = emu.counters()["routes"]
    assert after.get("gcs.media", 0) == before.get("gcs.media", 0)
    assert after.get("gcs.upload", 0) == before.get("gcs.upload", 0)
    assert after["internal.gcs.upload"] >= 1


def test_runner_status_and_reset(emu):
    """GET /_emulator/runner says what the job runner does; a reset takes
    the active jobs off it and it runs on. (That a job of the snapshot a
    reset cut short is not stepped again is not observable from here.)"""
    setup_input(emu, 2)
    emu.config(pending_seconds=3600)
    job = emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")
    jid = job["name"].rsplit("/", 1)[-1]
    st = emu.control("GET", "runner")
    assert st["active"] == {jid: "JOB_STATE_PENDING"}, st
    assert st["loop_age_s"] < 5 and st["commands"] == 0, st
    assert st["stack"], st
    emu.reset()
    assert emu.control("GET", "runner")["active"] == {}
    # The runner still runs: a job made now ends.
    emu.config(time_scale=0)
    setup_input(emu, 2)
    done = emu.wait_job(emu.create_job("gs://bkt/in.jsonl", "gs://bkt/out")["name"])
    assert done["state"] == "JOB_STATE_SUCCEEDED", done



def test_a_view_built_before_a_change_is_not_kept(monkeypatch):
    """A job's JSON view is cached until the next change. A reader that
    built it from the old state must not cache it after the runner's
    change: a finished job is changed no more, so that stale view stayed
    for good (CI ci17, ci20: a BigQuery job read PENDING for 60 s while the
    runner had ended it). Deterministic: the reader is held in the middle
    of building the view (in Job.cfg()) while the runner's change runs."""
    from gcemu import vertex

    class HeldApp:
        project_number = "1"
        entered = threading.Event()
        go = threading.Event()

        @property
        def cfg(self):
            self.entered.set()
            assert self.go.wait(10)
            return {}

    class Plain:
        project_number = "1"
        cfg = {}

    v = vertex.Vertex.__new__(vertex.Vertex)
    v.app = Plain()
    v.lock = threading.RLock()
    v.jobs = {}
    v.rng = random.Random(1)
    j = v.new_job("us-central1", {"displayName": "x", "model": "m"})
    held = HeldApp()
    monkeypatch.setattr(vertex.Job, "app", held)
    seen = {}
    reader = threading.Thread(target=lambda: seen.update(v=j.to_json()))
    reader.start()
    assert held.entered.wait(10)

    def change():  # what the runner does: the state, then touch()
        with j.lock:
            j.state = "JOB_STATE_SUCCEEDED"
            j.touch()

    runner = threading.Thread(target=change)
    runner.start()
    runner.join(0.3)  # with the fix it waits for the reader's lock
    held.go.set()
    reader.join(10)
    runner.join(10)
    assert seen["v"]["state"] == "JOB_STATE_PENDING"  # read before the change
    monkeypatch.setattr(vertex.Job, "app", Plain())
    assert j.to_json()["state"] == "JOB_STATE_SUCCEEDED"
    assert j.filter_view()["state"] == "JOB_STATE_SUCCEEDED"
