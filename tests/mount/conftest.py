"""Mount fixtures: the real batchfs daemon against the emulator.

`mount_fs(**opts)` (defined in mounthelp.py, shared with tests/pipeline)
starts `BUILD/fs/batchfs -f -o ...` on a temporary mountpoint against the
`emu` fixture and waits (bounded) for the mount, failing fast when the daemon
dies. On teardown every mount is unmounted with `fusermount3 -u`, the daemon
must exit by itself (no daemon left behind) and its stderr must hold no
sanitizer or ERROR report. `mnt` is one default mount.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mounthelp import mount_fs  # noqa: E402,F401 (the fixture)


@pytest.fixture
def mnt(mount_fs):
    return mount_fs()


@pytest.fixture(params=["kind", "pessimistic"])
def emu_any(request, emu):
    """The emulator playing the kind side of every behaviour Google leaves
    undocumented, then (second run) the unkind side of all of them
    (scripts/emulator --pessimistic). Workflow tests take this instead of
    `emu` to run against both."""
    emu.pessimistic = request.param == "pessimistic"
    if emu.pessimistic:
        emu.config(pessimistic=True)
    return emu
