"""BigQuery jobs (SEMANTICS.md, BigQuery jobs): a draft's request.json with bq:// sources and
destinations, long and short form; state, progress, output/bigquery and
results/README of such jobs; bad bq:// URIs refused at close(). The
emulator stands for BigQuery: a label emulator_rows=N (or a table fixture)
is the input table, /_emulator/bigquery/tables/... the output table."""
import errno
import json
import os
import re
import subprocess
import time

import pytest

from lib.mounthelp import MODEL, jobs_created, prompts, put_input

SRC = "bq://test-project.ds.requests"
DEST = "bq://test-project.results"
PROGRESS = re.compile(r"^(JOB_STATE_\w+) (\d+)/(\d+) (\d+)% succeeded=(\d+) "
                      r"failed=(\d+) incomplete=(\d+) \[[#.]{20}\]")


def long_form(src=SRC, dest=DEST, labels=None):
    body = {"model": MODEL,
            "inputConfig": {"instancesFormat": "bigquery",
                            "bigquerySource": {"inputUri": src}},
            "outputConfig": {"predictionsFormat": "bigquery",
                             "bigqueryDestination": {"outputUri": dest}}}
    if labels:
        body["labels"] = labels
    return body


def submit(mnt, name, body):
    os.mkdir(mnt.job(name))
    with open(mnt.job(name, "request.json"), "w") as f:
        f.write(json.dumps(body))


def refused(mnt, name, body):
    """The close() of request.json fails with EINVAL; the draft stays."""
    os.mkdir(mnt.job(name))
    f = open(mnt.job(name, "request.json"), "w")
    f.write(json.dumps(body))
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EINVAL, ei.value
    assert mnt.read(name, "state") == "DRAFT\n"
    return mnt.read(name, "error")


def remote_job(emu, name):
    st, _, r = emu.request("GET", emu.jobs_path() + "?filter=" +
                           "display_name%3D%22" + name + "%22")
    assert st == 200 and len(r["batchPredictionJobs"]) == 1, r
    return r["batchPredictionJobs"][0]


def table_of(job):
    info = job["outputInfo"]
    return info["bigqueryOutputDataset"] + "." + info["bigqueryOutputTable"]


