"""s3:// inputs and outputs against a real S3-compatible server (moto, on 127.0.0.1): what is read
from the store equals what is read from the same local file, what is written reads back equal,
and a missing bucket or key, wrong credentials or bad content end in one line naming the URL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from curate.errors import InputError
from curate.io import read, read_to_shards, write, write_table
from curate.objects import filesystem

ROWS = [
    {"id": "1", "text": "서울은 한국의 수도이다.", "label": "pos"},
    {"id": "2", "text": 'emoji 😀, "quotes"', "label": "neg"},
    {"id": "3", "text": "third", "label": "pos"},
]


def _put(local: Path, url: str) -> None:
    """Copy a local file or folder to the store (pyarrow, not curate's own upload)."""
    s3 = filesystem()
    pafs.copy_files(str(local), url.removeprefix("s3://"), destination_filesystem=s3)


def _jsonl(tmp_path: Path, rows: list[dict] = ROWS, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_from_s3_reads_as_the_local_file(s3: str, tmp_path: Path) -> None:
    local = _jsonl(tmp_path)
    _put(local, f"{s3}/in/data.jsonl")
    remote = read(f"{s3}/in/data.jsonl")
    here = read(local)
    assert remote.kind == here.kind == "classification"
    assert remote.to_arrow().equals(here.to_arrow())
    assert remote.metadata == here.metadata


def test_parquet_folder_from_s3_reads_as_the_local_folder(s3: str, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    table = pa.Table.from_pylist(ROWS)
    pq.write_table(table.slice(0, 2), folder / "a.parquet")
    pq.write_table(table.slice(2), folder / "b.parquet")
    _put(folder, f"{s3}/parts")
    remote = read(f"{s3}/parts", format="parquet")
    assert remote.to_arrow().equals(read(folder, format="parquet").to_arrow())
    assert remote.table.column("text").to_pylist() == [r["text"] for r in ROWS]


@pytest.mark.parametrize("name", ["out.parquet", "out.jsonl", "out.jsonl.gz"])
def test_written_to_s3_reads_back_equal(s3: str, tmp_path: Path, name: str) -> None:
    dataset = read(_jsonl(tmp_path))
    assert write(dataset, f"{s3}/out/{name}") == f"{s3}/out/{name}"
    back = read(f"{s3}/out/{name}")
    assert back.to_arrow().equals(dataset.to_arrow())
    # the object is the file curate writes locally, byte for byte apart from compression
    local = write(dataset, tmp_path / name)
    copy = tmp_path / "copy" / name
    copy.parent.mkdir()
    pafs.copy_files(f"{s3}/out/{name}".removeprefix("s3://"), str(copy), source_filesystem=filesystem())
    assert read(copy).to_arrow().equals(read(local).to_arrow())


def test_report_table_written_to_s3(s3: str, tmp_path: Path) -> None:
    table = pa.table({"check": ["a", "b"], "count": [1, 2]})
    write_table(table, f"{s3}/reports/counts.parquet")
    copy = tmp_path / "counts.parquet"
    pafs.copy_files(f"{s3}/reports/counts.parquet".removeprefix("s3://"), str(copy), source_filesystem=filesystem())
    assert pq.read_table(copy).equals(table)


def test_shards_from_s3_to_s3(s3: str, tmp_path: Path) -> None:
    rows = [{"id": str(i), "text": f"t{i}", "label": "x" if i % 2 else "y"} for i in range(10)]
    _put(_jsonl(tmp_path, rows, "many.jsonl"), f"{s3}/in/many.jsonl")
    sharded = read_to_shards(f"{s3}/in/many.jsonl", f"{s3}/shards", shard_rows=3)
    assert sharded.paths == tuple(f"{s3}/shards/part-{i:05d}.parquet" for i in range(4))
    assert (sharded.rows, sharded.kind, sharded.streamed) == (10, "classification", True)
    local = tmp_path / "shards"
    local.mkdir()
    pafs.copy_files(f"{s3}/shards".removeprefix("s3://"), str(local), source_filesystem=filesystem())
    got = pa.concat_tables([pq.read_table(local / f"part-{i:05d}.parquet") for i in range(4)])
    assert got.equals(read(tmp_path / "many.jsonl").to_arrow())
    with pytest.raises(Exception, match="already holds shards"):
        read_to_shards(f"{s3}/in/many.jsonl", f"{s3}/shards", shard_rows=3)


def test_missing_bucket_and_key_are_one_line_errors(s3: str) -> None:
    with pytest.raises(InputError) as missing_key:
        read(f"{s3}/nowhere/data.jsonl")
    assert str(missing_key.value).startswith(f"file not found at {s3}/nowhere/data.jsonl")
    with pytest.raises(InputError) as missing_bucket:
        read("s3://no-such-bucket-here/data.jsonl")
    message = str(missing_bucket.value)
    assert message.startswith("bucket not found at s3://no-such-bucket-here/data.jsonl: got 'no-such-bucket-here'")
    for error in (missing_key.value, missing_bucket.value):
        assert "\n" not in str(error) and "AWS_ENDPOINT_URL" in str(error)


def test_wrong_credentials_are_one_line_errors(s3: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _put(_jsonl(tmp_path), f"{s3}/in/data.jsonl")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(InputError) as refused:
        read(f"{s3}/in/data.jsonl")
    message = str(refused.value)
    expected = f"cannot read from the object store at {s3}/in/data.jsonl: got 'AWS Error ACCESS_DENIED during"
    assert message.startswith(expected) and "\n" not in message
    with pytest.raises(Exception, match=f"cannot write to the object store at {s3}/out.parquet") as denied:
        write(read(tmp_path / "data.jsonl"), f"{s3}/out.parquet")
    assert "\n" not in str(denied.value)


def test_bad_rows_from_s3_are_named_by_their_url(s3: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "x"}\n{"text": \n', encoding="utf-8")
    _put(bad, f"{s3}/in/bad.jsonl")
    with pytest.raises(InputError) as failed:
        read(f"{s3}/in/bad.jsonl")
    assert str(failed.value).startswith(f"malformed JSON (Expecting value, column 1) at {s3}/in/bad.jsonl, line 2")
    quarantine = tmp_path / "q.jsonl"
    kept = read(f"{s3}/in/bad.jsonl", on_error="skip", quarantine=quarantine)
    assert kept.num_rows == 1
    (entry,) = [json.loads(line) for line in quarantine.read_text(encoding="utf-8").splitlines()]
    assert (entry["file"], entry["location"]) == (f"{s3}/in/bad.jsonl", "line 2")
    shutil.rmtree(tmp_path)


def test_a_pipeline_reads_its_input_from_s3(s3: str, tmp_path: Path) -> None:
    from curate.errors import ConfigError
    from curate.pipeline import run_pipeline

    local = _jsonl(tmp_path, ROWS + [{**ROWS[0], "id": "4"}])
    _put(local, f"{s3}/in/data.jsonl")
    spec = {
        "name": "from_s3",
        "input": {"path": f"{s3}/in/data.jsonl", "kind": "classification", "shard_rows": 2},
        "output": {"dir": str(tmp_path / "run"), "export": [{"path": "clean.jsonl"}]},
        "stages": [{"use": "exact_dedup"}],
    }
    result = run_pipeline(spec)
    assert [s.stats.rows_rejected for s in result.stages] == [1]
    exported = read(tmp_path / "run" / "clean.jsonl").to_arrow()
    assert exported.column("id").to_pylist() == ["1", "2", "3"]
    assert len(list((tmp_path / "run" / "input" / "data").glob("part-*.parquet"))) == 2
    again = run_pipeline(spec)  # the object's bytes are the fingerprint: unchanged, every stage resumes
    assert [s.resumed for s in again.stages] == [True]
    _put(_jsonl(tmp_path, ROWS), f"{s3}/in/data.jsonl")
    assert [s.resumed for s in run_pipeline(spec).stages] == [False]
    from typer.testing import CliRunner

    from curate.cli import app

    refused = CliRunner().invoke(app, ["convert", str(tmp_path / "run" / "clean.jsonl"), f"{s3}/out/clean.jsonl"])
    assert refused.exit_code == 2 and "curate convert reads and writes local files" in refused.output, refused.output
    assert not Path(f"s3:/{s3[5:]}").exists()  # nothing written to a local folder named after the URL
    write(read(tmp_path / "run" / "clean.jsonl"), f"{s3}/out/clean.jsonl")
    assert read(f"{s3}/out/clean.jsonl").to_arrow().equals(exported)
    spec["output"]["export"] = [{"path": f"{s3}/out/other.jsonl"}]
    with pytest.raises(ConfigError, match="not to a URL"):
        run_pipeline(spec)


def test_a_pipeline_uploads_its_published_set_to_s3(s3: str, tmp_path: Path) -> None:
    from curate.errors import ConfigError, OutputError
    from curate.pipeline import run_pipeline

    spec = {
        "name": "to_s3",
        "input": {"path": str(_jsonl(tmp_path, ROWS + [{**ROWS[0], "id": "4"}])), "kind": "classification"},
        "output": {
            "dir": str(tmp_path / "run"),
            "export": [{"path": "clean.jsonl"}, {"path": "parts", "format": "hf"}],
            "upload": f"{s3}/runs/to_s3/",
        },
        "stages": [{"use": "exact_dedup"}],
    }
    run = run_pipeline(spec).dir
    store = filesystem()
    listed = store.get_file_info(pafs.FileSelector(f"{s3.removeprefix('s3://')}/runs/to_s3", recursive=True))
    uploaded = sorted(info.path.split("/runs/to_s3/", 1)[1] for info in listed if info.type == pafs.FileType.File)
    published = ["output.parquet", "clean.jsonl", "report.md", "report.html", "manifest.json", "README.md"]
    assert set(published) <= set(uploaded) and any(name.startswith("parts/") for name in uploaded)
    assert not [name for name in uploaded if name.startswith(("01_", "input/", "run.log"))]  # the set, not the work
    for name in uploaded:  # byte for byte the run folder's files
        with store.open_input_stream(f"{s3.removeprefix('s3://')}/runs/to_s3/{name}") as remote:
            assert remote.read() == (run / name).read_bytes(), name
    assert read(f"{s3}/runs/to_s3/clean.jsonl").to_arrow().column("id").to_pylist() == ["1", "2", "3"]
    log = (run / "run.log").read_text(encoding="utf-8")
    assert f"uploaded {len(uploaded)} files of the published set to {s3}/runs/to_s3/" in log
    with pytest.raises(ConfigError, match=r"output.upload.*s3://bucket/prefix"):
        run_pipeline({**spec, "output": {**spec["output"], "upload": "/local/folder"}})
    with pytest.raises(OutputError) as refused:
        run_pipeline({**spec, "output": {**spec["output"], "upload": "s3://no-such-bucket-here/runs"}})
    assert "\n" not in str(refused.value) and "s3://no-such-bucket-here/runs/" in str(refused.value)
