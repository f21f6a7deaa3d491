"""Watching, cancelling and deleting jobs; listings and names."""
import errno
import json
import os
import re
import subprocess
import time

import pytest

from lib.mounthelp import jobs_created, put_input, prompts, request_text


def submit(mnt, emu, name, n=3):
    os.mkdir(mnt.job(name))
    with open(mnt.job(name, "request.json"), "w") as f:
        f.write(request_text(emu, n=n))


def test_state_progress_and_job_json(mnt, emu):
    submit(mnt, emu, "w1", n=4)
    st = mnt.wait_state("w1")
    assert st == "JOB_STATE_SUCCEEDED"
    prog = mnt.read("w1", "progress")
    assert re.match(r"JOB_STATE_SUCCEEDED 4/4 100% succeeded=4 failed=0 "
                    r"incomplete=0 \[#{20}\] elapsed=\d+s\n$", prog), prog
    job = json.loads(mnt.read("w1", "job.json"))
    assert job["displayName"] == "w1"
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    assert mnt.read("w1", "error") == ""
    # getattr reports the real size of generated files.
    for f in ("state", "progress", "job.json", "request.json", "error"):
        assert os.stat(mnt.job("w1", f)).st_size == len(
            mnt.read("w1", f).encode()), f


def test_cancel_through_ctl(mnt, emu):
    emu.config(row_seconds=0.5)
    submit(mnt, emu, "c1", n=40)
    mnt.wait_state("c1", ("JOB_STATE_RUNNING",))
    with open(mnt.job("c1", "ctl"), "w") as f:
        f.write("cancel\n")
    st = mnt.wait_state("c1", ("JOB_STATE_CANCELLED",))
    assert st == "JOB_STATE_CANCELLED"
    assert mnt.read("c1", "error").startswith("CANCELLED: ")
    # Unknown verbs are refused by the write itself.
    with pytest.raises(OSError) as ei:
        with open(mnt.job("c1", "ctl"), "w") as f:
            f.write("explode\n")
    assert ei.value.errno == errno.EINVAL
    # refresh re-fetches now.
    r = subprocess.run(["bash", "-c", 'echo refresh > "$0"',
                        mnt.job("c1", "ctl")])
    assert r.returncode == 0


def test_cancel_of_finished_job_reports_error(mnt, emu):
    submit(mnt, emu, "c2")
    mnt.wait_state("c2")
    emu.fault(method="POST", path=":cancel", kind="status", status=400,
              body={"error": {"code": 400, "status": "FAILED_PRECONDITION",
                              "message": "job already finished"}})
    with pytest.raises(OSError) as ei:
        with open(mnt.job("c2", "ctl"), "w") as f:
            f.write("cancel")
    assert ei.value.errno in (errno.EINVAL, errno.EPERM, errno.EBUSY)


def test_failed_cancel_and_rmdir_say_why_in_error(mnt, emu):
    """The errno alone (EBUSY) does not say why: `error` keeps the last
    failed ctl command's or rmdir's reason until one succeeds."""
    submit(mnt, emu, "c3")
    mnt.wait_state("c3")
    assert mnt.read("c3", "error") == ""
    # the server refuses to cancel a finished job (FAILED_PRECONDITION)
    with pytest.raises(OSError) as ei:
        with open(mnt.job("c3", "ctl"), "w") as f:
            f.write("cancel\n")
    err = mnt.read("c3", "error")
    assert err.startswith("cancel failed: %s" % os.strerror(ei.value.errno)), err
    assert ei.value.errno == errno.EBUSY
    assert "FAILED_PRECONDITION" in err and err.count("\n") == 1, err
    # a command that works forgets it
    with open(mnt.job("c3", "ctl"), "w") as f:
        f.write("refresh\n")
    assert mnt.read("c3", "error") == ""
    emu.fault(method="DELETE", path="batchPredictionJobs/", kind="status",
              status=403, body={"error": {"code": 403,
                                          "status": "PERMISSION_DENIED",
                                          "message": "no delete for you"}})
    with pytest.raises(OSError) as ei:
        os.rmdir(mnt.job("c3"))
    assert ei.value.errno == errno.EACCES
    err = mnt.read("c3", "error")
    assert err.startswith("rmdir failed: ") and "no delete for you" in err, err


