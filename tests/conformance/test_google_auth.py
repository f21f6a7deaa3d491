"""google-auth (Python, the copy bundled with the Cloud SDK) against the
emulator's OAuth endpoints: see google_auth_py.py for what is exercised."""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
THIRD_PARTY = "/usr/lib/google-cloud-sdk/lib/third_party"


@pytest.mark.skipif(not os.path.isdir(os.path.join(THIRD_PARTY, "google", "auth")),
                    reason="the Cloud SDK's bundled google-auth is not installed")
def test_google_auth_python(emu, require_auth):
    require_auth(True)
    env = dict(os.environ, EMU_URL=emu.url, EMU_DATA=emu.data,
               GCLOUD_THIRD_PARTY=THIRD_PARTY)
    p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "google_auth_py.py")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "google_auth_py.py -> %d\n%s\n%s" % (
        p.returncode, p.stderr[-4000:], p.stdout[-2000:])
    out = json.loads(p.stdout)
    assert out["ok"] and out["steps"]["refresh_on_401"], out


def sts_and_iam_requests(emu):
    """The recorded STS/IAM requests, without what differs per run."""
    out = []
    for r in emu.control("GET", "auth-log")["requests"]:
        out.append({k: v for k, v in r.items() if k != "client"})
    return out


@pytest.mark.skipif(not os.path.isdir(os.path.join(THIRD_PARTY, "google", "auth")),
                    reason="the Cloud SDK's bundled google-auth is not installed")
def test_google_auth_python_federation(emu, require_auth, tmp_path, build_dir):
    """google-auth's external_account, external_account_authorized_user and
    impersonated_service_account credentials work against the emulator's
    STS and IAM Credentials; and batchfs (fs/auth through auth_cli) sends
    STS and IAM the same requests as google-auth for the same file."""
    require_auth(True)
    env = dict(os.environ, EMU_URL=emu.url, EMU_DATA=emu.data,
               GCLOUD_THIRD_PARTY=THIRD_PARTY, WORK=str(tmp_path))
    p = subprocess.run(["/usr/bin/python3",
                        os.path.join(HERE, "google_auth_federation_py.py")],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "google_auth_federation_py.py -> %d\n%s\n%s" % (
        p.returncode, p.stderr[-4000:], p.stdout[-2000:])
    out = json.loads(p.stdout)
    assert out["ok"], out
    assert len(out["steps"]) == 5, out

    # The same external_account file (file source, impersonation) through
    # google-auth and through batchfs: identical STS and IAM requests.
    subject = tmp_path / "subject2.txt"
    st, _, body = emu.request("GET", "/_emulator/subject-token",
                              headers={"Metadata": "True"}, raw=True)
    subject.write_bytes(body)
    info = {"type": "external_account",
            "audience": "//iam.googleapis.com/projects/123456789012/locations/"
                        "global/workloadIdentityPools/emu-pool/providers/emu-provider",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "token_url": emu.url + "/v1/token",
            "credential_source": {"file": str(subject)},
            "service_account_impersonation_url":
                emu.url + "/v1/projects/-/serviceAccounts/"
                "target@test-project.iam.gserviceaccount.com:generateAccessToken"}
    cred = tmp_path / "ext.json"
    fd = os.open(str(cred), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    before = len(sts_and_iam_requests(emu))
    code = ("import json, google.auth.transport.requests as t\n"
            "from google.auth import identity_pool\n"
            "c = identity_pool.Credentials.from_info(json.load(open(%r)), "
            "scopes=['https://www.googleapis.com/auth/cloud-platform'])\n"
            "c.refresh(t.Request())\n" % str(cred))
    p = subprocess.run(["/usr/bin/python3", "-c",
                        "import sys; sys.path.insert(0, %r)\n" % THIRD_PARTY + code],
                       env=dict(env, GCE_METADATA_HOST="127.0.0.1:9"),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-3000:]
    theirs = sts_and_iam_requests(emu)[before:]
    before += len(theirs)
    exe = os.path.join(build_dir, "tests", "drivers", "auth_cli")
    p = subprocess.run([exe, "--key", str(cred), "get"], capture_output=True,
                       text=True, timeout=60,
                       env=dict(os.environ, GCE_METADATA_HOST="127.0.0.1:9"))
    assert p.returncode == 0 and '"rc":0' in p.stdout.splitlines()[-1], \
        (p.stdout, p.stderr)
    ours = sts_and_iam_requests(emu)[before:]
    assert [r["kind"] for r in ours] == ["sts.token", "iam.generateAccessToken"]
    # google-auth asks STS for the iam scope when the token only serves to
    # impersonate; batchfs, like Go's library, for cloud-platform.
    assert theirs[0].pop("scope") in (
        "https://www.googleapis.com/auth/iam",
        "https://www.googleapis.com/auth/cloud-platform")
    assert ours[0].pop("scope") == "https://www.googleapis.com/auth/cloud-platform"
    assert ours == theirs
