"""The pipeline suite mounts the daemon like the mount tests do: the same
`mount_fs` fixture from tests/lib/mounthelp.py (unmount every mount on
teardown, no daemon left behind, clean stderr)."""
from lib.mounthelp import emu_any, mount_fs  # noqa: F401 (fixtures)
