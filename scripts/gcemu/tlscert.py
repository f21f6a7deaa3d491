"""--tls: a private CA and a server certificate for 127.0.0.1 and localhost,
made with the openssl command (the stdlib ssl module cannot issue
certificates), and the server and client SSL contexts built from them.

DATA/ca.pem is the CA a client must trust (curl --cacert, batchfs -o cafile=,
NODE_EXTRA_CA_CERTS, CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE, rclone --ca-cert).
The files are kept in the data directory and reused when the emulator is
started again on it, so a client configured once keeps working.
"""
import os
import ssl
import subprocess
import tempfile

FILES = ("ca.pem", "ca.key", "server.pem", "server.key")

LEAF_EXT = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def _openssl(*args):
    r = subprocess.run(["openssl", *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr.strip()))


def ensure_certs(data_dir):
    """Creates DATA/ca.pem, ca.key, server.pem, server.key unless all exist;
    returns the paths as a dict."""
    paths = {f: os.path.join(data_dir, f) for f in FILES}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    old = os.umask(0o077)
    try:
        _openssl("req", "-x509", *ec, "-keyout", paths["ca.key"],
                 "-out", paths["ca.pem"], "-days", "3650", "-sha256",
                 "-subj", "/O=gcemu/CN=gcemu test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
            csr = os.path.join(tmp, "server.csr")
            ext = os.path.join(tmp, "server.ext")
            with open(ext, "w") as f:
                f.write(LEAF_EXT)
            _openssl("req", "-new", *ec, "-keyout", paths["server.key"],
                     "-out", csr, "-subj", "/O=gcemu/CN=127.0.0.1")
            _openssl("x509", "-req", "-in", csr, "-CA", paths["ca.pem"],
                     "-CAkey", paths["ca.key"], "-CAcreateserial",
                     "-CAserial", os.path.join(tmp, "ca.srl"),
                     "-out", paths["server.pem"], "-days", "365", "-sha256",
                     "-extfile", ext)
    finally:
        os.umask(old)
    os.chmod(paths["ca.pem"], 0o644)
    os.chmod(paths["server.pem"], 0o644)
    return paths


def server_context(paths):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    # One HTTP/1.1 server: clients that offer h2 (curl, gcloud) fall back.
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def client_context(paths):
    """For the emulator's own calls to itself (the job runner's GCS client)."""
    ctx = ssl.create_default_context(cafile=paths["ca.pem"])
    return ctx
