"""Credentials and access: key files must not be writable by group or
others (readable by others is warned about, once: Kubernetes secret volumes
are 0644 and Google's libraries accept them); tokens, keys, assertions and refresh tokens never appear in the
daemon's stderr (-f -d, loglevel=debug) or in any file of the mount; the
mount is private unless allow_other; TLS verification cannot be turned
off and plain http is only used for endpoints named explicitly."""
import base64
import errno
import json
import os
import re
import ssl
import subprocess
import threading
import time
import http.server

import pytest

from lib.fakeserver import FakeServer
from lib.mounthelp import put_input, prompts, request_text

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def run_mount_cmd(m, timeout=30):
    """Runs the daemon in the foreground for a mount that must fail."""
    r = subprocess.run(m.argv, capture_output=True, text=True,
                       timeout=timeout)
    assert not os.path.ismount(m.path)
    return r


@pytest.mark.parametrize("mode", [0o664, 0o660, 0o666, 0o620, 0o602])
def test_key_writable_by_others_is_refused(sec_mount, emu, mode):
    m = sec_mount(start=False, key_mode=mode)
    r = run_mount_cmd(m)
    assert r.returncode != 0
    err = r.stderr
    assert "writable by group or others" in err and "chmod go-w" in err, err
    assert "%03o" % mode in err, err
    assert "(from the option -o credentials=)" in err, err
    assert emu.counters()["routes"].get("oauth.token", 0) == 0


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o640])
def test_key_readable_by_others_is_used_with_one_warning(sec_mount, emu, mode):
    """A Kubernetes secret volume's 0644 key works, as with Google's
    libraries; readable by others is warned about once, group-readable not
    at all."""
    m = sec_mount(key_mode=mode)
    assert os.listdir(m.jobs) == []
    warn = [l for l in m.stderr().splitlines() if "readable by others" in l]
    assert len(warn) == (1 if mode & 0o004 else 0), m.stderr()
    if warn:
        assert "%03o" % mode in warn[0] and "chmod 600" in warn[0]
    assert emu.counters()["routes"].get("oauth.token", 0) >= 1


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_works(sec_mount, emu, mode):
    m = sec_mount(key_mode=mode)
    assert os.listdir(m.jobs) == []


def test_token_uri_must_be_https_or_this_machine(sec_mount, emu, tmp_path):
    key = json.load(open(emu.key_file))
    # 127.0.0.2 is loopback too, so nothing leaves the machine even if the
    # check were missing; it is not one of the accepted local spellings.
    for uri in ("http://127.0.0.2:1/token", "file:///etc/passwd",
                "ftp://127.0.0.1/token", "http://127.0.0.1.nip.io/token"):
        key["token_uri"] = uri
        mount_fails_with(sec_mount, tmp_path, key,
                         "token_uri that is not https")


def mount_fails_with(sec_mount, tmp_path, key, message):
    """Mounting with this key file fails at the shell, saying message."""
    path = tmp_path / "k.json"
    path.write_text(json.dumps(key))
    m = sec_mount(start=False, key=str(path))
    r = run_mount_cmd(m)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def api_headers(fs, name):
    """The values of header `name` on each request the proxy forwarded."""
    with fs.lock:
        seen = list(fs.seen)
    return [(m, p, {k.lower(): v for k, v in h.items()}.get(name))
            for m, p, h, _, _ in seen]


@pytest.mark.parametrize("quota", ["quota-proj-1", None])
def test_quota_project_is_sent_as_user_project(sec_mount, emu, tmp_path,
                                              quota):
    """Like Google's libraries: a credential's quota_project_id goes out as
    x-goog-user-project on every API call (Vertex and Cloud Storage)."""
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0)
    src = put_input(emu, prompts(1))
    emu.make_bucket("bkt-out")
    emu.wait_job(emu.create_job(src, "gs://bkt-out/q",
                                display_name="q")["name"])
    key = json.load(open(emu.key_file))
    if quota:
        key["quota_project_id"] = quota
    kpath = tmp_path / "key-quota.json"
    kpath.write_text(json.dumps(key))
    fs = FakeServer(emu.url).start()
    try:
        m = sec_mount(key=str(kpath), endpoint=fs.url,
                      storage_endpoint=fs.url)
        assert os.listdir(m.jobs) == ["q"]
        with open(m.job("q", "output", "predictions.jsonl"), "rb") as f:
            assert f.read()
        seen = api_headers(fs, "x-goog-user-project")
    finally:
        fs.stop()
    paths = [p for _, p, _ in seen]
    assert any("batchPredictionJobs" in p for p in paths), paths
    assert any("/o" in p and "alt=media" in p for p in paths), paths
    assert any("/o?" in p for p in paths), paths
    assert [v for _, _, v in seen] == [quota] * len(seen), seen


