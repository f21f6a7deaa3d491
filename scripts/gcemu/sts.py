"""Workload identity federation and impersonation: Security Token Service
(POST /v1/token, RFC 8693 token exchange; POST /v1/oauthtoken, workforce
refresh tokens) and IAM Credentials (POST /v1/projects/-/serviceAccounts/
EMAIL:generateAccessToken), plus the subject tokens a platform would hand a
workload (GET /_emulator/subject-token, Azure-IMDS style: it wants the
header "Metadata: True"). Tokens issued here are accepted under
--require-auth like the OAuth endpoint's. Errors keep Google's shapes: STS
answers OAuth errors ({"error", "error_description"}), IAM the AIP-193
envelope. Nothing secret is kept in the request log (/_emulator/auth-log).
"""
import base64
import json
import re
import secrets
import threading
import time
import urllib.parse

from .server import Response
from .util import ApiError

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TYPES = (
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:aws:token-type:aws4_request",
)
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
IAM_SCOPE = "https://www.googleapis.com/auth/iam"
IAM_RE = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken$")


def oauth_err(code, desc, http=400):
    return Response.json({"error": code, "error_description": desc}, http)


class Sts:
    def __init__(self, app, oauth):
        self.app = app
        self.oauth = oauth
        self.lock = threading.Lock()
        self.subjects = {}  # subject token -> expiry
        self.client_id = "emulator-sts-client"
        self.client_secret = "emulator-sts-secret-" + secrets.token_hex(8)
        self.refresh_token = "emulator-wf-refresh-" + secrets.token_urlsafe(24)
        self.log = []

    def reset(self):
        with self.lock:
            self.subjects = {}
            self.log = []

    def record(self, kind, **kw):
        with self.lock:
            self.log.append(dict(kw, kind=kind))
            del self.log[:-200]

    def log_json(self):
        with self.lock:
            return {"requests": list(self.log)}

    def external_user_file(self, base):
        return {
            "type": "external_account_authorized_user",
            "audience": "//iam.googleapis.com/locations/global/workforcePools/"
                        "emu-pool/providers/emu-provider",
            "refresh_token": self.refresh_token,
            "token_url": base + "/v1/oauthtoken",
            "token_info_url": base + "/v1/introspect",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "universe_domain": "googleapis.com",
        }

    # --- subject tokens ---------------------------------------------------
    def subject_token(self, req):
        """A platform's identity token for the workload (a JWT-looking
        string). ?format=json answers {"access_token": ...}."""
        if (req.header("Metadata") or "").lower() != "true":
            return Response.json({"error": "invalid_request",
                                  "error_description": "Required metadata "
                                  "header not specified"}, 400)
        self.app.count("sts.subject")
        tok = "eyJhbGciOiJSUzI1NiJ9.emu-subject-%s.sig" % secrets.token_urlsafe(24)
        with self.lock:
            self.subjects[tok] = time.time() + 3600
        if req.query.get("format") == "json":
            return Response.json({"access_token": tok, "token_type": "Bearer"})
        return Response(200, tok.encode(), {}, "text/plain")

    def subject_valid(self, tok):
        with self.lock:
            exp = self.subjects.get(tok)
        return exp is not None and exp > time.time()

    # --- STS ----------------------------------------------------------------
    def read_form(self, req):
        raw = req.body.read_all(limit=1 << 20).decode("utf-8", "replace")
        return dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))

    def basic_client(self, req):
        """(client_id, ok) from Authorization: Basic; (None, True) if absent."""
        auth = req.header("Authorization") or ""
        if not auth:
            return None, True
        if auth[:6].lower() != "basic ":
            return None, False
        try:
            cid, _, sec = base64.b64decode(auth[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, False
        return cid, (cid == self.client_id and
                     secrets.compare_digest(sec, self.client_secret))

    def token(self, req):
        self.app.count("sts.token")
        if req.method != "POST":
            return oauth_err("invalid_request", "POST required", 405)
        form = self.read_form(req)
        client, ok = self.basic_client(req)
        if not ok:
            return oauth_err("invalid_client", "The client is not authorized.", 401)
        grant = form.get("grant_type")
        stt = form.get("subject_token_type", "")
        self.record("sts.token", grant_type=grant, audience=form.get("audience"),
                    scope=form.get("scope"), subject_token_type=stt,
                    requested_token_type=form.get("requested_token_type"),
                    options=form.get("options"), client=client)
        if grant != TOKEN_EXCHANGE:
            return oauth_err("unsupported_grant_type",
                             "Invalid value for \"grant_type\".")
        if form.get("requested_token_type") != ACCESS_TOKEN_TYPE:
            return oauth_err("invalid_request",
                             "Invalid value for \"requested_token_type\".")
        if stt not in SUBJECT_TYPES:
            return oauth_err("invalid_request",
                             "Invalid value for \"subject_token_type\".")
        aud = form.get("audience", "")
        if not aud.startswith("//iam.googleapis.com/"):
            return oauth_err("invalid_target",
                             "The target service indicated by the \"audience\" "
                             "parameters is invalid.")
        # google-auth asks for the iam scope when the token only serves to
        # impersonate (Go's library and batchfs ask for cloud-platform).
        if not set((form.get("scope") or "").split()) & {SCOPE, IAM_SCOPE}:
            return oauth_err("invalid_scope", "The scope is invalid.")
        if not self.subject_valid(form.get("subject_token", "")):
            return oauth_err("invalid_grant",
                             "The given subject token is invalid or expired.")
        out = self.oauth.issue()
        out["issued_token_type"] = ACCESS_TOKEN_TYPE
        if self.app.cfg.get("token_reply_strings"):
            out["expires_in"] = str(out["expires_in"])
        return Response.json(out, headers={"Cache-Control": "no-store"})

    def oauthtoken(self, req):
        """Workforce refresh tokens (external_account_authorized_user)."""
        self.app.count("sts.oauthtoken")
        if req.method != "POST":
            return oauth_err("invalid_request", "POST required", 405)
        form = self.read_form(req)
        client, ok = self.basic_client(req)
        self.record("sts.oauthtoken", grant_type=form.get("grant_type"),
                    client=client)
        if not ok or client is None:
            return oauth_err("invalid_client", "The client is not authorized.", 401)
        if form.get("grant_type") != "refresh_token":
            return oauth_err("unsupported_grant_type",
                             "Invalid value for \"grant_type\".")
        if not secrets.compare_digest(form.get("refresh_token", ""),
                                      self.refresh_token):
            return oauth_err("invalid_grant", "The refresh token is invalid.")
        return Response.json(self.oauth.issue(),
                             headers={"Cache-Control": "no-store"})

    # --- IAM Credentials -----------------------------------------------------
    def generate(self, req, email):
        self.app.count("iam.generateAccessToken")
        if req.method != "POST":
            raise ApiError(405, "Method Not Allowed", "METHOD_NOT_ALLOWED")
        auth = req.header("Authorization") or ""
        if auth[:7].lower() != "bearer " or \
                not self.oauth.token_valid(auth[7:].strip()):
            raise ApiError(401, "Request had invalid authentication credentials. "
                           "Expected OAuth 2 access token, login cookie or other "
                           "valid authentication credential.", "UNAUTHENTICATED")
        try:
            body = json.loads(req.body.read_all(limit=1 << 20) or b"{}")
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        scope, lifetime = body.get("scope"), body.get("lifetime", "3600s")
        delegates = body.get("delegates") or []  # google-auth sends null
        self.record("iam.generateAccessToken", email=email, scope=scope,
                    lifetime=lifetime, delegates=delegates)
        if not email.endswith(".iam.gserviceaccount.com"):
            raise ApiError(404, "Not found; Gaia id not found for email %s" % email,
                           "NOT_FOUND")
        if email.startswith("denied"):
            raise ApiError(403, "Permission 'iam.serviceAccounts.getAccessToken' "
                           "denied on resource (or it may not exist).",
                           "PERMISSION_DENIED")
        if not isinstance(scope, list) or not scope or \
                not all(isinstance(s, str) for s in scope):
            raise ApiError(400, "Scope required.", "INVALID_ARGUMENT")
        m = re.match(r"^(\d+)(\.\d+)?s$", lifetime) if isinstance(lifetime, str) else None
        if not m or not 1 <= int(m.group(1)) <= 43200:
            raise ApiError(400, "Invalid value at 'lifetime' (type.googleapis.com/"
                           "google.protobuf.Duration), Field 'lifetime', "
                           "Illegal duration format", "INVALID_ARGUMENT")
        if not isinstance(delegates, list) or not all(
                isinstance(d, str) and d.startswith("projects/-/serviceAccounts/")
                for d in delegates):
            raise ApiError(400, "Invalid form of delegates. Expected "
                           "projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}",
                           "INVALID_ARGUMENT")
        life = min(int(m.group(1)), int(self.app.cfg["token_lifetime"]))
        tok = "ya29.emu-iam-" + secrets.token_urlsafe(32)
        exp = time.time() + life
        with self.oauth.lock:
            self.oauth.tokens[tok] = exp
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(exp))
        if self.app.cfg.get("token_reply_strings"):
            stamp += ".%09d" % int((exp % 1) * 1e9)  # protobuf's nanos form
        return Response.json({"accessToken": tok, "expireTime": stamp + "Z"})

    def route(self, req):
        p = req.raw_path
        if p == "/v1/token":
            return self.token(req)
        if p == "/v1/oauthtoken":
            return self.oauthtoken(req)
        m = IAM_RE.match(p)
        if m:
            return self.generate(req, urllib.parse.unquote(m.group(1)))
        return None
