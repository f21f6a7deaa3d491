"""The unknowns: each behaviour Google does not document, played both ways
(/_emulator/config keys, all at once with --pessimistic or
{"pessimistic": true}). The default (kind) side is covered by the other
emulator tests; these check the unkind side of each."""
import json
import time
import urllib.parse

from lib.emuhelp import jsonl, rows, spawn, stop

JOBS = "/v1/projects/test-project/locations/us-central1/batchPredictionJobs"


def body(uri="gs://bkt/in.jsonl", **over):
    b = {"displayName": "d", "model": "publishers/google/models/gemini-2.5-flash",
         "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": [uri]}},
         "outputConfig": {"predictionsFormat": "jsonl",
                          "gcsDestination": {"outputUriPrefix": "gs://bkt/out"}}}
    b.update(over)
    return b


def run(emu, lines, **cfg):
    emu.config(time_scale=0, **cfg)
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(lines))
    st, _, j = emu.request("POST", JOBS, body())
    assert st == 200, j
    return emu.wait_job(j["name"])


def test_pessimistic_sets_every_unknown(emu):
    cfg = emu.config(pessimistic=True)
    assert cfg["echo_keys"] is False and cfg["retype_keys"] is True
    assert cfg["running_stats"] == "absent" and cfg["delete_seconds"] > 0
    assert cfg["failed_response_empty"] and cfg["strict_filter"]
    assert cfg["partials"] == "beside" and cfg["end_time_some_states"]
    assert cfg["token_reply_strings"] and cfg["bq_region_check"] == "run"
    cfg = emu.config(pessimistic=False)
    assert cfg["echo_keys"] is True and cfg["strict_filter"] is False
    assert cfg["bq_region_check"] == "create"


def test_pessimistic_command_line_option(tmp_path):
    proc, url = spawn(tmp_path, "--pessimistic")
    try:
        import urllib.request
        with urllib.request.urlopen(url + "/_emulator/config") as r:
            cfg = json.loads(r.read())
        assert cfg["strict_filter"] is True and cfg["echo_keys"] is False
    finally:
        stop(proc)


def test_rows_without_keys(emu):
    job = run(emu, [{"key": "k1", "custom_id": "c", "request": {
        "contents": [{"role": "user", "parts": [{"text": "a"}]}]}}], echo_keys=False)
    (row,) = emu.job_output(job)
    assert set(row) == {"status", "processed_time", "request", "response"}


def test_numeric_keys_come_back_as_numbers(emu):
    lines = [dict(r, key=k) for r, k in zip(rows(2), ["000000", "17"])]
    job = run(emu, lines, retype_keys=True)
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert sorted(r["key"] for r in emu.job_output(job)) == [0, 17]


def test_mixed_key_types_fail_the_import(emu):
    lines = [dict(r, key=k) for r, k in zip(rows(2), ["a", 7])]
    job = run(emu, lines, retype_keys=True)
    assert job["state"] == "JOB_STATE_FAILED" and job["error"]["code"] == 3
    # non-numeric strings and numeric-looking ones: a string column, kept
    lines = [dict(r, key=k) for r, k in zip(rows(2), ["a", "7"])]
    job = run(emu, lines, retype_keys=True)
    assert sorted(r["key"] for r in emu.job_output(job)) == ["7", "a"]


def test_failed_rows_carry_an_empty_response(emu):
    bad = {"key": "b", "request": {"contents": [{"role": "tester", "parts": [
        {"text": "x"}]}]}}
    job = run(emu, [bad], failed_response_empty=True)
    (row,) = emu.job_output(job)
    assert row["status"] and row["response"] == {}


def wait_running(emu, name):
    deadline = time.time() + 20
    while True:
        j = emu.get_job(name)
        if j["state"] == "JOB_STATE_RUNNING":
            return j
        assert time.time() < deadline, j
        time.sleep(0.02)


def test_running_stats_absent_or_unknown(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(rows(50)))
    for mode in ("absent", "unknown"):
        emu.config(running_stats=mode, pending_seconds=0, queued_seconds=0,
                   row_seconds=0.05, export_interval=0.1)
        st, _, j = emu.request("POST", JOBS, body())
        wait_running(emu, j["name"])
        time.sleep(0.3)
        j = emu.get_job(j["name"])
        if mode == "absent":
            assert "completionStats" not in j
        else:
            assert j["completionStats"]["incompleteCount"] == "-1"
        emu.finish_job(j["name"])
        j = emu.get_job(j["name"])
        assert j["completionStats"]["successfulCount"] == "50"


def test_delete_operation_finishes_later(emu):
    job = run(emu, rows(1), delete_seconds=0.5)
    st, _, op = emu.request("DELETE", "/v1/" + job["name"])
    assert st == 200 and op["done"] is False and "response" not in op
    assert emu.get_job(job["name"])["state"] == "JOB_STATE_SUCCEEDED"
    opid = op["name"].rsplit("/", 1)[-1]
    path = "/v1/projects/test-project/locations/us-central1/operations/" + opid
    deadline = time.time() + 10
    while True:
        st, _, o = emu.request("GET", path)
        assert st == 200
        if o["done"]:
            break
        assert time.time() < deadline
        time.sleep(0.05)
    st, _, _ = emu.request("GET", "/v1/" + job["name"])
    assert st == 404


def test_strict_filter_refuses_a_dash_in_a_label_key(emu):
    emu.config(strict_filter=True)
    f = urllib.parse.quote('labels.batchfs-token="x"')
    st, _, err = emu.request("GET", JOBS + "?filter=" + f)
    assert st == 400 and err["error"]["status"] == "INVALID_ARGUMENT"
    f = urllib.parse.quote('labels.batchfs_token="x"')
    st, _, _ = emu.request("GET", JOBS + "?filter=" + f)
    assert st == 200
    emu.config(strict_filter=False)
    f = urllib.parse.quote('labels.batchfs-token="x"')
    assert emu.request("GET", JOBS + "?filter=" + f)[0] == 200


def test_partials_beside_predictions_are_left_after_the_end(emu):
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(rows(30)))
    emu.config(partials="beside", pending_seconds=0, queued_seconds=0,
               row_seconds=0.03, export_interval=0.1)
    st, _, j = emu.request("POST", JOBS, body())
    job = emu.wait_job(j["name"])
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    names = emu.list_objects("bkt", "out/")
    assert not any("incremental_predictions/" in n for n in names)
    final = [n for n in names if n.endswith("/predictions.jsonl")]
    parts = [n for n in names if "partial" in n]
    assert len(final) == 1 and parts, names
    assert len(emu.job_output(job)) == 30


def test_end_time_only_for_three_states(emu):
    emu.config(end_time_some_states=True)
    job = run(emu, rows(1), end_time_some_states=True)
    assert "endTime" in job
    emu.config(time_scale=1, pending_seconds=30)
    st, _, j = emu.request("POST", JOBS, body())
    emu.finish_job(j["name"], "JOB_STATE_PARTIALLY_SUCCEEDED")
    assert "endTime" not in emu.get_job(j["name"])
    st, _, j = emu.request("POST", JOBS, body())
    emu.finish_job(j["name"], "JOB_STATE_EXPIRED")
    assert "endTime" not in emu.get_job(j["name"])
