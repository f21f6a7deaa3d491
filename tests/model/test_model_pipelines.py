"""inbox/, outbox/ and _SUCCESS through the model, no mount (SEMANTICS.md
"Inbox", "Outbox", "Markers"). Jobs are held PENDING in the emulator and
finished by the test through /_emulator/jobs/ID:finish: no test sleeps for
a job."""
import errno
import json

from lib.modelhelp import MODEL, jobs_created, jobs_named, ok, prompts, put_input

STAGE = "gs://stage/pre"
SHORT = "gemini-2.5-flash"


def lines(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def hot(model_fs, emu, **opts):
    """A driver with an inbox; jobs stay PENDING until finished."""
    emu.make_bucket("stage")
    emu.config(pending_seconds=3600)
    return model_fs(staging=STAGE, model=SHORT, **opts)


def submitted(m, emu, name, rows):
    ok(m.write("inbox/%s.jsonl" % name, lines(rows)))
    (job,) = jobs_named(emu, name)
    return job


def test_inbox_is_there_only_with_model_and_staging(model_fs, emu):
    emu.make_bucket("stage")
    for opts in ({}, {"staging": STAGE}, {"model": SHORT}):
        m = model_fs(**opts)
        assert "inbox" not in m.names(""), opts
        assert "outbox" in m.names("")
        assert m.lookup("inbox")["rc"] == -errno.ENOENT
        r = m.write("inbox/a.jsonl", lines(prompts(1)))
        assert r["rc"] == -errno.ENOENT, r
    m = model_fs(staging=STAGE, model=SHORT)
    assert {"inbox", "outbox"} <= set(m.names(""))
    a = ok(m.getattr("inbox"))
    assert a["mode"] & 0o777 == 0o755
    assert ok(m.getattr("outbox"))["mode"] & 0o777 == 0o555
    assert m.names("inbox") == [] and m.names("outbox") == []
    assert jobs_created(emu) == 0


def test_inbox_file_is_keyed_staged_and_submitted(model_fs, emu):
    m = hot(model_fs, emu)
    rows = [{"request": r["request"]} for r in prompts(3)]
    job = submitted(m, emu, "a", rows)
    assert job["model"] == MODEL
    assert job["labels"]["batchfs_inbox"] == "1"
    assert job["inputConfig"]["gcsSource"]["uris"] == [
        "gs://stage/pre/a/input.jsonl"]
    assert job["outputConfig"]["gcsDestination"]["outputUriPrefix"] == \
        "gs://stage/pre/a/output/"
    staged = emu.get_object("stage", "pre/a/input.jsonl").decode()
    assert [json.loads(l)["key"] for l in staged.splitlines()] == [
        "line-1", "line-2", "line-3"]
    # A spool that empties: the job is in jobs/, not in inbox/.
    assert m.names("inbox") == []
    assert m.lookup("inbox/a.jsonl")["rc"] == -errno.ENOENT
    assert m.text("jobs/a/state") == "JOB_STATE_PENDING\n"
    # Taken now, here and in Vertex AI.
    r = m.write("inbox/a.jsonl", lines(prompts(1)))
    assert (r["rc"], r["step"]) == (-errno.EEXIST, "open"), r
    assert jobs_created(emu) == 1


def test_dest_option_names_the_output(model_fs, emu):
    emu.make_bucket("bkt-out")
    m = hot(model_fs, emu, dest="gs://bkt-out/res")
    job = submitted(m, emu, "d", prompts(1))
    assert job["outputConfig"]["gcsDestination"]["outputUriPrefix"] \
        .startswith("gs://bkt-out/res")


def test_bad_inbox_file_is_einval_with_an_error_file(model_fs, emu):
    m = hot(model_fs, emu)
    r = m.write("inbox/b.jsonl", lines(prompts(1)) + "not json\n")
    assert (r["rc"], r["step"]) == (-errno.EINVAL, "close"), r
    assert jobs_created(emu) == 0
    assert not emu.list_objects("stage")
    # The draft is gone, the name free; the message stays in inbox/.
    assert m.lookup("jobs/b")["rc"] == -errno.ENOENT
    assert m.names("inbox") == ["b.error"]
    msg = m.text("inbox/b.error")
    assert msg.startswith("input.jsonl not staged: b.jsonl:2:1: "
                          "malformed JSON"), msg
    a = ok(m.getattr("inbox/b.error"))
    assert (a["mode"] & 0o777, a["size"]) == (0o444, len(msg))
    assert m.write("inbox/b.error", "x")["rc"] == -errno.EACCES
    # A good file of that name submits and takes the message away.
    submitted(m, emu, "b", prompts(2))
    assert m.names("inbox") == []
    assert m.lookup("inbox/b.error")["rc"] == -errno.ENOENT


def test_rm_removes_an_inbox_error(model_fs, emu):
    m = hot(model_fs, emu)
    assert m.write("inbox/c.jsonl", "{}\n")["rc"] == -errno.EINVAL
    assert m.names("inbox") == ["c.error"]
    ok(m.unlink("inbox/c.error"))
    assert m.names("inbox") == []
    assert m.unlink("inbox/c.error")["rc"] == -errno.ENOENT


def test_inbox_names(model_fs, emu):
    m = hot(model_fs, emu)
    for bad in ("x.txt", "x", ".jsonl"):
        r = m.write("inbox/" + bad, lines(prompts(1)))
        assert (r["rc"], r["step"]) == (-errno.EINVAL, "open"), (bad, r)
    ok(m.mkdir("jobs/taken"))
    r = m.write("inbox/taken.jsonl", lines(prompts(1)))
    assert (r["rc"], r["step"]) == (-errno.EEXIST, "open"), r
    emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                   display_name="other")
    r = m.write("inbox/other.jsonl", lines(prompts(1)))
    assert r["rc"] == -errno.EEXIST, r
    assert jobs_created(emu) == 1
    assert m.names("inbox") == []


