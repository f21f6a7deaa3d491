"""fs/auth against the emulator, through tests/drivers/auth_cli.

Service-account and authorized-user exchanges, refresh before expiry,
single flight under concurrency, a 401 mid-run, broken credentials giving
EACCES with a message that says what to do, a dead token endpoint ending
within the budget, and the metadata-server path via GCE_METADATA_HOST.
The driver never prints tokens; neither output stream may contain one.
"""
import errno
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse

import pytest

API = "api:/storage/v1/b?project=test-project"


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def cli(emu, build_dir, tmp_path):
    exe = os.path.join(build_dir, "tests", "drivers", "auth_cli")
    if not os.path.exists(exe):
        pytest.fail("%s missing: build it first" % exe)
    home = tmp_path / "home"
    home.mkdir()

    def env_for(extra):
        env = dict(os.environ)
        for k in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
                  "GCE_METADATA_HOST", "GCE_METADATA_ROOT"):
            env.pop(k, None)
        env["HOME"] = str(home)
        # Whatever happens, nothing may reach a real metadata server.
        env["GCE_METADATA_HOST"] = "127.0.0.1:%d" % closed_port()
        env["AUTH_CLI_DEBUG"] = "1"
        env.update(extra or {})
        return env

    def check_no_secrets(text):
        assert "ya29.emu-" not in text
        assert "PRIVATE KEY" not in text
        assert "emulator-secret-" not in text
        assert "1//emulator-" not in text
        assert "emu-subject-" not in text
        assert "emulator-sts-secret-" not in text
        assert "emulator-wf-refresh-" not in text

    def run(*steps, opts=(), env=None, key=None, timeout=120):
        if key is None:
            key = emu.key_file
        cmd = [exe, "--base", emu.url, *(["--key", key] if key else []),
               *opts, *steps]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, env=env_for(env))
        wall = time.monotonic() - t0
        assert p.returncode == 0, (cmd, p.returncode, p.stderr)
        check_no_secrets(p.stdout)
        check_no_secrets(p.stderr)
        out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        return out, wall, p.stderr

    def start(*steps, opts=(), env=None, key=None):
        if key is None:
            key = emu.key_file
        cmd = [exe, "--base", emu.url, *(["--key", key] if key else []),
               *opts, *steps]
        return subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env_for(env))

    run.start = start
    run.check_no_secrets = check_no_secrets
    run.tmp = tmp_path
    run.home = home
    return run


def tokens(emu, route="oauth.token"):
    return emu.counters()["routes"].get(route, 0)


