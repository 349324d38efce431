from __future__ import annotations

import os
from pathlib import Path

import pytest

from oore.datalock import LOCK_FILE, DataDirInUse, lock_data_dir
from oore.errors import ConfigError


def test_a_second_lock_is_refused_naming_the_holder_until_the_first_is_released(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with lock_data_dir(data):
        assert (data / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(DataDirInUse) as refused:
            lock_data_dir(data)
        assert refused.value.pid == os.getpid()
        assert refused.value.message == (
            f"another oored (pid {os.getpid()}) is using {data}; stop it first"
        )
    with lock_data_dir(data):  # released on leaving the block
        pass


def test_a_data_dir_that_cannot_be_made_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=f"cannot use the data dir {blocker / 'data'}: "):
        lock_data_dir(blocker / "data")
