"""Google's Python auth library (google-auth, as bundled with the Cloud SDK)
against the emulator's STS and IAM Credentials: the credential files
batchfs loads, loaded by google.auth.load_credentials_from_dict and
refreshed by the library, then used on the emulator's Vertex API under
--require-auth. Shows that the emulator answers Google's libraries as Google
does, so that batchfs, tested against it, is tested against those shapes.

external_account with a file source and with a URL source (header, JSON
field) and service-account impersonation; external_account_authorized_user;
impersonated_service_account with a service-account source and a delegate.
google-auth builds the generateAccessToken URL of impersonated credentials
from its own IAM endpoint constant (not the file's URL), so that constant is
pointed at the emulator here: nothing may leave the machine.

Environment: EMU_URL, EMU_DATA, GCLOUD_THIRD_PARTY, WORK (a private
directory for files). Prints JSON; exits 1 on the first failed expectation.
"""
import json
import os
import sys
import traceback
import urllib.request

BASE = os.environ["EMU_URL"]
DATA = os.environ["EMU_DATA"]
WORK = os.environ["WORK"]
for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
          "GOOGLE_APPLICATION_CREDENTIALS"):
    os.environ.pop(k, None)
os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"  # never a real one
sys.path.insert(0, os.environ["GCLOUD_THIRD_PARTY"])

import google.auth  # noqa: E402
import google.auth.transport.requests as gtr  # noqa: E402
from google.auth import external_account_authorized_user as eau  # noqa: E402
from google.auth import iam, identity_pool  # noqa: E402
from google.auth import impersonated_credentials as imp  # noqa: E402

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
LIST = BASE + "/v1/projects/test-project/locations/us-central1/batchPredictionJobs"
AUDIENCE = ("//iam.googleapis.com/projects/123456789012/locations/global/"
            "workloadIdentityPools/emu-pool/providers/emu-provider")
TARGET = "target@test-project.iam.gserviceaccount.com"
IAM_URL = BASE + "/v1/projects/-/serviceAccounts/%s:generateAccessToken" % TARGET
results = {"google_auth": google.auth.__version__, "steps": {}}


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def subject_token():
    req = urllib.request.Request(BASE + "/_emulator/subject-token",
                                 headers={"Metadata": "True"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


def load(info):
    # Not google.auth.load_credentials_from_dict: for external accounts it
    # asks Cloud Resource Manager for the project, off this machine.
    t = info["type"]
    if t == "external_account":
        return identity_pool.Credentials.from_info(info, scopes=[SCOPE])
    if t == "external_account_authorized_user":
        return eau.Credentials.from_info(info)
    return imp.Credentials.from_impersonated_service_account_info(
        info, scopes=[SCOPE])


def use(name, info):
    creds = load(info)
    creds.refresh(gtr.Request())
    expect(creds.valid, "%s: no valid token after refresh" % name)
    r = gtr.AuthorizedSession(creds).get(LIST, timeout=30)
    expect(r.status_code == 200, "%s: list %d %s" % (name, r.status_code,
                                                      r.text[:200]))
    results["steps"][name] = True


def main():
    subject = os.path.join(WORK, "subject.txt")
    with open(subject, "w") as f:
        f.write(subject_token())
    ext = {"type": "external_account", "audience": AUDIENCE,
           "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
           "token_url": BASE + "/v1/token",
           "credential_source": {"file": subject}}
    use("external_file", ext)
    use("external_file_impersonated",
        dict(ext, service_account_impersonation_url=IAM_URL))
    use("external_url_json", dict(ext, credential_source={
        "url": BASE + "/_emulator/subject-token?format=json",
        "headers": {"Metadata": "True"},
        "format": {"type": "json", "subject_token_field_name": "access_token"}}))
    with open(os.path.join(DATA, "external-authorized-user.json")) as f:
        use("external_account_authorized_user", json.load(f))
    iam._IAM_ENDPOINT = BASE + "/v1/projects/-/serviceAccounts/{}:generateAccessToken"
    with open(os.path.join(DATA, "service-account.json")) as f:
        sa = json.load(f)
    use("impersonated_service_account", {
        "type": "impersonated_service_account",
        "service_account_impersonation_url": IAM_URL,
        "source_credentials": sa,
        "delegates": ["projects/-/serviceAccounts/middle@test-project.iam."
                      "gserviceaccount.com"]})


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
        sys.stderr.write("google_auth_federation_py: %s\n" % results["error"])
        sys.exit(1)