def test_empty_inbox_file_waits_unsubmitted(model_fs, emu):
    m = hot(model_fs, emu)
    ok(m.write("inbox/e.jsonl", ""))
    assert m.names("inbox") == ["e.jsonl"]
    assert ok(m.getattr("inbox/e.jsonl"))["size"] == 0
    assert "e" in m.names("jobs")  # the draft it writes to
    assert jobs_created(emu) == 0
    submitted(m, emu, "e", prompts(2))
    assert m.names("inbox") == []


def test_outbox_shows_by_input_once_the_job_ended(model_fs, emu):
    m = hot(model_fs, emu)
    job = submitted(m, emu, "o", prompts(4, bad={1}))
    assert m.names("outbox") == []
    assert m.lookup("outbox/o.jsonl")["rc"] == -errno.ENOENT
    assert m.lookup("jobs/o/_SUCCESS")["rc"] == -errno.ENOENT
    emu.finish_job(job["name"])
    assert m.names("outbox") == ["o.jsonl"]
    want = m.text("jobs/o/results/by-input.jsonl")
    assert [json.loads(l)["key"] for l in want.splitlines()] == [
        "k0", "k1", "k2", "k3"]
    assert m.text("outbox/o.jsonl") == want
    a = ok(m.getattr("outbox/o.jsonl"))
    assert (a["mode"] & 0o777, a["size"]) == (0o444, len(want.encode()))
    assert m.lookup("outbox/o.error")["rc"] == -errno.ENOENT
    assert m.write("outbox/o.jsonl", "x")["rc"] == -errno.EACCES
    assert m.write("outbox/new.jsonl", "x")["rc"] == -errno.EPERM


def test_outbox_error_for_a_failed_job(model_fs, emu):
    m = hot(model_fs, emu)
    job = submitted(m, emu, "f", prompts(2))
    emu.finish_job(job["name"], "JOB_STATE_FAILED", code=3,
                   message="bad things")
    assert m.names("outbox") == ["f.error"]
    assert m.lookup("outbox/f.jsonl")["rc"] == -errno.ENOENT
    text = m.text("outbox/f.error")
    assert "bad things" in text
    assert text == m.text("jobs/f/error")
    assert m.lookup("jobs/f/_SUCCESS")["rc"] == -errno.ENOENT


