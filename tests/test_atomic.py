"""The one atomic-write helper: whole files or nothing, never through a planted link."""

from __future__ import annotations

import os

import pytest

from egress.atomic import fsync_dir, write_atomically, write_new


def test_write_atomically_replaces_and_sets_the_mode(tmp_path):
    path = tmp_path / "f"
    path.write_text("old")
    write_atomically(path, "new é", mode=0o640)
    assert path.read_text(encoding="utf-8") == "new é"
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["f"]


def test_write_atomically_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "f").symlink_to(victim)
    write_atomically(tmp_path / "f", b"data")
    assert victim.read_text() == "keep"
    assert (tmp_path / "f").read_bytes() == b"data" and not (tmp_path / "f").is_symlink()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "f"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomically(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f"]


def test_write_new_never_overwrites_nor_follows(tmp_path):
    write_new(tmp_path / "a", b"1", mode=0o600)
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "a", b"2")
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        write_new(tmp_path / "link", b"3")
    assert not (tmp_path / "elsewhere").exists()
    fsync_dir(tmp_path)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_write_atomically_refuses_what_is_not_a_file(tmp_path, kind):
    """`--out /dev/null` as root renamed a regular file over the host's /dev/null: a
    target that exists and is not a regular file (or a link) is refused, left as it was."""
    target = tmp_path / "t"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    with pytest.raises(OSError, match="not a regular file"):
        write_atomically(target, b"data")
    assert (target.is_fifo() if kind == "fifo" else target.is_dir())
    assert os.listdir(tmp_path) == ["t"]
