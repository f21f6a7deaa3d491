"""Fixtures for the emulator's own tests (the `emu` fixture is shared)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def fast(emu):
    """The emulator with instant jobs."""
    emu.config(time_scale=0)
    return emu


def _load_root_conftest():
    """Exposes tests/conftest.py as module conftest_root (for Emulator)."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "conftest.py")
    for mod in list(sys.modules.values()):
        if getattr(mod, "__file__", None) == path:
            sys.modules["conftest_root"] = mod
            return
    spec = importlib.util.spec_from_file_location("conftest_root", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules["conftest_root"] = mod


_load_root_conftest()
