"""Drafts, submission and ctl through the model, no mount (SEMANTICS.md
"Submitting: what close and flush mean", the operations table, "Errors").
`write` is open(O_TRUNC) + write + close: its rc is the close's, the
submission's result."""
import errno
import json
import os
import stat

from lib.modelhelp import (MODEL, job_id, jobs_created, jobs_named, ok,
                       put_input, prompts, request_body)


def body_text(emu, n=2, **extra):
    emu.make_bucket("bkt-out")
    return json.dumps(request_body(put_input(emu, prompts(n)), **extra))


def test_write_request_submits_one_job_with_the_spec(model, emu):
    emu.config(pending_seconds=3600)  # it stays as submitted
    ok(model.mkdir("jobs/sub"))
    assert sorted(model.names("jobs/sub")) == ["error", "request.json",
                                               "state"]
    assert model.text("jobs/sub/state") == "DRAFT\n"
    src = put_input(emu, prompts(2))
    emu.make_bucket("bkt-out")
    body = request_body(src, labels={"team": "model"})
    r = model.write("jobs/sub/request.json", json.dumps(body))
    assert r["rc"] == 0, r
    (job,) = jobs_named(emu, "sub")  # displayName defaults to NAME
    assert jobs_created(emu) == 1
    assert job["model"] == MODEL
    assert job["inputConfig"]["gcsSource"]["uris"] == [src]
    assert job["outputConfig"]["gcsDestination"]["outputUriPrefix"] == \
        "gs://bkt-out/out"
    assert job["labels"]["team"] == "model"
    assert job["labels"].get("batchfs_token")
    # Acceptance: the directory is the job at once, request.json read-only.
    assert model.text("jobs/sub/state") == "JOB_STATE_PENDING\n"
    assert job_id(json.loads(model.text("jobs/sub/job.json"))) == job_id(job)
    assert "ctl" in model.names("jobs/sub")
    req = ok(model.getattr("jobs/sub/request.json"))
    assert stat.S_IMODE(req["mode"]) == 0o444
    r = model.write("jobs/sub/request.json", json.dumps(body))
    assert (r["rc"], r["step"]) == (-errno.EACCES, "open")
    assert jobs_created(emu) == 1


def test_malformed_request_is_einval_and_the_draft_survives(model, emu):
    ok(model.mkdir("jobs/mal"))
    r = model.write("jobs/mal/request.json", '{"model": \n  nope}')
    assert (r["rc"], r["step"]) == (-errno.EINVAL, "close"), r
    err = model.text("jobs/mal/error")
    assert "request.json:2:3: malformed JSON near 'nope}'" in err, err
    assert model.text("jobs/mal/state") == "DRAFT\n"
    assert jobs_created(emu) == 0
    # Another try in the same draft.
    assert ok(model.write("jobs/mal/request.json", body_text(emu)))
    assert jobs_created(emu) == 1
    assert len(jobs_named(emu, "mal")) == 1
    assert model.text("jobs/mal/error") == ""


def test_missing_field_and_other_display_name_are_einval(model, emu):
    ok(model.mkdir("jobs/mf"))
    body = request_body(put_input(emu, prompts(1)))
    del body["outputConfig"]
    r = model.write("jobs/mf/request.json", json.dumps(body))
    assert r["rc"] == -errno.EINVAL, r
    assert 'missing field "outputConfig"' in model.text("jobs/mf/error")
    r = model.write("jobs/mf/request.json",
                    body_text(emu, displayName="other"))
    assert r["rc"] == -errno.EINVAL, r
    assert "displayName" in model.text("jobs/mf/error")
    assert jobs_created(emu) == 0
    assert model.text("jobs/mf/state") == "DRAFT\n"


def test_server_rejection_maps_errno_and_leaves_the_draft(model, emu):
    ok(model.mkdir("jobs/rej"))
    emu.fault(method="POST", path="batchPredictionJobs$", kind="status",
              status=403)
    r = model.write("jobs/rej/request.json", body_text(emu))
    assert (r["rc"], r["step"]) == (-errno.EACCES, "close"), r
    assert model.text("jobs/rej/error").startswith("submit failed")
    assert model.text("jobs/rej/state") == "DRAFT\n"
    assert jobs_created(emu) == 0


def test_short_form_src_dest(model, emu):
    """The short form {"model", "src", "dest"} and model name expansion."""
    src = put_input(emu, prompts(1))
    emu.make_bucket("bkt-out")
    ok(model.mkdir("jobs/short"))
    ok(model.write("jobs/short/request.json", json.dumps(
        {"model": "gemini-2.5-flash", "src": src, "dest": "gs://bkt-out/s/"})))
    (job,) = jobs_named(emu, "short")
    assert job["model"] == MODEL
    assert job["inputConfig"] == {"instancesFormat": "jsonl",
                                  "gcsSource": {"uris": [src]}}
    assert job["outputConfig"]["gcsDestination"]["outputUriPrefix"] \
        .startswith("gs://bkt-out/s")