def secure_copy(src, dst, edit=None):
    with open(src) as f:
        obj = json.load(f)
    if edit:
        edit(obj)
    fd = os.open(str(dst), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    return str(dst)


# --- service account ------------------------------------------------------

def test_service_account_exchange(emu, cli):
    emu.config(require_auth=True)
    out, _, _ = cli("get", "get", API)
    new, g1, g2, api = out
    assert new["rc"] == 0, new
    assert "emulator@test-project.iam.gserviceaccount.com" in new["describe"]
    assert new["project"] == "test-project"
    assert g1["rc"] == 0 and g1["len"] > 20 and len(g1["sha"]) == 12
    assert g2["sha"] == g1["sha"]          # cached
    assert api["rc"] == 0 and api["status"] == 200, api
    assert tokens(emu) == 1


def test_without_token_the_api_refuses(emu, cli):
    """The emulator really checks: --none gets a 401 mapped to EACCES."""
    emu.config(require_auth=True)
    out, _, _ = cli(API, opts=("--none",), key="")
    assert out[0]["describe"] == "no authentication"
    assert out[1]["http_status"] == 401
    assert out[1]["errno"] == errno.EACCES
    assert tokens(emu) == 0


def test_refresh_before_expiry(emu, cli):
    # A 4 s token is refreshed after half its life (the 225 s margin is
    # longer than the token), before the server would reject it.
    emu.config(require_auth=True, token_lifetime=4)
    out, _, _ = cli("get", "sleep:1000", "get", "sleep:1600", "get", API)
    _, g1, g2, g3, api = out
    assert g1["rc"] == g2["rc"] == g3["rc"] == 0
    assert g2["sha"] == g1["sha"]
    assert g3["sha"] != g1["sha"]
    assert api["status"] == 200 and api["attempts"] == 1, api
    assert tokens(emu) == 2


def test_margin_option(emu, cli):
    # margin 1 s of a 4 s token: refreshed after 3 s, not after 2 s as the
    # default (capped at half the life) would.
    emu.config(token_lifetime=4)
    out, _, _ = cli("get", "sleep:2500", "get", "sleep:800", "get",
                    opts=("--margin", "1"))
    assert out[1]["sha"] == out[2]["sha"] != out[3]["sha"]
    assert tokens(emu) == 2


def test_single_flight(emu, cli):
    # A slow token endpoint keeps the flight open while all threads ask.
    emu.fault(path="^/token", kind="stall", seconds=1, times=1)
    out, _, _ = cli("get:16", "get")
    par, after = out[1], out[2]
    assert par["rcs"] == [0] * 16, par
    assert len(set(par["shas"])) == 1
    assert after["sha"] == par["shas"][0]
    assert tokens(emu) == 1


def test_single_flight_when_expired(emu, cli):
    emu.config(token_lifetime=2)
    emu.fault(path="^/token", kind="stall", seconds=1, times=-1)
    out, _, _ = cli("get", "sleep:2100", "get:12")
    assert out[1]["rc"] == 0
    assert out[2]["rcs"] == [0] * 12
    assert len(set(out[2]["shas"])) == 1
    assert out[2]["shas"][0] != out[1]["sha"]
    assert tokens(emu) == 2


def test_401_mid_run_refreshes_once(emu, cli):
    emu.config(require_auth=True)
    p = cli.start("get", API, "wait", API, "get")
    try:
        lines = []
        while True:
            line = p.stdout.readline()
            assert line, p.stderr.read()
            lines.append(json.loads(line))
            if lines[-1]["step"] == "wait":
                break
        emu.control("POST", "tokens/expire")
        p.stdin.write("go\n")
        p.stdin.flush()
        rest, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    cli.check_no_secrets(rest)
    cli.check_no_secrets(err)
    lines += [json.loads(l) for l in rest.splitlines() if l.strip()]
    _, g1, api1, _, api2, g2 = lines
    assert api1["status"] == 200
    # The cached token was rejected: invalidated, one new token, one retry.
    assert api2["rc"] == 0 and api2["status"] == 200, api2
    assert api2["attempts"] == 2
    assert g2["sha"] != g1["sha"]
    assert tokens(emu) == 2


def test_invalidate_then_refresh(emu, cli):
    out, _, _ = cli("get", "invalidate", "invalidate", "get", "get")
    g1, g2, g3 = out[1], out[4], out[5]
    assert g1["sha"] != g2["sha"] and g2["sha"] == g3["sha"]
    assert tokens(emu) == 2


# --- authorized user ----------------------------------------------------

def test_authorized_user(emu, cli):
    emu.config(require_auth=True)
    key = os.path.join(emu.data, "authorized-user.json")
    out, _, _ = cli("get", API, key=key,
                    opts=("--token-uri", emu.url + "/token"))
    assert "authorized user" in out[0]["describe"]
    assert out[1]["rc"] == 0
    assert out[2]["status"] == 200
    assert tokens(emu) == 1


def test_authorized_user_bad_refresh_token(emu, cli):
    def edit(o):
        o["refresh_token"] = "1//revoked"
    key = secure_copy(os.path.join(emu.data, "authorized-user.json"),
                      cli.tmp / "au.json", edit)
    out, _, _ = cli("get", key=key, opts=("--token-uri", emu.url + "/token"))
    g = out[1]
    assert g["errno"] == errno.EACCES
    assert "invalid_grant" in g["msg"] and "Bad Request" in g["msg"]
    assert "gcloud auth application-default login" in g["msg"]
    assert g["http_status"] == 400


# --- broken credentials -------------------------------------------------

def test_bad_key_is_eacces_at_load(emu, cli):
    def edit(o):
        o["private_key"] = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq"
                            "\n-----END PRIVATE KEY-----\n")
    key = secure_copy(emu.key_file, cli.tmp / "bad.json", edit)
    out, _, _ = cli("get", key=key)
    assert len(out) == 1
    new = out[0]
    assert new["errno"] == errno.EACCES
    assert "bad.json" in new["msg"] and "does not load" in new["msg"]
    assert "download a new JSON key" in new["msg"]
    assert "MIIEvQ" not in new["msg"]
    assert tokens(emu) == 0


