"""Fixtures for the emulator's own tests (the `emu` fixture is shared)."""
import pytest


@pytest.fixture
def fast(emu):
    """The emulator with instant jobs."""
    emu.config(time_scale=0)
    return emu

