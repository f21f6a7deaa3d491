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
