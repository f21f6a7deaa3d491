"""Fixtures of the security suite: the real daemon mounted against the
emulator, with knobs the mount suite does not need.

`sec_mount(workdir=None, argv_extra=(), key_mode=0o600, key=None, **opts)`
returns a started mounthelp.Mount. `workdir` lets a test put the
mountpoint where another uid can reach it; `argv_extra` adds daemon
arguments (e.g. "-d"). Every mount is unmounted on teardown and its
stderr must hold no sanitizer or ERROR report (mounthelp.Mount.stop).
"""
import os
import shutil
import tempfile

import pytest

from lib.mounthelp import Mount, stop_all


class SecMount(Mount):
    def __init__(self, emu, build_dir, workdir, opts, argv_extra=(),
                 key_mode=0o600, key=None):
        super().__init__(emu, build_dir, workdir, opts)
        self.key = os.path.join(workdir, "key.json")
        if key is not None:
            with open(key) as src, open(self.key, "w") as dst:
                dst.write(src.read())
        os.chmod(self.key, key_mode)
        # -f first, then the extras, then -o OPTS MOUNTPOINT.
        self.argv[2:2] = list(argv_extra)


@pytest.fixture
def sec_mount(emu, build_dir, tmp_path):
    mounts, dirs = [], []

    def start(workdir=None, argv_extra=(), key_mode=0o600, key=None,
              start=True, **opts):
        if workdir is None:
            workdir = tmp_path / ("m%d" % len(mounts))
            workdir.mkdir()
        m = SecMount(emu, build_dir, str(workdir), opts, argv_extra,
                     key_mode, key)
        mounts.append(m)
        return m.start() if start else m

    start.dirs = dirs
    yield start
    stop_all(mounts, then=lambda: [shutil.rmtree(d, ignore_errors=True)
                                   for d in dirs])


@pytest.fixture
def public_dir(sec_mount):
    """A 0755 directory outside pytest's 0700 tmp tree, so that another
    uid can reach a mountpoint inside it."""
    d = tempfile.mkdtemp(prefix="batchfs-sec-")
    os.chmod(d, 0o755)
    sec_mount.dirs.append(d)
    return d