def test_unknown_key_rejected_by_token_endpoint(emu, cli):
    pem = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                          "-pkeyopt", "rsa_keygen_bits:2048"],
                         check=True, capture_output=True, text=True).stdout

    def edit(o):
        o["private_key"] = pem
    key = secure_copy(emu.key_file, cli.tmp / "other.json", edit)
    out, wall, _ = cli("get", "get", key=key)
    g = out[1]
    assert g["errno"] == errno.EACCES
    assert "invalid_grant" in g["msg"] and "Invalid JWT Signature" in g["msg"]
    assert "emulator@test-project" in g["msg"]
    # A rejected credential is not retried, and not hammered right after.
    assert out[2]["errno"] == errno.EACCES
    assert tokens(emu) == 1
    assert wall < 10


def test_insecure_key_file(emu, cli):
    """Writable by group or others: refused (someone else could swap the
    credential) unless allowed; the message names where the path came
    from."""
    key = shutil.copy(emu.key_file, str(cli.tmp / "open.json"))
    for mode in (0o664, 0o646, 0o620):
        os.chmod(key, mode)
        out, _, _ = cli("get", key=key)
        assert out[0]["errno"] == errno.EACCES
        assert "writable by group or others" in out[0]["msg"]
        assert "%03o" % mode in out[0]["msg"]
        assert "chmod go-w %s" % key in out[0]["msg"]
        assert "-o credentials=" in out[0]["msg"]
    out, _, _ = cli("get", key="", env={"GOOGLE_APPLICATION_CREDENTIALS": key})
    assert "(from GOOGLE_APPLICATION_CREDENTIALS)" in out[0]["msg"]
    out, _, _ = cli("get", key=key, opts=("--insecure",))
    assert out[1]["rc"] == 0
    assert tokens(emu) == 1


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o444])
def test_key_readable_by_others_warns_once(emu, cli, mode):
    """Kubernetes secret volumes are 0644 by default and Google's libraries
    accept them: loaded, with one warning that names the source."""
    key = shutil.copy(emu.key_file, str(cli.tmp / "k8s.json"))
    os.chmod(key, mode)
    out, _, err = cli("get", "invalidate", "get", key=key,
                      opts=("--origin", "GOOGLE_APPLICATION_CREDENTIALS"))
    assert out[0]["rc"] == 0 and out[1]["rc"] == 0 and out[3]["rc"] == 0
    warn = [l for l in err.splitlines() if "readable by others" in l]
    assert len(warn) == 1, err
    assert key in warn[0] and "GOOGLE_APPLICATION_CREDENTIALS" in warn[0]
    assert "%03o" % mode in warn[0]


def test_group_readable_key_is_quiet(emu, cli):
    key = shutil.copy(emu.key_file, str(cli.tmp / "grp.json"))
    os.chmod(key, 0o640)
    out, _, err = cli("get", key=key)
    assert out[1]["rc"] == 0
    assert "readable by others" not in err


@pytest.mark.parametrize("case", ["missing", "json", "type"])
def test_broken_files(emu, cli, case):
    path = cli.tmp / "cred.json"
    if case == "json":
        path.write_text("{\"type\": \"service_account\",")
    elif case == "type":
        path.write_text(json.dumps({"type": "some_future_type"}))
    if path.exists():
        os.chmod(path, 0o600)
    out, _, _ = cli("get", key=str(path))
    msg = out[0]["msg"]
    assert out[0]["errno"] == errno.EACCES
    assert str(path) in msg
    assert {"missing": "does not exist", "json": "not a JSON object",
            "type": "unsupported credential type some_future_type"}[case] in msg