def wait(mnt, name):
    try:
        out = subprocess.run(["cat", mnt.job(name, "wait")],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        # What the service says then tells a daemon that missed the end
        # from a job that never ended.
        st, _, r = mnt.emu.request("GET", mnt.emu.jobs_path())
        pytest.fail("cat wait: no end within 60 s; the emulator's jobs: %s; "
                    "its runner: %s" % (
                        [(j.get("displayName"), j.get("state"))
                         for j in (r or {}).get("batchPredictionJobs", [])],
                        mnt.emu.control("GET", "runner")))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_long_form_state_progress_output_results(mount_fs, emu_any):
    emu = emu_any
    emu.config(row_seconds=0.15)
    mnt = mount_fs()
    submit(mnt, "bq", long_form(labels={"emulator_rows": "12",
                                        "emulator_failed_rows": "2"}))
    assert jobs_created(emu) == 1
    spec = json.loads(mnt.read("bq", "request.json"))
    assert spec["inputConfig"] == long_form()["inputConfig"]
    assert spec["outputConfig"] == long_form()["outputConfig"]
    assert mnt.read("bq", "state").strip() in (
        "JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING")
    # output/ holds one file, naming the destination until the table exists
    assert os.listdir(mnt.job("bq", "output")) == ["bigquery"]
    first = mnt.read("bq", "output/bigquery")
    assert first == DEST + "\n" or first.startswith(DEST + ".predictions_"), first
    # results/ is only a README, whatever the job's state
    assert os.listdir(mnt.job("bq", "results")) == ["README"]
    readme = mnt.read("bq", "results/README")
    assert "BigQuery" in readme and "query the table" in readme
    running = None
    deadline = time.time() + 30
    while time.time() < deadline:
        p = mnt.read("bq", "progress")
        if p.startswith("JOB_STATE_RUNNING") and (
                emu.pessimistic or not p.startswith("JOB_STATE_RUNNING 0/")):
            running = p
            break
        assert not p.startswith("JOB_STATE_SUCCEEDED"), "missed RUNNING: " + p
        time.sleep(0.05)
    assert running, p
    if emu.pessimistic:
        # no completionStats while running: no made-up counts, and no
        # exported= count from a results/ that cannot see the table
        assert running.startswith("JOB_STATE_RUNNING counts not reported"), running
        assert "exported=" not in running, running
    else:
        m = PROGRESS.match(running)
        assert m, running
        done, total = int(m.group(2)), int(m.group(3))
        assert total == 12 and 0 < done < 12 and int(m.group(7)) == 12 - done
        assert " eta=" in running
    assert wait(mnt, "bq") == "JOB_STATE_SUCCEEDED\n"
    prog = mnt.read("bq", "progress")
    assert prog.startswith("JOB_STATE_SUCCEEDED 12/12 100% succeeded=10 failed=2 "
                           "incomplete=0 [####################]"), prog
    assert "eta=" not in prog
    job = remote_job(emu, "bq")
    assert re.match(r"^bq://test-project\.results\.predictions_"
                    r"\d{4}_\d\d_\d\dT\d\d_\d\d_\d\d_\d{3}Z$", table_of(job))
    assert mnt.read("bq", "output/bigquery") == table_of(job) + "\n"
    assert os.listdir(mnt.job("bq", "output")) == ["bigquery"]
    assert json.loads(mnt.read("bq", "job.json"))["outputInfo"] == job["outputInfo"]
    assert mnt.read("bq", "results/README") == readme
    assert mnt.read("bq", "error") == ""
    rows = emu.control("GET", "bigquery/tables/" + table_of(job)[5:])["rows"]
    assert len(rows) == 12


def test_short_form_bq_src_and_dest(mnt, emu):
    emu.config(time_scale=0)
    emu.control("POST", "bigquery/tables", {"table": "test-project.ds.requests",
                                            "rows": 3})
    submit(mnt, "short", {"model": "gemini-2.5-flash", "src": SRC,
                          "dest": "bq://test-project.results.mine"})
    spec = json.loads(mnt.read("short", "request.json"))
    assert spec["inputConfig"] == {"instancesFormat": "bigquery",
                                   "bigquerySource": {"inputUri": SRC}}
    assert spec["outputConfig"] == {
        "predictionsFormat": "bigquery",
        "bigqueryDestination": {"outputUri": "bq://test-project.results.mine"}}
    assert wait(mnt, "short") == "JOB_STATE_SUCCEEDED\n"
    assert mnt.read("short", "progress").startswith(
        "JOB_STATE_SUCCEEDED 3/3 100% succeeded=3 failed=0 incomplete=0")
    # a full table reference is the table written
    assert mnt.read("short", "output/bigquery") == "bq://test-project.results.mine\n"
    assert os.listdir(mnt.job("short", "results")) == ["README"]


def test_gcs_input_to_bigquery_output(mnt, emu):
    emu.config(time_scale=0)
    src = put_input(emu, prompts(4))
    submit(mnt, "g2b", {"model": "gemini-2.5-flash", "src": src, "dest": DEST})
    assert wait(mnt, "g2b") == "JOB_STATE_SUCCEEDED\n"
    assert mnt.read("g2b", "progress").startswith("JOB_STATE_SUCCEEDED 4/4 100%")
    job = remote_job(emu, "g2b")
    assert mnt.read("g2b", "output/bigquery") == table_of(job) + "\n"
    assert os.listdir(mnt.job("g2b", "results")) == ["README"]
    assert "query the table" in mnt.read("g2b", "results/README")


def test_bigquery_input_to_gcs_output(mnt, emu):
    emu.config(time_scale=0)
    emu.make_bucket("bkt-out")
    submit(mnt, "b2g", {"model": "gemini-2.5-flash", "src": SRC,
                        "dest": "gs://bkt-out/b2g", "labels": {"emulator_rows": "3",
                                                                "emulator_failed_rows": "1"}})
    assert wait(mnt, "b2g") == "JOB_STATE_SUCCEEDED\n"
    # the output is in Cloud Storage: output/ lists it, no bigquery file
    out = os.listdir(mnt.job("b2g", "output"))
    assert out == ["predictions.jsonl"], out
    with open(mnt.job("b2g", "output", "predictions.jsonl")) as f:
        assert len(f.read().splitlines()) == 3
    # rows are split by outcome; the input table cannot be joined
    res = sorted(os.listdir(mnt.job("b2g", "results")))
    assert res == ["README", "failed.jsonl", "succeeded.jsonl"], res
    with open(mnt.job("b2g", "results", "succeeded.jsonl")) as f:
        assert len(f.read().splitlines()) == 2
    with open(mnt.job("b2g", "results", "failed.jsonl")) as f:
        assert len(f.read().splitlines()) == 1
    readme = mnt.read("b2g", "results/README")
    assert "the job's input is not in Cloud Storage" in readme, readme
    # Advice about keys and staging would not help a BigQuery input.
    assert "staging" not in readme and "key" not in readme, readme


def test_failed_bigquery_job(mnt, emu):
    emu.config(time_scale=0)
    submit(mnt, "nt", long_form(src="bq://test-project.ds.nothing"))
    assert wait(mnt, "nt") == "JOB_STATE_FAILED\n"
    assert mnt.read("nt", "error") == (
        "INVALID_ARGUMENT: Failed to import data. Not found: Table "
        "test-project:ds.nothing was not found in location us-central1\n")
    # never ran: no table, output/bigquery names the destination given
    assert mnt.read("nt", "output/bigquery") == DEST + "\n"
    assert os.listdir(mnt.job("nt", "results")) == ["README"]


@pytest.mark.parametrize("body,text", [
    (long_form(src="bq://test-project.ds"),
     "Invalid BigQuery source path: bq://test-project.ds"),
    (long_form(dest="bq://test-project.a.b.c"),
     "Invalid BigQuery destination path: bq://test-project.a.b.c"),
    ({"model": "gemini-2.5-flash", "src": "bq://Test.ds.t", "dest": DEST},
     "Invalid BigQuery source path: bq://Test.ds.t"),
    ({"model": "gemini-2.5-flash", "src": SRC, "dest": "bq://test-project.d-s"},
     "Invalid BigQuery destination path: bq://test-project.d-s"),
    # batchfs's own check of the short form (no round trip)
    ({"model": "gemini-2.5-flash", "src": SRC, "dest": "bq://"},
     '"dest" must be a gs:// URI prefix or a bq:// dataset or table'),
])
def test_invalid_bq_uri_is_einval_and_creates_nothing(mnt, emu, body, text):
    err = refused(mnt, "bad", body)
    assert "submit failed" in err and text in err, err
    assert jobs_created(emu) == 0
    assert emu.control("GET", "bigquery")["tables"] == {}


def test_dataset_in_another_region(mnt, emu):
    emu.config(time_scale=0)
    emu.control("POST", "bigquery/datasets", {"dataset": "test-project.eu_data",
                                              "location": "europe-west4"})
    body = long_form(dest="bq://test-project.eu_data", labels={"emulator_rows": "1"})
    err = refused(mnt, "far", body)
    assert ("BigQuery dataset test-project.eu_data is in location europe-west4, but "
            "the job is in us-central1") in err, err
    assert jobs_created(emu) == 0
    # where Vertex checks only when the job runs, the job fails instead
    emu.config(bq_region_check="run")
    submit(mnt, "far2", body)
    assert wait(mnt, "far2") == "JOB_STATE_FAILED\n"
    assert mnt.read("far2", "error").startswith(
        "FAILED_PRECONDITION: BigQuery dataset test-project.eu_data is in location "
        "europe-west4")
