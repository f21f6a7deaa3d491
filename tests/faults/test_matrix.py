"""The fault matrix: every file operation of a mount x every fault the
emulator can inject that applies to it, against the real daemon.

Each case adds the fault rule(s) for the operation's own request, runs the
operation as a child process with a hard timeout and checks:
- the fault was hit (else the case proves nothing);
- a transient fault (times 1-2) is absorbed: the operation succeeds with the
  correct result (SEMANTICS.md: remote calls are retried before an error is
  returned; lost or ambiguous creates are reconciled; reads never return
  misplaced bytes); a persistent fault (token endpoint down) either
  succeeds correctly or fails with a promised errno (EIO, ETIMEDOUT, EAGAIN,
  EACCES for token failures);
- the wall time is within the documented deadline (DEADLINE_S below, from
  include/batchfs/http.h and vertex.h: these mounts keep the default
  budgets, so the transient faults are short and recover; the hung-server
  cases at the end shorten them with -o deadline and -o change_deadline);
- output bytes match the emulator's object exactly (sha256) whenever a read
  succeeds, and a failed read's bytes are a prefix of the object;
- exactly one job per submit (jobs_created and the listing), also after a
  failed submit is retried;
- afterwards, with the faults cleared, the daemon still serves (`ls jobs`,
  `cat state`).
One mount per operation group (the emulator is reset when a group starts,
faults are cleared after every case); the group's last case unmounts and
checks the daemon exits cleanly with no sanitizer report.
"""
import errno
import json
import os
import re
import sys
import time
import urllib.parse

import pytest

from lib.faultlib import (SERVICE_ERRNOS, TOKEN_ERRNOS, Hang, add_faults,
                      bulk, ename, expire_tokens, fault_hits, jobs_named,
                      list_jobs, matrix_record, object_path, request_json,
                      run, sha)
from lib.mounthelp import Mount

MiB = 1 << 20
REFRESH = 0.3   # -o refresh and list_ttl of every mount here
SLACK_S = 10    # scheduling slack on top of a documented deadline

# Documented deadlines of one operation (fs/README.md "Every network call has
# a deadline", include/batchfs/http.h, include/batchfs/vertex.h):
# a call: 60 s budget, retries included; a token fetch on the way is one more
# call (60 s); create: at most 4 POSTs within 150 s; delete: the call plus
# its Operation wait (60 s); a listing: one call per page.
DEADLINE_S = {
    "submit": 150 + 60,
    "state read": 60 + 60,
    "listing": 3 * 60 + 60,
    "output read": 60 + 60,   # per read(2); a 4 MiB cat is a few windows
    "cancel": 60 + 60 + 60,   # the cancel call, then the job is re-fetched
    "delete": 60 + 60 + 60,
    "token refresh": 60 + 60,
    "output read direct_io": 60 + 60,
}

# Fault columns: name -> (kind fields, persistent?). Per-operation sizes
# (after_bytes, bytes_per_second) are filled in by the group.
FAULTS = [
    ("5xx", {"kind": "status", "status": 503, "times": 2}),
    ("5xx+RA", {"kind": "status", "status": 503, "retry_after": 1}),
    ("429", {"kind": "status", "status": 429}),
    ("429+RA", {"kind": "status", "status": 429, "retry_after": 1}),
    ("reset", {"kind": "reset"}),
    ("stall", {"kind": "stall", "seconds": 2}),
    ("stall-body", {"kind": "stall_body", "seconds": 2}),
    ("truncate", {"kind": "truncate"}),
    ("range-200", {"kind": "ignore_range"}),
    ("wrong-range", {"kind": "wrong_range"}),
    ("slow", {"kind": "slow"}),
    ("lost-503", {"kind": "lose_response", "status": 503}),
    ("lost-reset", {"kind": "lose_response", "reset": True}),
    ("token-down", {"kind": "status", "status": 503, "times": -1}),
]
PERSISTENT = {"token-down"}

NA_RANGE = "range faults hit ranged GETs only; this operation makes none"
NA_LOST = "lost reply of a GET is a plain 5xx/reset (own columns); " \
          "lose_response matters for requests that change state"