def test_gac_env_and_gcloud_file(emu, cli):
    out, _, _ = cli("get", key="",
                    env={"GOOGLE_APPLICATION_CREDENTIALS": emu.key_file})
    assert "GOOGLE_APPLICATION_CREDENTIALS" in out[0]["describe"]
    assert out[1]["rc"] == 0
    gdir = cli.home / ".config" / "gcloud"
    gdir.mkdir(parents=True)
    secure_copy(emu.key_file, gdir / "application_default_credentials.json")
    out, _, _ = cli("get", key="")
    assert "gcloud's ADC file" in out[0]["describe"]
    assert out[1]["rc"] == 0


# --- token endpoint failures ------------------------------------------

def test_token_endpoint_down_within_budget(emu, cli):
    emu.fault(path="^/token", kind="status", status=503, times=-1)
    out, wall, _ = cli("get", opts=("--budget-ms", "4000"))
    g = out[1]
    assert g["rc"] < 0
    # Transient: not reported as a credential problem.
    assert g["errno"] != errno.EACCES
    assert g["errno"] in (errno.EAGAIN, errno.EIO, errno.ETIMEDOUT,
                          errno.ECONNREFUSED, errno.EHOSTUNREACH), g
    assert "token endpoint" in g["msg"]
    assert g["ms"] <= 4000 + 1500
    assert wall < 10


def test_token_endpoint_blip_is_retried(emu, cli):
    emu.fault(path="^/token", kind="status", status=503, times=1)
    out, _, _ = cli("get")
    assert out[1]["rc"] == 0
    assert tokens(emu) == 1      # faulted requests are not counted


def test_token_endpoint_reset(emu, cli):
    emu.fault(path="^/token", kind="reset", times=1)
    out, _, _ = cli("get")
    assert out[1]["rc"] == 0


# --- metadata server --------------------------------------------------

def test_metadata_server(emu, cli):
    emu.config(require_auth=True)
    host = urllib.parse.urlparse(emu.url).netloc
    out, _, _ = cli("get", "get", API, key="",
                    env={"GCE_METADATA_HOST": host})
    assert out[0]["describe"] == "metadata server at %s" % host
    assert out[1]["rc"] == 0 and out[2]["sha"] == out[1]["sha"]
    assert out[3]["status"] == 200
    assert tokens(emu, "metadata.token") == 1
    assert tokens(emu) == 0


def test_metadata_option_overrides_env(emu, cli):
    host = urllib.parse.urlparse(emu.url).netloc
    out, _, _ = cli("get", key="", opts=("--metadata-host", host))
    assert out[1]["rc"] == 0
    assert tokens(emu, "metadata.token") == 1


def test_no_credentials_anywhere(emu, cli):
    out, wall, _ = cli("get", "get", key="")
    g = out[1]
    assert g["errno"] == errno.EACCES
    for s in ("GOOGLE_APPLICATION_CREDENTIALS (not set)",
              "application_default_credentials.json (missing)",
              "metadata server at 127.0.0.1:",
              "gcloud auth application-default login"):
        assert s in g["msg"], g["msg"]
    # The second call does not probe again.
    assert out[2]["errno"] == errno.EACCES and out[2]["ms"] < 100
    assert wall < 8


def test_metadata_probe_is_short(emu, cli):
    """A metadata host that accepts but never answers costs ~3 s, once."""
    host = urllib.parse.urlparse(emu.url).netloc
    emu.fault(path="^/computeMetadata", kind="stall", seconds=6, times=-1)
    out, wall, _ = cli("get", "get", key="", env={"GCE_METADATA_HOST": host})
    g = out[1]
    assert g["errno"] == errno.EACCES
    assert "no answer" in g["msg"]
    assert 2000 <= g["ms"] <= 4500, g
    assert out[2]["ms"] < 100
    assert wall < 10


# --- explicit tokens ----------------------------------------------------

