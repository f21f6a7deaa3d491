"""Emulator JSON against Google's own generated schemas (apitools clients of
aiplatform v1/v1beta1 and storage v1, bundled in the Cloud SDK): see
apitools_schema.py."""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
GCLOUD_LIB = "/usr/lib/google-cloud-sdk/lib"
APIS = os.path.join(GCLOUD_LIB, "googlecloudsdk", "generated_clients", "apis")


@pytest.mark.skipif(not os.path.isdir(os.path.join(APIS, "aiplatform", "v1")),
                    reason="the Cloud SDK's generated aiplatform client is not installed")
@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_responses_match_google_schema(emu, emu_token, require_auth, version):
    emu.make_bucket("schema-in")
    emu.make_bucket("schema-out")
    emu.put_object("schema-in", "in.jsonl", b"".join(
        json.dumps({"request": {"contents": [{"role": role, "parts": [{"text": t}]}]}}).encode()
        + b"\n" for role, t in (("user", "hi"), ("tester", "ho"), ("user", "yo"))))
    require_auth(True)
    env = dict(os.environ, EMU_URL=emu.url, EMU_TOKEN=emu_token, API_VERSION=version,
               SRC="gs://schema-in/in.jsonl", DEST="gs://schema-out/out",
               GCLOUD_LIB=GCLOUD_LIB)
    p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "apitools_schema.py")],
                       env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, "apitools_schema.py -> %d\n%s\n%s" % (
        p.returncode, p.stderr[-4000:], p.stdout[-2000:])
    out = json.loads(p.stdout)
    assert out["ok"] and out["checked"]["Object"] == 1, out
