"""files: atomic writes that leave the previous file whole, with the permissions of the umask."""

import json
import os
import stat

import pytest

from recognition import files


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_new_files_get_the_umask_mode_not_the_temporary_files_0600(tmp_path, umask_022):
    for path in (
        files.write_text("x", tmp_path / "a.txt"),
        files.write_json({"a": 1}, tmp_path / "m.json"),
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}


def test_a_rewritten_file_keeps_its_mode(tmp_path, umask_022):
    path = tmp_path / "private.txt"
    path.write_text("old")
    path.chmod(0o600)
    files.write_text("new", path)
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_interrupted_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    files.write_text("before\n", path)
    with pytest.raises(KeyboardInterrupt), files.atomic_path(path) as tmp:
        tmp.write_text("half of the new")
        raise KeyboardInterrupt
    assert path.read_text() == "before\n" and os.listdir(tmp_path) == ["table.csv"]


def test_folders_are_made_as_needed(tmp_path):
    assert files.write_text("x", tmp_path / "a" / "b" / "c.txt").read_text() == "x"
