"""The wrapper around tests/drivers/model_cli and request builders of the
model tests.

`Model` runs the driver as a subprocess and sends it one command a line
(words percent-encoded), reading one JSON result a line with a deadline: a
driver that hangs fails the test instead of blocking it. Path-based calls
return the driver's dict (`rc` 0 or -errno, `errno`, `msg`, `step`, ...);
`text()` and `names()` assert success and return the content.
"""
import base64
import json
import os
import select
import subprocess
import time
import urllib.parse

import pytest

from lib.jobhelp import (MODEL, job_id, jobs_created,  # noqa: F401
                         jobs_named, prompts, put_input, request_body)
from lib.mounthelp import log_problems, read_log

PROJECT = "test-project"


def driver_path(build_dir):
    exe = os.path.join(build_dir, "tests", "drivers", "model_cli")
    if not os.path.exists(exe):
        pytest.fail("%s missing: build it first (ninja -C %s)" % (exe, build_dir))
    return exe


class Model:
    def __init__(self, exe, emu, workdir, opts):
        self.emu = emu
        self.workdir = workdir
        self.stderr_path = os.path.join(workdir, "model_cli.stderr")
        key = os.path.join(workdir, "key.json")
        with open(emu.key_file) as src, open(key, "w") as dst:
            dst.write(src.read())
        os.chmod(key, 0o600)  # a key others may write is refused
        o = {"endpoint": emu.url, "project": PROJECT, "credentials": key,
             "state-dir": os.path.join(workdir, "state")}
        if emu.tls:
            o["cafile"] = emu.ca_file
        o.update({k.replace("_", "-"): v for k, v in opts.items()})
        self.argv = [exe]
        for k, v in o.items():
            if v is True:
                self.argv.append("--" + k)
            elif v is not None:
                self.argv += ["--" + k, str(v)]
        self.proc = None
        self.buf = b""

    # --- process -----------------------------------------------------------
    def start(self, timeout=30):
        self.err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        first = self.recv(timeout)
        assert first == {"ready": True}, (first, self.stderr())
        return self

    def stderr(self):
        return read_log(self.stderr_path)

    def stop(self):
        """quit; the driver must exit 0 by itself, its stderr clean."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.write(b"quit\n")
                    self.proc.stdin.flush()
                except OSError:
                    pass
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("model_cli still running 30 s after quit")
        finally:
            self.proc.stdin.close()
            self.proc.stdout.close()
            self.err.close()
            self.proc = None
        bad = log_problems(self.stderr())
        assert not bad, "model_cli stderr reports problems:\n" + self.stderr()
        assert rc == 0, "model_cli exited %s:\n%s" % (rc, self.stderr())

    # --- protocol ------------------------------------------------------------
    def send(self, *words):
        line = " ".join(urllib.parse.quote(w if isinstance(w, (bytes, str))
                                           else str(w), safe="/~")
                        for w in words)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def recv(self, timeout=60):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                pytest.fail("model_cli gave no answer within %ss:\n%s" % (
                    timeout, self.stderr()))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    pytest.fail("model_cli exited (%s):\n%s" % (
                        self.proc.wait(), self.stderr()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        res = json.loads(line)
        if "data" in res:
            res["bytes"] = base64.b64decode(res["data"])
        return res

    def cmd(self, op, path, *words, timeout=60):
        self.send(op, path or "/", *words)  # "" is the root too
        return self.recv(timeout)

    # --- operations (paths relative to the root) ----------------------------
    def lookup(self, path):
        return self.cmd("lookup", path)

    def getattr(self, path):
        return self.cmd("getattr", path)

    def readdir(self, path):
        return self.cmd("readdir", path)

    def read(self, path, off=None, length=None, timeout=60):
        words = ["read", path] + ([str(off), str(length)] if off is not None else [])
        return self.cmd(*words, timeout=timeout)

    def write(self, path, data):
        return self.cmd("write", path, data)

    def mkdir(self, path):
        return self.cmd("mkdir", path)

    def rmdir(self, path):
        return self.cmd("rmdir", path)

    def unlink(self, path):
        return self.cmd("unlink", path)

    def rename(self, old, new):
        return self.cmd("rename", old, new)

    def readlink(self, path):
        return self.cmd("readlink", path)

    # --- asserting shortcuts ---------------------------------------------------
    def text(self, path):
        r = self.read(path)
        assert r["rc"] == 0, r
        return r["bytes"].decode()

    def names(self, path):
        r = self.readdir(path)
        assert r["rc"] == 0, r
        return r["names"]


def ok(r):
    assert r["rc"] == 0, r
    return r


# --- emulator fixtures --------------------------------------------------------













def calls(emu, *routes):
    r = emu.counters().get("routes", {})
    return sum(r.get(x, 0) for x in routes)