def test_bad_quota_project_is_refused(sec_mount, emu, tmp_path):
    key = json.load(open(emu.key_file))
    key["quota_project_id"] = "proj\r\nX-Injected: 1"
    mount_fails_with(sec_mount, tmp_path, key,
                     "quota_project_id that is not a project id")
    assert emu.counters()["routes"].get("oauth.token", 0) == 0


# --- secrets ---------------------------------------------------------------

def pem_lines(pem):
    return [l for l in pem.splitlines()
            if l and not l.startswith("-----") and len(l) >= 16]


def test_secrets_never_in_logs_or_files(sec_mount, emu, tmp_path):
    emu.config(pending_seconds=0.2, queued_seconds=0.2, row_seconds=0.1)
    text = request_text(emu, n=3)
    src = put_input(emu, prompts(600), name="in/long.jsonl")  # ~60 s
    emu.create_job(src, "gs://bkt-out/long", display_name="long")
    emu.config(require_auth=True)
    fs = FakeServer(emu.url).start()
    try:
        key = json.load(open(emu.key_file))
        key["token_uri"] = fs.url + "/token"  # so the proxy sees the grant
        kpath = tmp_path / "key-proxy.json"
        kpath.write_text(json.dumps(key))
        leak = "ya29.LEAKED-" + base64.urlsafe_b64encode(os.urandom(12)).decode()
        m = sec_mount(key=str(kpath), endpoint=fs.url, storage_endpoint=fs.url,
                      argv_extra=["-d"], loglevel="debug")
        snapshots = {}

        def grab(tag):
            for dp, dns, fns in os.walk(m.path):
                for fn in fns:
                    # `wait` blocks until its job ends (SEMANTICS.md); it holds
                    # the same state line as `state`, which is read.
                    if fn == "wait":
                        continue
                    p = os.path.join(dp, fn)
                    try:
                        with open(p, "rb") as f:
                            snapshots["%s:%s" % (tag, p)] = f.read()
                    except OSError as e:
                        snapshots["%s:%s" % (tag, p)] = str(e).encode()

        # Submit, watch, read.
        os.mkdir(m.job("s1"))
        with open(m.job("s1", "request.json"), "w") as f:
            f.write(text)
        m.wait_state("s1")
        grab("done")
        # Token refresh: every token expires; the next calls get 401.
        emu.control("POST", "tokens/expire")
        time.sleep(0.4)
        assert m.read("long", "state").startswith("JOB_STATE_")
        # A 401 out of the blue, and errors that echo a token back.
        emu.fault(kind="status", status=401, path="batchPredictionJobs/",
                  times=1)
        time.sleep(0.4)
        m.read("long", "state")
        body = {"error": {"code": 403, "status": "PERMISSION_DENIED",
                          "message": "token %s rejected; Authorization: "
                          "Bearer %s" % (leak, leak)}}
        emu.fault(kind="status", status=403, path="batchPredictionJobs/",
                  times=-1, body=body)
        time.sleep(0.4)
        try:  # the last state may be shown; the failure is logged
            m.read("long", "state")
        except OSError as e:
            assert e.errno == errno.EACCES
        os.mkdir(m.job("s2"))
        f = open(m.job("s2", "request.json"), "w")
        f.write(text)
        emu.fault(kind="status", status=400, path="batchPredictionJobs$",
                  method="POST", times=1, body={"error": {
                      "code": 400, "status": "INVALID_ARGUMENT",
                      "message": "bad request from %s" % leak}})
        with pytest.raises(OSError):
            f.close()
        err = m.read("s2", "error")
        assert "submit failed" in err and leak not in err, err
        emu.clear_faults()
        # Cancel through ctl, and 503s on the way.
        emu.fault(kind="status", status=503, path="batchPredictionJobs/",
                  times=2)
        time.sleep(0.4)
        with open(m.job("long", "ctl"), "w") as f:
            f.write("cancel")
        m.wait_state("long", ("JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"))
        grab("end")
        m.stop()
    finally:
        fs.stop()

    # What the daemon was given and sent: every one is a secret.
    secrets = {leak}
    auth_headers = 0
    for method, path, hdrs, body, reply in fs.seen:
        for k, v in hdrs.items():
            if k.lower() == "authorization":
                auth_headers += 1
                secrets.add(v.split(" ", 1)[1])
        if path.startswith("/token"):
            form = body.decode()
            for m_ in re.finditer(r"assertion=([^&]+)", form):
                secrets.add(m_.group(1))
                secrets.update(m_.group(1).split(".")[1:])  # claims, sig
            secrets.add(json.loads(reply)["access_token"])
    tokens = {s for s in secrets if s.startswith("ya29.emu-")}
    assert len(tokens) >= 2, "no token refresh seen: %s" % tokens
    assert auth_headers > 5
    secrets.update(pem_lines(key["private_key"]))
    secrets.add(key["private_key_id"])
    au = json.load(open(os.path.join(emu.data, "authorized-user.json")))
    secrets.update([au["refresh_token"], au["client_secret"]])
    # A server message that echoes "Bearer <token>" is logged as
    # "Bearer ***": the word may show, a value after it may not.
    markers = [rb"ya29", rb"(?i)bearer\s+(?!\*\*\*)\S", rb"PRIVATE KEY",
               rb"assertion=", rb"refresh_token", rb"client_secret",
               rb"(?i)authorization:\s*(?!bearer \*\*\*)\S"]

    texts = dict(snapshots)
    texts["stderr"] = open(m.stderr_path, "rb").read()
    assert b"getattr" in texts["stderr"] or b"LOOKUP" in texts["stderr"], \
        "no -d trace in stderr"
    assert len(snapshots) > 10
    for where, data in texts.items():
        for s in secrets:
            assert s.encode() not in data, ("secret leaked", where, s[:12])
        for mk in markers:
            hit = re.search(mk, data)
            assert not hit, ("marker in output", where, mk,
                             data[max(0, hit.start() - 80):hit.end() + 80])
    # The echoing error was really seen and redacted, not just absent.
    assert b"***" in texts["stderr"]


