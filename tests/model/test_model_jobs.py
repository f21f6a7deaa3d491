"""jobs/ and a job's directory through the model, no mount (SEMANTICS.md
"The tree", "Names", "Errors"). The emulator's jobs are made with its
control API (jobs:bulk, jobs/ID:finish); the driver refreshes on every
access, so what the emulator holds now is what the model must show."""
import errno
import json
import re
import stat

from lib.modelhelp import job_id, ok, put_input, prompts

JOB_FILES = ["request.json", "job.json", "state", "progress", "error", "ctl",
             "output", "results"]


def bulk(emu, count, prefix="b", state="JOB_STATE_SUCCEEDED"):
    return emu.control("POST", "jobs:bulk", {
        "count": count, "display_name_prefix": prefix, "state": state})["ids"]


def held_job(emu, name, rows=1):
    """A job that stays PENDING until the test finishes it."""
    emu.config(pending_seconds=3600)
    return emu.create_job(put_input(emu, prompts(rows)), "gs://bkt-in/out",
                          display_name=name)


def test_root_and_jobs_list_every_emulator_job(model, emu):
    bulk(emu, 5)
    # no inbox/ without -o model and -o staging
    assert sorted(model.names("")) == ["README", "by-id", "jobs", "outbox"]
    assert sorted(model.names("jobs")) == ["b0", "b1", "b2", "b3", "b4"]
    # A job made later shows in the next listing (list_ttl 0 here).
    emu.config(time_scale=0)
    emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                   display_name="late")
    assert "late" in model.names("jobs")
    readme = model.text("README")
    assert "jobs of project test-project in us-central1" in readme, readme


def test_finished_job_directory_and_files(model, emu):
    """The tree: a job's files, their modes, and sizes that are the
    rendered content's (getattr renders to measure)."""
    (jid,) = bulk(emu, 1, prefix="fin")
    names = model.names("jobs/fin0")
    # wait is not listed; _SUCCESS: the job SUCCEEDED
    assert names == JOB_FILES + ["_SUCCESS"]
    assert model.text("jobs/fin0/state") == "JOB_STATE_SUCCEEDED\n"
    job = json.loads(model.text("jobs/fin0/job.json"))
    assert job["displayName"] == "fin0"
    assert job_id(job) == jid
    assert job == emu.get_job(jid)
    assert model.text("jobs/fin0/error") == ""
    prog = model.text("jobs/fin0/progress")
    assert re.match(r"JOB_STATE_SUCCEEDED 1/1 100% succeeded=1 failed=0 "
                    r"incomplete=0 \[#{20}\] elapsed=\d+s\n$", prog), prog
    spec = json.loads(model.text("jobs/fin0/request.json"))
    assert spec["inputConfig"] == job["inputConfig"]
    for f in ("state", "progress", "job.json", "request.json", "error"):
        a = ok(model.getattr("jobs/fin0/" + f))
        assert a["size"] == len(model.read("jobs/fin0/" + f)["bytes"]), f
        assert stat.S_IMODE(a["mode"]) == 0o444, f
    assert stat.S_IMODE(model.getattr("jobs/fin0/ctl")["mode"]) == 0o200
    out = model.getattr("jobs/fin0/output")
    assert stat.S_ISDIR(out["mode"]) and stat.S_IMODE(out["mode"]) == 0o555
    d = model.getattr("jobs/fin0")
    assert stat.S_ISDIR(d["mode"]) and stat.S_IMODE(d["mode"]) == 0o755
    # wait: found by name though not listed; a finished job's has its size.
    w = ok(model.getattr("jobs/fin0/wait"))
    assert w["size"] == len("JOB_STATE_SUCCEEDED\n")


def test_state_follows_the_emulator(model, emu):
    job = held_job(emu, "live")
    assert model.text("jobs/live/state") == "JOB_STATE_PENDING\n"
    # stat never blocks and wait has size 0 until the job finished
    assert ok(model.getattr("jobs/live/wait"))["size"] == 0
    emu.finish_job(job["name"])
    assert model.text("jobs/live/state") == "JOB_STATE_SUCCEEDED\n"
    assert model.text("jobs/live/progress").startswith(
        "JOB_STATE_SUCCEEDED 1/1 100% ")


def test_failed_job_error_file(model, emu):
    job = held_job(emu, "bad")
    emu.finish_job(job["name"], "JOB_STATE_FAILED", code=9,
                   message="input bucket is gone")
    assert model.text("jobs/bad/state") == "JOB_STATE_FAILED\n"
    assert model.text("jobs/bad/error") == \
        "FAILED_PRECONDITION: input bucket is gone\n"
    assert model.text("jobs/bad/progress").startswith("JOB_STATE_FAILED ")


def test_duplicate_names_get_id_suffix(model, emu):
    """Names, rule 2: the oldest of the jobs seen in one listing gets NAME,
    the others NAME~ID."""
    emu.config(time_scale=0)
    src = put_input(emu, prompts(1))
    first = emu.create_job(src, "gs://bkt-in/o", display_name="twin")
    second = emu.create_job(src, "gs://bkt-in/o", display_name="twin")
    assert sorted(model.names("jobs")) == ["twin", "twin~" + job_id(second)]
    assert job_id(json.loads(model.text("jobs/twin/job.json"))) == \
        job_id(first)
    other = json.loads(model.text("jobs/twin~%s/job.json" % job_id(second)))
    assert job_id(other) == job_id(second)


def test_by_id_links_to_the_job(model, emu):
    (jid,) = bulk(emu, 1, prefix="link")
    assert jid in model.names("by-id")
    assert ok(model.readlink("by-id/" + jid))["target"] == "../jobs/link0"
    assert stat.S_ISLNK(model.getattr("by-id/" + jid)["mode"])
    assert model.lookup("by-id/999999")["rc"] == -errno.ENOENT


def test_unknown_names_are_enoent(model, emu):
    bulk(emu, 1, prefix="e")
    assert model.lookup("jobs/nope")["rc"] == -errno.ENOENT
    assert model.lookup("jobs/e0/nofile")["rc"] == -errno.ENOENT
    assert model.lookup("nothing")["rc"] == -errno.ENOENT
    assert model.read("jobs/nope/state")["rc"] == -errno.ENOENT


def test_generated_files_refuse_changes(model, emu):
    """Errors: EACCES for a write open of a read-only file, EPERM for
    creating or removing generated files or dirs outside a draft."""
    bulk(emu, 1, prefix="ro")
    for f in ("state", "job.json", "request.json", "error", "progress"):
        r = model.write("jobs/ro0/" + f, "x")
        assert (r["rc"], r["step"]) == (-errno.EACCES, "open"), (f, r)
    assert model.unlink("jobs/ro0/state")["rc"] == -errno.EPERM
    assert model.write("jobs/ro0/new.txt", "x")["rc"] == -errno.EPERM
    assert model.mkdir("elsewhere")["rc"] == -errno.EPERM
    assert model.rmdir("jobs")["rc"] == -errno.EPERM
    assert model.text("jobs/ro0/state") == "JOB_STATE_SUCCEEDED\n"