def test_rmdir_busy_while_running_then_deletes(mount_fs, emu_any):
    # pessimistic: the delete Operation is done only after a while, and
    # rmdir returns once it is (the job is gone when rmdir returns)
    emu = emu_any
    mnt = mount_fs()
    emu.config(row_seconds=0.3)
    submit(mnt, emu, "r1", n=30)
    mnt.wait_state("r1", ("JOB_STATE_RUNNING",))
    with pytest.raises(OSError) as ei:
        os.rmdir(mnt.job("r1"))
    assert ei.value.errno == errno.EBUSY
    job = json.loads(mnt.read("r1", "job.json"))
    emu.finish_job(job["name"], "JOB_STATE_SUCCEEDED")
    deadline = time.time() + 10
    while True:
        try:
            os.rmdir(mnt.job("r1"))
            break
        except OSError as exc:
            assert exc.errno == errno.EBUSY and time.time() < deadline
            time.sleep(0.2)
    assert "r1" not in os.listdir(mnt.jobs)
    status, _, _ = emu.request("GET", "/v1/" + job["name"])
    assert status == 404


def test_many_jobs_many_pages_one_listing_pass(mount_fs, emu):
    src = put_input(emu, prompts(1))
    emu.config(time_scale=0)
    for i in range(23):
        emu.create_job(src, "gs://bkt-in/out", display_name="p%02d" % i)
    m = mount_fs(page_size=5, list_ttl=30)
    before = emu.counters()["routes"]
    out = subprocess.run(["ls", "-l", m.jobs], capture_output=True,
                         text=True, check=True).stdout
    after = emu.counters()["routes"]
    names = sorted(l.split()[-1] for l in out.splitlines()[1:])
    assert names == ["p%02d" % i for i in range(23)]
    # One listing pass (5 pages) and not one request per job.
    assert after.get("vertex.get", 0) == before.get("vertex.get", 0)
    assert after.get("vertex.list", 0) - before.get("vertex.list", 0) == 5


def test_duplicate_names_get_id_suffix(mnt, emu):
    src = put_input(emu, prompts(1))
    emu.config(time_scale=0)
    a = emu.create_job(src, "gs://bkt-in/out", display_name="same")
    time.sleep(0.01)
    b = emu.create_job(src, "gs://bkt-in/out", display_name="same")
    c = emu.create_job(src, "gs://bkt-in/out", display_name="a/b\tc")
    ida, idb = a["name"].rsplit("/", 1)[1], b["name"].rsplit("/", 1)[1]
    time.sleep(0.5)
    names = set(os.listdir(mnt.jobs))
    assert {"same", "same~" + idb, "a_b_c"} <= names, names
    assert json.loads(mnt.read("same", "job.json"))["name"] == a["name"]
    assert json.loads(mnt.read("same~" + idb, "job.json"))["name"] == b["name"]
    assert json.loads(mnt.read("a_b_c", "job.json"))["name"] == c["name"]
    assert ida != idb


def test_new_remote_job_appears_within_list_ttl(mnt, emu):
    assert os.listdir(mnt.jobs) == []
    src = put_input(emu, prompts(1))
    emu.create_job(src, "gs://bkt-in/out", display_name="late")
    deadline = time.time() + 5
    while "late" not in os.listdir(mnt.jobs):
        assert time.time() < deadline
        time.sleep(0.1)
    assert re.match(r"JOB_STATE_\w+\n$", mnt.read("late", "state"))


def test_readme_and_root(mnt):
    assert sorted(os.listdir(mnt.path)) == ["README", "by-id", "jobs", "outbox"]
    with open(os.path.join(mnt.path, "README")) as f:
        text = f.read()
    assert "do not outlive the mount" in text
    assert os.stat(os.path.join(mnt.path, "README")).st_size == len(text.encode())
    with pytest.raises(OSError) as ei:
        os.mkdir(os.path.join(mnt.path, "x"))
    assert ei.value.errno == errno.EPERM
    with pytest.raises(FileNotFoundError):
        os.stat(os.path.join(mnt.jobs, "nope"))
    # futimens/fstat on directory descriptors (touch, tar) are harmless.
    os.mkdir(mnt.job("d"))
    for p in (mnt.path, mnt.jobs, mnt.job("d")):
        fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.utime(fd)
            assert os.fstat(fd).st_mode & 0o040000
        finally:
            os.close(fd)


def test_failed_job_error_file(mnt, emu):
    emu.make_bucket("bkt-out")
    body = {"model": "publishers/google/models/gemini-2.5-flash",
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {
                "uris": ["gs://bkt-out/no/such/input.jsonl"]}},
            "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {
                "outputUriPrefix": "gs://bkt-out/out"}}}
    os.mkdir(mnt.job("nf"))
    with open(mnt.job("nf", "request.json"), "w") as f:
        f.write(json.dumps(body))
    assert mnt.wait_state("nf", ("JOB_STATE_FAILED",)) == "JOB_STATE_FAILED"
    err = mnt.read("nf", "error")
    assert err.startswith("FAILED_PRECONDITION: "), err
    assert err.endswith("\n") and err.count("\n") == 1
    assert mnt.read("nf", "progress").startswith("JOB_STATE_FAILED ")
