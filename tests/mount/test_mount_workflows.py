"""File-native workflows (SEMANTICS.md: Staging, Waiting, Results): staging input.jsonl through a draft,
request.json's short form and defaults, wait, progress, results/ and
by-id/. Every error path checks the errno and the text in `error`."""
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from lib.mounthelp import (TLS_TOO, Mount, jobs_created, prompts, put_input,
                           wait_parked)

# Every test here runs over plain http and over TLS (--tls, -o cafile=).
pytestmark = TLS_TOO
from gcemu import model

STAGE = "gs://stage/pre"


def staged(mount_fs, emu, **opts):
    emu.make_bucket("stage")
    return mount_fs(staging=STAGE, **opts)


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def lines(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def unkeyed(n, bad=()):
    """n requests without keys; rows in bad use role "tester" (they fail)."""
    out = []
    for i in range(1, n + 1):
        role = "tester" if i in bad else "user"
        out.append({"request": {"contents": [
            {"role": role, "parts": [{"text": "prompt %d" % i}]}]}})
    return out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def expect_errno(fn, err):
    with pytest.raises(OSError) as ei:
        fn()
    assert ei.value.errno == err, ei.value
    return ei.value


def submit_short(mnt, name, body=None):
    write(mnt.job(name, "request.json"),
          json.dumps(body or {"model": "gemini-2.5-flash"}))


# ---- staging -----------------------------------------------------------

def test_input_jsonl_is_checked_keyed_and_uploaded(mount_fs, emu_any):
    emu = emu_any
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("s1"))
    rows = unkeyed(3)
    rows[1]["key"] = "mine"
    rows[2]["custom_id"] = "cid"
    write(mnt.job("s1", "input.jsonl"), lines(rows))
    got = mnt.read("s1", "input.jsonl").splitlines()
    assert [json.loads(l).get("key") for l in got] == ["line-1", "mine", None]
    assert json.loads(got[2])["custom_id"] == "cid"
    # the uploaded object is the keyed text
    assert emu.get_object("stage", "pre/s1/input.jsonl").decode() == \
        "".join(l + "\n" for l in got)
    assert mnt.read("s1", "error") == ""
    assert mnt.read("s1", "state") == "DRAFT\n"
    assert "input.jsonl" in os.listdir(mnt.job("s1"))


@pytest.mark.parametrize("text,msg", [
    ('{"request":{"contents":[{"parts":[{"text":"a"}]}]}}\nnot json\n',
     "input.jsonl:2:1: malformed JSON"),
    ('{"request":{"contents":[]}}\n', 'input.jsonl:1: "request.contents" is empty'),
    ('{"x":1}\n', 'input.jsonl:1: missing "request"'),
    ('{"key":"a","request":{"contents":[1]}}\n'
     '{"key":"a","request":{"contents":[1]}}\n',
     'input.jsonl:2: duplicate key "a" (lines 1 and 2)'),
    ("\x00\x01binary\n", "not UTF-8"),
])
def test_bad_input_fails_the_close_with_einval(mount_fs, emu, text, msg):
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("bad"))
    err = expect_errno(lambda: write(mnt.job("bad", "input.jsonl"), text),
                       errno.EINVAL)
    assert err is not None
    assert msg in mnt.read("bad", "error"), mnt.read("bad", "error")
    assert not emu.list_objects("stage")
    # request.json without a source names the problem
    expect_errno(lambda: submit_short(mnt, "bad"), errno.EINVAL)
    assert "input.jsonl was written but is not staged" in \
        mnt.read("bad", "error")
    assert jobs_created(emu) == 0


