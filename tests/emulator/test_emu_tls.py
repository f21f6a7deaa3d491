"""The emulator's --tls: the CA it writes, the names its certificate covers,
https URLs in what it returns, clients that do not trust it, and the CA
kept across a restart on the same data directory."""
import json
import os
import socket
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest

from lib import emulator as root


@pytest.fixture
def emu_scheme():
    return "https"


def test_first_line_is_https_and_the_ca_verifies_both_names(emu):
    assert emu.url.startswith("https://127.0.0.1:")
    port = int(emu.url.rsplit(":", 1)[1])
    for host in ("127.0.0.1", "localhost"):
        ctx = ssl.create_default_context(cafile=emu.ca_file)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                assert t.version() in ("TLSv1.2", "TLSv1.3")
                assert t.selected_alpn_protocol() in (None, "http/1.1")
    st, _, body = emu.request("GET", "/_emulator/counters")
    assert st == 200 and "total" in body


def test_a_client_without_the_ca_is_refused_and_the_server_goes_on(emu):
    with pytest.raises(urllib.error.URLError) as ei:
        urllib.request.urlopen(emu.url + "/_emulator/counters", timeout=10,
                               context=ssl.create_default_context())
    assert isinstance(ei.value.reason, ssl.SSLCertVerificationError)
    # Plain http on the TLS port gets nothing, and breaks nothing.
    with socket.create_connection(("127.0.0.1", int(emu.url.rsplit(":", 1)[1])),
                                  timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        try:
            assert not s.recv(100).startswith(b"HTTP/")
        except (ConnectionError, socket.timeout):
            pass
    assert emu.request("GET", "/_emulator/counters")[0] == 200
    with open(os.path.join(emu.data, "emulator.log")) as f:
        assert "Traceback" not in f.read()


def test_returned_urls_are_https(emu):
    with open(emu.key_file) as f:
        assert json.load(f)["token_uri"] == emu.url + "/token"
    emu.make_bucket("tls-b")
    st, h, _ = emu.request(
        "POST", "/upload/storage/v1/b/tls-b/o?uploadType=resumable&name=x",
        b"", {"Content-Type": "application/json"})
    assert st == 200 and h["Location"].startswith(emu.url + "/"), h
    obj = emu.put_object("tls-b", "y", b"hello")
    assert obj["selfLink"].startswith("https://"), obj


def test_jobs_run_over_tls(emu):
    """The job runner reads input and writes output through the same CA."""
    emu.config(time_scale=0)
    emu.make_bucket("tls-in")
    emu.put_object("tls-in", "in.jsonl", b'{"request": {"contents": [{"role": '
                   b'"user", "parts": [{"text": "hi"}]}]}}\n')
    job = emu.create_job("gs://tls-in/in.jsonl", "gs://tls-in/out")
    job = emu.wait_job(job["name"])
    assert job["state"] == "JOB_STATE_SUCCEEDED", job
    assert len(emu.job_output(job)) == 1


def test_a_restart_on_the_same_data_keeps_the_ca(tmp_path):
    proc, url = root.start_emulator(tmp_path, "--tls", "--quiet")
    try:
        with open(os.path.join(str(tmp_path), "ca.pem")) as f:
            ca = f.read()
    finally:
        root.stop_emulator(proc)
    proc, url2 = root.start_emulator(tmp_path, "--tls", "--quiet")
    try:
        with open(os.path.join(str(tmp_path), "ca.pem")) as f:
            assert f.read() == ca
        out = subprocess.run(["curl", "-sS", "--cacert", str(tmp_path / "ca.pem"),
                              url2 + "/_emulator/counters"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "total" in out.stdout, out.stderr
        assert oct(os.stat(str(tmp_path / "ca.key")).st_mode & 0o777) == "0o600"
    finally:
        root.stop_emulator(proc)
