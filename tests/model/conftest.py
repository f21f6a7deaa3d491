"""Model fixtures: fs/model driven through BUILD/tests/drivers/model_cli, with
no mount and no /dev/fuse, against the `emu` fixture (tests/conftest.py).

`model_fs(**opts)` starts one driver (options as in model_cli.c, `--refresh`
and `--list-ttl` 0 unless given: every access sees the emulator's state now)
and returns a `Model` (tests/lib/modelhelp.py); `model` is one default driver. On
teardown each driver is sent `quit` and must exit 0 by itself with no
sanitizer report on its stderr (under ASan: no leak either).
"""
import pytest

from lib.modelhelp import Model, driver_path
from lib.mounthelp import stop_all


@pytest.fixture
def model_fs(emu, build_dir, tmp_path):
    exe = driver_path(build_dir)
    started = []

    def start(**opts):
        workdir = tmp_path / ("d%d" % len(started))
        workdir.mkdir()
        m = Model(exe, emu, str(workdir), opts)
        started.append(m)
        return m.start()

    yield start
    stop_all(started)


@pytest.fixture
def model(model_fs):
    return model_fs()
