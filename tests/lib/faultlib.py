"""Helpers shared by the fault matrix and the soak: running file operations
as child processes with a hard timeout, reading their errno, and the
emulator calls the checks need."""
import errno
import hashlib
import json
import os
import subprocess
import time
import urllib.parse

from lib.jobhelp import job_id, jobs_named, list_jobs, request_body  # noqa: F401

# errno values SEMANTICS.md promises when the service keeps failing or does
# not answer (EIO, ETIMEDOUT), 429 after retries (EAGAIN), token failures
# (EACCES), and a wait the caller interrupted (EINTR, never here).
SERVICE_ERRNOS = {errno.EIO, errno.ETIMEDOUT, errno.EAGAIN}
TOKEN_ERRNOS = SERVICE_ERRNOS | {errno.EACCES}

_STRERR = sorted(((os.strerror(n), n) for n in errno.errorcode),
                 key=lambda t: -len(t[0]))


class Hang(AssertionError):
    pass


def errno_of(stderr):
    """The errno a coreutils/shell error message names, or None."""
    for text, n in _STRERR:
        if text and text in stderr:
            return n
    return None


def run(argv, timeout, stdin=None):
    """Runs argv; returns (rc, stdout bytes, stderr text, errno, ms).
    Raises Hang when it outlives timeout (the child is killed)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Hang("%s did not finish within %.0f s" % (argv, timeout))
    ms = int((time.monotonic() - t0) * 1000)
    err = p.stderr.decode(errors="replace")
    return p.returncode, p.stdout, err, (errno_of(err) if p.returncode
                                         else 0), ms


def sha(b):
    return hashlib.sha256(b).hexdigest()








def bulk(emu, prefix, count, state):
    """Inserts `count` fixture jobs named prefix0..; returns their ids."""
    return emu.control("POST", "jobs:bulk", {
        "count": count, "display_name_prefix": prefix, "state": state,
        "bucket": "bulk-bucket"})["ids"]


def fault_hits(emu, ids):
    st, _, rules = emu.request("GET", "/_emulator/faults")
    assert st == 200, (st, rules)
    return sum(r["hits"] for r in rules["faults"] if r["id"] in ids)


def add_faults(emu, rules):
    return [emu.fault(**r)["id"] for r in rules]


def expire_tokens(emu):
    emu.control("POST", "tokens/expire")


def object_path(gcs_dir, name):
    bucket, _, prefix = gcs_dir[5:].partition("/")
    return bucket, prefix + "/" + name


def request_json(src, dest, name=None):
    body = request_body(src, dest, **({"displayName": name} if name else {}))
    return json.dumps(body, indent=2) + "\n"


# The fault-matrix report: nodeid -> {op, fault, outcome, ms, detail}; the
# outcome is filled by conftest's report hook.
MATRIX = {}


def matrix_record(nodeid, op, fault, ms=None, detail=""):
    r = MATRIX.setdefault(nodeid, {"op": op, "fault": fault, "outcome": None})
    if ms is not None:
        r["ms"] = ms
    if detail:
        r["detail"] = detail


def ename(n):
    return errno.errorcode.get(n, str(n)) if n else "0"
