"""OAuth: the test service-account key (made with the openssl CLI, since the
stdlib has no RSA), RS256 JWT verification with Python big ints, the token
endpoint (jwt-bearer and refresh_token grants), issued-token bookkeeping for
--require-auth, and the GCE metadata server.
"""
import base64
import hashlib
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.parse

from .server import Response
from .util import ApiError, gcs_error, google_error

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUD = "https://oauth2.googleapis.com/token"
SHA256_DIGESTINFO = bytes.fromhex("3031300d060960864801650304020105000420")
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def b64url_decode(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


# --- minimal DER reader for SubjectPublicKeyInfo ----------------------------

def der_read(buf, pos):
    tag = buf[pos]
    pos += 1
    ln = buf[pos]
    pos += 1
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    return tag, buf[pos:pos + ln], pos + ln


def parse_spki(der):
    """Returns (n, e) from an RSA SubjectPublicKeyInfo DER blob."""
    tag, spki, _ = der_read(der, 0)
    _, _alg, pos = der_read(spki, 0)
    tag, bitstr, _ = der_read(spki, pos)
    if tag != 0x03:
        raise ValueError("not a BIT STRING")
    rsa = bitstr[1:]  # skip the unused-bits byte
    _, seq, _ = der_read(rsa, 0)
    _, n, p = der_read(seq, 0)
    _, e, _ = der_read(seq, p)
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def rs256_verify(n, e, signing_input, sig):
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    s = int.from_bytes(sig, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    digest = hashlib.sha256(signing_input).digest()
    t = SHA256_DIGESTINFO + digest
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return secrets.compare_digest(em, expected)


def anonymous_message(req):
    """GCS's 401 text for a call without credentials names the permission."""
    p, m = req.raw_path, req.method
    if "/o/" in p or p.endswith("/compose"):
        perm, what = {"DELETE": "delete", "PATCH": "update", "PUT": "update",
                      "POST": "create"}.get(m, "get"), "object"
    elif p.rstrip("/").endswith("/o"):
        perm, what = ("list", "bucket") if m == "GET" else ("create", "bucket")
        if m != "GET":
            return ("Anonymous caller does not have storage.objects.create access "
                    "to the Google Cloud Storage object. Permission "
                    "'storage.objects.create' denied on resource (or it may not exist).")
    elif p.rstrip("/") in ("/storage/v1/b", "/b"):
        kind = "create" if m == "POST" else "list"
        return ("Anonymous caller does not have storage.buckets.%s access to the "
                "Google Cloud project. Permission 'storage.buckets.%s' denied on "
                "resource (or it may not exist)." % (kind, kind))
    else:
        perm = {"DELETE": "delete", "PATCH": "update", "PUT": "update"}.get(m, "get")
        return ("Anonymous caller does not have storage.buckets.%s access to the "
                "Google Cloud Storage bucket. Permission 'storage.buckets.%s' denied "
                "on resource (or it may not exist)." % (perm, perm))
    return ("Anonymous caller does not have storage.objects.%s access to the Google "
            "Cloud Storage %s. Permission 'storage.objects.%s' denied on resource (or "
            "it may not exist)." % (perm, what, perm))


class OAuth:
    def __init__(self, app, data_dir):
        self.app = app
        self.data_dir = data_dir
        self.lock = threading.Lock()
        self.tokens = {}  # token -> expiry (epoch seconds)
        self.email = "emulator@test-project.iam.gserviceaccount.com"
        self.key_id = secrets.token_hex(20)
        self.client_id = "%d" % (10 ** 20 + secrets.randbelow(10 ** 20))
        self.user_client_id = "764086051850-emulator.apps.googleusercontent.com"
        self.user_client_secret = "emulator-secret-" + secrets.token_hex(8)
        self.refresh_token = "1//emulator-" + secrets.token_urlsafe(24)
        self.pem, self.n, self.e = self.make_key()

    def make_key(self):
        pem = subprocess.run(
            ["openssl", "genpkey", "-algorithm", "RSA",
             "-pkeyopt", "rsa_keygen_bits:2048"],
            check=True, capture_output=True).stdout
        der = subprocess.run(
            ["openssl", "pkey", "-pubout", "-outform", "DER"],
            input=pem, check=True, capture_output=True).stdout
        n, e = parse_spki(der)
        return pem.decode(), n, e

    def write_files(self, base, external_user=None):
        sa = {
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": self.key_id,
            "private_key": self.pem,
            "client_email": self.email,
            "client_id": self.client_id,
            "auth_uri": base + "/o/oauth2/auth",
            "token_uri": base + "/token",
            "auth_provider_x509_cert_url": base + "/oauth2/v1/certs",
            "client_x509_cert_url": base + "/robot/v1/metadata/x509/" +
                                    urllib.parse.quote(self.email),
            "universe_domain": "googleapis.com",
        }
        au = {
            "type": "authorized_user",
            "client_id": self.user_client_id,
            "client_secret": self.user_client_secret,
            "refresh_token": self.refresh_token,
            "token_uri": base + "/token",
            "universe_domain": "googleapis.com",
        }
        files = [("service-account.json", sa), ("authorized-user.json", au)]
        if external_user:
            files.append(("external-authorized-user.json", external_user))
        for fn, obj in files:
            p = os.path.join(self.data_dir, fn)
            tmp = p + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(obj, f, indent=2)
            os.replace(tmp, p)

    def rotate_key(self):
        """A new service account key replaces the old one (which stops
        signing valid JWTs); the key files in the data dir are rewritten."""
        pem, n, e = self.make_key()
        with self.lock:
            self.key_id = secrets.token_hex(20)
            self.pem, self.n, self.e = pem, n, e
        self.write_files(self.app.base_url)
        return {"private_key_id": self.key_id}

    # --- tokens -----------------------------------------------------------
    def issue(self):
        lifetime = int(self.app.cfg["token_lifetime"])
        tok = "ya29.emu-" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[tok] = time.time() + lifetime
        return {"access_token": tok, "expires_in": lifetime,
                "token_type": "Bearer"}

    def expire_all(self):
        with self.lock:
            past = time.time() - 1
            for t in self.tokens:
                self.tokens[t] = past
            self.expired_before = time.time()

    def reset(self):
        with self.lock:
            self.tokens = {}

    def token_valid(self, tok):
        with self.lock:
            exp = self.tokens.get(tok)
        if exp is not None:
            return exp > time.time()
        # AIP-4111 self-signed JWT made with the test key.
        if tok.count(".") == 2:
            try:
                claims = self.verify_jwt(tok, self_signed=True)
            except ApiError:
                return False
            return claims is not None
        return False

    def check_request(self, req, gcs):
        """Raises 401 unless the request carries a valid bearer token."""
        auth = req.header("Authorization") or ""
        ok = False
        if auth[:7].lower() == "bearer ":
            ok = self.token_valid(auth[7:].strip())
        if ok:
            return
        hdr = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if gcs:
            msg = anonymous_message(req) if not auth else "Invalid Credentials"
            raise ApiError(401, msg, reason="required" if not auth else "authError",
                           headers=hdr)
        raise ApiError(401, "Request had invalid authentication credentials. "
                       "Expected OAuth 2 access token, login cookie or other "
                       "valid authentication credential. See https://developers."
                       "google.com/identity/sign-in/web/devconsole-project.",
                       "UNAUTHENTICATED", headers=hdr)

    # --- JWT --------------------------------------------------------------
    def verify_jwt(self, jwt, self_signed=False):
        def bad(desc):
            raise ApiError(400, desc, reason="invalid_grant")
        parts = jwt.split(".")
        if len(parts) != 3:
            bad("Invalid JWT: Token must be a short-lived token and in a "
                "reasonable timeframe")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, TypeError):
            bad("Invalid JWT: malformed")
        if header.get("alg") != "RS256":
            bad("Invalid JWT: alg must be RS256")
        signing_input = (parts[0] + "." + parts[1]).encode()
        if not rs256_verify(self.n, self.e, signing_input, sig):
            bad("Invalid JWT Signature.")
        if claims.get("iss") != self.email:
            bad("Invalid JWT: iss %r is not a known service account" %
                claims.get("iss"))
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
            bad("Invalid JWT: iat and exp are required")
        if iat > now + 300 or exp < now - 300 or exp - iat > 3600 or exp <= iat:
            bad("Invalid JWT: Token must be a short-lived token (60 minutes) and "
                "in a reasonable timeframe. Check your iat and exp values in the "
                "JWT claim.")
        if self_signed:
            if exp < now:
                return None
            return claims
        aud = claims.get("aud")
        base = self.app.base_url
        if aud not in (GOOGLE_TOKEN_AUD, base + "/token",
                       "https://www.googleapis.com/oauth2/v4/token") and \
                not (isinstance(aud, str) and aud.endswith("/token") and
                     aud.startswith(("http://127.0.0.1", "https://127.0.0.1"))):
            bad("Invalid JWT: aud %r is not the token endpoint" % aud)
        if not claims.get("scope") and not claims.get("target_audience"):
            raise ApiError(400, "Invalid OAuth scope or ID token audience provided.",
                           reason="invalid_scope")
        return claims

    # --- HTTP -------------------------------------------------------------
    def token_endpoint(self, req):
        self.app.count("oauth.token")
        if req.method != "POST":
            return Response.json({"error": "invalid_request",
                                  "error_description": "POST required"}, 405)
        raw = req.body.read_all(limit=1 << 20).decode("utf-8", "replace")
        ctype = (req.header("Content-Type") or "").lower()
        if "json" in ctype:
            try:
                form = {k: str(v) for k, v in json.loads(raw).items()}
            except (ValueError, AttributeError):
                form = {}
        else:
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
        grant = form.get("grant_type")
        try:
            if grant == JWT_BEARER:
                claims = self.verify_jwt(form.get("assertion", ""))
                out = self.issue()
                if claims.get("target_audience"):
                    out = {"id_token": out["access_token"]}
                return Response.json(out, headers={"Cache-Control": "no-store"})
            if grant == "refresh_token":
                if form.get("client_id") != self.user_client_id or \
                        form.get("client_secret") != self.user_client_secret:
                    return Response.json({"error": "invalid_client",
                                          "error_description": "Unauthorized"}, 401)
                if form.get("refresh_token") != self.refresh_token:
                    return Response.json({"error": "invalid_grant",
                                          "error_description": "Bad Request"}, 400)
                out = self.issue()
                out["scope"] = form.get("scope") or SCOPE
                return Response.json(out, headers={"Cache-Control": "no-store"})
        except ApiError as e:
            return Response.json({"error": e.reason or "invalid_grant",
                                  "error_description": e.message}, e.http)
        return Response.json({"error": "unsupported_grant_type",
                              "error_description": "Invalid grant_type: %s" %
                              (grant or "")}, 400)

    def metadata(self, req):
        """GCE metadata server under /computeMetadata/v1/."""
        flavor = req.header("Metadata-Flavor")
        hdr = {"Metadata-Flavor": "Google"}
        if req.header("X-Forwarded-For") or flavor != "Google":
            return Response(403, b"Missing required header: Metadata-Flavor\n"
                            if flavor != "Google" else b"Forbidden\n",
                            hdr, "text/html; charset=UTF-8")
        p = req.raw_path.rstrip("/")
        sa = "/computeMetadata/v1/instance/service-accounts/"
        text = None
        if p == "/computeMetadata/v1/project/project-id":
            text = "test-project"
        elif p == "/computeMetadata/v1/project/numeric-project-id":
            text = str(self.app.project_number)
        elif p in (sa + "default/token", sa + self.email + "/token"):
            self.app.count("metadata.token")
            return Response.json(self.issue(), headers=hdr)
        elif p in (sa + "default/email", sa + self.email + "/email"):
            text = self.email
        elif p in (sa + "default/scopes", sa + self.email + "/scopes"):
            text = SCOPE + "\n"
        elif p == sa.rstrip("/"):
            text = "default/\n%s/\n" % self.email
        elif p in (sa + "default", sa + self.email):
            if req.query.get("recursive") == "true":
                return Response.json({"aliases": ["default"], "email": self.email,
                                      "scopes": [SCOPE]}, headers=hdr)
            text = "aliases\nemail\nidentity\nscopes\ntoken\n"
        elif p in ("/computeMetadata/v1", "/computeMetadata", ""):
            text = "instance/\nproject/\n"
        elif p == "/computeMetadata/v1/instance":
            text = "attributes/\nhostname\nid\nservice-accounts/\nzone\n"
        elif p == "/computeMetadata/v1/project":
            text = "attributes/\nnumeric-project-id\nproject-id\n"
        elif p == "/computeMetadata/v1/instance/hostname":
            text = "emulator.c.test-project.internal"
        elif p == "/computeMetadata/v1/instance/id":
            text = "1234567890123456789"
        elif p == "/computeMetadata/v1/instance/zone":
            text = "projects/%d/zones/us-central1-a" % self.app.project_number
        if text is None:
            return Response(404, b"Not Found\n", hdr, "text/html; charset=UTF-8")
        return Response(200, text.encode(), hdr, "application/text")


__all__ = ["OAuth", "google_error", "gcs_error", "parse_spki", "rs256_verify"]
