"""Names safe as paths and atomic writes: the old file or the new one, never a temporary left behind."""

import errno
import os

import pytest

from curate import io
from curate.errors import ConfigError, OutputError, Where
from curate.files import atomic_dir, atomic_file, check_name


@pytest.mark.parametrize("name", ["validate_spans", "near-dedup", "v1.2", "여름_필터", "_x"])
def test_plain_names_pass(name):
    assert check_name(name, what="stage id", where=Where()) == name


@pytest.mark.parametrize("name", ["", "a/b", "..", "../x", ".hidden", "a b", "a\\b", "x" * 101, "-x"])
def test_names_that_could_leave_their_folder_are_refused(name):
    with pytest.raises(ConfigError, match=r"bad stage id \(it names a folder\) at field 'stages\[0\].id'"):
        check_name(name, what="stage id", where=Where(field="stages[0].id"))


def test_a_failed_atomic_file_keeps_the_old_file_and_names_the_real_path(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(OutputError) as info, atomic_file(target) as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == (
        f"cannot write (No space left on device) at {target} (hint: free space on that disk, or choose another output folder)"
    )
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_failed_atomic_dir_keeps_the_old_folder_and_names_the_file_in_its_final_place(tmp_path):
    folder = tmp_path / "01_stage"
    folder.mkdir()
    (folder / "kept.parquet").write_text("old")
    with (
        pytest.raises(OutputError, match=f"cannot write \\(File too large\\) at {folder / 'stats.json'} "),
        atomic_dir(folder) as tmp,
        atomic_file(tmp / "stats.json"),
    ):
        raise OSError(errno.EFBIG, "File too large")
    assert (folder / "kept.parquet").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["01_stage"]


def test_a_format_that_cannot_hold_the_kind_is_refused_before_writing(tmp_path, mrc):
    with pytest.raises(ConfigError, match="only kinds corpus, queries, qrels can be written as BEIR: got 'mrc'"):
        io.write(mrc, tmp_path / "beir", format="beir")
    assert io.check_write(tmp_path / "x.json", None, "mrc") == "squad"
    assert not list(tmp_path.iterdir())


def test_a_folder_under_a_file_is_one_output_error_naming_the_folder(tmp_path):
    (tmp_path / "a_file").write_text("x")
    folder = tmp_path / "a_file" / "index"
    with pytest.raises(OutputError) as caught, atomic_dir(folder) as tmp:
        (tmp / "data.txt").write_text("never written")
    assert caught.value.where.file == str(folder)
    assert "Not a directory" in caught.value.what


def test_a_shared_atomic_file_has_a_temporary_of_its_own_process(tmp_path):
    path = tmp_path / "cache" / "bundle.js"
    with atomic_file(path, shared=True) as tmp:
        assert tmp.name == f".bundle.js.{os.getpid()}.tmp"
        tmp.write_text("one", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == "one" and sorted(p.name for p in path.parent.iterdir()) == ["bundle.js"]
