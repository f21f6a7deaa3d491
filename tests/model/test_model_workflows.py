"""output/, results/, wait and staged input.jsonl through the model, no
mount (SEMANTICS.md "The tree", "Results", "Waiting and progress",
"Staging input.jsonl"). Jobs run in the emulator with time_scale 0 (done
at once), or are held PENDING and finished by the test through
/_emulator/jobs/ID:finish: no test sleeps for a job."""
import errno
import json
import threading
import time

from lib.modelhelp import (MODEL, calls, jobs_created, jobs_named, ok,
                       put_input, prompts, request_body)


def finished_job(model, emu, name, rows):
    """Submits rows through a draft; returns the emulator's finished job."""
    emu.config(time_scale=0)
    emu.make_bucket("bkt-out")
    ok(model.mkdir("jobs/" + name))
    ok(model.write("jobs/%s/request.json" % name, json.dumps(
        request_body(put_input(emu, rows), dest="gs://bkt-out/" + name))))
    (job,) = jobs_named(emu, name)
    return emu.wait_job(job["name"])


def out_dir(job):
    bucket, _, prefix = job["outputInfo"]["gcsOutputDirectory"][5:] \
        .partition("/")
    return bucket, prefix


def test_output_lists_the_exported_objects_and_reads_them(model, emu):
    job = finished_job(model, emu, "out", prompts(5))
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    bucket, prefix = out_dir(job)
    objs = emu.list_objects(bucket, prefix + "/")
    top = sorted({o[len(prefix) + 1:].split("/")[0] for o in objs})
    assert "predictions.jsonl" in top
    assert sorted(model.names("jobs/out/output")) == top
    want = emu.get_object(bucket, prefix + "/predictions.jsonl")
    assert len(want.splitlines()) == 5
    path = "jobs/out/output/predictions.jsonl"
    assert ok(model.getattr(path))["size"] == len(want)
    assert ok(model.read(path))["bytes"] == want
    # ranged reads, also one past the end
    assert model.read(path, 7, 100)["bytes"] == want[7:107]
    assert model.read(path, len(want) - 3, 100)["bytes"] == want[-3:]
    assert model.read(path, len(want) + 10, 5)["bytes"] == b""
    r = model.write(path, "x")
    assert (r["rc"], r["step"]) == (-errno.EACCES, "open")
    assert model.lookup("jobs/out/output/nothing.jsonl")["rc"] == \
        -errno.ENOENT


def test_results_of_a_finished_job(model, emu):
    rows = prompts(4, bad={2})  # k2 fails in the emulator's model
    finished_job(model, emu, "res", rows)
    res = "jobs/res/results"
    assert sorted(model.names(res)) == ["by-input.jsonl", "failed.jsonl",
                                        "retry.jsonl", "succeeded.jsonl"]
    by = [json.loads(l) for l in model.text(res + "/by-input.jsonl")
          .splitlines()]
    assert [b["key"] for b in by] == ["k0", "k1", "k2", "k3"]
    assert ["response" in b for b in by] == [True, True, False, True]
    ok_rows = [json.loads(l) for l in model.text(res + "/succeeded.jsonl")
               .splitlines()]
    assert sorted(r["key"] for r in ok_rows) == ["k0", "k1", "k3"]
    bad = [json.loads(l) for l in model.text(res + "/failed.jsonl")
           .splitlines()]
    assert [r["key"] for r in bad] == ["k2"] and bad[0]["status"]
    retry = [json.loads(l) for l in model.text(res + "/retry.jsonl")
             .splitlines()]
    assert retry == [{"key": "k2", "request": rows[2]["request"]}]
    for f in model.names(res):
        assert ok(model.getattr(res + "/" + f))["size"] == \
            len(model.read(res + "/" + f)["bytes"]), f
    r = model.write(res + "/by-input.jsonl", "x")
    assert r["rc"] == -errno.EACCES, r


def test_wait_of_a_finished_job_answers_at_once(model_fs, emu):
    # refresh=30: a parked read would wait 30 s for the poller's next look
    m = model_fs(refresh=30)
    finished_job(m, emu, "done", prompts(1))
    before = calls(emu, "vertex.get")
    r = ok(m.read("jobs/done/wait", timeout=30))
    assert r["bytes"] == b"JOB_STATE_SUCCEEDED\n"
    assert r["ms"] < 5000, r
    # a final state is final for good: the job is not fetched again
    assert calls(emu, "vertex.get") == before
    assert "wait" not in m.names("jobs/done")
    assert ok(m.getattr("jobs/done/wait"))["size"] == len(r["bytes"])


