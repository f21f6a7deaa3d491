"""Helpers for the emulator's own tests."""
import json
import os
import urllib.parse

from lib.emulator import start_emulator, stop_emulator


def q(name):
    return urllib.parse.quote(name, safe="")


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def rows(n, prefix="row"):
    return [{"key": "%s-%d" % (prefix, i),
             "request": {"contents": [{"role": "user", "parts": [
                 {"text": "question %d" % i}]}]}} for i in range(n)]


def spawn(data, *extra):
    """Starts a private emulator (quiet; its log in DATA/emulator.log);
    returns (proc, base_url)."""
    os.makedirs(str(data), exist_ok=True)
    proc, url = start_emulator(data, "--quiet", *extra)
    assert url.startswith("http://"), url
    return proc, url


stop = stop_emulator