# --- who may use the mount -------------------------------------------------

def mount_line(path):
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[1] == path:
                return parts
    raise AssertionError("not in /proc/mounts: " + path)


def as_nobody(*cmd):
    return subprocess.run(NOBODY + list(cmd), capture_output=True, text=True,
                          timeout=30)


def test_mount_is_private_by_default(sec_mount, emu, public_dir):
    wd = os.path.join(public_dir, "w")
    os.mkdir(wd)
    os.chmod(wd, 0o755)
    m = sec_mount(workdir=wd)
    os.chmod(m.path, 0o755)  # the mountpoint itself is not what stops them
    parts = mount_line(m.path)
    opts = parts[3].split(",")
    assert "default_permissions" in opts, opts
    assert "allow_other" not in opts, opts
    assert parts[2] == "fuse.batchfs"
    assert os.listdir(m.path)  # the owner can
    assert as_nobody("ls", wd).returncode == 0  # the path is reachable
    r = as_nobody("ls", m.path)
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    r = as_nobody("cat", os.path.join(m.path, "README"))
    assert r.returncode != 0 and "Permission denied" in r.stderr, r
    r = as_nobody("mkdir", os.path.join(m.jobs, "x"))
    assert r.returncode != 0
    assert emu.counters()["routes"].get("vertex.create", 0) == 0


def test_allow_other_opens_it_read_only_for_others(sec_mount, emu, public_dir):
    wd = os.path.join(public_dir, "w")
    os.mkdir(wd)
    os.chmod(wd, 0o755)
    m = sec_mount(workdir=wd, allow_other=True)
    opts = mount_line(m.path)[3].split(",")
    assert "allow_other" in opts and "default_permissions" in opts, opts
    r = as_nobody("ls", m.path)
    assert r.returncode == 0 and "jobs" in r.stdout, r
    r = as_nobody("cat", os.path.join(m.path, "README"))
    assert r.returncode == 0 and r.stdout, r
    # default_permissions: the modes hold, so another uid cannot make
    # drafts in the owner's jobs/ (0755 root).
    st = os.stat(m.jobs)
    if st.st_mode & 0o002 == 0:
        r = as_nobody("mkdir", os.path.join(m.jobs, "x"))
        assert r.returncode != 0 and "Permission denied" in r.stderr, r
    assert emu.counters()["routes"].get("vertex.create", 0) == 0


