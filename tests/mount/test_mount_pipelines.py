"""Pipelines (SEMANTICS.md: Inbox, Outbox, Markers): the hot folder inbox/
(cp a JSONL file in, it is submitted on close), the outbox/ where a job's
by-input.jsonl appears whole once it ended, and the _SUCCESS marker.

What a pipeline sees is checked with the tools it uses (cp, touch, test -e,
cat, ls, rm) run as processes; job states are driven with the emulator's
control API (held PENDING or RUNNING, then `jobs/ID:finish`), never by
sleeping."""
import errno
import json
import os
import stat
import subprocess
import time
import urllib.parse

import pytest

from gcemu import model
from lib.faultlib import jobs_named
from lib.mounthelp import jobs_created, prompts, put_input

STAGE = "gs://stage/pre"
MODEL = "gemini-2.0-flash-001"
FULL_MODEL = "publishers/google/models/" + MODEL
TERMINAL = ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED",
            "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED")
REFUSED = (errno.EACCES, errno.EPERM)


def hot(mount_fs, emu, **opts):
    """A mount with an inbox: -o staging= and -o model=."""
    emu.make_bucket("stage")
    o = {"staging": STAGE, "model": MODEL}
    o.update(opts)
    return mount_fs(**o)


def unkeyed(n, bad=()):
    """n requests without keys; rows in bad use role "tester" (they fail)."""
    return [{"request": {"contents": [
        {"role": "tester" if i in bad else "user",
         "parts": [{"text": "prompt %d" % i}]}]}} for i in range(1, n + 1)]


