"""Mount fixtures: the real batchfs daemon against the emulator.

`mount_fs(**opts)` starts `BUILD/fs/batchfs -f -o ...` on a temporary
mountpoint against the `emu` fixture and waits (bounded) for the mount,
failing fast when the daemon dies. On teardown every mount is unmounted with
`fusermount3 -u`, the daemon must exit by itself (no daemon left behind) and
its stderr must hold no sanitizer or ERROR report. `mnt` is one default
mount.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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
    errors = []
    for m in mounts:
        try:
            m.stop()
        except BaseException as exc:  # keep unmounting the others
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def mnt(mount_fs):
    return mount_fs()


