"""The pipeline suite mounts the daemon like the mount tests do: the same
`mount_fs` fixture from tests/mount/mounthelp.py (unmount every mount on
teardown, no daemon left behind, clean stderr)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "mount"))

from mounthelp import emu_any, mount_fs  # noqa: E402,F401 (fixtures)