def lines(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def local(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def sh(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True,
                          timeout=120)


def inbox(mnt, *parts):
    return os.path.join(mnt.path, "inbox", *parts)


def outbox(mnt, *parts):
    return os.path.join(mnt.path, "outbox", *parts)


def expect_errno(fn, errs):
    errs = errs if isinstance(errs, tuple) else (errs,)
    with pytest.raises(OSError) as ei:
        fn()
    assert ei.value.errno in errs, ei.value
    return ei.value


def wait_for(cond, what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, "not within %ss: %s" % (
            timeout, what)
        time.sleep(0.05)


def emu_job(emu, name):
    """The one emulator job named name (displayName)."""
    js = wait_for(lambda: jobs_named(emu, name), "job %s created" % name)
    assert len(js) == 1, js
    return js[0]


def read(path):
    with open(path) as f:
        return f.read()


def check_by_input(text, rows):
    """Line N of a by-input file answers input line N."""
    got = text.splitlines()
    assert len(got) == len(rows), text
    for i, (line, row) in enumerate(zip(got, rows), 1):
        out = json.loads(line)
        assert out["key"] == "line-%d" % i, out
        status, resp = model.predict(row["request"], MODEL)
        assert out["status"] == status, out
        if resp is not None:
            assert out["response"]["candidates"][0]["content"] == \
                resp["candidates"][0]["content"]


def hold_pending(emu):
    emu.config(pending_seconds=3600)


def cp_in(mnt, tmp_path, name, rows):
    src = local(tmp_path, name, lines(rows))
    out = sh("cp", src, inbox(mnt, name))
    assert out.returncode == 0, out.stderr
    return out


# ---- inbox -----------------------------------------------------------------

def test_inbox_cp_submits_with_the_default_request(mount_fs, emu, tmp_path):
    mnt = hot(mount_fs, emu)
    st = os.stat(inbox(mnt))
    assert stat.S_ISDIR(st.st_mode) and st.st_mode & 0o200
    assert "inbox" in os.listdir(mnt.path)
    rows = unkeyed(3)
    rows[1]["key"] = "mine"
    cp_in(mnt, tmp_path, "a.jsonl", rows)  # close() returned 0
    assert jobs_created(emu) == 1
    job = emu_job(emu, "a")
    assert job["model"] == FULL_MODEL
    assert job["labels"].get("batchfs_inbox") == "1"
    assert job["inputConfig"]["gcsSource"]["uris"] == [
        "gs://stage/pre/a/input.jsonl"]
    assert job["outputConfig"]["gcsDestination"]["outputUriPrefix"] == \
        "gs://stage/pre/a/output/"
    # staged as input.jsonl would be: keyed, the rest unchanged
    staged = emu.get_object("stage", "pre/a/input.jsonl").decode()
    keys = [json.loads(l).get("key") for l in staged.splitlines()]
    assert keys == ["line-1", "mine", "line-3"]
    # the spool empties: the job is jobs/a
    assert os.listdir(inbox(mnt)) == []
    assert not os.path.exists(inbox(mnt, "a.jsonl"))
    assert "a" in os.listdir(mnt.jobs)
    spec = json.loads(mnt.read("a", "request.json"))
    assert spec["model"] == FULL_MODEL
    assert mnt.wait_state("a") == "JOB_STATE_SUCCEEDED"


def test_inbox_dest_option_sets_the_output(mount_fs, emu, tmp_path):
    emu.make_bucket("bkt-out")
    mnt = hot(mount_fs, emu, dest="gs://bkt-out/res",
              model="publishers/google/models/gemini-2.5-flash")
    cp_in(mnt, tmp_path, "d.jsonl", unkeyed(2))
    job = emu_job(emu, "d")
    assert job["model"] == "publishers/google/models/gemini-2.5-flash"
    prefix = job["outputConfig"]["gcsDestination"]["outputUriPrefix"]
    assert prefix.startswith("gs://bkt-out/res"), prefix
    assert job["inputConfig"]["gcsSource"]["uris"] == [
        "gs://stage/pre/d/input.jsonl"]
    done = emu.wait_job(job["name"])
    assert done["state"] == "JOB_STATE_SUCCEEDED"
    assert done["outputInfo"]["gcsOutputDirectory"].startswith(
        "gs://bkt-out/res")


def test_inbox_bad_file_is_einval_and_leaves_an_error(mount_fs, emu,
                                                      tmp_path):
    mnt = hot(mount_fs, emu)
    src = local(tmp_path, "b.jsonl", lines(unkeyed(2)) + '{"request": {}}\n')
    out = sh("cp", src, inbox(mnt, "b.jsonl"))
    assert out.returncode != 0
    assert "Invalid argument" in out.stderr, out.stderr
    # nothing submitted, nothing staged, the name is free again
    assert jobs_created(emu) == 0
    assert not emu.list_objects("stage")
    assert "b" not in os.listdir(mnt.jobs)
    assert sorted(os.listdir(inbox(mnt))) == ["b.error"]
    msg = read(inbox(mnt, "b.error"))
    assert 'b.jsonl:3: missing "request.contents"' in msg, msg
    assert msg.startswith("input.jsonl not staged: "), msg
    # read-only; rm removes it
    assert stat.S_IMODE(os.stat(inbox(mnt, "b.error")).st_mode) == 0o444
    expect_errno(lambda: open(inbox(mnt, "b.error"), "w"), REFUSED)
    assert sh("rm", inbox(mnt, "b.error")).returncode == 0
    assert os.listdir(inbox(mnt)) == []
    assert sh("test", "-e", inbox(mnt, "b.error")).returncode == 1


def test_inbox_error_goes_when_the_name_is_submitted(mount_fs, emu, tmp_path):
    mnt = hot(mount_fs, emu)
    bad = local(tmp_path, "bad.jsonl", "not json\n")
    out = sh("cp", bad, inbox(mnt, "r.jsonl"))
    assert out.returncode != 0 and "Invalid argument" in out.stderr
    assert "r.jsonl:1:1: malformed JSON" in read(inbox(mnt, "r.error"))
    cp_in(mnt, tmp_path, "r.jsonl", unkeyed(2))
    assert jobs_created(emu) == 1
    assert os.listdir(inbox(mnt)) == []
    expect_errno(lambda: os.stat(inbox(mnt, "r.error")), errno.ENOENT)


def test_inbox_takes_files_copied_at_once(mount_fs, emu, tmp_path):
    mnt = hot(mount_fs, emu)
    names = ["c%d" % i for i in range(6)]
    srcs = {n: local(tmp_path, n, lines(unkeyed(i + 1)))
            for i, n in enumerate(names)}
    procs = [subprocess.Popen(["cp", srcs[n], inbox(mnt, n + ".jsonl")],
                              stderr=subprocess.PIPE, text=True)
             for n in names]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert jobs_created(emu) == len(names)
    assert os.listdir(inbox(mnt)) == []
    for i, n in enumerate(names):
        staged = emu.get_object("stage", "pre/%s/input.jsonl" % n).decode()
        assert len(staged.splitlines()) == i + 1, (n, staged)
        assert emu_job(emu, n)["labels"].get("batchfs_inbox") == "1"


def test_inbox_error_is_gone_after_a_remount(mount_fs, emu, tmp_path):
    mnt = hot(mount_fs, emu)
    out = sh("cp", local(tmp_path, "bad", "not json\n"), inbox(mnt, "m.jsonl"))
    assert out.returncode != 0
    assert os.listdir(inbox(mnt)) == ["m.error"]
    mnt.stop()
    mnt.start()
    assert os.listdir(inbox(mnt)) == []


def test_inbox_refused_create_fails_the_close_as_a_draft(mount_fs, emu,
                                                         tmp_path):
    # The service refuses the default request (an unknown model): close()
    # gives the errno a draft's close gives for the same request and input.
    mnt = hot(mount_fs, emu, model="gemini-0.1-nonesuch")
    text = lines(unkeyed(2))
    os.mkdir(mnt.job("dr"))
    with open(mnt.job("dr", "input.jsonl"), "w") as f:
        f.write(text)
    with pytest.raises(OSError) as draft:
        with open(mnt.job("dr", "request.json"), "w") as f:
            f.write('{"model": "gemini-0.1-nonesuch"}')
    with pytest.raises(OSError) as hotf:
        with open(inbox(mnt, "q.jsonl"), "w") as f:
            f.write(text)
    assert hotf.value.errno == draft.value.errno, (hotf.value, draft.value)
    assert jobs_created(emu) == 0
    assert "q" not in os.listdir(mnt.jobs)
    assert os.listdir(inbox(mnt)) == ["q.error"]
    msg = read(inbox(mnt, "q.error"))
    assert "nonesuch" in msg, msg
    assert msg.strip() in mnt.read("dr", "error"), (msg, mnt.read("dr", "error"))


def test_inbox_taken_name_is_eexist(mount_fs, emu, tmp_path):
    mnt = hot(mount_fs, emu)
    # a draft of this mount
    os.mkdir(mnt.job("dr"))
    expect_errno(lambda: open(inbox(mnt, "dr.jsonl"), "w"), errno.EEXIST)
    # a job of another client
    src = put_input(emu, prompts(1))
    emu.create_job(src, "gs://bkt-in/out", display_name="ext")
    wait_for(lambda: "ext" in os.listdir(mnt.jobs), "ext listed")
    expect_errno(lambda: open(inbox(mnt, "ext.jsonl"), "w"), errno.EEXIST)
    out = sh("cp", local(tmp_path, "x", lines(unkeyed(1))),
             inbox(mnt, "ext.jsonl"))
    assert out.returncode != 0 and "File exists" in out.stderr, out.stderr
    # a job this inbox submitted
    cp_in(mnt, tmp_path, "mine.jsonl", unkeyed(1))
    expect_errno(lambda: open(inbox(mnt, "mine.jsonl"), "w"), errno.EEXIST)
    assert jobs_created(emu) == 2  # ext and mine, nothing more
    assert os.listdir(inbox(mnt)) == []


@pytest.mark.parametrize("name", ["x.txt", "x", "x.jsonl.tmp", ".jsonl",
                                  "x.json"])
def test_inbox_other_names_are_einval(mount_fs, emu, name):
    mnt = hot(mount_fs, emu)
    expect_errno(lambda: open(inbox(mnt, name), "w"), errno.EINVAL)
    assert os.listdir(inbox(mnt)) == []
    assert jobs_created(emu) == 0


@pytest.mark.parametrize("opts", [{"staging": STAGE}, {"model": MODEL}, {}],
                         ids=["no-model", "no-staging", "neither"])
def test_inbox_absent_without_model_and_staging(mount_fs, emu, opts):
    emu.make_bucket("stage")
    mnt = mount_fs(**opts)
    names = os.listdir(mnt.path)
    assert "inbox" not in names and "outbox" in names, names
    expect_errno(lambda: os.stat(inbox(mnt)), errno.ENOENT)
    assert sh("test", "-e", inbox(mnt)).returncode == 1
    st = os.stat(outbox(mnt))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555


def test_inbox_empty_file_is_not_submitted(mount_fs, emu, tmp_path):
    mnt = hot(mount_fs, emu)
    out = sh("touch", inbox(mnt, "e.jsonl"))
    assert out.returncode == 0, out.stderr
    assert jobs_created(emu) == 0
    assert os.listdir(inbox(mnt)) == ["e.jsonl"]
    assert os.stat(inbox(mnt, "e.jsonl")).st_size == 0
    # a later write and close submits it
    rows = unkeyed(2)
    out = sh("cp", local(tmp_path, "e", lines(rows)), inbox(mnt, "e.jsonl"))
    assert out.returncode == 0, out.stderr
    assert jobs_created(emu) == 1
    assert emu_job(emu, "e")["labels"].get("batchfs_inbox") == "1"
    assert os.listdir(inbox(mnt)) == []
    # rm drops an empty one, and the name is free again
    assert sh("touch", inbox(mnt, "f.jsonl")).returncode == 0
    assert sh("rm", inbox(mnt, "f.jsonl")).returncode == 0
    assert os.listdir(inbox(mnt)) == []
    assert "f" not in os.listdir(mnt.jobs)
    os.mkdir(mnt.job("f"))
    assert jobs_created(emu) == 1


def test_inbox_lists_a_file_while_it_is_written(mount_fs, emu):
    mnt = hot(mount_fs, emu)
    text = lines(unkeyed(2))
    with open(inbox(mnt, "w.jsonl"), "w") as f:
        f.write(text[:10])
        f.flush()
        assert os.listdir(inbox(mnt)) == ["w.jsonl"]
        assert jobs_created(emu) == 0
        # meanwhile jobs/w is a draft
        assert "w" in os.listdir(mnt.jobs)
        assert mnt.read("w", "state") == "DRAFT\n"
        # reading it meanwhile gives the bytes so far
        assert read(inbox(mnt, "w.jsonl")) == text[:10]
        assert os.stat(inbox(mnt, "w.jsonl")).st_size == 10
        f.write(text[10:])
    assert os.listdir(inbox(mnt)) == []
    assert jobs_created(emu) == 1


# ---- outbox ----------------------------------------------------------------

def test_outbox_jsonl_appears_when_the_job_ends(mount_fs, emu, tmp_path):
    hold_pending(emu)
    mnt = hot(mount_fs, emu)
    rows = unkeyed(5, bad={2})
    cp_in(mnt, tmp_path, "o.jsonl", rows)
    job = emu_job(emu, "o")
    # pending: nothing in outbox/ (after the mount saw the job)
    wait_for(lambda: "PENDING" in mnt.read("o", "state"), "o pending")
    assert os.listdir(outbox(mnt)) == []
    assert sh("test", "-e", outbox(mnt, "o.jsonl")).returncode == 1
    emu.finish_job(job["name"], "JOB_STATE_SUCCEEDED")
    wait_for(lambda: sh("test", "-e", outbox(mnt, "o.jsonl")).returncode
             == 0, "outbox/o.jsonl")
    assert os.listdir(outbox(mnt)) == ["o.jsonl"]
    text = sh("cat", outbox(mnt, "o.jsonl")).stdout
    assert text == mnt.read("o", "results/by-input.jsonl")
    check_by_input(text, rows)
    st = os.stat(outbox(mnt, "o.jsonl"))
    assert st.st_size == len(text.encode())
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(os.stat(outbox(mnt)).st_mode) == 0o555
    # read-only: other writes are refused
    expect_errno(lambda: open(outbox(mnt, "o.jsonl"), "w"), REFUSED)
    expect_errno(lambda: open(outbox(mnt, "new.jsonl"), "w"), REFUSED)
    expect_errno(lambda: os.mkdir(outbox(mnt, "d")), REFUSED)


def test_outbox_poller_never_sees_a_partial_file(mount_fs, emu, tmp_path):
    # The job runs for seconds with incremental exports every 0.2 s: the
    # results grow meanwhile, and outbox/ must show nothing until it ended.
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0.1,
               export_interval=0.2)
    mnt = hot(mount_fs, emu)
    rows = unkeyed(30)
    # a cron-style poller: test -e in a loop, then read what appeared
    got = tmp_path / "got"
    poller = subprocess.Popen(
        ["sh", "-c", 'while ! test -e "$1"; do sleep 0.05; done; '
         'stat -c %s "$1" >"$2.size"; cat "$1" >"$2"',
         "poller", outbox(mnt, "p.jsonl"), str(got)])
    try:
        cp_in(mnt, tmp_path, "p.jsonl", rows)
        job = emu_job(emu, "p")
        # a listing made while the emulator still says "not ended" must not
        # show the file (the state is read after the listing)
        running_views = 0
        while poller.poll() is None:
            names = os.listdir(outbox(mnt))
            state = emu.get_job(job["name"])["state"]
            if state not in TERMINAL:
                assert "p.jsonl" not in names, (state, names)
                if state == "JOB_STATE_RUNNING":
                    running_views += 1
            else:
                wait_for(lambda: poller.poll() is not None, "poller",
                         timeout=30)
            time.sleep(0.05)
        assert poller.returncode == 0
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    assert running_views > 0, "the job was never seen running"
    whole = mnt.read("p", "results/by-input.jsonl")
    assert got.read_text() == whole
    assert int((tmp_path / "got.size").read_text()) == len(whole.encode())
    check_by_input(whole, rows)
    assert all("response" in json.loads(l) for l in whole.splitlines())


def test_outbox_error_for_a_failed_job(mount_fs, emu, tmp_path):
    hold_pending(emu)
    mnt = hot(mount_fs, emu)
    cp_in(mnt, tmp_path, "f.jsonl", unkeyed(2))
    job = emu_job(emu, "f")
    emu.finish_job(job["name"], "JOB_STATE_FAILED", code=13, message="boom")
    wait_for(lambda: sh("test", "-e", outbox(mnt, "f.error")).returncode == 0,
             "outbox/f.error")
    assert os.listdir(outbox(mnt)) == ["f.error"]
    assert sh("test", "-e", outbox(mnt, "f.jsonl")).returncode == 1
    text = read(outbox(mnt, "f.error"))
    assert "boom" in text
    assert text == mnt.read("f", "error")
    assert os.stat(outbox(mnt, "f.error")).st_size == len(text.encode())


def test_outbox_error_when_results_cannot_be_made(mount_fs, emu, tmp_path):
    # The job succeeded, but its input is gone before batchfs read it: no
    # line can be matched, so no NAME.jsonl; NAME.error says why.
    hold_pending(emu)
    mnt = hot(mount_fs, emu)
    cp_in(mnt, tmp_path, "g.jsonl", unkeyed(3))
    job = emu_job(emu, "g")
    emu.finish_job(job["name"], "JOB_STATE_SUCCEEDED")
    st, _, _ = emu.request("DELETE", "/storage/v1/b/stage/o/" +
                           urllib.parse.quote("pre/g/input.jsonl", safe=""))
    assert st in (200, 204), st
    wait_for(lambda: os.listdir(outbox(mnt)) == ["g.error"], "g.error")
    assert sh("test", "-e", outbox(mnt, "g.jsonl")).returncode == 1
    text = read(outbox(mnt, "g.error"))
    assert "no longer exists" in text, text
    assert mnt.read("g", "state") == "JOB_STATE_SUCCEEDED\n"
    assert "by-input.jsonl" not in os.listdir(mnt.job("g", "results"))


@pytest.mark.parametrize("state", ["JOB_STATE_CANCELLED",
                                   "JOB_STATE_PARTIALLY_SUCCEEDED",
                                   "JOB_STATE_EXPIRED"])
def test_outbox_jsonl_for_every_other_end(mount_fs, emu, tmp_path, state):
    hold_pending(emu)
    mnt = hot(mount_fs, emu)
    rows = unkeyed(4)
    cp_in(mnt, tmp_path, "c.jsonl", rows)
    job = emu_job(emu, "c")
    emu.finish_job(job["name"], state)
    wait_for(lambda: sh("test", "-e", outbox(mnt, "c.jsonl")).returncode == 0,
             "outbox/c.jsonl")
    assert os.listdir(outbox(mnt)) == ["c.jsonl"]
    assert mnt.read("c", "state").strip() == state
    text = read(outbox(mnt, "c.jsonl"))
    assert text == mnt.read("c", "results/by-input.jsonl")
    by = [json.loads(l) for l in text.splitlines()]
    assert [b["key"] for b in by] == ["line-%d" % i for i in range(1, 5)]
    if state == "JOB_STATE_PARTIALLY_SUCCEEDED":
        assert any(b.get("status") == "incomplete" for b in by)
        assert any("response" in b for b in by)


def test_outbox_lists_only_inbox_jobs(mount_fs, emu, tmp_path):
    emu.config(time_scale=0)
    mnt = hot(mount_fs, emu)
    other = mount_fs()  # no inbox there; outbox/ all the same
    # a job of another client, and a draft submitted through jobs/
    src = put_input(emu, prompts(2))
    emu.create_job(src, "gs://bkt-in/out", display_name="ext")
    os.mkdir(mnt.job("dr"))
    with open(mnt.job("dr", "input.jsonl"), "w") as f:
        f.write(lines(unkeyed(2)))
    with open(mnt.job("dr", "request.json"), "w") as f:
        f.write('{"model": "gemini-2.5-flash"}')
    cp_in(mnt, tmp_path, "in.jsonl", unkeyed(2))
    for m in (mnt, other):
        wait_for(lambda: sh("test", "-e", outbox(m, "in.jsonl")).returncode
                 == 0, "outbox/in.jsonl")
        for name in ("ext", "dr", "in"):
            m.wait_state(name)
        assert os.listdir(outbox(m)) == ["in.jsonl"]
        for name in ("ext", "dr"):
            for ext in (".jsonl", ".error"):
                expect_errno(lambda: os.stat(outbox(m, name + ext)),
                             errno.ENOENT)
    assert read(outbox(other, "in.jsonl")) == read(outbox(mnt, "in.jsonl"))


def test_rm_outbox_hides_until_remount(mount_fs, emu, tmp_path):
    emu.config(time_scale=0)
    mnt = hot(mount_fs, emu)
    cp_in(mnt, tmp_path, "h.jsonl", unkeyed(2))
    cp_in(mnt, tmp_path, "g.jsonl", unkeyed(2))
    wait_for(lambda: sorted(os.listdir(outbox(mnt))) == ["g.jsonl",
                                                         "h.jsonl"],
             "both in outbox/")
    text = read(outbox(mnt, "h.jsonl"))
    job = emu_job(emu, "h")
    out = sh("rm", outbox(mnt, "h.jsonl"))
    assert out.returncode == 0, out.stderr
    assert os.listdir(outbox(mnt)) == ["g.jsonl"]
    assert sh("test", "-e", outbox(mnt, "h.jsonl")).returncode == 1
    # the job is untouched, and the entry stays hidden
    assert emu.get_job(job["name"])["state"] == "JOB_STATE_SUCCEEDED"
    assert "h" in os.listdir(mnt.jobs)
    assert mnt.read("h", "state") == "JOB_STATE_SUCCEEDED\n"
    # still hidden after the mount listed the jobs again (a new job seen)
    src = put_input(emu, prompts(1))
    emu.create_job(src, "gs://bkt-in/out", display_name="later")
    wait_for(lambda: "later" in os.listdir(mnt.jobs), "later listed")
    assert os.listdir(outbox(mnt)) == ["g.jsonl"]
    # after a remount it is back
    mnt.stop()
    mnt.start()
    wait_for(lambda: sorted(os.listdir(outbox(mnt))) == ["g.jsonl",
                                                         "h.jsonl"],
             "h.jsonl back after remount")
    assert read(outbox(mnt, "h.jsonl")) == text


def test_rm_outbox_error_hides_it(mount_fs, emu, tmp_path):
    hold_pending(emu)
    mnt = hot(mount_fs, emu)
    cp_in(mnt, tmp_path, "x.jsonl", unkeyed(1))
    emu.finish_job(emu_job(emu, "x")["name"], "JOB_STATE_FAILED")
    wait_for(lambda: os.listdir(outbox(mnt)) == ["x.error"], "x.error")
    assert sh("rm", outbox(mnt, "x.error")).returncode == 0
    assert os.listdir(outbox(mnt)) == []
    assert mnt.read("x", "state") == "JOB_STATE_FAILED\n"


# ---- markers ---------------------------------------------------------------

def external_job(emu, mnt, name, n=4):
    src = put_input(emu, prompts(n))
    job = emu.create_job(src, "gs://bkt-in/out/" + name, display_name=name)
    wait_for(lambda: name in os.listdir(mnt.jobs), name + " listed")
    return job


def has_marker(mnt, name):
    listed = "_SUCCESS" in os.listdir(mnt.job(name))
    there = sh("test", "-e", mnt.job(name, "_SUCCESS")).returncode == 0
    assert listed == there, (listed, there)
    return there


def test_success_marker_when_succeeded(mount_fs, emu):
    # held RUNNING: no marker; SUCCEEDED: the marker
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=3600)
    mnt = mount_fs()
    job = external_job(emu, mnt, "s")
    mnt.wait_state("s", ("JOB_STATE_RUNNING",))
    assert not has_marker(mnt, "s")
    emu.finish_job(job["name"], "JOB_STATE_SUCCEEDED")
    wait_for(lambda: has_marker(mnt, "s"), "_SUCCESS")
    assert mnt.read("s", "state") == "JOB_STATE_SUCCEEDED\n"
    st = os.stat(mnt.job("s", "_SUCCESS"))
    assert stat.S_ISREG(st.st_mode) and st.st_size == 0
    assert stat.S_IMODE(st.st_mode) == 0o444
    assert read(mnt.job("s", "_SUCCESS")) == ""


@pytest.mark.parametrize("state", ["JOB_STATE_PARTIALLY_SUCCEEDED",
                                   "JOB_STATE_FAILED", "JOB_STATE_CANCELLED",
                                   "JOB_STATE_EXPIRED"])
def test_no_success_marker_unless_succeeded(mount_fs, emu, state):
    hold_pending(emu)
    mnt = mount_fs()
    job = external_job(emu, mnt, "n")
    mnt.wait_state("n", ("JOB_STATE_PENDING",))
    assert not has_marker(mnt, "n")
    emu.finish_job(job["name"], state)
    mnt.wait_state("n", (state,))
    assert not has_marker(mnt, "n")
    expect_errno(lambda: os.stat(mnt.job("n", "_SUCCESS")), errno.ENOENT)
    if state == "JOB_STATE_PARTIALLY_SUCCEEDED":
        # what a sensor reads instead: the state, and the lines to retry
        assert read(mnt.job("n", "results", "retry.jsonl")) != ""


def test_success_is_reserved_in_drafts(mount_fs, emu):
    mnt = mount_fs()
    os.mkdir(mnt.job("dr"))
    expect_errno(lambda: open(mnt.job("dr", "_SUCCESS"), "w"), errno.EPERM)
    out = sh("touch", mnt.job("dr", "_SUCCESS"))
    assert out.returncode != 0
    assert "Operation not permitted" in out.stderr, out.stderr
    assert "_SUCCESS" not in os.listdir(mnt.job("dr"))


# ---- modes -----------------------------------------------------------------

def test_pipeline_nodes_follow_the_mode_rule(mount_fs, emu, tmp_path):
    # natural modes with the bits of -o umask taken away (SEMANTICS.md
    # "Permissions"): inbox/ as a draft directory, outbox/ read-only
    hold_pending(emu)
    mnt = hot(mount_fs, emu, umask="007")
    cp_in(mnt, tmp_path, "ok.jsonl", unkeyed(2))
    cp_in(mnt, tmp_path, "ko.jsonl", unkeyed(1))
    emu.finish_job(emu_job(emu, "ok")["name"], "JOB_STATE_SUCCEEDED")
    emu.finish_job(emu_job(emu, "ko")["name"], "JOB_STATE_FAILED")
    assert sh("cp", local(tmp_path, "bad", "x\n"),
              inbox(mnt, "bad.jsonl")).returncode != 0
    wait_for(lambda: sorted(os.listdir(outbox(mnt))) == ["ko.error",
                                                         "ok.jsonl"],
             "outbox entries")
    wait_for(lambda: has_marker(mnt, "ok"), "_SUCCESS")

    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)
    with open(inbox(mnt, "w.jsonl"), "w"):
        assert mode(inbox(mnt, "w.jsonl")) == 0o640
    assert mode(inbox(mnt)) == 0o750
    assert mode(outbox(mnt)) == 0o550
    assert mode(inbox(mnt, "bad.error")) == 0o440
    assert mode(outbox(mnt, "ok.jsonl")) == 0o440
    assert mode(outbox(mnt, "ko.error")) == 0o440
    assert mode(mnt.job("ok", "_SUCCESS")) == 0o440