class Group:
    """One operation: its mount, fixture jobs, fault target and check."""
    op = None
    method = None
    mount_opts = {}
    faults = FAULTS
    small_after = 20          # stall_body/truncate offset in the reply
    slow_bps = 1000
    na = {}

    def __init__(self, emu, build, workdir):
        self.emu = emu
        self.build = build
        self.workdir = workdir
        self.mount = None
        self.seq = 0

    # --- lifecycle -----------------------------------------------------
    def start(self):
        e = self.emu
        e.reset()
        e.config(require_auth=True)
        e.make_bucket("bulk-bucket")
        self.prepare()
        # No call budget (vertex_rpm=0): at refresh 0.3 s the cases would
        # spend it and be served from the cache, never reaching their fault
        # (the budget has its own tests: tests/mount/test_mount_quota.py).
        opts = {"refresh": str(REFRESH), "list_ttl": str(REFRESH),
                "vertex_rpm": "0"}
        opts.update(self.mount_opts)
        self.mount = Mount(e, self.build, self.workdir, opts).start()
        self.warm()

    def stop(self):
        m, self.mount = self.mount, None
        if m:
            m.stop()

    def prepare(self):
        pass

    def warm(self):
        pass

    # --- per case ------------------------------------------------------
    def rules(self, fname, spec):
        """The fault rules of a case (list of dicts)."""
        r = dict(spec)
        r.setdefault("times", 1)
        if fname == "token-down":
            return [dict(r, method="POST", path=r"^/token")]
        if r["kind"] in ("stall_body", "truncate"):
            r["after_bytes"] = self.small_after
        if r["kind"] == "slow":
            r["bytes_per_second"] = self.slow_bps
        r["method"] = self.method
        r["path"] = self.target()
        return [r]

    def target(self):
        raise NotImplementedError

    def before(self, fname):
        """Per-case fixture work before the faults go in."""

    def act(self, fname):
        """Runs the operation; returns (rc, stdout, stderr, errno, ms)."""
        raise NotImplementedError

    def check_ok(self, fname, out):
        """The operation returned 0: is the result correct?"""

    def check_failed(self, fname, out, eno):
        """The operation failed with an allowed errno: state checks, and the
        retry once the faults are gone."""

    def anchor(self):
        """A job name whose state must read after every case."""
        return None

    # SEMANTICS.md "Errors": a failed re-fetch (re-listing) with an earlier
    # result at hand shows that result for another interval, logged at warn.
    stale_log = None

    def is_stale(self, out):
        return False

    def serves(self):
        time.sleep(REFRESH + 0.05)
        rc, out, err, eno, ms = run(["ls", "-1", self.mount.jobs], 60)
        assert rc == 0, "ls jobs after the case: %s" % err
        a = self.anchor()
        if a:
            rc, out, err, eno, ms = run(
                ["cat", self.mount.job(a, "state")], 60)
            assert rc == 0 and out.startswith(b"JOB_STATE_"), \
                "cat %s/state after the case: rc %d %r %s" % (a, rc, out, err)


# --- submit: cp request.json into a draft ---------------------------------
class Submit(Group):
    op = "submit"
    method = "POST"
    na = {"range-200": NA_RANGE, "wrong-range": NA_RANGE}

    def prepare(self):
        e = self.emu
        e.make_bucket("bkt-in")
        e.make_bucket("bkt-out")
        rows = "".join(json.dumps({"key": "k%d" % i, "request": {
            "contents": [{"role": "user", "parts": [{"text": "p %d" % i}]}]}})
            + "\n" for i in range(3)).encode()
        e.put_object("bkt-in", "in/input.jsonl", rows)
        self.req = os.path.join(self.workdir, "request.json")
        with open(self.req, "w") as f:
            f.write(request_json("gs://bkt-in/in/input.jsonl",
                                 "gs://bkt-out/out"))
        bulk(e, "anchor", 1, "JOB_STATE_SUCCEEDED")

    def anchor(self):
        return "anchor0"

    def target(self):
        return r"batchPredictionJobs$"

    def before(self, fname):
        self.name = "sub-" + fname
        os.mkdir(self.mount.job(self.name))
        self.created0 = self.emu.counters().get("jobs_created", 0)

    def act(self, fname):
        return run(["cp", self.req, self.mount.job(self.name, "request.json")],
                   DEADLINE_S[self.op] + SLACK_S)

    def check_ok(self, fname, out):
        jobs = jobs_named(self.emu, self.name)
        assert len(jobs) == 1, "submit returned 0 but %d jobs named %s" % (
            len(jobs), self.name)
        assert self.emu.counters()["jobs_created"] - self.created0 == 1
        st = self.mount.read(self.name, "state").strip()
        assert st.startswith("JOB_STATE_"), "state after submit: %r" % st

    def check_failed(self, fname, out, eno):
        jobs = jobs_named(self.emu, self.name)
        assert len(jobs) <= 1, "failed submit made %d jobs" % len(jobs)
        assert self.mount.read(self.name, "error").strip(), \
            "failed submit left no error text"
        self.emu.clear_faults()
        rc, _, err, eno2, ms = run(
            ["cp", self.req, self.mount.job(self.name, "request.json")],
            DEADLINE_S[self.op] + SLACK_S)
        assert rc == 0, "retried submit failed: %s" % err
        self.check_ok(fname, None)


