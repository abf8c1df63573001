"""A folder written through a temporary sibling: whole or not at all, and a finished one by another kept."""

from __future__ import annotations

import pytest

from index.folders import replace_folder


def _write(text: str):
    def write(tmp):
        assert tmp.is_dir() and not any(tmp.iterdir())
        (tmp / "data.txt").write_text(text, encoding="utf-8")
    return write


def test_the_folder_is_written_and_replaces_the_old_one(tmp_path):
    folder = tmp_path / "models" / "m"
    assert replace_folder(folder, _write("one")) is True
    assert (folder / "data.txt").read_text(encoding="utf-8") == "one"
    (folder / "stale.txt").write_text("left over", encoding="utf-8")
    assert replace_folder(folder, _write("two")) is True
    assert sorted(p.name for p in folder.iterdir()) == ["data.txt"]
    assert (folder / "data.txt").read_text(encoding="utf-8") == "two"
    assert [p.name for p in folder.parent.iterdir()] == ["m"]  # no temporary folder left


def test_a_failed_write_leaves_the_previous_folder_and_no_temporary_one(tmp_path):
    folder = tmp_path / "m"
    replace_folder(folder, _write("one"))

    def boom(tmp):
        (tmp / "half.txt").write_text("half", encoding="utf-8")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        replace_folder(folder, boom)
    assert sorted(p.name for p in folder.iterdir()) == ["data.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_a_folder_finished_elsewhere_meanwhile_is_kept(tmp_path):
    folder = tmp_path / "m"

    def other_worker_finishes(tmp):  # another process renames its folder into place while this one writes
        _write("mine")(tmp)
        folder.mkdir()
        (folder / "data.txt").write_text("theirs", encoding="utf-8")

    assert replace_folder(folder, other_worker_finishes, finished_elsewhere=folder.is_dir) is False
    assert (folder / "data.txt").read_text(encoding="utf-8") == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["m"]
    # Not finished elsewhere: the folder written here wins.
    assert replace_folder(folder, _write("mine"), finished_elsewhere=lambda: False) is True
    assert (folder / "data.txt").read_text(encoding="utf-8") == "mine"
