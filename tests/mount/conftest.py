"""Mount fixtures: the real batchfs daemon against the emulator.

`mount_fs(**opts)` (defined in tests/lib/mounthelp.py, shared with
tests/pipeline)
starts `BUILD/fs/batchfs -f -o ...` on a temporary mountpoint against the
`emu` fixture and waits (bounded) for the mount, failing fast when the daemon
dies. On teardown every mount is unmounted with `fusermount3 -u`, the daemon
must exit by itself (no daemon left behind) and its stderr must hold no
sanitizer or ERROR report. `mnt` is one default mount.
"""
import pytest

from lib.mounthelp import emu_any, mount_fs  # noqa: F401 (fixtures)


@pytest.fixture
def mnt(mount_fs):
    return mount_fs()