# --- state read: cat state of a running job after `refresh` ---------------
class StateRead(Group):
    op = "state read"
    method = "GET"
    na = {"range-200": NA_RANGE, "wrong-range": NA_RANGE,
          "lost-503": NA_LOST, "lost-reset": NA_LOST}

    def prepare(self):
        self.ids = bulk(self.emu, "st", len(self.faults), "JOB_STATE_RUNNING")
        self.i = 0

    def anchor(self):
        return "st0"

    def before(self, fname):
        self.i = [f for f, _ in self.faults].index(fname)
        self.name = "st%d" % self.i
        rc, out, err, _, _ = run(["cat", self.mount.job(self.name, "state")],
                                 60)
        assert out == b"JOB_STATE_RUNNING\n", (rc, out, err)
        # The job ends remotely; the next read after `refresh` must see it.
        self.emu.finish_job(self.ids[self.i], "JOB_STATE_FAILED", code=13,
                            message="boom")
        time.sleep(REFRESH + 0.1)

    def target(self):
        return r"batchPredictionJobs/%s($|\?)" % self.ids[self.i]

    def act(self, fname):
        return run(["cat", self.mount.job(self.name, "state")],
                   DEADLINE_S[self.op] + SLACK_S)

    stale_log = "refresh failed, showing the last fetched state"

    def is_stale(self, out):
        return out == b"JOB_STATE_RUNNING\n"

    def check_ok(self, fname, out):
        assert out == b"JOB_STATE_FAILED\n", \
            "state after the job failed remotely: %r" % out

    def check_failed(self, fname, out, eno):
        self.emu.clear_faults()
        time.sleep(REFRESH + 0.1)
        rc, out, err, _, _ = run(["cat", self.mount.job(self.name, "state")],
                                 60)
        assert rc == 0 and out == b"JOB_STATE_FAILED\n", (rc, out, err)


# --- listing: ls -l jobs with several pages --------------------------------
class Listing(Group):
    op = "listing"
    method = "GET"
    mount_opts = {"page_size": "4"}
    slow_bps = 20000
    small_after = 200
    na = {"range-200": NA_RANGE, "wrong-range": NA_RANGE,
          "lost-503": NA_LOST, "lost-reset": NA_LOST}

    def prepare(self):
        bulk(self.emu, "ls", 9, "JOB_STATE_SUCCEEDED")

    def anchor(self):
        return "ls0"

    def before(self, fname):
        # A job made by another client: the listing must show it.
        bulk(self.emu, "new-%s-" % fname, 1, "JOB_STATE_SUCCEEDED")
        self.new = "new-%s-0" % fname
        self.expect = sorted(j["displayName"] for j in list_jobs(self.emu))
        time.sleep(REFRESH + 0.1)

    def target(self):
        # A later page: the fault hits the listing half-way.
        return r"batchPredictionJobs\?.*pageToken="

    def act(self, fname):
        return run(["ls", "-l", self.mount.jobs],
                   DEADLINE_S[self.op] + SLACK_S)

    def names(self, out):
        return sorted(l.split(None, 8)[8] for l in
                      out.decode().splitlines()[1:] if l.strip())

    stale_log = "listing failed, using the previous one"

    def is_stale(self, out):
        return self.names(out) == [n for n in self.expect
                                   if n != self.new]

    def check_ok(self, fname, out):
        got = self.names(out)
        assert got == self.expect, "listing differs: missing %s extra %s" % (
            sorted(set(self.expect) - set(got)),
            sorted(set(got) - set(self.expect)))

    def check_failed(self, fname, out, eno):
        self.emu.clear_faults()
        time.sleep(REFRESH + 0.1)
        rc, out, err, _, _ = run(["ls", "-l", self.mount.jobs], 60)
        assert rc == 0, err
        self.check_ok(fname, out)


# --- output read: cat of a 4 MiB object, sha256 against the emulator ------
class OutputRead(Group):
    op = "output read"
    method = "GET"
    size = 4 * MiB
    small_after = 1 * MiB
    slow_bps = 4 * MiB
    na = {"lost-503": NA_LOST, "lost-reset": NA_LOST}
    prefix = "obj"

    def prepare(self):
        e = self.emu
        ids = bulk(e, "out", 1, "JOB_STATE_SUCCEEDED")
        job = e.get_job(ids[0])
        self.dir = job["outputInfo"]["gcsOutputDirectory"]
        self.sums = {}
        for fname, _ in self.faults:
            obj = "%s-%s.bin" % (self.prefix, fname)
            data = os.urandom(self.size)
            e.put_object(*object_path(self.dir, obj), data)
            self.sums[obj] = (sha(data), data)

    def warm(self):
        names = os.listdir(self.mount.job("out0", "output"))
        assert len(names) == len(self.faults), names

    def anchor(self):
        return "out0"

    def before(self, fname):
        self.obj = "%s-%s.bin" % (self.prefix, fname)
        self.path = self.mount.job("out0", "output", self.obj)
        st = os.stat(self.path)   # listed; the fault hits the media reads
        assert st.st_size == self.size

    def target(self):
        return r"%s.*alt=media" % re.escape(urllib.parse.quote(self.obj,
                                                                safe=""))

    def act(self, fname):
        return run(["cat", self.path], DEADLINE_S[self.op] + SLACK_S)

    def check_ok(self, fname, out):
        want, _ = self.sums[self.obj]
        assert len(out) == self.size and sha(out) == want, \
            "read %d bytes, sha256 differs from the object" % len(out)

    def check_failed(self, fname, out, eno):
        _, data = self.sums[self.obj]
        assert data.startswith(out), "a failed read returned wrong bytes"
        self.emu.clear_faults()
        rc, out, err, _, _ = run(["cat", self.path], 60)
        assert rc == 0, err
        self.check_ok(fname, out)