def test_cp_of_bad_input_fails(mount_fs, emu, tmp_path):
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("cp"))
    src = tmp_path / "in.jsonl"
    src.write_text(lines(unkeyed(2)) + '{"request": {}}\n')
    out = subprocess.run(["cp", str(src), mnt.job("cp", "input.jsonl")],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "Invalid argument" in out.stderr
    assert 'input.jsonl:3: missing "request.contents"' in mnt.read("cp", "error")


def test_without_staging_input_jsonl_names_the_option(mnt, emu):
    os.mkdir(mnt.job("ns"))
    expect_errno(lambda: write(mnt.job("ns", "input.jsonl"), "x"),
                 errno.EPERM)
    assert "-o staging=gs://BUCKET/PREFIX" in mnt.read("ns", "error")
    expect_errno(lambda: submit_short(mnt, "ns"), errno.EINVAL)
    err = mnt.read("ns", "error")
    assert 'missing field "inputConfig"' in err
    assert "-o staging=gs://BUCKET/PREFIX" in err


def test_bad_staging_option_fails_the_mount(emu, build_dir, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    out = subprocess.run([os.path.join(build_dir, "fs", "batchfs"), "-f",
                          "-o", "staging=s3://x,no_auth,project=p,endpoint=" +
                          emu.url, str(mnt)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "gs://BUCKET/PREFIX" in out.stderr


def test_empty_input_is_not_staged(mount_fs, emu):
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("e"))
    write(mnt.job("e", "input.jsonl"), "")  # like touch: no error
    expect_errno(lambda: submit_short(mnt, "e"), errno.EINVAL)
    assert "input.jsonl is empty" in mnt.read("e", "error")


def test_unlink_and_truncate_input(mount_fs, emu):
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("u"))
    p = mnt.job("u", "input.jsonl")
    write(p, lines(unkeyed(2)))
    os.truncate(p, 0)
    assert os.stat(p).st_size == 0
    os.unlink(p)
    assert "input.jsonl" not in os.listdir(mnt.job("u"))
    expect_errno(lambda: os.stat(p), errno.ENOENT)


# ---- request.json short form -------------------------------------------

def test_short_form_with_staged_input_and_default_output(mount_fs, emu_any):
    emu = emu_any
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("sf"))
    write(mnt.job("sf", "input.jsonl"), lines(unkeyed(3)))
    submit_short(mnt, "sf")
    spec = json.loads(mnt.read("sf", "request.json"))
    assert spec["model"] == "publishers/google/models/gemini-2.5-flash"
    assert spec["inputConfig"]["gcsSource"]["uris"] == [
        "gs://stage/pre/sf/input.jsonl"]
    assert spec["outputConfig"]["gcsDestination"]["outputUriPrefix"] == \
        "gs://stage/pre/sf/output/"
    assert mnt.wait_state("sf") == "JOB_STATE_SUCCEEDED"
    assert "input.jsonl" not in os.listdir(mnt.job("sf"))


def test_short_form_src_dest(mnt, emu):
    src = put_input(emu, prompts(2))
    emu.make_bucket("bkt-out")
    os.mkdir(mnt.job("sd"))
    submit_short(mnt, "sd", {"model": "google/gemini-2.5-flash", "src": src,
                             "dest": "gs://bkt-out/sd/"})
    spec = json.loads(mnt.read("sd", "request.json"))
    assert spec["model"] == "publishers/google/models/gemini-2.5-flash"
    assert spec["inputConfig"] == {"instancesFormat": "jsonl",
                                   "gcsSource": {"uris": [src]}}
    expect_errno(lambda: (os.mkdir(mnt.job("sd2")), submit_short(
        mnt, "sd2", {"model": "m", "src": "s3://x", "dest": "gs://b/o"})),
        errno.EINVAL)
    assert '"src" must be' in mnt.read("sd2", "error")


# ---- wait and progress ----------------------------------------------------

def test_wait_blocks_until_finished(mount_fs, emu_any):
    emu = emu_any
    emu.config(row_seconds=0.3)
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("w"))
    write(mnt.job("w", "input.jsonl"), lines(unkeyed(6)))
    submit_short(mnt, "w")
    t0 = time.time()
    out = subprocess.run(["cat", mnt.job("w", "wait")], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout == "JOB_STATE_SUCCEEDED\n"
    assert mnt.read("w", "state") == "JOB_STATE_SUCCEEDED\n"
    assert time.time() - t0 > 0.5
    # once finished it answers at once, with its real size
    assert os.stat(mnt.job("w", "wait")).st_size == len(out.stdout)
    prog = mnt.read("w", "progress")
    assert prog.startswith("JOB_STATE_SUCCEEDED 6/6 100% succeeded=6 "
                           "failed=0 incomplete=0 [####################]")
    assert " elapsed=" in prog and "eta=" not in prog


def test_wait_is_interrupted_by_a_signal(mount_fs, emu):
    emu.config(pending_seconds=60)
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("wi"))
    write(mnt.job("wi", "input.jsonl"), lines(unkeyed(1)))
    submit_short(mnt, "wi")
    # The handler raises, or Python would retry the read (PEP 475).
    code = ("import os,signal,sys\n"
            "class Alarm(Exception): pass\n"
            "def on(*a): raise Alarm()\n"
            "signal.signal(signal.SIGALRM, on)\n"
            "signal.setitimer(signal.ITIMER_REAL, 1.0)\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "try:\n"
            "    os.read(fd, 100)\n"
            "    print('returned')\n"
            "except Alarm:\n"
            "    print('EINTR')\n")
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, mnt.job("wi", "wait")],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "EINTR", out
    assert time.time() - t0 < 10
    # Ctrl-C on `cat wait` ends it at once
    cat = subprocess.Popen(["cat", mnt.job("wi", "wait")],
                           stdout=subprocess.PIPE)
    wait_parked([cat])
    assert cat.poll() is None
    t0 = time.time()
    cat.send_signal(signal.SIGINT)
    assert cat.wait(timeout=10) != 0
    assert time.time() - t0 < 5
    # the mount still works, and unmounts while a wait blocks
    assert mnt.read("wi", "state").startswith("JOB_STATE_")
    waiter = subprocess.Popen(["cat", mnt.job("wi", "wait")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_parked([waiter])
    assert waiter.poll() is None
    waiter.kill()
    waiter.wait(timeout=10)


def test_progress_while_running_has_eta(mount_fs, emu):
    emu.config(row_seconds=0.4)
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("pr"))
    write(mnt.job("pr", "input.jsonl"), lines(unkeyed(10)))
    submit_short(mnt, "pr")
    deadline = time.time() + 30
    seen = None
    while time.time() < deadline:
        p = mnt.read("pr", "progress")
        if p.startswith("JOB_STATE_RUNNING") and " eta=" in p:
            seen = p
            break
        time.sleep(0.2)
    assert seen, p
    assert "[" in seen and " elapsed=" in seen


# ---- results ---------------------------------------------------------------

def canon(v):
    """A request as rows echo it, in a comparable form: null members
    dropped, numbers as floats, keys sorted."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(y) for k, y in x.items() if y is not None}
        if isinstance(x, list):
            return [strip(y) for y in x]
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return float(x)
        return x
    return json.dumps(strip(v), sort_keys=True)


def row_key(row, inputs):
    """A row's key; for a row that echoes none (the pessimistic emulator),
    the added key of the staged line whose request it echoes."""
    if "key" in row:
        return row["key"]
    want = canon(row["request"])
    hits = ["line-%d" % i for i, r in enumerate(inputs, 1)
            if canon(r["request"]) == want]
    assert len(hits) == 1, (row, hits)
    return hits[0]


def check_by_input(by, rows, model_name="gemini-2.5-flash"):
    assert len(by) == len(rows)
    for i, (line, row) in enumerate(zip(by, rows), 1):
        out = json.loads(line)
        assert out["key"] == "line-%d" % i
        status, resp = model.predict(row["request"], model_name)
        assert out["status"] == status
        if resp is not None:
            assert out["response"]["candidates"][0]["content"] == \
                resp["candidates"][0]["content"]


def test_results_join_output_to_input(mount_fs, emu_any):
    emu = emu_any
    mnt = staged(mount_fs, emu)
    rows = unkeyed(8, bad={3, 6})
    os.mkdir(mnt.job("r"))
    write(mnt.job("r", "input.jsonl"), lines(rows))
    submit_short(mnt, "r")
    assert open(mnt.job("r", "wait")).read() == "JOB_STATE_SUCCEEDED\n"
    res = mnt.job("r", "results")
    assert sorted(os.listdir(res)) == ["by-input.jsonl", "failed.jsonl",
                                       "retry.jsonl", "succeeded.jsonl"]
    by = open(os.path.join(res, "by-input.jsonl")).read().splitlines()
    check_by_input(by, rows)
    ok = open(os.path.join(res, "succeeded.jsonl")).read().splitlines()
    bad = open(os.path.join(res, "failed.jsonl")).read().splitlines()
    assert sorted(row_key(json.loads(l), rows) for l in ok) == \
        ["line-%d" % i for i in (1, 2, 4, 5, 7, 8)]
    assert sorted(row_key(json.loads(l), rows) for l in bad) == \
        ["line-3", "line-6"]
    retry = [json.loads(l) for l in
             open(os.path.join(res, "retry.jsonl")).read().splitlines()]
    assert [r["key"] for r in retry] == ["line-3", "line-6"]
    assert retry[0]["request"] == rows[2]["request"]
    for f in os.listdir(res):
        p = os.path.join(res, f)
        assert os.stat(p).st_size == len(open(p, "rb").read())
    expect_errno(lambda: open(os.path.join(res, "by-input.jsonl"), "w"),
                 errno.EACCES)


def test_results_incomplete_rows_of_a_cancelled_job(mount_fs, emu_any):
    emu = emu_any
    emu.config(row_seconds=0.5)
    mnt = staged(mount_fs, emu)
    rows = unkeyed(12)
    os.mkdir(mnt.job("c"))
    write(mnt.job("c", "input.jsonl"), lines(rows))
    submit_short(mnt, "c")
    deadline = time.time() + 30
    while "RUNNING" not in mnt.read("c", "state"):
        assert time.time() < deadline
        time.sleep(0.1)
    time.sleep(1.2)
    write(mnt.job("c", "ctl"), "cancel\n")
    assert open(mnt.job("c", "wait")).read() == "JOB_STATE_CANCELLED\n"
    by = [json.loads(l) for l in
          open(mnt.job("c", "results", "by-input.jsonl")).read().splitlines()]
    assert [b["key"] for b in by] == ["line-%d" % i for i in range(1, 13)]
    inc = [b["key"] for b in by if b.get("status") == "incomplete"]
    done = [b["key"] for b in by if "response" in b]
    assert inc and done and len(inc) + len(done) == 12
    retry = [json.loads(l)["key"] for l in
             open(mnt.job("c", "results", "retry.jsonl")).read().splitlines()]
    assert retry == inc


def test_results_of_input_without_keys_match_by_request(mnt, emu):
    # Neither the input nor the rows carry keys: rows are matched to lines
    # by their echoed request (was: a README saying they cannot be).
    rows = unkeyed(3)
    src = put_input(emu, rows)
    emu.make_bucket("bkt-out")
    os.mkdir(mnt.job("nk"))
    submit_short(mnt, "nk", {"model": "gemini-2.5-flash", "src": src,
                             "dest": "gs://bkt-out/nk/"})
    assert open(mnt.job("nk", "wait")).read() == "JOB_STATE_SUCCEEDED\n"
    names = sorted(os.listdir(mnt.job("nk", "results")))
    assert names == ["by-input.jsonl", "failed.jsonl", "retry.jsonl",
                     "succeeded.jsonl"]
    with open(mnt.job("nk", "results", "succeeded.jsonl")) as f:
        ok = f.read().splitlines()
    assert len(ok) == 3  # not the incremental export's copies too
    by = [json.loads(l) for l in
          open(mnt.job("nk", "results", "by-input.jsonl")).read().splitlines()]
    assert [model.predict(r["request"], "gemini-2.5-flash")[1]["candidates"][0]
            ["content"] for r in rows] == \
        [b["response"]["candidates"][0]["content"] for b in by]
    assert mnt.read("nk", "results/retry.jsonl") == ""


def test_results_of_keyed_external_input(mnt, emu):
    rows = prompts(4)  # keys k0..k3
    src = put_input(emu, rows)
    emu.make_bucket("bkt-out")
    os.mkdir(mnt.job("ke"))
    submit_short(mnt, "ke", {"model": "gemini-2.5-flash", "src": src,
                             "dest": "gs://bkt-out/ke/"})
    open(mnt.job("ke", "wait")).read()
    by = [json.loads(l) for l in
          open(mnt.job("ke", "results", "by-input.jsonl")).read().splitlines()]
    assert [b["key"] for b in by] == ["k0", "k1", "k2", "k3"]


# ---- by-id -------------------------------------------------------------------

def test_by_id_links_to_the_job(mount_fs, emu):
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("b"))
    write(mnt.job("b", "input.jsonl"), lines(unkeyed(1)))
    submit_short(mnt, "b")
    jid = json.loads(mnt.read("b", "job.json"))["name"].rsplit("/", 1)[1]
    byid = os.path.join(mnt.path, "by-id")
    assert "by-id" in os.listdir(mnt.path)
    deadline = time.time() + 10
    while jid not in os.listdir(byid):
        assert time.time() < deadline
        time.sleep(0.1)
    link = os.path.join(byid, jid)
    assert os.path.islink(link)
    assert os.readlink(link) == "../jobs/b"
    assert open(os.path.join(link, "state")).read().startswith("JOB_STATE_")
    expect_errno(lambda: os.lstat(os.path.join(byid, "999999")),
                 errno.ENOENT)


def test_many_waiters_do_not_stall_the_mount(mount_fs, emu):
    """Parked reads hold no thread: more waiters than the daemon has
    threads (64), and the job is still fetched once per refresh."""
    emu.config(pending_seconds=60)
    mnt = staged(mount_fs, emu)
    os.mkdir(mnt.job("mw"))
    write(mnt.job("mw", "input.jsonl"), lines(unkeyed(1)))
    submit_short(mnt, "mw")
    waiters = [subprocess.Popen(["cat", mnt.job("mw", "wait")],
                                stdout=subprocess.PIPE)
               for _ in range(100)]
    try:
        wait_parked(waiters)
        assert all(w.poll() is None for w in waiters)
        gets = emu.counters()["routes"].get("vertex.get", 0)
        time.sleep(1.5)
        gets = emu.counters()["routes"].get("vertex.get", 0) - gets
        assert gets <= 1.5 / 0.3 + 3, gets  # refresh=0.3, not per reader
        t0 = time.time()
        assert mnt.read("mw", "state").startswith("JOB_STATE_")
        assert sorted(os.listdir(mnt.path)) == ["README", "by-id", "jobs", "outbox"]
        assert time.time() - t0 < 5
        jid = json.loads(mnt.read("mw", "job.json"))["name"].rsplit("/", 1)[1]
        emu.finish_job(jid)
        for w in waiters:
            out, _ = w.communicate(timeout=30)
            assert out == b"JOB_STATE_SUCCEEDED\n"
    finally:
        kill_all(waiters)


def test_waiters_on_many_jobs_are_all_answered(mount_fs, emu):
    """More parked jobs than the poller's small batch (64): every one is
    fetched each round, the oldest waiters too."""
    emu.make_bucket("bulk-bucket")
    emu.control("POST", "jobs:bulk", {
        "count": 70, "display_name_prefix": "many",
        "state": "JOB_STATE_RUNNING", "bucket": "bulk-bucket"})
    mnt = mount_fs()
    names = sorted(n for n in os.listdir(mnt.jobs) if n.startswith("many"))
    assert len(names) == 70
    waiters = []
    try:
        for n in names:
            waiters.append(subprocess.Popen(["cat", mnt.job(n, "wait")],
                                            stdout=subprocess.PIPE))
        wait_parked(waiters)
        assert all(w.poll() is None for w in waiters)
        # The first readers to park end; the 64 parked after them do not.
        for n in names[:6]:  # fixture jobs have no rows to run: expire
            emu.finish_job(json.loads(mnt.read(n, "job.json"))["name"],
                           state="JOB_STATE_EXPIRED")
        for w in waiters[:6]:
            out, _ = w.communicate(timeout=30)
            assert out == b"JOB_STATE_EXPIRED\n"
        assert all(w.poll() is None for w in waiters[6:])
    finally:
        kill_all(waiters)


def test_wait_works_single_threaded(emu, build_dir, tmp_path):
    """With -s (one thread) a parked `wait` neither stalls the mount nor
    ignores Ctrl-C."""
    emu.make_bucket("stage")
    emu.config(pending_seconds=60)
    m = Mount(emu, build_dir, str(tmp_path), {"staging": STAGE})
    m.argv.insert(2, "-s")
    m.start()
    procs = []
    try:
        os.mkdir(m.job("st"))
        write(m.job("st", "input.jsonl"), lines(unkeyed(1)))
        submit_short(m, "st")
        first, second = procs[:] = [
            subprocess.Popen(["cat", m.job("st", "wait")],
                             stdout=subprocess.PIPE) for _ in range(2)]
        wait_parked([first, second])
        assert first.poll() is None and second.poll() is None
        t0 = time.time()
        assert m.read("st", "state").startswith("JOB_STATE_")
        assert time.time() - t0 < 5
        first.send_signal(signal.SIGINT)
        assert first.wait(timeout=10) != 0
        assert second.poll() is None
        jid = json.loads(m.read("st", "job.json"))["name"].rsplit("/", 1)[1]
        emu.finish_job(jid)
        out, _ = second.communicate(timeout=30)
        assert out == b"JOB_STATE_SUCCEEDED\n"
    finally:
        kill_all(procs)
        m.stop()


def test_results_grow_while_the_job_runs(mount_fs, emu_any):
    emu = emu_any
    emu.config(row_seconds=0.3, export_interval=0.3)
    mnt = staged(mount_fs, emu)
    rows = unkeyed(15)
    os.mkdir(mnt.job("g"))
    write(mnt.job("g", "input.jsonl"), lines(rows))
    submit_short(mnt, "g")
    deadline = time.time() + 30
    partial = None
    while time.time() < deadline:
        st = mnt.read("g", "state").strip()
        with open(mnt.job("g", "results", "by-input.jsonl")) as f:
            by = [json.loads(l) for l in f.read().splitlines()]
        assert len(by) == 15
        done = [b for b in by if "response" in b]
        if st == "JOB_STATE_RUNNING" and 0 < len(done) < 15:
            partial = by
            break
        time.sleep(0.2)
    assert partial, "no partial results seen while running"
    # rows not exported yet show as incomplete, in input order
    assert [b["key"] for b in partial] == ["line-%d" % i for i in range(1, 16)]
    assert any(b.get("status") == "incomplete" for b in partial)
    assert open(mnt.job("g", "wait")).read() == "JOB_STATE_SUCCEEDED\n"
    with open(mnt.job("g", "results", "by-input.jsonl")) as f:
        final = [json.loads(l) for l in f.read().splitlines()]
    check_by_input([json.dumps(b) for b in final], rows)
    with open(mnt.job("g", "results", "retry.jsonl")) as f:
        assert f.read() == ""


def test_large_input_is_staged_resumably(mount_fs, emu):
    mnt = staged(mount_fs, emu)
    pad = "x" * 1000
    rows = [{"request": {"contents": [{"role": "user", "parts": [
        {"text": "prompt %d %s" % (i, pad)}]}]}} for i in range(1, 10001)]
    os.mkdir(mnt.job("big"))
    with open(mnt.job("big", "input.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")  # many small writes
    data = emu.get_object("stage", "pre/big/input.jsonl")
    assert len(data) > 8 << 20
    got = data.decode().splitlines()
    assert len(got) == 10000
    assert json.loads(got[9999])["key"] == "line-10000"
    assert emu.counters()["routes"].get("gcs.upload.chunk", 0) >= 2