def test_partially_succeeded_shows_in_outbox_without_success(model_fs, emu):
    m = hot(model_fs, emu)
    job = submitted(m, emu, "p", prompts(4))
    emu.finish_job(job["name"], "JOB_STATE_PARTIALLY_SUCCEEDED")
    assert m.names("outbox") == ["p.jsonl"]
    by = m.text("outbox/p.jsonl").splitlines()
    assert len(by) == 4
    assert any(json.loads(l).get("status") == "incomplete" for l in by)
    assert m.lookup("jobs/p/_SUCCESS")["rc"] == -errno.ENOENT
    assert "_SUCCESS" not in m.names("jobs/p")


def test_cancelled_job_shows_in_outbox(model_fs, emu):
    m = hot(model_fs, emu)
    job = submitted(m, emu, "x", prompts(2))
    emu.finish_job(job["name"], "JOB_STATE_CANCELLED")
    assert m.names("outbox") == ["x.jsonl"]
    assert len(m.text("outbox/x.jsonl").splitlines()) == 2


def test_success_marker_only_when_succeeded(model_fs, emu):
    m = hot(model_fs, emu)
    job = submitted(m, emu, "s", prompts(1))
    assert "_SUCCESS" not in m.names("jobs/s")
    emu.finish_job(job["name"])
    assert "_SUCCESS" in m.names("jobs/s")
    a = ok(m.getattr("jobs/s/_SUCCESS"))
    assert (a["mode"] & 0o777, a["size"]) == (0o444, 0)
    assert m.text("jobs/s/_SUCCESS") == ""
    # A reserved name in drafts.
    ok(m.mkdir("jobs/dr"))
    assert m.write("jobs/dr/_SUCCESS", "")["rc"] == -errno.EPERM


def test_rm_hides_an_outbox_entry_for_the_mount(model_fs, emu):
    m = hot(model_fs, emu)
    job = submitted(m, emu, "h", prompts(1))
    emu.finish_job(job["name"])
    assert m.names("outbox") == ["h.jsonl"]
    ok(m.unlink("outbox/h.jsonl"))
    assert m.names("outbox") == []
    assert m.lookup("outbox/h.jsonl")["rc"] == -errno.ENOENT
    assert m.unlink("outbox/h.jsonl")["rc"] == -errno.ENOENT
    assert m.text("jobs/h/state") == "JOB_STATE_SUCCEEDED\n"
    # Another mount (or this one remounted) shows it again.
    other = model_fs(staging=STAGE, model=SHORT)
    assert other.names("outbox") == ["h.jsonl"]


def test_jobs_not_from_an_inbox_stay_out_of_outbox(model_fs, emu):
    m = hot(model_fs, emu)
    job = emu.create_job(put_input(emu, prompts(1)), "gs://bkt-in/o",
                         display_name="plain")
    emu.finish_job(job["name"])
    assert m.text("jobs/plain/state") == "JOB_STATE_SUCCEEDED\n"
    assert m.names("outbox") == []
    assert m.lookup("outbox/plain.jsonl")["rc"] == -errno.ENOENT
    # The marker is every job's.
    assert "_SUCCESS" in m.names("jobs/plain")


def test_outbox_listing_computes_each_entry_once(model_fs, emu):
    """A shown entry never changes, so its size is remembered: with no
    result set kept (-o results_cache=0, as for a mount past its cache's
    bound), listing outbox/ again reads no output object, while reading an
    entry still gives its whole content."""
    m = hot(model_fs, emu, results_cache=0)
    want = {}

    def media():
        return emu.counters()["routes"].get("gcs.media", 0)

    for name in ("a", "b"):
        job = submitted(m, emu, name, prompts(3, bad={2}))
        emu.finish_job(job["name"])
    first = ok(m.readdir("outbox"))["entries"]
    for name in ("a", "b"):
        want[name] = m.text("jobs/%s/results/by-input.jsonl" % name)
        assert want[name].count("\n") == 3
    before = media()
    assert ok(m.readdir("outbox"))["entries"] == first
    for name in ("a", "b"):
        a = ok(m.getattr("outbox/%s.jsonl" % name))
        assert a["size"] == len(want[name].encode())
    assert media() == before
    # Content is computed again (nothing kept), and is the same.
    assert m.text("outbox/a.jsonl") == want["a"]
    assert media() > before