# --- cancel: echo cancel > ctl of a running job ----------------------------
class Cancel(Group):
    op = "cancel"
    method = "POST"
    na = {"range-200": NA_RANGE, "wrong-range": NA_RANGE}

    def prepare(self):
        self.ids = bulk(self.emu, "cx", len(FAULTS), "JOB_STATE_RUNNING")
        bulk(self.emu, "anchor", 1, "JOB_STATE_SUCCEEDED")

    def anchor(self):
        return "anchor0"

    def before(self, fname):
        self.i = [f for f, _ in FAULTS].index(fname)
        self.name = "cx%d" % self.i
        assert self.mount.read(self.name, "state") == "JOB_STATE_RUNNING\n"

    def target(self):
        return r"batchPredictionJobs/%s:cancel" % self.ids[self.i]

    def ctl(self):
        return run(["bash", "-c", 'echo cancel > "$1"', "bash",
                    self.mount.job(self.name, "ctl")],
                   DEADLINE_S[self.op] + SLACK_S)

    def act(self, fname):
        return self.ctl()

    def check_ok(self, fname, out):
        job = self.emu.get_job(self.ids[self.i])
        assert job["state"] in ("JOB_STATE_CANCELLING",
                                "JOB_STATE_CANCELLED"), job["state"]
        st = self.mount.read(self.name, "state").strip()
        assert st in ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"), \
            "state right after a cancel: %s" % st

    def check_failed(self, fname, out, eno):
        self.emu.clear_faults()
        rc, _, err, _, _ = self.ctl()
        assert rc == 0, "cancel again: %s" % err
        self.check_ok(fname, out)


# --- delete: rmdir of a finished job ---------------------------------------
class Delete(Group):
    op = "delete"
    method = "DELETE"
    na = {"range-200": NA_RANGE, "wrong-range": NA_RANGE}

    def prepare(self):
        self.ids = bulk(self.emu, "dx", len(FAULTS), "JOB_STATE_SUCCEEDED")
        bulk(self.emu, "anchor", 1, "JOB_STATE_SUCCEEDED")

    def anchor(self):
        return "anchor0"

    def before(self, fname):
        self.i = [f for f, _ in FAULTS].index(fname)
        self.name = "dx%d" % self.i
        assert os.path.isdir(self.mount.job(self.name))

    def target(self):
        return r"batchPredictionJobs/%s($|\?)" % self.ids[self.i]

    def act(self, fname):
        return run(["rmdir", self.mount.job(self.name)],
                   DEADLINE_S[self.op] + SLACK_S)

    def gone(self):
        st, _, _ = self.emu.request("GET", self.emu.jobs_path() + "/" +
                                    self.ids[self.i])
        return st == 404

    def check_ok(self, fname, out):
        assert self.gone(), "rmdir returned 0 but the job still exists"
        assert self.name not in os.listdir(self.mount.jobs), \
            "rmdir returned 0 but jobs/ still shows the job"

    def check_failed(self, fname, out, eno):
        self.emu.clear_faults()
        rc, _, err, eno2, _ = run(["rmdir", self.mount.job(self.name)], 60)
        assert rc == 0 or (eno2 == errno.ENOENT and self.gone()), err
        self.check_ok(fname, out)


# --- token refresh: tokens expire in the middle of a long read -------------
READER = r"""
import hashlib, json, sys, time, urllib.request
path, url, after = sys.argv[1], sys.argv[2], int(sys.argv[3])
h = hashlib.sha256(); n = 0; expired = False; err = 0
try:
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(256 << 10)
            if not b:
                break
            h.update(b); n += len(b)
            sys.stdout.buffer.write(b)
            if n >= after and not expired:
                urllib.request.urlopen(urllib.request.Request(
                    url + "/_emulator/tokens/expire", data=b"{}",
                    method="POST"), timeout=30).read()
                expired = True
except OSError as e:
    err = e.errno
sys.stdout.flush()
sys.stderr.write(json.dumps({"errno": err, "n": n, "expired": expired}))
sys.exit(1 if err else 0)
"""


