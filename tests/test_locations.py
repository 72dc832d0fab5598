"""Files at a location (a local path or an ``s3://`` URL, on the local S3 server): what is written
reads back equal, and a write that fails midway leaves no file at all."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from curate import locations

TABLE = pa.table({"row": pa.array([3, 1, 2], pa.int64()), "text": ["가나다", None, "abc"]})


class Interrupted(Exception):
    pass


@pytest.fixture(params=["local", "s3"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path)
    return request.getfixturevalue("s3") + "/scratch"


def test_an_arrow_file_reads_back_as_written(folder: str) -> None:
    path = locations.join(folder, "part.arrow")
    locations.save_arrow(TABLE, path, batch_rows=2)
    assert locations.read_arrow(path).equals(TABLE)
    assert locations.read_arrow_batches(path, 1, 2, TABLE.schema).equals(TABLE.slice(2))
    assert locations.files_in(folder, "part*.arrow") == [path]


def test_a_write_that_fails_midway_leaves_no_file(folder: str) -> None:
    path = locations.join(folder, "half.arrow")
    with pytest.raises(Interrupted), locations.writing(path) as sink:
        sink.write(b"the first half of a file")
        raise Interrupted
    assert locations.files_in(folder, "half*") == []
    with pytest.raises(FileNotFoundError):
        locations.read_arrow(path)