def self_signed_jwt(emu, tmp_path):
    """An AIP-4111 self-signed JWT made with the emulator's test key (the
    emulator accepts those as access tokens), signed by the openssl CLI."""
    import base64

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    with open(emu.key_file) as f:
        sa = json.load(f)
    pem = tmp_path / "k.pem"
    fd = os.open(str(pem), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(sa["private_key"])
    now = int(time.time())
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT",
                           "kid": sa["private_key_id"]}).encode())
    claims = b64(json.dumps({"iss": sa["client_email"],
                             "sub": sa["client_email"],
                             "aud": "https://storage.googleapis.com/",
                             "iat": now, "exp": now + 600}).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(pem)],
                         input=(head + "." + claims).encode(),
                         capture_output=True, check=True).stdout
    return head + "." + claims + "." + b64(sig)


def test_token_file_follows_changes(emu, cli):
    """A token file is re-read when it changes; a rejected one is reported
    (EACCES after one re-read), not looped on."""
    emu.config(require_auth=True)
    tf = cli.tmp / "token"
    tf.write_text("not-issued\n")
    p = cli.start(API, "wait", API, key="", opts=("--token-file", str(tf)))
    try:
        lines = []
        while True:
            line = p.stdout.readline()
            assert line, p.stderr.read()
            lines.append(json.loads(line))
            if lines[-1]["step"] == "wait":
                break
        tf.write_text(self_signed_jwt(emu, cli.tmp) + "\n")
        p.stdin.write("go\n")
        p.stdin.flush()
        rest, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    lines += [json.loads(l) for l in rest.splitlines() if l.strip()]
    new, bad, _, good = lines
    assert new["describe"] == "access token from file %s" % tf
    assert bad["http_status"] == 401 and bad["errno"] == errno.EACCES
    assert good["rc"] == 0 and good["status"] == 200, good
    assert tokens(emu) == 0


def test_token_env(emu, cli):
    emu.config(require_auth=True)
    out, _, _ = cli(API, key="", opts=("--token-env", "BF_TOK"),
                    env={"BF_TOK": self_signed_jwt(emu, cli.tmp)})
    assert out[0]["describe"] == "access token from $BF_TOK"
    assert out[1]["status"] == 200
    out, _, _ = cli(API, key="", opts=("--token-env", "BF_TOK"))
    assert out[0]["errno"] == errno.EACCES
    assert "BF_TOK" in out[0]["msg"]


# --- workload identity federation, impersonation ------------------------

STS_TYPE = "urn:ietf:params:oauth:token-type:jwt"
AUDIENCE = ("//iam.googleapis.com/projects/123456789012/locations/global/"
            "workloadIdentityPools/emu-pool/providers/emu-provider")
TARGET = "target@test-project.iam.gserviceaccount.com"


def subject_token(emu):
    st, _, body = emu.request("GET", "/_emulator/subject-token",
                              headers={"Metadata": "True"}, raw=True)
    assert st == 200
    return body.decode()


def write_json(path, obj, mode=0o600):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    return str(path)


def external_file(emu, tmp, source, impersonate=None, **extra):
    obj = {"type": "external_account", "audience": AUDIENCE,
           "subject_token_type": STS_TYPE,
           "token_url": emu.url + "/v1/token",
           "credential_source": source}
    if impersonate:
        obj["service_account_impersonation_url"] = (
            emu.url + "/v1/projects/-/serviceAccounts/%s:generateAccessToken"
            % impersonate)
    obj.update(extra)
    return write_json(tmp / "external.json", obj)


def auth_log(emu, kind):
    return [r for r in emu.control("GET", "auth-log")["requests"]
            if r["kind"] == kind]


