"""Google's Python auth library (google-auth, as bundled with the Cloud SDK)
against the emulator's OAuth side: service-account JWT grant, refresh-token
grant, the metadata server, ADC through GOOGLE_APPLICATION_CREDENTIALS,
refresh-on-401 of AuthorizedSession, and an AIP-4111 self-signed JWT.

Run in its own process (test_google_auth.py) because it puts the SDK's
third_party directory on sys.path. Environment: EMU_URL, EMU_DATA (the
emulator's --data dir), GCLOUD_THIRD_PARTY. Every URL used is the emulator's:
GCE_METADATA_HOST/GCE_METADATA_IP point at it, and the authorized-user
credentials get the emulator's token_uri explicitly (google-auth overrides the
file's token_uri with Google's for that type, which would leave the machine).
Prints JSON; exits 1 with a message on the first failed expectation.
"""
import json
import os
import sys
import traceback
import urllib.request

BASE = os.environ["EMU_URL"]
DATA = os.environ["EMU_DATA"]
HOSTPORT = BASE[len("http://"):]
os.environ["GCE_METADATA_HOST"] = HOSTPORT
os.environ["GCE_METADATA_IP"] = HOSTPORT
os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = os.path.join(DATA, "service-account.json")
for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_GCE_CHECK"):
    os.environ.pop(k, None)
sys.path.insert(0, os.environ["GCLOUD_THIRD_PARTY"])

import google.auth  # noqa: E402
import google.auth.transport.requests as gtr  # noqa: E402
from google.auth import compute_engine, jwt  # noqa: E402
from google.auth.compute_engine import _metadata  # noqa: E402
from google.oauth2 import credentials as user_creds  # noqa: E402
from google.oauth2 import service_account  # noqa: E402

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
LIST = BASE + "/v1/projects/test-project/locations/us-central1/batchPredictionJobs"
results = {"google_auth": google.auth.__version__, "steps": {}}


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def control(path, body=None):
    req = urllib.request.Request(BASE + "/_emulator/" + path, method="POST",
                                 data=json.dumps(body or {}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def main():
    s = results["steps"]
    request = gtr.Request()
    key_file = os.environ["GOOGLE_APPLICATION_CREDENTIALS"]

    # Service account: jwt-bearer grant at the key file's token_uri.
    sa = service_account.Credentials.from_service_account_file(key_file, scopes=[SCOPE])
    expect(sa._token_uri == BASE + "/token", "token_uri %r" % sa._token_uri)
    sa.refresh(request)
    expect(sa.token and sa.expiry and sa.valid, "service-account refresh gave no token")
    sess = gtr.AuthorizedSession(sa)
    r = sess.get(LIST, timeout=30)
    expect(r.status_code == 200, "list with an SA token: %d %s" % (r.status_code, r.text[:200]))
    s["service_account"] = {"expiry": sa.expiry.isoformat()}

    # ADC with GOOGLE_APPLICATION_CREDENTIALS.
    creds, project = google.auth.default(scopes=[SCOPE])
    expect(project == "test-project", "ADC project %r" % project)
    creds.refresh(request)
    expect(creds.valid, "ADC credentials not valid after refresh")
    s["adc"] = {"project": project}

    # Refresh on 401: every issued token expires, the session refreshes once
    # and retries.
    old = sa.token
    control("tokens/expire")
    r = sess.get(LIST, timeout=30)
    expect(r.status_code == 200, "after tokens/expire: %d %s" % (r.status_code, r.text[:200]))
    expect(sa.token != old, "AuthorizedSession did not refresh after the 401")
    s["refresh_on_401"] = True

    # Authorized user: refresh_token grant (token_uri given explicitly).
    with open(os.path.join(DATA, "authorized-user.json")) as f:
        info = json.load(f)
    uc = user_creds.Credentials(None, refresh_token=info["refresh_token"],
                                token_uri=info["token_uri"], client_id=info["client_id"],
                                client_secret=info["client_secret"])
    expect(info["token_uri"] == BASE + "/token", "authorized-user token_uri %r" % info["token_uri"])
    uc.refresh(request)
    expect(uc.valid, "refresh_token grant gave no valid token")
    r = gtr.AuthorizedSession(uc).get(LIST, timeout=30)
    expect(r.status_code == 200, "list with a user token: %d" % r.status_code)
    s["authorized_user"] = True

    # Metadata server.
    expect(_metadata.ping(request), "metadata ping (Metadata-Flavor) failed")
    expect(_metadata.get_project_id(request) == "test-project", "metadata project-id")
    ce = compute_engine.Credentials()
    ce.refresh(request)
    expect(ce.valid, "metadata token not valid")
    r = gtr.AuthorizedSession(ce).get(LIST, timeout=30)
    expect(r.status_code == 200, "list with a metadata token: %d" % r.status_code)
    s["metadata"] = {"service_account_email": ce.service_account_email}

    # AIP-4111 self-signed JWT sent directly as the bearer token.
    sj = jwt.Credentials.from_service_account_file(
        key_file, audience="https://aiplatform.googleapis.com/")
    r = gtr.AuthorizedSession(sj).get(LIST, timeout=30)
    expect(r.status_code == 200, "list with a self-signed JWT: %d %s" % (r.status_code, r.text[:200]))
    s["self_signed_jwt"] = True

    # A token from elsewhere is refused with Google's 401 envelope.
    import requests
    r = requests.get(LIST, headers={"Authorization": "Bearer ya29.foreign"}, timeout=30)
    expect(r.status_code == 401, "foreign token: %d" % r.status_code)
    expect(r.json()["error"]["status"] == "UNAUTHENTICATED", "401 body %s" % r.text[:200])
    expect("Bearer" in r.headers.get("WWW-Authenticate", ""), "401 without WWW-Authenticate")
    s["foreign_token"] = 401


if __name__ == "__main__":
    try:
        main()
        results["ok"] = True
        print(json.dumps(results, indent=1))
    except Exception as e:  # report any failure, library errors included
        results["ok"] = False
        results["error"] = "%s: %s" % (type(e).__name__, e)
        print(json.dumps(results, indent=1))
        traceback.print_exc()
        sys.stderr.write("google_auth_py: %s\n" % results["error"])
        sys.exit(1)
