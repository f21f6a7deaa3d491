"""Fixtures of the fault suite: its own emulator, the mount helper, and the
fault-matrix report.

The suite runs its own emulator process (`femu`, session scope, never reset
behind a test's back) because the matrix keeps one mount per operation group
across many test cases; the shared `emu` fixture resets per test. Mounts use
tests/lib/mounthelp.Mount (teardown: unmount, daemon exits by itself, no
sanitizer or ERROR line in its stderr).

Report: every test_matrix case records (operation, fault, outcome, elapsed
ms, detail). pytest_terminal_summary prints the operation x fault table and
the line "fault matrix: N passed, N failed", and writes the same to
/tmp/batchfs-fault-matrix.md (independent of the build directory;
BATCHFS_FAULT_REPORT names another file). Under pytest-xdist each case's
record rides on its report (user_properties) to the controller, which prints
the one table; the cases of one operation group carry xdist_group(op), so
`--dist loadgroup` keeps a group's mount on one worker (with `--dist load` a
worker starts the groups it needs).
"""
import os
import time

import pytest

from lib.emulator import Emulator, start_emulator, stop_emulator
from lib.faultlib import MATRIX  # nodeid -> case record

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT_FILE = os.environ.get("BATCHFS_FAULT_REPORT",
                             "/tmp/batchfs-fault-matrix.md")


class AuthEmulator(Emulator):
    """Emulator whose test-side API calls carry a token it issued (from its
    metadata route), so the suite can run with require_auth on."""
    token = None

    def _token(self):
        st, _, p = Emulator.request(
            self, "GET",
            "/computeMetadata/v1/instance/service-accounts/default/token",
            headers={"Metadata-Flavor": "Google"})
        assert st == 200, (st, p)
        self.token = p["access_token"]

    def request(self, method, path, body=None, headers=None, raw=False):
        if path.startswith("/_emulator/") or path.startswith(
                "/computeMetadata/"):
            return Emulator.request(self, method, path, body, headers, raw)
        for attempt in (0, 1):
            if self.token is None:
                self._token()
            h = dict(headers or {}, Authorization="Bearer " + self.token)
            r = Emulator.request(self, method, path, body, h, raw)
            if r[0] != 401:
                return r
            self.token = None
        return r


@pytest.fixture(scope="session")
def femu(tmp_path_factory):
    data = tmp_path_factory.mktemp("femu")
    proc, url = start_emulator(data, "--quiet")
    e = AuthEmulator(proc, url, str(data))
    yield e
    stop_emulator(proc)


@pytest.fixture(scope="session")
def fbuild_dir():
    d = os.environ.get("BATCHFS_BUILD", os.path.join(os.path.dirname(TESTS),
                                                     "build"))
    if not os.path.isfile(os.path.join(d, "fs", "batchfs")):
        pytest.fail("%s/fs/batchfs missing: build it or set BATCHFS_BUILD" % d)
    return d


MATRIX_PROP = "batchfs_matrix"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "xdist_group(name): cases that share one mount")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    r = MATRIX.get(item.nodeid)
    if r is None:
        return
    try:
        _outcome(rep, r)
    finally:
        rep.user_properties.append((MATRIX_PROP, dict(r)))


def pytest_runtest_logreport(report):
    """The controller's copy of a worker's record (xdist); in one process
    the same record again."""
    for k, v in getattr(report, "user_properties", ()):
        if k == MATRIX_PROP:
            MATRIX[report.nodeid] = dict(v)


def _outcome(rep, r):
    if rep.skipped:
        r["outcome"] = "n.a."
        if not r.get("detail") and isinstance(rep.longrepr, tuple):
            r["detail"] = str(rep.longrepr[2]).replace("Skipped: ", "")
    elif rep.failed:
        r["outcome"] = "FAIL"
        crash = getattr(rep.longrepr, "reprcrash", None)
        msg = crash.message if crash else str(rep.longrepr)
        msg = " ".join(msg.split())[:300]
        r["detail"] = ((r.get("detail") or "") + " -- " + msg).lstrip(" -")
    elif rep.when == "call" and r["outcome"] is None:
        r["outcome"] = "pass"
    # Under pytest-xdist the case runs in a worker: the record travels to
    # the controller, which prints the table, with the report.
    rep.user_properties = [p for p in rep.user_properties
                           if p[0] != "fault_matrix"] + [("fault_matrix",
                                                          dict(r))]


def pytest_runtest_logreport(report):
    for k, v in report.user_properties:
        if k == "fault_matrix":
            MATRIX.setdefault(report.nodeid, {}).update(v)


def _table():
    ops, faults = [], []
    for r in MATRIX.values():
        if r["op"] not in ops:
            ops.append(r["op"])
        if r["fault"] not in faults:
            faults.append(r["fault"])
    cell = {(r["op"], r["fault"]): r for r in MATRIX.values()}
    lines = ["| operation \\ fault | " + " | ".join(faults) + " |",
             "|---" * (len(faults) + 1) + "|"]
    for op in ops:
        row = []
        for f in faults:
            r = cell.get((op, f))
            if r is None or r["outcome"] is None:
                row.append("-")
            elif r["outcome"] == "n.a.":
                row.append("n.a.")
            else:
                ms = r.get("ms")
                row.append("%s %s" % (r["outcome"],
                                      "%d ms" % ms if ms is not None else ""))
        lines.append("| %s | %s |" % (op, " | ".join(c.strip() for c in row)))
    n_pass = sum(1 for r in MATRIX.values() if r["outcome"] == "pass")
    n_fail = sum(1 for r in MATRIX.values() if r["outcome"] == "FAIL")
    n_na = sum(1 for r in MATRIX.values() if r["outcome"] == "n.a.")
    notes = ["", "details (operation x fault: outcome: what happened):"]
    for r in MATRIX.values():
        if r.get("detail"):
            notes.append("- %s x %s: %s: %s" % (r["op"], r["fault"],
                                                 r["outcome"], r["detail"]))
    total_ms = sum(r.get("ms", 0) for r in MATRIX.values())
    notes.append("")
    notes.append("%d cases: %d passed, %d failed, %d n.a.; %.1f s in the "
                 "timed operations" % (len(MATRIX), n_pass, n_fail, n_na,
                                       total_ms / 1000.0))
    summary = "fault matrix: %d passed, %d failed" % (n_pass, n_fail)
    return lines, notes, summary, n_pass, n_fail


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not MATRIX or hasattr(config, "workerinput"):
        return
    lines, notes, summary, _, _ = _table()
    tr = terminalreporter
    tr.write_sep("=", "batchfs fault matrix")
    for l in lines + notes:
        tr.write_line(l)
    tr.write_line(summary)
    build = os.environ.get("BATCHFS_BUILD", "build")
    try:
        with open(REPORT_FILE, "w") as f:
            f.write("# batchfs fault matrix\n\n")
            f.write("%s UTC, BATCHFS_BUILD=%s\n\n" % (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), build))
            f.write("\n".join(lines + notes) + "\n\n" + summary + "\n")
        tr.write_line("written to %s" % REPORT_FILE)
    except OSError as exc:
        tr.write_line("cannot write %s: %s" % (REPORT_FILE, exc))