# --- TLS -------------------------------------------------------------------

class TLSServer:
    """An https server on 127.0.0.1 with a fresh self-signed certificate
    that answers every GET with an empty job list."""

    def __init__(self, tmp_path):
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        self.hits = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.hits += 1
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls_server(tmp_path):
    s = TLSServer(tmp_path)
    yield s
    s.stop()


def test_self_signed_vertex_endpoint_is_refused(sec_mount, emu, tls_server):
    m = sec_mount(start=False, endpoint=tls_server.url)
    r = run_mount_cmd(m, timeout=120)
    assert r.returncode != 0
    low = r.stderr.lower()
    assert "certificate" in low or "ssl" in low, r.stderr
    assert tls_server.hits == 0  # no request got through the handshake


def test_self_signed_storage_endpoint_is_refused(sec_mount, emu, tls_server):
    emu.config(pending_seconds=0, queued_seconds=0, row_seconds=0)
    src = put_input(emu, prompts(1))
    emu.make_bucket("bkt-out")
    emu.wait_job(emu.create_job(src, "gs://bkt-out/o", display_name="t")["name"])
    m = sec_mount(storage_endpoint=tls_server.url)
    t0 = time.time()
    with pytest.raises(OSError) as ei:
        os.listdir(m.job("t", "output"))
    assert ei.value.errno in (errno.EIO, errno.EACCES)
    assert time.time() - t0 < 30  # a TLS failure is not retried for a minute
    assert tls_server.hits == 0
    assert "certificate" in m.stderr().lower() or "ssl" in m.stderr().lower()


def test_no_option_turns_verification_off(build_dir):
    exe = os.path.join(build_dir, "fs", "batchfs")
    h = subprocess.run([exe, "-h"], capture_output=True, text=True)
    text = (h.stdout + h.stderr).lower()
    assert "-o endpoint" in text  # the help is there
    # Option names (cafile= only adds trusted CAs;
    # its help says so).
    names = re.findall(r"^\s*-o ([a-z_,]+)", text, re.M)
    assert "endpoint" in names and "cafile" in names, names
    for name in names:
        for word in ("insecure", "verify", "no_tls", "notls", "cacert",
                     "ca_file", "skip", "ssl", "tls"):
            assert word not in name, name
    assert "added to the system's cas" in " ".join(text.split())
    for word in ("insecure", "no_tls", "notls", "skip verif", "no_verif",
                 "verify=0", "verification off"):
        assert word not in text, word
    # Nor does an unknown option of that kind pass silently.
    for opt in ("insecure", "ssl_verify=0", "tls_verify=0", "verify=0"):
        r = subprocess.run([exe, "-f", "-o", opt, "/nonexistent"],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode != 0, opt


def test_redirects_are_not_followed(sec_mount, emu):
    """A 302 to another server must not carry the request (and its
    Authorization header) there."""
    emu.config(pending_seconds=10000)
    src = put_input(emu, prompts(1))
    job = emu.create_job(src, "gs://bkt-in/o", display_name="r")
    jid = job["name"].rsplit("/", 1)[-1]
    other = FakeServer(emu.url).start()
    front = FakeServer(emu.url).start()
    try:
        m = sec_mount(endpoint=front.url, storage_endpoint=front.url)
        assert m.read("r", "state").startswith("JOB_STATE_")
        front.add("GET", r"batchPredictionJobs/%s" % jid, status=302,
                  headers={"Location": other.url + "/v1/steal"}, body=b"{}")
        time.sleep(0.4)
        try:
            m.read("r", "job.json")
        except OSError as e:
            assert e.errno in (errno.EIO, errno.EACCES, errno.EINVAL), e
        assert other.requests == [], other.requests
    finally:
        front.stop()
        other.stop()