class TokenRefresh(OutputRead):
    """The read's later ranged GETs get 401 after the expiry; the daemon
    must fetch a new token (the faulted request) and go on."""
    op = "token refresh"
    method = "POST"
    size = 6 * MiB
    small_after = 10
    slow_bps = 200
    prefix = "tok"
    # The block path: one ranged GET per 256 KiB window, so GETs go on
    # after the expiry. The splice path streams the object in one GET that
    # never needs the token again (test_mount_splice.py covers its 401).
    # A small budget keeps the parallel read-ahead (gcs/ahead.c) from
    # loading the whole object before the expiry.
    mount_opts = {"readahead_window": str(256 << 10), "readahead": str(1 << 20),
                  "nosplice": True}
    na = {"range-200": "faults here hit the token endpoint, not ranged GETs",
          "wrong-range": "faults here hit the token endpoint, not ranged GETs",
          "lost-503": "the token endpoint changes nothing: a lost reply is "
                      "the 5xx column",
          "lost-reset": "the token endpoint changes nothing: a lost reply "
                        "is the reset column"}

    def rules(self, fname, spec):
        r = Group.rules(self, fname, spec)
        return [dict(x, method="POST", path=r"^/token") for x in r]

    def act(self, fname):
        rc, out, err, eno, ms = run(
            [sys.executable, "-c", READER, self.path, self.emu.url,
             str(1 * MiB)], DEADLINE_S[self.op] + SLACK_S)
        try:
            info = json.loads(err.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise AssertionError("reader died: %s" % err)
        assert info["expired"] or info["errno"], info
        return rc, out, err, info["errno"], ms


class OutputReadDirect(OutputRead):
    op = "output read direct_io"
    mount_opts = {"direct_io": True}
    prefix = "dio"


GROUPS = [Submit, StateRead, Listing, OutputRead, Cancel, Delete,
          TokenRefresh]
_live = {}


def _mark(g):
    # One group's cases share its mount: `--dist loadgroup` keeps them on
    # one xdist worker (conftest.py).
    return pytest.mark.xdist_group(g.op.replace(" ", "_"))


def cases():
    out = []
    for g in GROUPS:
        for fname, spec in FAULTS:
            out.append(pytest.param(g, fname, spec, marks=_mark(g),
                                    id="%s-%s" % (g.op.replace(" ", "_"),
                                                  fname)))
        out.append(pytest.param(g, "unmount", None, marks=_mark(g),
                                id="%s-unmount" % g.op.replace(" ", "_")))
    return out


@pytest.fixture(scope="module")
def live(femu, fbuild_dir, tmp_path_factory):
    yield _live
    for g in list(_live.values()):
        if isinstance(g, Group):
            try:
                g.stop()
            except BaseException:
                pass
    _live.clear()


@pytest.mark.parametrize("group,fname,spec", cases())
def test_matrix(request, live, femu, fbuild_dir, tmp_path_factory,
                group, fname, spec):
    op = group.op
    matrix_record(request.node.nodeid, op, fname)
    if fname in group.na:
        pytest.skip(group.na[fname])
    g = live.get(op)
    if g is None:
        for other in list(live):   # an earlier group left mounted
            if isinstance(live[other], Group) and other != op:
                live.pop(other).stop()
        g = group(femu, fbuild_dir,
                  str(tmp_path_factory.mktemp(op.replace(" ", "_"))))
        live[op] = g
        try:
            g.start()
        except BaseException:
            live[op] = "setup failed"
            raise
    if not isinstance(g, Group):
        pytest.fail("group %s: %s" % (op, g))
    if fname == "unmount":
        t0 = time.monotonic()
        live.pop(op)
        g.stop()   # daemon exits by itself, stderr clean (mounthelp)
        matrix_record(request.node.nodeid, op, fname,
                      int((time.monotonic() - t0) * 1000))
        return

    emu = femu
    emu.clear_faults()
    g.before(fname)
    rules = g.rules(fname, spec)
    persistent = fname in PERSISTENT
    ids = add_faults(emu, rules)
    if fname == "token-down" and op != "token refresh":
        expire_tokens(emu)
    try:
        rc, out, err, eno, ms = g.act(fname)
    except Hang as exc:
        matrix_record(request.node.nodeid, op, fname, detail=str(exc))
        raise
    matrix_record(request.node.nodeid, op, fname, ms)
    hits = fault_hits(emu, ids)
    detail = "rc %d errno %s, %d ms, %d fault hit(s)" % (rc, ename(eno), ms,
                                                         hits)
    matrix_record(request.node.nodeid, op, fname, ms, detail)
    emu.clear_faults()   # the checks' own requests must not meet them
    try:
        assert hits >= 1, "the fault was never hit: the case proves nothing"
        assert ms <= DEADLINE_S[op] * 1000, \
            "took %d ms, past the documented %d s" % (ms, DEADLINE_S[op])
        if rc == 0 and persistent and g.is_stale(out):
            # The documented fallback: the last result, a warn line, and
            # the fresh result once the service is back.
            assert g.stale_log in g.mount.stderr(), \
                "stale result without the warn line %r" % g.stale_log
            matrix_record(request.node.nodeid, op, fname, ms,
                          detail + "; last fetched result shown (warn "
                          "logged), fresh after the faults end")
            g.check_failed(fname, out, 0)
        elif rc == 0:
            g.check_ok(fname, out)
        else:
            allowed = TOKEN_ERRNOS if fname == "token-down" else SERVICE_ERRNOS
            assert eno in allowed, "errno %s not promised here (%s): %s" % (
                ename(eno), "/".join(sorted(ename(a) for a in allowed)),
                err.strip()[-300:])
            assert persistent, (
                "a transient fault (%s) was not absorbed by retries: errno "
                "%s: %s" % (fname, ename(eno), err.strip()[-300:]))
            g.check_failed(fname, out, eno)
        emu.clear_faults()
        g.serves()
    finally:
        emu.clear_faults()


# --- the hung server ---------------------------------------------------------
# The service takes the request and never answers (a SIGSTOPped server: the
# emulator's `stall` longer than any deadline), on every route the daemon
# calls, with one caller and with many at once. The mounts run with
# -o deadline=HUNG_S (lookups, reads) and -o change_deadline=HUNG_S (submit,
# ctl, rmdir): each operation ends within it (plus slack) with the last
# fetched result (logged) or a promised errno, and meanwhile README, a
# request that needs no network, answers at once (SEMANTICS.md
# "Deadlines"). A held request that changes things is carried out when the
# server comes back (the stall ends): the case then checks the documented
# result, one job per submit however often it is retried.
HUNG_S = 6   # long enough that README answered at once tells apart
HUNG_SLACK_S = 4
STALL = {"kind": "stall", "seconds": 40, "times": -1}
# Held changes come back sooner: the case waits for them to land.
CHANGE_STALL_S = 12
CHANGE_STALL = dict(STALL, seconds=CHANGE_STALL_S)
HUNG_FAULTS = [("hang", STALL), ("hang-many", STALL)]
MANY = 16


def hung_group(base, **extra):
    attrs = {
        "op": "%s hung" % base.op,
        "faults": HUNG_FAULTS,
        "mount_opts": dict(base.mount_opts, deadline=str(HUNG_S),
                           change_deadline=str(HUNG_S)),
    }
    attrs.update(extra)
    return type("Hung" + base.__name__, (base,), attrs)


class HungChange:
    """A hung route that changes things: one target per caller (MANY
    drafts, jobs), the held requests land when the stall ends, and the
    retry then gives the documented result."""
    change = True
    # every caller: rc, ETIMEDOUT within change_deadline (+ slack)
    allowed = {errno.ETIMEDOUT}

    def rules(self, fname, spec):
        return [dict(spec, seconds=CHANGE_STALL_S, method=self.method,
                     path=self.target())]

    def act_i(self, fname, i):
        self.i = i
        return self.act(fname)

    def landed(self, hits):
        """True once every held request has been carried out."""
        raise NotImplementedError

    def await_landed(self, hits, what="the held requests"):
        deadline = time.monotonic() + CHANGE_STALL_S + 60
        while not self.landed(hits):
            assert time.monotonic() < deadline, "%s never landed" % what
            time.sleep(0.2)

    def after_hung(self, fname, n, hits):
        self.await_landed(hits)
        for i in range(n):
            self.i = i
            self.retry(fname)


class BulkTargets:
    """Targets of a hung change that are bulk jobs: 2 x MANY named
    PREFIX0.., the hang case takes the first MANY, hang-many the rest."""
    def prepare(self):
        self.ids = bulk(self.emu, self.prefix, 2 * MANY, self.bulk_state)
        bulk(self.emu, "anchor", 1, "JOB_STATE_SUCCEEDED")
        self.base = 0

    def before(self, fname):
        self.base = 0 if fname == "hang" else MANY
        for i in range(MANY):
            self.i = i
            self.check_ready()

    def jname(self):
        return "%s%d" % (self.prefix, self.base + self.i)


class HungSubmit(HungChange, hung_group(Submit)):
    target_re = r"batchPredictionJobs$"

    def target(self):
        return self.target_re

    def before(self, fname):
        self.names = ["hsub-%s-%d" % (fname, i) for i in range(MANY)]
        for nm in self.names:
            os.mkdir(self.mount.job(nm))
        self.created0 = self.emu.counters().get("jobs_created", 0)

    def act(self, fname):
        self.name = self.names[self.i]
        return run(["cp", self.req,
                    self.mount.job(self.name, "request.json")],
                   DEADLINE_S[self.op] + SLACK_S)

    def landed(self, hits):
        # Every held POST makes its job once the server goes on.
        return self.emu.counters().get("jobs_created", 0) - \
            self.created0 >= hits

    def retry(self, fname):
        """The user runs the submit again until it returns 0, at once,
        while the held POST may still land: the job it makes is adopted,
        never a second one made."""
        until = time.monotonic() + CHANGE_STALL_S + 60
        while True:
            rc, _, err, eno, _ = self.act(fname)
            if rc == 0:
                break
            assert eno in self.allowed, "submit again: errno %s: %s" % (
                ename(eno), err.strip()[-300:])
            assert time.monotonic() < until, "submit again: %s" % err
        st = self.mount.read(self.name, "state").strip()
        assert st.startswith("JOB_STATE_"), st

    def after_hung(self, fname, n, hits):
        for i in range(n):
            self.i = i
            self.retry(fname)
        self.await_landed(hits, "the held POSTs")
        for nm in self.names[:n]:
            jobs = jobs_named(self.emu, nm)
            assert len(jobs) == 1, "%d jobs named %s after a hung submit " \
                "and its retries" % (len(jobs), nm)
        made = self.emu.counters()["jobs_created"] - self.created0
        assert made == n, "%d submits made %d jobs" % (n, made)


class HungCancel(BulkTargets, HungChange, hung_group(Cancel)):
    prefix, bulk_state = "hcx", "JOB_STATE_RUNNING"

    def check_ready(self):
        assert self.mount.read(self.jname(), "state") == \
            "JOB_STATE_RUNNING\n"

    def target(self):
        return r"batchPredictionJobs/[0-9]+:cancel"

    def ctl(self):
        return run(["bash", "-c", 'echo cancel > "$1"', "bash",
                    self.mount.job(self.jname(), "ctl")],
                   DEADLINE_S[self.op] + SLACK_S)

    def landed(self, hits):
        n = sum(1 for i in range(MANY) if self.emu.get_job(
            self.ids[self.base + i])["state"] != "JOB_STATE_RUNNING")
        return n >= min(hits, MANY if self.base else 1)

    def retry(self, fname):
        rc, _, err, _, _ = self.ctl()
        assert rc == 0, "cancel again after the server came back: %s" % err
        job = self.emu.get_job(self.ids[self.base + self.i])
        assert job["state"] in ("JOB_STATE_CANCELLING",
                                "JOB_STATE_CANCELLED"), job["state"]
        st = self.mount.read(self.jname(), "state").strip()
        assert st in ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"), st


class HungDelete(BulkTargets, HungChange, hung_group(Delete)):
    # The kernel holds jobs/'s lock across an RMDIR: parallel rmdirs in
    # one directory reach the daemon one after the other, each ending
    # within its own deadline (SEMANTICS.md "Deadlines").
    many = 4
    serial = True

    prefix, bulk_state = "hdx", "JOB_STATE_SUCCEEDED"

    def check_ready(self):
        assert os.path.isdir(self.mount.job(self.jname()))

    def target(self):
        return r"batchPredictionJobs/[0-9]+($|\?)"

    def act(self, fname):
        return run(["rmdir", self.mount.job(self.jname())],
                   self.many * DEADLINE_S[self.op] + SLACK_S)

    def gone_i(self, i):
        st, _, _ = self.emu.request("GET", self.emu.jobs_path() + "/" +
                                    self.ids[self.base + i])
        return st == 404

    def landed(self, hits):
        n = sum(1 for i in range(self.many) if self.gone_i(i))
        return n >= min(hits, self.many if self.base else 1)

    def retry(self, fname):
        rc, _, err, eno, _ = run(["rmdir", self.mount.job(self.jname())],
                                 DEADLINE_S[self.op] + SLACK_S)
        assert rc == 0 or eno == errno.ENOENT, \
            "rmdir again after the server came back: %s" % err
        assert self.gone_i(self.i), "the job still exists"
        assert self.jname() not in os.listdir(self.mount.jobs)


class HungToken(hung_group(StateRead)):
    """The token endpoint hangs with every token expired: a state read
    needs a token first."""
    op = "token hung"

    def rules(self, fname, spec):
        return [dict(spec, method="POST", path=r"^/token")]

    def after_faults(self):
        expire_tokens(self.emu)


class HungOutputList(hung_group(Group)):
    """Cloud Storage's object list of a job's output/, never listed before
    (nothing cached to show)."""
    op = "output list hung"
    method = "GET"

    def prepare(self):
        e = self.emu
        ids = bulk(e, "ol", 2, "JOB_STATE_SUCCEEDED")
        for jid in ids:
            d = e.get_job(jid)["outputInfo"]["gcsOutputDirectory"]
            e.put_object(*object_path(d, "predictions.jsonl"), b"{}\n")

    def anchor(self):
        return "ol0"

    def before(self, fname):
        self.name = "ol%d" % [f for f, _ in self.faults].index(fname)
        assert self.mount.read(self.name, "state").startswith("JOB_STATE_")

    def target(self):
        return r"^/storage/v1/b/[^/]+/o($|\?)"

    def act(self, fname):
        return run(["ls", "-1", self.mount.job(self.name, "output")],
                   DEADLINE_S[self.op] + SLACK_S)

    def check_ok(self, fname, out):
        assert b"predictions.jsonl" in out.split(), out

    def check_failed(self, fname, out, eno):
        self.emu.clear_faults()
        rc, out, err, _, _ = run(["ls", "-1", self.mount.job(self.name,
                                                             "output")], 60)
        assert rc == 0, err
        self.check_ok(fname, out)


class HungUpload(HungChange, hung_group(Group)):
    """The upload of a draft's input.jsonl (-o staging) at its close."""
    op = "upload hung"
    method = "POST"
    mount_opts = {"staging": "gs://stage/pre", "deadline": str(HUNG_S),
                  "change_deadline": str(HUNG_S)}
    rows = "".join(json.dumps({"request": {"contents": [
        {"role": "user", "parts": [{"text": "p %d" % i}]}]}}) + "\n"
        for i in range(3))

    def prepare(self):
        self.emu.make_bucket("stage")
        bulk(self.emu, "anchor", 1, "JOB_STATE_SUCCEEDED")
        self.src = os.path.join(self.workdir, "input.jsonl")
        with open(self.src, "w") as f:
            f.write(self.rows)

    def anchor(self):
        return "anchor0"

    def target(self):
        return r"^/upload/storage/v1/b/stage/o"

    def before(self, fname):
        self.names = ["hup-%s-%d" % (fname, i) for i in range(MANY)]
        for nm in self.names:
            os.mkdir(self.mount.job(nm))

    def act(self, fname):
        return run(["cp", self.src,
                    self.mount.job(self.names[self.i], "input.jsonl")],
                   DEADLINE_S[self.op] + SLACK_S)

    def landed(self, hits):
        return True   # a late upload of the same bytes changes nothing

    def retry(self, fname):
        nm = self.names[self.i]
        rc, _, err, _, _ = self.act(fname)
        assert rc == 0, "input.jsonl again after the server came back: %s" \
            % err
        got = self.emu.get_object("stage", "pre/%s/input.jsonl" % nm)
        assert got == self.mount.read(nm, "input.jsonl").encode(), \
            "the staged object differs from input.jsonl"


HUNG_GROUPS = [hung_group(g) for g in (StateRead, Listing)] + \
    [hung_group(OutputRead, many=32), hung_group(OutputReadDirect)] + \
    [HungToken, HungOutputList, HungSubmit, HungCancel, HungDelete,
     HungUpload]
for _g in HUNG_GROUPS:
    DEADLINE_S[_g.op] = HUNG_S + HUNG_SLACK_S


def hung_cases():
    out = []
    for g in HUNG_GROUPS:
        for fname, spec in HUNG_FAULTS:
            out.append(pytest.param(g, fname, spec, marks=_mark(g),
                                    id="%s-%s" % (g.op.replace(" ", "_"),
                                                  fname)))
        out.append(pytest.param(g, "unmount", None, marks=_mark(g),
                                id="%s-unmount" % g.op.replace(" ", "_")))
    return out


def _group(live, femu, fbuild_dir, tmp_path_factory, group):
    op = group.op
    g = live.get(op)
    if g is None:
        for other in list(live):
            if isinstance(live[other], Group) and other != op:
                live.pop(other).stop()
        g = group(femu, fbuild_dir,
                  str(tmp_path_factory.mktemp(op.replace(" ", "_"))))
        live[op] = g
        try:
            g.start()
        except BaseException:
            live[op] = "setup failed"
            raise
    if not isinstance(g, Group):
        pytest.fail("group %s: %s" % (op, g))
    return g


@pytest.mark.parametrize("group,fname,spec", hung_cases())
def test_hung(request, live, femu, fbuild_dir, tmp_path_factory, group,
              fname, spec):
    import threading
    op = group.op
    matrix_record(request.node.nodeid, op, fname)
    g = _group(live, femu, fbuild_dir, tmp_path_factory, group)
    if fname == "unmount":
        t0 = time.monotonic()
        live.pop(op)
        g.stop()
        matrix_record(request.node.nodeid, op, fname,
                      int((time.monotonic() - t0) * 1000))
        return
    emu = femu
    emu.clear_faults()
    g.before(fname)
    ids = add_faults(emu, g.rules(fname, spec))
    if hasattr(g, "after_faults"):
        g.after_faults()
    n = getattr(g, "many", MANY) if fname == "hang-many" else 1
    results = [None] * n
    change = getattr(g, "change", False)
    # Callers the kernel serializes (rmdir in one directory) each wait
    # for those before them.
    bound = DEADLINE_S[op] * (n if getattr(g, "serial", False) else 1)

    def one(i):
        try:
            results[i] = g.act_i(fname, i) if change else g.act(fname)
        except Hang as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    rc, _, err, _, readme_ms = run(["cat", os.path.join(g.mount.path,
                                                        "README")], 60)
    for t in threads:
        t.join()
    hits = fault_hits(emu, ids)
    emu.clear_faults()
    hangs = [r for r in results if isinstance(r, Hang)]
    assert not hangs, str(hangs[0])
    worst = max(r[4] for r in results)
    fails = [r for r in results if r[0] != 0]
    detail = "%d caller(s): %d ok, %d failed (%s); slowest %d ms; README " \
        "%d ms; %d fault hit(s)" % (
            n, n - len(fails), len(fails),
            "/".join(sorted(set(ename(r[3]) for r in fails))) or "-",
            worst, readme_ms, hits)
    matrix_record(request.node.nodeid, op, fname, worst, detail)
    assert hits >= 1, "the fault was never hit: the case proves nothing"
    assert rc == 0, "cat README: %s" % err
    assert readme_ms < HUNG_S * 1000 / 2, \
        "README took %d ms while the server hangs" % readme_ms
    assert worst <= bound * 1000, \
        "took %d ms, past the deadline of %d s (bound %d s)" % (
            worst, HUNG_S, bound)
    if change:
        # Nothing can succeed on a hung server: each caller gets the
        # promised errno, then the held requests land and a retry gives
        # the documented result (one job per submit).
        for rc_, out, err_, eno, ms in results:
            assert rc_ != 0 and eno in g.allowed, \
                "rc %d errno %s, promised %s: %s" % (
                    rc_, ename(eno),
                    "/".join(sorted(ename(a) for a in g.allowed)),
                    err_.strip()[-300:])
        g.after_hung(fname, n, hits)
        matrix_record(request.node.nodeid, op, fname, worst,
                      detail + "; held requests landed, retries gave one "
                      "result each")
        g.serves()
        return
    for rc_, out, err_, eno, ms in results:
        if rc_ == 0:
            if g.is_stale(out):
                assert g.stale_log in g.mount.stderr(), \
                    "stale result without the warn line %r" % g.stale_log
            else:
                g.check_ok(fname, out)
        else:
            assert eno in SERVICE_ERRNOS, \
                "errno %s not promised here: %s" % (ename(eno),
                                                     err_.strip()[-300:])
    # Back to normal once the server answers again.
    if fails or any(g.is_stale(r[1]) for r in results if r[0] == 0):
        g.check_failed(fname, results[0][1], 0)
    g.serves()
