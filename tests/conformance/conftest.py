"""Fixtures for driving real Google clients against the emulator.

The `emu` fixture (tests/conftest.py) gives a running, reset emulator. Here:
`node_run` runs one of the Node scripts in this directory, `emu_token` gets an
access token the emulator issued (JWT-bearer grant signed with the emulator's
service-account key, see emu_auth.mjs), and `require_auth` switches the
emulator into the mode where every API call needs such a token (and back).

Over TLS (the emulator's --tls, see emu_scheme in tests/conftest.py) Node
trusts the emulator's CA through NODE_EXTRA_CA_CERTS; TLS_TOO in
test_clients.py runs a client test both ways.
"""
import json
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node") or "/usr/bin/node"

def node_ca_env(emu):
    """What makes Node trust the emulator's certificate (nothing over http)."""
    return {"NODE_EXTRA_CA_CERTS": emu.ca_file} if emu.tls else {}


def _tail(text, n=4000):
    return text if len(text) <= n else "..." + text[-n:]


@pytest.fixture(scope="session")
def node_modules():
    for pkg in ("@google/genai", "@google-cloud/storage"):
        if not os.path.isdir(os.path.join(HERE, "node_modules", pkg)):
            pytest.fail("%s is not installed in tests/conformance: run scripts/install-npm"
                        % pkg)
    return os.path.join(HERE, "node_modules")


@pytest.fixture
def node_run(node_modules, emu):
    """node_run(script, env={...}, args=(), expect_rc=0) -> parsed JSON stdout."""

    def run(script, env=None, args=(), expect_rc=0, timeout=300):
        full_env = dict(os.environ)
        # Nothing may leave the machine: drop proxies and ADC hints.
        for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
                  "GOOGLE_APPLICATION_CREDENTIALS", "STORAGE_EMULATOR_HOST"):
            full_env.pop(k, None)
        full_env.pop("NODE_EXTRA_CA_CERTS", None)
        full_env.update(node_ca_env(emu))
        full_env.update(env or {})
        p = subprocess.run([NODE, os.path.join(HERE, script), *args], cwd=HERE,
                           env=full_env, capture_output=True, text=True,
                           timeout=timeout)
        msg = "%s %s exited %d\n--- stderr\n%s\n--- stdout\n%s" % (
            script, " ".join(args), p.returncode, _tail(p.stderr), _tail(p.stdout))
        assert p.returncode == expect_rc, msg
        try:
            out = json.loads(p.stdout)
        except ValueError:
            out = None
        if expect_rc == 0:
            assert out is not None and out.get("ok"), msg
        return out if out is not None else {"stdout": p.stdout, "stderr": p.stderr}

    return run


@pytest.fixture
def emu_token(emu, node_modules):
    """A fresh access token from the emulator's /token endpoint."""
    p = subprocess.run([NODE, os.path.join(HERE, "emu_auth.mjs"), emu.key_file],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **node_ca_env(emu)))
    assert p.returncode == 0, "token grant failed: %s" % p.stderr
    tok = json.loads(p.stdout)
    assert tok["access_token"] and tok["expires_in"] > 0
    return tok["access_token"]


@pytest.fixture
def require_auth(emu):
    """require_auth(True/False) switches the emulator's auth mode, in which
    every API call needs an emulator-issued token; it is off again after
    the test."""

    def switch(on=True):
        emu.config(require_auth=bool(on))

    try:
        yield switch
    finally:
        emu.config(require_auth=False)
