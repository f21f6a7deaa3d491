"""The pipeline suite mounts the daemon like the mount tests do (same Mount
helper: unmount on teardown, no daemon left behind, clean stderr)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "mount"))

from mounthelp import Mount  # noqa: E402


@pytest.fixture
def mount_fs(emu, build_dir, tmp_path):
    mounts = []

    def start(**opts):
        workdir = tmp_path / ("m%d" % len(mounts))
        workdir.mkdir()
        m = Mount(emu, build_dir, str(workdir), opts)
        mounts.append(m)
        return m.start()

    yield start
    for m in mounts:
        m.stop()