def test_external_account_file_source(emu, cli):
    emu.config(require_auth=True)
    tok = cli.tmp / "subject.txt"
    tok.write_text(subject_token(emu) + "\n")
    key = external_file(emu, cli.tmp, {"file": str(tok)},
                        quota_project_id="test-project")
    out, _, err = cli("get", "get", API, "project", key=key)
    assert "external account" in out[0]["describe"], out[0]
    assert str(tok) in out[0]["describe"]
    assert out[1]["rc"] == 0 and out[2]["sha"] == out[1]["sha"], out
    assert out[3]["status"] == 200, out[3]
    assert out[4]["project"] == "test-project"
    assert "quota_project_id" in out[4]["from"]
    assert tokens(emu, "sts.token") == 1
    assert tokens(emu, "iam.generateAccessToken") == 0
    (req,) = auth_log(emu, "sts.token")
    assert req["audience"] == AUDIENCE
    assert req["subject_token_type"] == STS_TYPE
    assert req["requested_token_type"] == \
        "urn:ietf:params:oauth:token-type:access_token"
    assert req["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert req["client"] is None


def test_external_account_url_json_with_impersonation(emu, cli):
    """URL source (Azure-IMDS style: a header, a JSON field), then the STS
    token impersonates a service account; refreshed on expiry."""
    emu.config(require_auth=True, token_lifetime=4)
    src = {"url": emu.url + "/_emulator/subject-token?format=json",
           "headers": {"Metadata": "True"},
           "format": {"type": "json",
                      "subject_token_field_name": "access_token"}}
    key = external_file(emu, cli.tmp, src, impersonate=TARGET,
                        service_account_impersonation={
                            "token_lifetime_seconds": 1800})
    out, _, _ = cli("get", API, "sleep:2200", "get", key=key)
    assert TARGET in out[0]["describe"]
    assert "/_emulator/subject-token" in out[0]["describe"]
    assert "format=json" not in out[0]["describe"]  # queries may be secret
    assert out[1]["rc"] == 0 and out[2]["status"] == 200, out
    assert out[3]["rc"] == 0 and out[3]["sha"] != out[1]["sha"]
    assert tokens(emu, "sts.subject") == 2
    assert tokens(emu, "sts.token") == 2
    assert tokens(emu, "iam.generateAccessToken") == 2
    iam = auth_log(emu, "iam.generateAccessToken")
    assert iam[0]["email"] == TARGET and iam[0]["lifetime"] == "1800s"
    assert iam[0]["scope"] == ["https://www.googleapis.com/auth/cloud-platform"]


def test_external_account_single_flight(emu, cli):
    """A slow STS keeps the flight open while every thread asks: one
    subject-token read, one exchange, one impersonation for all."""
    emu.fault(path="^/v1/token", kind="stall", seconds=1, times=1)
    src = {"url": emu.url + "/_emulator/subject-token",
           "headers": {"Metadata": "True"}}
    key = external_file(emu, cli.tmp, src, impersonate=TARGET)
    out, _, _ = cli("get:12", "get", key=key)
    assert out[1]["rcs"] == [0] * 12, out[1]
    assert len(set(out[1]["shas"])) == 1
    assert out[2]["sha"] == out[1]["shas"][0]
    assert tokens(emu, "sts.subject") == 1
    assert tokens(emu, "sts.token") == 1
    assert tokens(emu, "iam.generateAccessToken") == 1


def test_external_account_client_auth_and_bad_subject(emu, cli):
    with open(os.path.join(emu.data, "external-authorized-user.json")) as f:
        client = json.load(f)
    tok = cli.tmp / "subject.txt"
    tok.write_text(subject_token(emu))
    wf = {"audience": "//iam.googleapis.com/locations/global/"
                      "workforcePools/emu-pool/providers/emu-provider",
          "workforce_pool_user_project": "user-project"}
    key = external_file(emu, cli.tmp, {"file": str(tok)},
                        client_id=client["client_id"],
                        client_secret=client["client_secret"], **wf)
    out, _, _ = cli("get", key=key)
    assert out[0]["rc"] == 0 and out[1]["rc"] == 0, out
    key = external_file(emu, cli.tmp, {"file": str(tok)}, **wf)
    out, _, _ = cli("get", key=key)
    assert out[1]["rc"] == 0, out
    with_client, without = auth_log(emu, "sts.token")
    assert with_client["client"] == "emulator-sts-client"
    # The client id names the user project; without one it is an option.
    assert with_client["options"] is None
    assert without["client"] is None
    assert json.loads(without["options"]) == {"userProject": "user-project"}
    # A public client (no secret): basic auth with an empty secret, which
    # this STS refuses like a wrong one.
    key = external_file(emu, cli.tmp, {"file": str(tok)},
                        client_id=client["client_id"])
    out, _, _ = cli("get", key=key)
    assert out[1]["errno"] == errno.EACCES and out[1]["http_status"] == 401
    # A wrong client secret is refused by STS.
    key = external_file(emu, cli.tmp, {"file": str(tok)},
                        client_id=client["client_id"], client_secret="x")
    out, _, _ = cli("get", key=key)
    assert out[1]["errno"] == errno.EACCES and out[1]["http_status"] == 401
    assert "invalid_client" in out[1]["msg"]
    tok.write_text("eyJ.not-issued-by-the-platform.sig")
    key = external_file(emu, cli.tmp, {"file": str(tok)})
    out, _, _ = cli("get", key=key)
    g = out[1]
    assert g["errno"] == errno.EACCES and g["http_status"] == 400
    assert "invalid_grant" in g["msg"] and "subject token" in g["msg"]
    assert "eyJ.not-issued" not in g["msg"]
    # A missing subject token file: EACCES naming it.
    tok.unlink()
    out, _, _ = cli("get", key=key)
    assert out[1]["errno"] == errno.EACCES and str(tok) in out[1]["msg"]


def test_external_account_subject_url_down_is_not_eacces(emu, cli):
    src = {"url": "http://127.0.0.1:%d/token" % closed_port()}
    key = external_file(emu, cli.tmp, src)
    out, wall, _ = cli("get", key=key,
                       opts=("--budget-ms", "3000", "--attempts", "2"))
    assert out[1]["errno"] != errno.EACCES and out[1]["rc"] < 0
    assert wall < 30


def test_impersonation_denied(emu, cli):
    tok = cli.tmp / "subject.txt"
    tok.write_text(subject_token(emu))
    key = external_file(emu, cli.tmp, {"file": str(tok)},
                        impersonate="denied@test-project.iam.gserviceaccount.com")
    out, _, _ = cli("get", key=key)
    g = out[1]
    assert g["errno"] == errno.EACCES and g["http_status"] == 403
    assert "PERMISSION_DENIED" in g["msg"]
    assert "roles/iam.serviceAccountTokenCreator" in g["msg"]


@pytest.mark.parametrize("source", ["service_account", "authorized_user",
                                    "external_account_authorized_user"])
def test_impersonated_service_account(emu, cli, source):
    emu.config(require_auth=True)
    src_file = {"service_account": emu.key_file,
                "authorized_user": os.path.join(emu.data, "authorized-user.json"),
                "external_account_authorized_user":
                    os.path.join(emu.data, "external-authorized-user.json")}[source]
    with open(src_file) as f:
        src = json.load(f)
    key = write_json(cli.tmp / "imp.json", {
        "type": "impersonated_service_account",
        "service_account_impersonation_url":
            emu.url + "/v1/projects/-/serviceAccounts/%s:generateAccessToken"
            % TARGET,
        "source_credentials": src,
        "delegates": ["middle@test-project.iam.gserviceaccount.com"],
    })
    out, _, _ = cli("get", "get", API, key=key,
                    opts=("--token-uri", emu.url + "/token"))
    assert TARGET in out[0]["describe"] and "delegates" in out[0]["describe"]
    assert source.replace("_", " ") in out[0]["describe"] or \
        "emulator@test-project" in out[0]["describe"]
    assert out[1]["rc"] == 0 and out[2]["sha"] == out[1]["sha"]
    assert out[3]["status"] == 200, out[3]
    assert tokens(emu) + tokens(emu, "sts.oauthtoken") == 1
    assert tokens(emu, "iam.generateAccessToken") == 1
    (iam,) = auth_log(emu, "iam.generateAccessToken")
    assert iam["delegates"] == [
        "projects/-/serviceAccounts/middle@test-project.iam.gserviceaccount.com"]


def test_impersonated_needs_a_known_source(emu, cli):
    key = write_json(cli.tmp / "imp.json", {
        "type": "impersonated_service_account",
        "service_account_impersonation_url":
            emu.url + "/v1/projects/-/serviceAccounts/x:generateAccessToken",
        "source_credentials": {"type": "impersonated_service_account"}})
    out, _, _ = cli("get", key=key)
    assert out[0]["errno"] == errno.EACCES
    assert "source_credentials" in out[0]["msg"]


def test_external_account_authorized_user(emu, cli):
    emu.config(require_auth=True)
    key = os.path.join(emu.data, "external-authorized-user.json")
    out, _, _ = cli("get", API, key=key)
    assert "external account authorized user" in out[0]["describe"]
    assert out[1]["rc"] == 0 and out[2]["status"] == 200, out
    assert tokens(emu, "sts.oauthtoken") == 1
    (req,) = auth_log(emu, "sts.oauthtoken")
    assert req["client"] == "emulator-sts-client"
    with open(key) as f:
        obj = json.load(f)
    obj["client_secret"] = "wrong"
    bad = write_json(cli.tmp / "eau.json", obj)
    out, _, _ = cli("get", key=bad)
    assert out[1]["errno"] == errno.EACCES and out[1]["http_status"] == 401
    assert "invalid_client" in out[1]["msg"]


@pytest.mark.parametrize("case", ["aws", "both", "format", "https"])
def test_external_account_refused_at_load(emu, cli, case):
    src = {"file": "/dev/null"}
    extra = {}
    if case == "aws":
        src = {"environment_id": "aws1", "region_url": "http://x"}
    elif case == "both":
        src = {"file": "/dev/null", "url": "http://127.0.0.1:1/"}
    elif case == "format":
        src["format"] = {"type": "json"}
    elif case == "https":
        extra["token_url"] = "http://sts.example.com/v1/token"
    key = external_file(emu, cli.tmp, src, **extra)
    out, _, _ = cli("get", key=key)
    assert out[0]["errno"] == errno.EACCES, out
    assert key in out[0]["msg"]
    assert {"aws": "file and url", "both": "exactly one",
            "format": "subject_token_field_name",
            "https": "not https"}[case] in out[0]["msg"]


# --- project -------------------------------------------------------------

def test_project_from_gcloud_config(emu, cli):
    tok = cli.tmp / "subject.txt"
    tok.write_text(subject_token(emu))
    key = external_file(emu, cli.tmp, {"file": str(tok)})
    gdir = cli.home / ".config" / "gcloud"
    (gdir / "configurations").mkdir(parents=True)
    (gdir / "active_config").write_text("work\n")
    (gdir / "configurations" / "config_default").write_text(
        "[core]\nproject = wrong-project\n")
    (gdir / "configurations" / "config_work").write_text(
        "[auth]\nproject = not-this\n[core]\naccount = a@b.c\n"
        "project = gcloud-project\n")
    out, _, _ = cli("project", key=key)
    assert out[1]["project"] == "gcloud-project", out
    assert "config_work" in out[1]["from"]
    out, _, _ = cli("project", key=key,
                    env={"CLOUDSDK_ACTIVE_CONFIG_NAME": "default"})
    assert out[1]["project"] == "wrong-project"
    out, _, _ = cli("project", key=key,
                    env={"CLOUDSDK_CORE_PROJECT": "env-project"})
    assert out[1]["project"] == "env-project"
    # The credential's own project_id comes first.
    out, _, _ = cli("project")
    assert out[1]["project"] == "test-project"
    assert "project_id" in out[1]["from"]


def test_project_from_metadata_server(emu, cli):
    host = urllib.parse.urlparse(emu.url).netloc
    out, _, _ = cli("project", key="", env={"GCE_METADATA_HOST": host})
    assert out[1]["project"] == "test-project", out
    assert "metadata server" in out[1]["from"]
    # Not probed for other credentials.
    tok = cli.tmp / "subject.txt"
    tok.write_text(subject_token(emu))
    key = external_file(emu, cli.tmp, {"file": str(tok)})
    out, _, _ = cli("project", key=key, env={"GCE_METADATA_HOST": host})
    assert "project" not in out[1]
