"""A mount with each credential type Google's platforms hand out, against an
emulator that requires auth (--require-auth): external_account (workload
identity federation, subject token from a file or a URL, with and without
service-account impersonation), impersonated_service_account (gcloud's
--impersonate-service-account) and external_account_authorized_user. Each
submits a job through the mount and reads it to completion; the daemon's
stderr holds no token, subject token or client secret."""
import errno
import json
import os
import time

import pytest

from lib.mounthelp import request_text

AUDIENCE = ("//iam.googleapis.com/projects/123456789012/locations/global/"
            "workloadIdentityPools/emu-pool/providers/emu-provider")
TARGET = "target@test-project.iam.gserviceaccount.com"
SECRETS = ("ya29.emu-", "emu-subject-", "emulator-sts-secret-",
           "emulator-wf-refresh-", "PRIVATE KEY", "emulator-secret-")


def write_json(path, obj):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f)
    return str(path)


def iam_url(emu):
    return emu.url + "/v1/projects/-/serviceAccounts/%s:generateAccessToken" \
        % TARGET


def cred_file(kind, emu, tmp):
    if kind in ("external-file", "external-url", "external-impersonate"):
        if kind == "external-url":
            src = {"url": emu.url + "/_emulator/subject-token?format=json",
                   "headers": {"Metadata": "True"},
                   "format": {"type": "json",
                              "subject_token_field_name": "access_token"}}
        else:
            st, _, body = emu.request("GET", "/_emulator/subject-token",
                                      headers={"Metadata": "True"}, raw=True)
            assert st == 200
            (tmp / "subject").write_bytes(body)
            src = {"file": str(tmp / "subject")}
        obj = {"type": "external_account", "audience": AUDIENCE,
               "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
               "token_url": emu.url + "/v1/token", "credential_source": src}
        if kind == "external-impersonate":
            obj["service_account_impersonation_url"] = iam_url(emu)
        return write_json(tmp / "cred.json", obj)
    if kind == "impersonated":
        with open(emu.key_file) as f:
            src = json.load(f)
        return write_json(tmp / "cred.json", {
            "type": "impersonated_service_account",
            "service_account_impersonation_url": iam_url(emu),
            "source_credentials": src, "delegates": []})
    assert kind == "external-user"
    return os.path.join(emu.data, "external-authorized-user.json")


@pytest.mark.parametrize("kind", ["external-file", "external-url",
                                  "external-impersonate", "impersonated",
                                  "external-user"])
def test_mount_with_credential_type(mount_fs, emu_any, tmp_path, kind):
    """Also against the pessimistic emulator: STS's expires_in a string,
    generateAccessToken's expireTime with nanoseconds."""
    emu = emu_any
    text = request_text(emu, n=2)  # staged before auth is required
    emu.config(require_auth=True)
    cred = cred_file(kind, emu, tmp_path)
    m = mount_fs(credentials=cred, loglevel="debug")
    assert os.listdir(m.jobs) == []
    os.mkdir(m.job("c1"))
    with open(m.job("c1", "request.json"), "w") as f:
        f.write(text)
    assert m.wait_state("c1") == "JOB_STATE_SUCCEEDED"
    routes = emu.counters()["routes"]
    if kind.startswith("external-") and kind != "external-user":
        assert routes.get("sts.token", 0) >= 1
    if kind in ("external-impersonate", "impersonated"):
        assert routes.get("iam.generateAccessToken", 0) >= 1
    if kind == "external-user":
        assert routes.get("sts.oauthtoken", 0) >= 1
    err = m.stderr()
    for s in SECRETS:
        assert s not in err


def test_impersonated_file_rewritten_in_place_is_read_again(mount_fs, emu,
                                                            tmp_path):
    """gcloud rewrites its impersonation file after a key rotation: the
    mount goes on with the new source credential, without a remount."""
    emu.config(require_auth=True)
    cred = cred_file("impersonated", emu, tmp_path)
    m = mount_fs(credentials=cred)
    os.mkdir(m.job("k"))
    emu.control("POST", "keys:rotate")
    emu.control("POST", "tokens:expire")
    time.sleep(0.4)
    with pytest.raises(OSError) as ei:
        os.listdir(m.jobs)  # the old source key is refused
    assert ei.value.errno == errno.EACCES
    with open(cred) as f:
        obj = json.load(f)
    with open(emu.key_file) as f:
        obj["source_credentials"] = json.load(f)
    write_json(tmp_path / "cred.new", obj)
    os.replace(tmp_path / "cred.new", cred)
    deadline = time.time() + 15
    while True:
        try:
            if "k" in os.listdir(m.jobs):
                break
        except PermissionError:
            pass
        assert time.time() < deadline, m.stderr()
        time.sleep(0.2)


def test_project_from_gcloud_configuration(mount_fs, emu, tmp_path,
                                           monkeypatch):
    """No -o project= and no GOOGLE_CLOUD_PROJECT, a credential without a
    project_id: the project is gcloud's active configuration's."""
    gdir = tmp_path / "gcloud"
    (gdir / "configurations").mkdir(parents=True)
    (gdir / "active_config").write_text("emu\n")
    (gdir / "configurations" / "config_emu").write_text(
        "[core]\nproject = test-project\n")
    for k in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT",
              "CLOUDSDK_CORE_PROJECT", "CLOUDSDK_ACTIVE_CONFIG_NAME"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gdir))
    text = request_text(emu, n=1)
    emu.config(require_auth=True)
    cred = cred_file("external-file", emu, tmp_path)
    m = mount_fs(credentials=cred, project=None, loglevel="info")
    os.mkdir(m.job("p1"))
    with open(m.job("p1", "request.json"), "w") as f:
        f.write(text)
    assert m.wait_state("p1") == "JOB_STATE_SUCCEEDED"
    assert "project test-project from gcloud configuration emu" in m.stderr()


def test_project_from_legacy_gcloud_project_env(mount_fs, emu, tmp_path,
                                                monkeypatch):
    """GCLOUD_PROJECT, the legacy name google-auth still reads, names the
    project when GOOGLE_CLOUD_PROJECT does not."""
    for k in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.setenv("GCLOUD_PROJECT", "test-project")
    cred = cred_file("external-file", emu, tmp_path)
    m = mount_fs(credentials=cred, project=None)
    assert os.listdir(m.jobs) == []
    assert "test-project" in open("/proc/mounts").read()
