"""The daemon under valgrind: when the mount goes away while files and
directories are still open (the kernel never sends their RELEASE), the
daemon frees those handles at exit, so a leak checker stays quiet.

Skipped when valgrind is missing (scripts/install-deps installs it) or the
binary is a sanitizer build or a wrapper script."""
import os
import shutil
import signal
import subprocess
import time

import pytest

from lib.mounthelp import Mount, prompts, put_input, request_text, wait_parked

SANITIZED = (b"__asan_init", b"__tsan_init", b"__msan_init")


def plain_binary(build_dir):
    exe = os.path.join(build_dir, "fs", "batchfs")
    with open(exe, "rb") as f:
        data = f.read()
    if not data.startswith(b"\x7fELF"):
        pytest.skip("%s is not an ELF binary (a wrapper?)" % exe)
    if any(s in data for s in SANITIZED):
        pytest.skip("sanitizer build: valgrind cannot run it")
    return exe


def test_handles_open_at_exit_are_freed(emu, build_dir, tmp_path):
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not installed (scripts/install-deps)")
    exe = plain_binary(build_dir)
    log = tmp_path / "valgrind.log"
    m = Mount(emu, build_dir, str(tmp_path), {})
    m.argv = ["valgrind", "--leak-check=full",
              "--errors-for-leak-kinds=definite,indirect",
              "--log-file=%s" % log, exe] + m.argv[1:]
    m.start(timeout=60)
    fds = []
    try:
        os.mkdir(m.job("v"))
        with open(m.job("v", "request.json"), "w") as f:
            f.write(request_text(emu, n=3))
        m.wait_state("v", timeout=60)
        # A snapshot, an output object with its read-ahead reader, a
        # draft's request.json written but never flushed, a directory.
        fds.append(os.open(os.path.join(m.path, "README"), os.O_RDONLY))
        out = os.open(m.job("v", "output"), os.O_RDONLY | os.O_DIRECTORY)
        fds.append(out)
        fds.append(os.open(m.job("v", "output", "predictions.jsonl"),
                           os.O_RDONLY))
        assert os.read(fds[-1], 10)
        os.mkdir(m.job("d"))
        fds.append(os.open(m.job("d", "request.json"), os.O_WRONLY))
        os.write(fds[-1], b"{")
        # And a read of `wait` parked on a job that does not finish.
        emu.config(pending_seconds=3600)
        emu.create_job(put_input(emu, prompts(1), name="in/p.jsonl"),
                       "gs://bkt-out/p", display_name="p")
        deadline = time.time() + 30
        while "p" not in os.listdir(m.jobs):
            assert time.time() < deadline
            time.sleep(0.2)
        waiter = subprocess.Popen(["cat", m.job("p", "wait")],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        wait_parked([waiter])
        assert waiter.poll() is None
        # The session ends with all of them open.
        m.proc.send_signal(signal.SIGTERM)
        m.proc.wait(timeout=60)
        # The parked read was answered (EINTR), not left hanging.
        _, err = waiter.communicate(timeout=30)
        assert waiter.returncode != 0, err
    finally:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if m.proc.poll() is None:
            m.proc.kill()
            m.proc.wait()
        m.stop()
    text = log.read_text()
    assert "ERROR SUMMARY: 0 errors" in text, text
