"""--require-auth, the token endpoint (JWT bearer, refresh token) and the
metadata server."""
import base64
import json
import os
import subprocess
import time
import urllib.parse

import pytest


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_jwt(key_file, tmp_path, **over):
    sa = json.load(open(key_file))
    now = int(time.time())
    claims = {"iss": sa["client_email"], "aud": sa["token_uri"],
              "scope": "https://www.googleapis.com/auth/cloud-platform",
              "iat": now, "exp": now + 3600}
    claims.update(over)
    header = {"alg": "RS256", "typ": "JWT", "kid": sa["private_key_id"]}
    signing_input = b64url(json.dumps(header).encode()) + "." + \
        b64url(json.dumps(claims).encode())
    pem = tmp_path / "key.pem"
    pem.write_text(sa["private_key"])
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(pem)],
                         input=signing_input.encode(), capture_output=True,
                         check=True).stdout
    return signing_input + "." + b64url(sig)


def token_request(emu, form):
    return emu.request("POST", "/token", urllib.parse.urlencode(form).encode(),
                       {"Content-Type": "application/x-www-form-urlencoded"})


def jwt_token(emu, tmp_path, **over):
    st, _, r = token_request(emu, {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "assertion": make_jwt(emu.key_file, tmp_path, **over)})
    return st, r


