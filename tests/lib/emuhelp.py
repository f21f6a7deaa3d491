"""Helpers for the emulator's own tests."""
import json
import os
import subprocess
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "scripts", "emulator")


def q(name):
    return urllib.parse.quote(name, safe="")


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def rows(n, prefix="row"):
    return [{"key": "%s-%d" % (prefix, i),
             "request": {"contents": [{"role": "user", "parts": [
                 {"text": "question %d" % i}]}]}} for i in range(n)]


def spawn(data, *extra):
    """Starts a private emulator; returns (proc, base_url)."""
    proc = subprocess.Popen(
        ["/usr/bin/python3", EMULATOR, "--port", "0", "--data", str(data), "--quiet",
         *extra], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = proc.stdout.readline().strip()
    assert url.startswith("http://"), url
    return proc, url


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
