"""A pipeline reads its input into Parquet shards of ``input.shard_rows`` rows, and writes row
exports batch by batch: the outputs are those of one big shard, on real NSMC reviews."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import io
from curate.dataset import Dataset
from curate.errors import ConfigError, InputError
from curate.io.tabular import write_delimited, write_jsonl, write_parquet
from curate.pipeline import Reporter, run_pipeline
from curate.run_folder import write_record

REVIEWS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nsmc" / "reviews.jsonl.gz"
ROWS = 5000
EXPORTS = {"clean.jsonl": "jsonl", "clean.csv": "csv", "clean.tsv": "tsv", "clean.parquet": "parquet"}

pytestmark = pytest.mark.skipif(not REVIEWS.exists(), reason=f"NSMC reviews not found at {REVIEWS}")


class Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> Path:
    """The first 5,000 NSMC reviews as JSON Lines (gzip), ratings as integers."""
    path = tmp_path_factory.mktemp("nsmc") / "reviews.jsonl.gz"
    with gzip.open(REVIEWS, "rt", encoding="utf-8") as source, gzip.open(path, "wt", encoding="utf-8") as out:
        for line in itertools.islice(source, ROWS):
            row = json.loads(line)
            out.write(json.dumps({**row, "rating": int(row["rating"])}, ensure_ascii=False) + "\n")
    return path


def pipeline(tmp_path: Path, source: Path, run: str, **input_settings) -> Path:
    config = {
        "name": "shards",
        "input": {
            "path": str(source),
            "kind": "classification",
            "columns": {"review": "text", "rating": "label", "review_id": "id"},
            **input_settings,
        },
        "output": {"dir": str(tmp_path / run), "export": [{"path": p, "format": f} for p, f in EXPORTS.items()]},
        "stages": [
            {"use": "normalize_text"},
            {"use": "length_filter", "params": {"field": "text", "min": 5}},
            {"use": "exact_dedup"},
        ],
    }
    path = tmp_path / f"{run}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def outputs(run: Path) -> dict[str, object]:
    """What a user reads of a run: every stage's kept and rejected rows (each folder as one table),
    the output, the exports and their card (Parquet as tables with their metadata, text files as bytes), and the stage counts."""
    found: dict[str, object] = {}
    for path in sorted(run.rglob("*")):
        name = str(path.relative_to(run))
        if path.parent.suffix == ".parquet":
            continue  # a file of a stage's output folder, read with its folder: batches follow the shards
        if path.suffix == ".parquet" and not name.startswith("input"):
            table = pq.read_table(path)
            found[name] = (table.replace_schema_metadata(None), (table.schema.metadata or {}).get(b"curate"))
        elif path.name in EXPORTS or path.name == "README.md":  # README.md: the exports' dataset card
            found[name] = path.read_bytes()
        elif path.name == "stats.json" and not name.startswith("input"):
            record = json.loads(path.read_text())
            found[name] = {k: v for k, v in record.items() if k not in ("seconds", "files")}
    return found


def test_shards_give_the_outputs_of_one_big_shard(tmp_path, reviews):
    sharded = run_pipeline(pipeline(tmp_path, reviews, "sharded", shard_rows=1000))
    whole = run_pipeline(pipeline(tmp_path, reviews, "whole"))
    shards = sorted((sharded.dir / "input" / "data").glob("*.parquet"))
    assert [p.name for p in shards] == [f"part-{i:05d}.parquet" for i in range(5)]
    assert [pq.read_metadata(p).num_rows for p in shards] == [1000] * 5
    assert [p.name for p in (whole.dir / "input" / "data").glob("*.parquet")] == ["part-00000.parquet"]
    record = json.loads((sharded.dir / "input" / "stats.json").read_text())
    assert record["shards"] == [f"data/{p.name}" for p in shards] and set(record["files"]) == set(record["shards"])
    assert record["rows"] == sharded.input_rows == ROWS and record["shard_rows"] == 1000
    assert sharded.stages[2].stats.rows_rejected > 0  # NSMC holds exact duplicates, found across shards
    assert outputs(sharded.dir) == outputs(whole.dir)
    assert [s.fingerprint for s in sharded.stages] == [s.fingerprint for s in whole.stages]
    exported = pq.read_table(sharded.dir / "clean.parquet")
    assert exported.num_rows == sharded.output.num_rows and exported.schema.field("label").type == pa.int64()


def test_a_rerun_reuses_the_shards_and_a_new_shard_size_reads_the_input_again(tmp_path, reviews):
    path = pipeline(tmp_path, reviews, "run", shard_rows=1000)
    first = run_pipeline(path)
    shards = {p.name: p.stat().st_mtime_ns for p in (first.dir / "input" / "data").iterdir()}
    notes = Notes()
    again = run_pipeline(path, reporter=notes)
    assert notes.notes == [] and all(run.resumed for run in again.stages)
    assert {p.name: p.stat().st_mtime_ns for p in (again.dir / "input" / "data").iterdir()} == shards
    before = outputs(first.dir)
    bigger = pipeline(tmp_path, reviews, "run", shard_rows=2000)
    notes = Notes()
    third = run_pipeline(bigger, reporter=notes)
    assert notes.notes == [
        "input: sharded by 1000 rows, not by input.shard_rows 2000; reading the input again into shards"
    ]
    assert all(run.resumed for run in third.stages)  # the rows are the same, so are the stages' inputs
    assert len(list((third.dir / "input" / "data").iterdir())) == 3
    assert outputs(third.dir) == before


def test_a_run_without_stages_publishes_every_shard(tmp_path, reviews):
    path = pipeline(tmp_path, reviews, "run", shard_rows=1000)
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({**config, "stages": []}, allow_unicode=True), encoding="utf-8")
    result = run_pipeline(path)
    shards = Dataset.from_parquet(sorted((result.dir / "input" / "data").glob("*.parquet")), "classification")
    output = pq.read_table(result.dir / "output.parquet")
    assert output.num_rows == ROWS and output.equals(shards.to_arrow())
    assert output.schema.metadata[b"curate"] == pq.read_schema(shards.paths[0]).metadata[b"curate"]


def test_a_run_folder_of_the_earlier_layout_is_read_again_into_shards(tmp_path, reviews):
    path = pipeline(tmp_path, reviews, "run", shard_rows=1000)
    first = run_pipeline(path)
    before = outputs(first.dir)
    # the input as curate wrote it before shards: one data.parquet, and a record listing it
    folder = first.dir / "input"
    shards = Dataset.from_parquet(sorted((folder / "data").glob("*.parquet")), "classification")
    io.write(shards, tmp_path / "data.parquet", as_source=False)
    record = json.loads((folder / "stats.json").read_text())
    shutil.rmtree(folder)
    folder.mkdir()
    shutil.move(tmp_path / "data.parquet", folder / "data.parquet")
    old = {key: record[key] for key in ("fingerprint", "kind", "rows", "quarantined")}
    write_record(folder, old, ["data.parquet"])
    notes = Notes()
    again = run_pipeline(path, reporter=notes)
    assert notes.notes == [
        "input: data.parquet is of an earlier curate, which read the input whole; reading the input again into shards"
    ]
    assert not (folder / "data.parquet").exists() and len(list((folder / "data").iterdir())) == 5
    assert all(run.resumed for run in again.stages) and outputs(again.dir) == before


def test_bad_rows_are_quarantined_as_with_one_shard(tmp_path, reviews):
    with gzip.open(reviews, "rt", encoding="utf-8") as source:
        lines = source.read().splitlines()
    lines[1500] = '{"review": "cut off'
    lines[3200] = "not json"
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sharded = run_pipeline(pipeline(tmp_path, broken, "sharded", shard_rows=1000, on_error="skip"))
    whole = run_pipeline(pipeline(tmp_path, broken, "whole", on_error="skip"))
    assert sharded.quarantined == whole.quarantined == 2 and sharded.input_rows == ROWS - 2
    quarantine = (sharded.dir / "input" / "quarantine.jsonl").read_text()
    assert quarantine == (whole.dir / "input" / "quarantine.jsonl").read_text()
    assert [json.loads(line)["location"] for line in quarantine.splitlines()] == ["line 1501", "line 3201"]
    assert outputs(sharded.dir) == outputs(whole.dir)


@pytest.mark.parametrize("bad", [0, -5, "many", True, 2.5])
def test_a_bad_shard_rows_is_one_line(tmp_path, reviews, bad):
    with pytest.raises(ConfigError) as caught:
        run_pipeline(pipeline(tmp_path, reviews, "run", shard_rows=bad))
    message = str(caught.value)
    assert "input.shard_rows" in message and "\n" not in message
    assert not (tmp_path / "run").exists()


def test_row_exports_stream_and_equal_whole_table_writes(tmp_path, reviews, monkeypatch):
    monkeypatch.setattr(io, "WRITE_BATCH_ROWS", 700)  # several batches per shard, and across shards
    shards = io.read_to_shards(
        reviews,
        tmp_path / "shards",
        shard_rows=1000,
        kind="classification",
        rename={"review": "text", "rating": "label"},
    )
    dataset = shards.dataset()
    assert dataset.metadata["int_labels"] == "true" and len(dataset.paths) == 5
    whole = dataset.to_arrow()
    restored = io._restored(whole, "classification", dataset.metadata, "jsonl")
    expected = tmp_path / "expected"
    expected.mkdir()
    write_jsonl(restored, expected / "rows.jsonl")
    write_delimited(whole, expected / "rows.csv", delimiter=",", quote='"')
    write_delimited(whole, expected / "rows.tsv", delimiter="\t", quote=None)
    write_parquet(restored, expected / "rows.parquet")
    for name in ("rows.jsonl", "rows.csv", "rows.tsv"):
        assert io.write(dataset, tmp_path / name).read_bytes() == (expected / name).read_bytes(), name
    streamed, one = (
        pq.read_table(io.write(dataset, tmp_path / "rows.parquet")),
        pq.read_table(expected / "rows.parquet"),
    )
    assert (
        streamed.equals(one)
        and streamed.schema.metadata[b"curate"]
        == io.read(expected / "rows.parquet").to_arrow().schema.metadata[b"curate"]
    )
    assert pq.ParquetFile(tmp_path / "rows.parquet").metadata.num_row_groups > 1
    # an empty dataset still gets its header and schema
    empty = Dataset.from_arrow(whole.slice(0, 0), "classification")
    assert io.write(empty, tmp_path / "empty.csv").read_text() == (",".join(whole.column_names) + "\n")
    assert pq.read_table(io.write(empty, tmp_path / "empty.parquet")).num_rows == 0
    # a TSV error names the row in the dataset, not in its batch
    tabbed = whole.set_column(
        whole.column_names.index("text"),
        "text",
        pa.array([t + ("\t" if i == 2345 else "") for i, t in enumerate(whole.column("text").to_pylist())]),
    )
    with pytest.raises(InputError, match="row 2346"):
        io.write(Dataset(kind="classification", table=tabbed), tmp_path / "tabbed.tsv")