def test_key_files(emu):
    sa = json.load(open(emu.key_file))
    assert sa["type"] == "service_account" and sa["project_id"] == "test-project"
    assert sa["token_uri"] == emu.url + "/token"
    assert sa["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    au = json.load(open(os.path.join(emu.data, "authorized-user.json")))
    assert au["type"] == "authorized_user" and au["refresh_token"]


def test_jwt_grant(emu, tmp_path):
    st, r = jwt_token(emu, tmp_path)
    assert st == 200, r
    assert r["token_type"] == "Bearer" and r["expires_in"] == 3600
    assert r["access_token"]
    # Google's fixed audience is accepted too
    st, r = jwt_token(emu, tmp_path, aud="https://oauth2.googleapis.com/token")
    assert st == 200
    assert emu.counters()["routes"]["oauth.token"] == 2


@pytest.mark.parametrize("over,desc", [
    ({"aud": "https://elsewhere/token"}, "aud"),
    ({"iss": "someone@else.iam.gserviceaccount.com"}, "iss"),
    ({"exp": int(time.time()) - 1000, "iat": int(time.time()) - 2000}, "timeframe"),
    ({"exp": int(time.time()) + 7200}, "timeframe"),
])
def test_jwt_grant_rejects(emu, tmp_path, over, desc):
    st, r = jwt_token(emu, tmp_path, **over)
    assert st == 400 and r["error"] == "invalid_grant", r
    assert desc in r["error_description"]


def test_jwt_bad_signature(emu, tmp_path):
    jwt = make_jwt(emu.key_file, tmp_path)
    head, claims, sig = jwt.split(".")
    tampered = head + "." + b64url(b'{"iss":"x"}') + "." + sig
    st, _, r = token_request(emu, {
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": tampered})
    assert st == 400 and r["error_description"] == "Invalid JWT Signature."


def test_refresh_grant(emu):
    au = json.load(open(os.path.join(emu.data, "authorized-user.json")))
    form = {"grant_type": "refresh_token", "client_id": au["client_id"],
            "client_secret": au["client_secret"], "refresh_token": au["refresh_token"]}
    st, _, r = token_request(emu, form)
    assert st == 200 and r["access_token"] and r["token_type"] == "Bearer"
    form["refresh_token"] = "wrong"
    st, _, r = token_request(emu, form)
    assert st == 400 and r["error"] == "invalid_grant"


def test_metadata_server(emu):
    p = "/computeMetadata/v1/instance/service-accounts/default/token"
    st, h, _ = emu.request("GET", p, raw=True)
    assert st == 403
    st, h, r = emu.request("GET", p, headers={"Metadata-Flavor": "Google"})
    assert st == 200 and h["Metadata-Flavor"] == "Google" and r["access_token"]
    st, _, b = emu.request("GET", "/computeMetadata/v1/project/project-id",
                           headers={"Metadata-Flavor": "Google"}, raw=True)
    assert st == 200 and b == b"test-project"
    # detection probes of google-auth (GET /) and gcp-metadata (.../instance)
    st, h, _ = emu.request("GET", "/", headers={"Metadata-Flavor": "Google"}, raw=True)
    assert st == 200 and h["Metadata-Flavor"] == "Google"
    st, h, _ = emu.request("GET", "/computeMetadata/v1/instance",
                           headers={"Metadata-Flavor": "Google"}, raw=True)
    assert st == 200 and h["Metadata-Flavor"] == "Google"
    assert emu.counters()["routes"]["metadata.token"] == 1


def test_require_auth(emu, tmp_path):
    emu.config(require_auth=True)
    emu.request("POST", "/storage/v1/b?project=p", {"name": "bkt"})
    jobs = emu.jobs_path()
    st, h, e = emu.request("GET", jobs)
    assert st == 401 and e["error"]["status"] == "UNAUTHENTICATED"
    assert "WWW-Authenticate" in h
    st, _, e = emu.request("GET", "/storage/v1/b/bkt/o")
    assert st == 401 and e["error"]["errors"][0]["reason"]
    assert "storage.objects.list" in e["error"]["message"]
    st, _, e = emu.request("GET", jobs, headers={"Authorization": "Bearer made-up"})
    assert st == 401
    st, r = jwt_token(emu, tmp_path)
    auth = {"Authorization": "Bearer " + r["access_token"]}
    st, _, _ = emu.request("GET", jobs, headers=auth)
    assert st == 200
    st, _, _ = emu.request("POST", "/storage/v1/b?project=p", {"name": "bkt2"}, auth)
    assert st == 200
    emu.control("POST", "tokens/expire")
    st, _, e = emu.request("GET", jobs, headers=auth)
    assert st == 401
    # a self-signed JWT (AIP-4111) is accepted as a bearer token
    sj = make_jwt(emu.key_file, tmp_path, aud="https://aiplatform.googleapis.com/",
                  scope=None)
    st, _, _ = emu.request("GET", jobs, headers={"Authorization": "Bearer " + sj})
    assert st == 200


def test_short_token_lifetime_expires(emu, tmp_path):
    emu.config(require_auth=True, token_lifetime=1)
    st, r = jwt_token(emu, tmp_path)
    assert r["expires_in"] == 1
    auth = {"Authorization": "Bearer " + r["access_token"]}
    st, _, _ = emu.request("GET", emu.jobs_path(), headers=auth)
    assert st == 200
    time.sleep(1.2)
    st, _, _ = emu.request("GET", emu.jobs_path(), headers=auth)
    assert st == 401


def test_job_runner_works_with_auth(emu):
    from lib.emuhelp import jsonl, rows
    emu.make_bucket("bkt")
    emu.put_object("bkt", "in.jsonl", jsonl(rows(2)))
    emu.config(require_auth=True, time_scale=0)
    au = json.load(open(os.path.join(emu.data, "authorized-user.json")))
    st, _, r = token_request(emu, {
        "grant_type": "refresh_token", "client_id": au["client_id"],
        "client_secret": au["client_secret"], "refresh_token": au["refresh_token"]})
    auth = {"Authorization": "Bearer " + r["access_token"]}
    body = {"displayName": "a", "model": "publishers/google/models/gemini-2.5-flash",
            "inputConfig": {"instancesFormat": "jsonl",
                            "gcsSource": {"uris": ["gs://bkt/in.jsonl"]}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": "gs://bkt/o"}}}
    st, _, j = emu.request("POST", emu.jobs_path(), body, auth)
    assert st == 200
    deadline = time.time() + 10
    while True:
        st, _, g = emu.request("GET", "/v1/" + j["name"], headers=auth)
        if g["state"] == "JOB_STATE_SUCCEEDED":
            break
        assert time.time() < deadline, g
        time.sleep(0.05)


def test_resumable_session_uri_needs_no_token(emu, tmp_path):
    emu.make_bucket("bkt")
    emu.config(require_auth=True)
    st, r = jwt_token(emu, tmp_path)
    auth = {"Authorization": "Bearer " + r["access_token"]}
    st, h, _ = emu.request("POST", "/upload/storage/v1/b/bkt/o?uploadType=resumable&name=s",
                           b"", auth)
    assert st == 200
    st, _, o = emu.request("PUT", h["Location"][len(emu.url):], b"abc",
                           {"Content-Range": "bytes 0-2/3"})
    assert st == 200 and o["size"] == "3"


# --- STS and IAM Credentials (scripts/gcemu/sts.py) ----------------------

AUD = ("//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/"
       "p/providers/q")
CLOUD = "https://www.googleapis.com/auth/cloud-platform"
IAM = "/v1/projects/-/serviceAccounts/%s:generateAccessToken"


def subject(emu, **q):
    st, _, body = emu.request("GET", "/_emulator/subject-token" + (
        "?" + urllib.parse.urlencode(q) if q else ""),
        headers={"Metadata": "True"})
    assert st == 200
    return body if isinstance(body, dict) else None


def sts_form(emu, **over):
    st, _, tok = emu.request("GET", "/_emulator/subject-token",
                             headers={"Metadata": "True"}, raw=True)
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "audience": AUD, "scope": CLOUD,
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token": tok.decode(),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def sts(emu, form, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return emu.request("POST", "/v1/token", urllib.parse.urlencode(form).encode(), h)


def test_subject_token_needs_the_metadata_header(emu):
    st, _, body = emu.request("GET", "/_emulator/subject-token")
    assert st == 400 and body["error"] == "invalid_request"
    assert subject(emu, format="json")["access_token"].startswith("eyJ")


def test_sts_exchange_and_token_works_under_require_auth(emu):
    emu.config(require_auth=True)
    st, _, out = sts(emu, sts_form(emu))
    assert st == 200, out
    assert out["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert out["token_type"] == "Bearer" and isinstance(out["expires_in"], int)
    st, _, _ = emu.request(
        "GET", "/v1/projects/test-project/locations/us-central1/batchPredictionJobs",
        headers={"Authorization": "Bearer " + out["access_token"]})
    assert st == 200
    assert emu.counters()["routes"]["sts.token"] == 1


@pytest.mark.parametrize("over,http,code", [
    ({"grant_type": "refresh_token"}, 400, "unsupported_grant_type"),
    ({"requested_token_type": "urn:x"}, 400, "invalid_request"),
    ({"subject_token_type": "urn:x"}, 400, "invalid_request"),
    ({"audience": "//example.com/x"}, 400, "invalid_target"),
    ({"scope": "openid"}, 400, "invalid_scope"),
    ({"subject_token": "eyJ.forged.sig"}, 400, "invalid_grant"),
])
def test_sts_errors_are_oauth_shaped(emu, over, http, code):
    st, _, out = sts(emu, sts_form(emu, **over))
    assert st == http and out["error"] == code, out
    assert out["error_description"]


def test_sts_client_basic_auth(emu):
    info = json.load(open(os.path.join(emu.data, "external-authorized-user.json")))
    good = base64.b64encode(("%s:%s" % (info["client_id"],
                                        info["client_secret"])).encode()).decode()
    st, _, _ = sts(emu, sts_form(emu), {"Authorization": "Basic " + good})
    assert st == 200
    bad = base64.b64encode(b"emulator-sts-client:nope").decode()
    st, _, out = sts(emu, sts_form(emu), {"Authorization": "Basic " + bad})
    assert st == 401 and out["error"] == "invalid_client"


def test_workforce_refresh_token(emu):
    info = json.load(open(os.path.join(emu.data, "external-authorized-user.json")))
    auth = base64.b64encode(("%s:%s" % (info["client_id"],
                                        info["client_secret"])).encode()).decode()
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "Authorization": "Basic " + auth}
    form = {"grant_type": "refresh_token", "refresh_token": info["refresh_token"]}
    st, _, out = emu.request("POST", "/v1/oauthtoken",
                             urllib.parse.urlencode(form).encode(), h)
    assert st == 200 and out["access_token"], out
    form["refresh_token"] = "stale"
    st, _, out = emu.request("POST", "/v1/oauthtoken",
                             urllib.parse.urlencode(form).encode(), h)
    assert st == 400 and out["error"] == "invalid_grant"
    st, _, out = emu.request("POST", "/v1/oauthtoken",
                             urllib.parse.urlencode(form).encode(),
                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 401 and out["error"] == "invalid_client"


def iam(emu, email, body, token):
    h = {"Authorization": "Bearer " + token} if token else {}
    return emu.request("POST", IAM % email, body, h)


def test_generate_access_token(emu):
    emu.config(require_auth=True)
    _, _, out = sts(emu, sts_form(emu))
    st, _, r = iam(emu, "t@p.iam.gserviceaccount.com",
                   {"scope": [CLOUD], "lifetime": "1800s",
                    "delegates": ["projects/-/serviceAccounts/d@p.iam.gserviceaccount.com"]},
                   out["access_token"])
    assert st == 200, r
    assert r["expireTime"].endswith("Z") and "." not in r["expireTime"]
    st, _, _ = emu.request(
        "GET", "/v1/projects/test-project/locations/us-central1/batchPredictionJobs",
        headers={"Authorization": "Bearer " + r["accessToken"]})
    assert st == 200
    log = emu.control("GET", "auth-log")["requests"][-1]
    assert log["lifetime"] == "1800s" and log["email"] == "t@p.iam.gserviceaccount.com"


@pytest.mark.parametrize("email,body,token,http,status", [
    ("t@p.iam.gserviceaccount.com", {"scope": [CLOUD]}, "ya29.forged", 401,
     "UNAUTHENTICATED"),
    ("t@p.iam.gserviceaccount.com", {"scope": []}, None, 400, "INVALID_ARGUMENT"),
    ("t@p.iam.gserviceaccount.com", {"scope": [CLOUD], "lifetime": "1h"}, None,
     400, "INVALID_ARGUMENT"),
    ("t@p.iam.gserviceaccount.com", {"scope": [CLOUD], "delegates": ["d@p"]},
     None, 400, "INVALID_ARGUMENT"),
    ("someone@example.com", {"scope": [CLOUD]}, None, 404, "NOT_FOUND"),
    ("denied@p.iam.gserviceaccount.com", {"scope": [CLOUD]}, None, 403,
     "PERMISSION_DENIED"),
])
def test_generate_access_token_errors_are_google_shaped(emu, email, body, token,
                                                        http, status):
    if token is None:
        token = sts(emu, sts_form(emu))[2]["access_token"]
    st, _, r = iam(emu, email, body, token)
    assert st == http, r
    assert r["error"]["code"] == http and r["error"]["status"] == status
    assert r["error"]["message"]


def test_token_reply_strings_unknown(emu):
    emu.config(token_reply_strings=True)
    _, _, out = sts(emu, sts_form(emu))
    assert isinstance(out["expires_in"], str) and int(out["expires_in"]) > 0
    st, _, r = iam(emu, "t@p.iam.gserviceaccount.com", {"scope": [CLOUD]},
                   out["access_token"])
    assert st == 200 and len(r["expireTime"].split(".")[1]) == 10  # 9 + Z