def test_request_size_cap_is_efbig(model_fs, emu):
    m = model_fs(max_request=4096)
    ok(m.mkdir("jobs/big"))
    r = m.write("jobs/big/request.json", "x" * 10000)
    assert (r["rc"], r["step"]) == (-errno.EFBIG, "write"), r
    assert jobs_created(emu) == 0


def test_mkdir_of_a_taken_name_is_eexist(model, emu):
    emu.config(time_scale=0)
    emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                   display_name="remote")
    ok(model.mkdir("jobs/mine"))
    assert model.mkdir("jobs/mine")["rc"] == -errno.EEXIST
    # checked against the server, not only what was listed
    assert model.mkdir("jobs/remote")["rc"] == -errno.EEXIST


def test_scratch_files_and_rename_onto_request_submits(model, emu):
    """Scratch files in a draft; rename(tmp, request.json) submits and
    returns the submission's result (an editor's save)."""
    ok(model.mkdir("jobs/ed"))
    ok(model.write("jobs/ed/notes.txt", "hello"))
    assert model.text("jobs/ed/notes.txt") == "hello"
    ok(model.write("jobs/ed/.req.swp", "{bad"))
    r = model.rename("jobs/ed/.req.swp", "jobs/ed/request.json")
    assert r["rc"] == -errno.EINVAL, r
    assert jobs_created(emu) == 0
    ok(model.write("jobs/ed/.req.tmp", body_text(emu)))
    ok(model.rename("jobs/ed/.req.tmp", "jobs/ed/request.json"))
    assert jobs_created(emu) == 1
    assert model.text("jobs/ed/state").startswith("JOB_STATE_")
    # rename between directories is EXDEV
    ok(model.mkdir("jobs/ed2"))
    ok(model.write("jobs/ed2/a", "x"))
    assert model.rename("jobs/ed2/a", "jobs/ed/a")["rc"] == -errno.EXDEV


def test_rmdir_draft_finished_and_running_jobs(model, emu):
    ok(model.mkdir("jobs/gone"))
    ok(model.write("jobs/gone/notes.txt", "x"))
    ok(model.unlink("jobs/gone/notes.txt"))
    ok(model.rmdir("jobs/gone"))
    assert model.lookup("jobs/gone")["rc"] == -errno.ENOENT
    assert jobs_created(emu) == 0
    # A job that has not finished: EBUSY, and it stays.
    emu.config(pending_seconds=3600)
    job = emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                         display_name="busy")
    assert model.rmdir("jobs/busy")["rc"] == -errno.EBUSY
    assert len(jobs_named(emu, "busy")) == 1
    assert "rmdir failed" in model.text("jobs/busy/error")
    # Finished: batchPredictionJobs.delete, gone when rmdir returns.
    emu.finish_job(job["name"])
    ok(model.rmdir("jobs/busy"))
    assert jobs_named(emu, "busy") == []
    st, _, _ = emu.request("GET", "/v1/" + job["name"])
    assert st == 404
    assert model.lookup("jobs/busy")["rc"] == -errno.ENOENT


def test_cancel_through_ctl(model, emu):
    emu.config(pending_seconds=3600)
    job = emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                         display_name="can")
    r = model.write("jobs/can/ctl", "cancel\n")
    assert r["rc"] == 0, r
    assert emu.get_job(job["name"])["state"] in ("JOB_STATE_CANCELLING",
                                                 "JOB_STATE_CANCELLED")
    emu.wait_job(job["name"], ("JOB_STATE_CANCELLED",))
    assert model.text("jobs/can/state") == "JOB_STATE_CANCELLED\n"
    assert model.text("jobs/can/error").startswith("CANCELLED: ")
    # Unknown verbs are refused by the write itself.
    r = model.write("jobs/can/ctl", "explode\n")
    assert (r["rc"], r["step"]) == (-errno.EINVAL, "write"), r
    # Cancelling a finished job: the server's refusal, said in error.
    emu.fault(method="POST", path=":cancel", kind="status", status=400,
              body={"error": {"code": 400, "status": "FAILED_PRECONDITION",
                              "message": "job is already finished"}})
    r = model.write("jobs/can/ctl", "cancel\n")
    assert r["rc"] == -errno.EBUSY, r
    # error: the job's own line, then the failed command's
    job_line, op_line = model.text("jobs/can/error").splitlines()
    assert job_line.startswith("CANCELLED: ")
    assert op_line.startswith("cancel failed: %s: FAILED_PRECONDITION" %
                              os.strerror(errno.EBUSY)), op_line
    # a command that works forgets it
    ok(model.write("jobs/can/ctl", "refresh\n"))
    assert model.text("jobs/can/error") == job_line + "\n"