def test_wait_of_a_pending_job_returns_once_it_finished(model, emu):
    emu.config(pending_seconds=3600)
    job = emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                         display_name="slow")
    assert model.text("jobs/slow/state") == "JOB_STATE_PENDING\n"
    finished, answered = threading.Event(), threading.Event()

    def finisher():
        # Once the parked read has polled the job a few times (the lookup
        # makes at most two calls), the job finishes.
        start = calls(emu, "vertex.get", "vertex.list")
        deadline = time.monotonic() + 30
        while calls(emu, "vertex.get", "vertex.list") < start + 4:
            if answered.is_set() or time.monotonic() > deadline:
                return
            time.sleep(0.02)
        assert emu.get_job(job["name"])["state"] == "JOB_STATE_PENDING"
        finished.set()
        emu.finish_job(job["name"])

    t = threading.Thread(target=finisher)
    t.start()
    try:
        r = model.read("jobs/slow/wait", timeout=60)
    finally:
        answered.set()
        t.join(timeout=60)
    assert finished.is_set(), "the read of wait ended before the job did"
    assert r["rc"] == 0, r
    assert r["bytes"] == b"JOB_STATE_SUCCEEDED\n"
    assert model.text("jobs/slow/state") == "JOB_STATE_SUCCEEDED\n"
    assert ok(model.getattr("jobs/slow/wait"))["size"] == len(r["bytes"])


STAGE = "gs://stage/pre"


def unkeyed(n):
    return [{"request": {"contents": [
        {"role": "user", "parts": [{"text": "prompt %d" % i}]}]}}
        for i in range(1, n + 1)]


def lines(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_input_jsonl_is_keyed_staged_and_submitted(model_fs, emu):
    emu.make_bucket("stage")
    m = model_fs(staging=STAGE)
    ok(m.mkdir("jobs/st"))
    rows = unkeyed(3)
    rows[1]["key"] = "mine"
    ok(m.write("jobs/st/input.jsonl", lines(rows)))
    got = m.text("jobs/st/input.jsonl").splitlines()
    assert [json.loads(l).get("key") for l in got] == ["line-1", "mine",
                                                       "line-3"]
    assert emu.get_object("stage", "pre/st/input.jsonl").decode() == \
        "".join(l + "\n" for l in got)
    assert m.text("jobs/st/error") == ""
    # The short form takes the staged input and the default output.
    ok(m.write("jobs/st/request.json", json.dumps({"model": "gemini-2.5-flash"})))
    (job,) = jobs_named(emu, "st")
    assert job["model"] == MODEL
    assert job["inputConfig"]["gcsSource"]["uris"] == [
        "gs://stage/pre/st/input.jsonl"]
    assert job["outputConfig"]["gcsDestination"]["outputUriPrefix"] == \
        "gs://stage/pre/st/output/"
    # Once submitted, input.jsonl leaves the directory.
    assert m.lookup("jobs/st/input.jsonl")["rc"] == -errno.ENOENT
    assert m.write("jobs/st/input.jsonl", "x")["rc"] == -errno.EPERM


def test_bad_input_jsonl_is_einval_and_not_staged(model_fs, emu):
    emu.make_bucket("stage")
    m = model_fs(staging=STAGE)
    ok(m.mkdir("jobs/bi"))
    r = m.write("jobs/bi/input.jsonl", lines(unkeyed(1)) + "not json\n")
    assert (r["rc"], r["step"]) == (-errno.EINVAL, "close"), r
    assert "input.jsonl:2:1: malformed JSON" in m.text("jobs/bi/error")
    assert not emu.list_objects("stage")
    r = m.write("jobs/bi/request.json", json.dumps({"model": "gemini-2.5-flash"}))
    assert r["rc"] == -errno.EINVAL
    assert "input.jsonl was written but is not staged" in \
        m.text("jobs/bi/error")
    assert jobs_created(emu) == 0


def test_without_staging_input_jsonl_is_eperm(model, emu):
    ok(model.mkdir("jobs/ns"))
    r = model.write("jobs/ns/input.jsonl", "x")
    assert r["rc"] == -errno.EPERM, r
    assert "-o staging=gs://BUCKET/PREFIX" in model.text("jobs/ns/error")
