"""batchfs over HTTPS (the emulator's --tls): where the CA comes from
(-o cafile=, CURL_CA_BUNDLE, SSL_CERT_FILE), what an untrusted certificate
says at mount time, and proxies (-o proxy=, -o noproxy=, https_proxy,
no_proxy) through a tiny CONNECT proxy. The output, workflow and fault
tests marked TLS_TOO run over TLS as well."""
import os
import subprocess
import time

import pytest

from lib.mounthelp import put_input, prompts
from lib.proxyhelp import ConnectProxy

CA_VARS = ("CURL_CA_BUNDLE", "SSL_CERT_FILE")
PROXY_VARS = ("https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy",
              "ALL_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture
def emu_scheme():
    return "https"


@pytest.fixture
def clean_env(monkeypatch):
    for v in CA_VARS + PROXY_VARS:
        monkeypatch.delenv(v, raising=False)
    return monkeypatch


def finished_job(emu, n=3):
    src = put_input(emu, prompts(n))
    emu.make_bucket("bkt-out")
    job = emu.create_job(src, "gs://bkt-out/out", display_name="tlsjob")
    return emu.wait_job(job["name"])


def read_output(mnt):
    out = os.path.join(mnt.job("tlsjob"), "output")
    names = []
    for root, _, files in os.walk(out):
        names += [os.path.join(root, f) for f in files]
    pred = [p for p in names if p.endswith("predictions.jsonl")]
    assert pred, names
    with open(pred[0], "rb") as f:
        return f.read()


@pytest.mark.parametrize("source", ["option", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_sources_mount_over_tls(mount_fs, emu, clean_env, source):
    job = finished_job(emu)
    if source == "option":
        # The option wins over the environment.
        clean_env.setenv("CURL_CA_BUNDLE", "/nonexistent/ca.pem")
        mnt = mount_fs()
    else:
        clean_env.setenv(source, emu.ca_file)
        mnt = mount_fs(cafile=None)
    assert mnt.read("tlsjob", "state").strip() == job["state"]
    rows = emu.job_output(job)
    assert read_output(mnt).count(b"\n") == len(rows)


def run_mount(build_dir, emu, tmp_path, env=None, **opts):
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    o = {"project": "test-project", "endpoint": emu.url,
         "storage_endpoint": emu.url, "credentials": emu.key_file}
    o.update(opts)
    t0 = time.time()
    r = subprocess.run([os.path.join(build_dir, "fs", "batchfs"), "-f", "-o",
                        ",".join("%s=%s" % kv for kv in o.items()), str(mnt)],
                       capture_output=True, text=True, timeout=60, env=env)
    if os.path.ismount(str(mnt)):
        subprocess.run(["fusermount3", "-u", str(mnt)])
    return r, time.time() - t0


def other_ca(tmp_path):
    """A CA that did not sign the emulator's certificate."""
    key, pem = tmp_path / "other.key", tmp_path / "other.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                    str(key), "-out", str(pem), "-days", "1", "-subj",
                    "/CN=some other CA"], check=True, capture_output=True)
    return str(pem)


@pytest.mark.parametrize("ca", ["none", "wrong"])
def test_untrusted_certificate_fails_the_mount_clearly(build_dir, emu, clean_env,
                                                       tmp_path, ca):
    opts = {"cafile": other_ca(tmp_path)} if ca == "wrong" else {}
    r, secs = run_mount(build_dir, emu, tmp_path, **opts)
    assert r.returncode != 0
    err = r.stderr
    host = emu.url[len("https://"):]
    # What failed, on whose certificate, signed by whom, and the fix.
    assert "TLS: the certificate of %s is not trusted" % host in err, err
    assert 'issued by "CN=gcemu test CA,O=gcemu"' in err, err
    assert "-o cafile=" in err and "CURL_CA_BUNDLE" in err, err
    assert "check -o endpoint= and the network" not in err, err
    # Not a credential problem, and not retried: no request got through.
    assert "credential was rejected" not in err, err
    assert "attempts" not in err, err
    assert secs < 20, secs
    assert emu.counters().get("total", 0) == 0


@pytest.mark.parametrize("bad", ["missing", "not-pem"])
def test_unusable_cafile_fails_the_mount(build_dir, emu, clean_env, tmp_path,
                                         bad):
    path = str(tmp_path / "ca.pem")
    if bad == "not-pem":
        with open(path, "w") as f:
            f.write("hello\n")
    env = dict(os.environ, SSL_CERT_FILE=path)
    r, _ = run_mount(build_dir, emu, tmp_path, env=env)
    assert r.returncode != 0
    assert "CA file %s (SSL_CERT_FILE)" % path in r.stderr, r.stderr
    assert "fix the options above" in r.stderr, r.stderr


@pytest.mark.parametrize("how", ["option", "https_proxy"])
def test_requests_go_through_the_proxy(mount_fs, emu, clean_env, how):
    job = finished_job(emu)
    rows = len(emu.job_output(job))  # before the test process has a proxy
    proxy = ConnectProxy()
    try:
        if how == "option":
            mnt = mount_fs(proxy=proxy.url)
        else:
            clean_env.setenv("https_proxy", proxy.url)
            mnt = mount_fs()
        assert mnt.read("tlsjob", "state").strip() == job["state"]
        assert read_output(mnt).count(b"\n") == rows
        assert proxy.tunnels >= 1
        assert not proxy.refused, proxy.refused
    finally:
        proxy.stop()


@pytest.mark.parametrize("how", ["no_proxy", "noproxy_option"])
def test_no_proxy_hosts_bypass_the_proxy(mount_fs, emu, clean_env, how):
    job = finished_job(emu)
    rows = len(emu.job_output(job))  # urllib here would use https_proxy too
    proxy = ConnectProxy()
    try:
        clean_env.setenv("https_proxy", proxy.url)
        if how == "no_proxy":
            clean_env.setenv("no_proxy", "127.0.0.1")
            mnt = mount_fs()
        else:
            # A list: inside -o, its commas are escaped (libfuse).
            mnt = mount_fs(noproxy="localhost\\,127.0.0.1")
        assert mnt.read("tlsjob", "state").strip() == job["state"]
        assert read_output(mnt).count(b"\n") == rows
        assert proxy.tunnels == 0
    finally:
        proxy.stop()


def test_metadata_server_is_never_proxied(mount_fs, emu, emu_session, clean_env,
                                          tmp_path):
    """Credentials from the metadata server (plain http, link-local on GCE;
    here the plain emulator) while the APIs go through -o proxy=: the
    token request goes direct, the API calls through the tunnel."""
    job = finished_job(emu)
    host = emu_session.url[len("http://"):]
    clean_env.setenv("GCE_METADATA_HOST", host)
    clean_env.setenv("HOME", str(tmp_path))  # no gcloud ADC file
    clean_env.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    before = emu_session.counters()["routes"]
    proxy = ConnectProxy()
    try:
        mnt = mount_fs(credentials=None, proxy=proxy.url)
        assert mnt.read("tlsjob", "state").strip() == job["state"]
        assert proxy.tunnels >= 1
        # A plain-http request through the proxy would be an absolute-form
        # GET, which this proxy refuses (and the mount would have failed).
        assert not proxy.refused, proxy.refused
    finally:
        proxy.stop()
    after = emu_session.counters()["routes"]
    assert any(after.get(k, 0) > before.get(k, 0) for k in after
               if "metadata" in k), (before, after)


@pytest.mark.parametrize("proxy_state", ["refusing", "down"])
def test_a_failing_proxy_fails_the_mount_naming_it(build_dir, emu, clean_env,
                                                   tmp_path, proxy_state):
    proxy = ConnectProxy(refuse=True)
    if proxy_state == "down":
        proxy.stop()
    try:
        r, _ = run_mount(build_dir, emu, tmp_path, cafile=emu.ca_file,
                         proxy=proxy.url)
    finally:
        proxy.stop()
    assert r.returncode != 0
    if proxy_state == "refusing":
        assert proxy.refused and "CONNECT" in proxy.refused[0]
        assert "CONNECT tunnel failed, response 403" in r.stderr, r.stderr
    else:
        assert "port %d" % proxy.port in r.stderr, r.stderr
    assert "through the proxy %s" % proxy.url in r.stderr, r.stderr
    assert "check -o proxy=" in r.stderr, r.stderr
