"""Hugging Face ``datasets``: the Hub's layouts read into curate's kinds and written back, checked
with the real ``datasets`` library (``load_from_disk``, ``to_parquet``, ``to_json``)."""

import json
from pathlib import Path

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import curate
from curate import io
from curate.cli import app
from curate.errors import InputError, OutputError, SchemaError
from curate.pipeline import run_pipeline
from curate.stages import ExactDedup
from tests.conftest import needs_shared, without_progress

# the features of the Hub's squad, squad_v2 and squad_kor_v1
HUB_SQUAD = datasets.Features(
    {
        "id": datasets.Value("string"),
        "title": datasets.Value("string"),
        "context": datasets.Value("string"),
        "question": datasets.Value("string"),
        "answers": datasets.Sequence({"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}),
    }
)
SENTIMENT = datasets.Features(
    {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["부정", "긍정", "중립"])}
)


def curate_cli(*args: object):
    """The command line, in this process (``exit_code``, ``stdout``, ``stderr``)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def hub_squad_v2() -> datasets.Dataset:
    """Rows as squad_v2 publishes them: answerable, unanswerable (empty lists), two answers."""
    context = "서울은 대한민국의 수도이다. 부산은 항구 도시이다."
    return datasets.Dataset.from_dict(
        {
            "id": ["q1", "q2", "q3"],
            "title": ["도시", "도시", "도시"],
            "context": [context] * 3,
            "question": ["대한민국의 수도는?", "일본의 수도는?", "항구 도시는?"],
            "answers": [
                {"text": ["서울"], "answer_start": [0]},
                {"text": [], "answer_start": []},
                {"text": ["부산", "부산은"], "answer_start": [16, 16]},
            ],
        },
        features=HUB_SQUAD,
    )


@pytest.mark.parametrize("name", ["xquad/xquad.en.json", "xquad/xquad.zh.json", "squad2/train-v2.0-first10.json"])
def test_squad_file_to_hf_folder_and_back_is_lossless(tmp_path: Path, name: str) -> None:
    source = needs_shared(*name.split("/"))
    folder = tmp_path / "hf"
    made = curate_cli("convert", source, folder, "--to", "hf")
    assert made.exit_code == 0, made.stderr
    original = json.loads(source.read_text(encoding="utf-8"))
    questions = sum(len(p["qas"]) for a in original["data"] for p in a["paragraphs"])
    assert f"({questions:,} rows, kind mrc)" in made.stdout

    loaded = datasets.load_from_disk(str(folder))
    assert loaded.num_rows == questions
    if "v2.0" in name:  # SQuAD 2.0 keys the Hub layout has no column for are kept, in the same layout
        assert {k: loaded.features[k] for k in HUB_SQUAD} == dict(HUB_SQUAD)
        assert loaded.features["is_impossible"] == datasets.Value("bool")
        assert loaded.features["plausible_answers"] == HUB_SQUAD["answers"]
        unanswerable = [row for row in loaded if row["is_impossible"]]
        assert len(unanswerable) == 348
        assert all(row["answers"] == {"text": [], "answer_start": []} for row in unanswerable)
    else:
        assert loaded.features == HUB_SQUAD
    first = original["data"][0]["paragraphs"][0]["qas"][0]
    assert loaded[0]["id"] == first["id"] and loaded[0]["question"] == first["question"]
    assert loaded[0]["answers"]["text"] == [a["text"] for a in first["answers"]]

    back = tmp_path / "back.json"
    assert curate_cli("convert", folder, back).exit_code == 0
    assert json.loads(back.read_text(encoding="utf-8")) == original


def test_hub_layout_in_parquet_and_json_lines_reads_as_mrc_and_writes_back(tmp_path: Path) -> None:
    hub = hub_squad_v2()
    files = {"parquet": tmp_path / "hub.parquet", "jsonl": tmp_path / "hub.jsonl"}
    hub.to_parquet(str(files["parquet"]))
    hub.to_json(str(files["jsonl"]), force_ascii=False)
    for fmt, path in files.items():
        dataset = io.read(path)
        assert dataset.kind == "mrc", fmt
        answers = dataset.column("answers").to_pylist()
        assert answers == [
            [{"text": "서울", "answer_start": 0}],
            [],
            [{"text": "부산", "answer_start": 16}, {"text": "부산은", "answer_start": 16}],
        ]
        out = tmp_path / f"out.{fmt}"
        io.write(dataset, out)
        if fmt == "parquet":
            assert pq.read_table(out).equals(pq.read_table(path), check_metadata=False)
        else:
            assert [json.loads(line) for line in out.read_text().splitlines()] == hub.to_list()
    # and the folder layout, as save_to_disk writes it
    folder = tmp_path / "folder"
    hub.save_to_disk(str(folder))
    io.write(io.read(folder), tmp_path / "again", format="hf")
    again = datasets.load_from_disk(str(tmp_path / "again"))
    assert again.features == HUB_SQUAD and again.to_list() == hub.to_list()


def test_hub_answers_whose_lists_differ_in_length_are_one_line_errors_or_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "hub.jsonl"
    rows = hub_squad_v2().to_list()
    rows[1]["answers"] = {"text": ["서울", "부산"], "answer_start": [0]}
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        io.read(path)
    assert str(info.value).startswith(f"the lists of 'answers' differ in length at {path}, row 2, field 'answers'")
    quarantine = tmp_path / "bad.jsonl"
    dataset = io.read(path, on_error="skip", quarantine=quarantine)
    assert dataset.column("id").to_pylist() == ["q1", "q3"]
    [bad] = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert bad["location"] == "line 2" and "differ in length" in bad["reason"]


def test_class_labels_are_kept_as_names_and_written_back_as_the_same_class_label(tmp_path: Path) -> None:
    train = datasets.Dataset.from_dict(
        {"text": ["재밌다", "지루하다", "그냥 그래"], "label": [1, 0, 2]}, features=SENTIMENT
    )
    test = datasets.Dataset.from_dict({"text": ["최고", "별로"], "label": [1, 0]}, features=SENTIMENT)
    source = tmp_path / "dict"
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(source))

    dataset = io.read(source)
    assert dataset.kind == "classification"
    assert dataset.column("label").to_pylist() == ["긍정", "부정", "중립", "긍정", "부정"]
    assert dataset.column("split").to_pylist() == ["train"] * 3 + ["test"] * 2
    assert json.loads(dataset.metadata["class_labels"]) == {"label": ["부정", "긍정", "중립"]}

    result = curate_cli("convert", source, tmp_path / "out", "--to", "hf")
    assert result.exit_code == 0, result.stderr
    out = datasets.load_from_disk(str(tmp_path / "out"))
    assert isinstance(out, datasets.DatasetDict) and list(out) == ["train", "test"]
    for split, original in (("train", train), ("test", test)):
        assert out[split].features == SENTIMENT  # no id column added: the source had none
        assert out[split].to_list() == original.to_list()

    # a label a stage brings in joins the names after the known ones; the known ids stay
    relabelled = dataset.to_arrow()
    labels = relabelled.column("label").to_pylist()
    labels[2] = "모름"
    relabelled = relabelled.set_column(relabelled.column_names.index("label"), "label", [labels])
    hf = curate.to_hf(
        curate.Dataset(kind="classification", table=relabelled, metadata=dataset.metadata), tmp_path / "new"
    )
    new = datasets.load_from_disk(str(hf))
    assert new["train"].features["label"].names == ["부정", "긍정", "중립", "모름"]
    assert new["train"]["label"] == [1, 0, 3]

    # Parquet written by datasets carries the ClassLabel in its metadata
    train.to_parquet(str(tmp_path / "train.parquet"))
    from_parquet = io.read(tmp_path / "train.parquet")
    assert from_parquet.column("label").to_pylist() == ["긍정", "부정", "중립"]
    curate.to_hf(from_parquet, tmp_path / "from_parquet")
    assert datasets.load_from_disk(str(tmp_path / "from_parquet")).features == SENTIMENT
    io.write(from_parquet, tmp_path / "back.parquet")  # ids and the ClassLabel, as datasets wrote it
    assert pq.read_table(tmp_path / "back.parquet").equals(
        pq.read_table(tmp_path / "train.parquet"), check_metadata=False
    )
    back = datasets.Dataset.from_parquet(str(tmp_path / "back.parquet"))
    assert back.features == SENTIMENT and back.to_list() == train.to_list()


def test_integer_labels_come_back_as_integers(tmp_path: Path) -> None:
    source = tmp_path / "ints.jsonl"
    rows = [{"id": "a", "text": "재밌다", "label": 1}, {"id": "b", "text": "지루하다", "label": 0}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    dataset = io.read(source)
    assert dataset.column("label").to_pylist() == ["1", "0"] and dataset.metadata["int_labels"] == "true"
    for name in ("out.jsonl", "out.parquet"):
        io.write(dataset, tmp_path / name)
    assert [json.loads(line)["label"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == [1, 0]
    assert pq.read_table(tmp_path / "out.parquet").column("label").to_pylist() == [1, 0]
    hf = datasets.load_from_disk(str(curate.to_hf(dataset, tmp_path / "hf")))
    assert hf.features["label"] == datasets.ClassLabel(names=["0", "1"]) and hf["label"] == [1, 0]
    assert io.read(tmp_path / "hf").column("label").to_pylist() == ["1", "0"]
    io.write(io.read(tmp_path / "hf"), tmp_path / "again.jsonl")
    assert (tmp_path / "again.jsonl").read_text() == (tmp_path / "out.jsonl").read_text()

    table = dataset.to_arrow()
    changed = table.set_column(table.column_names.index("label"), "label", [["1", "긍정"]])
    with pytest.raises(OutputError) as info:
        io.write(curate.Dataset(kind="classification", table=changed, metadata=dataset.metadata), tmp_path / "x.jsonl")
    assert str(info.value).startswith("the source had integer labels, but a label is not a number at ")
    assert "row 2, field 'label': got '긍정'" in str(info.value)
    assert not (tmp_path / "x.jsonl").exists()


def test_stages_take_and_give_back_datasets_and_pandas() -> None:
    hub = datasets.concatenate_datasets([hub_squad_v2(), hub_squad_v2().select([0])])
    hub = hub.map(lambda row, i: {"id": f"q{i}"}, with_indices=True)
    result = ExactDedup()(hub)
    assert isinstance(result.kept, datasets.Dataset) and isinstance(result.rejected, datasets.Dataset)
    assert result.kept.num_rows == 3 and result.rejected.num_rows == 1
    assert {k: result.kept.features[k] for k in HUB_SQUAD} == dict(HUB_SQUAD)
    assert result.kept.select_columns(list(HUB_SQUAD)).to_list() == hub.select([0, 1, 2]).to_list()
    assert result.rejected["reject_reason"] == ["exact_duplicate"]

    sentiment = datasets.Dataset.from_dict({"text": ["좋다", "좋다", "싫다"], "label": [1, 1, 0]}, features=SENTIMENT)
    kept = ExactDedup()(sentiment).kept
    assert kept.features["label"] == SENTIMENT["label"] and kept["label"] == [1, 0]

    frame = pd.DataFrame({"text": ["좋은 영화", "좋은 영화", "별로"], "label": [1, 1, 0]})
    result = ExactDedup()(frame)
    assert isinstance(result.kept, pd.DataFrame) and isinstance(result.rejected, pd.DataFrame)
    assert result.kept["text"].tolist() == ["좋은 영화", "별로"]
    assert result.kept["label"].tolist() == [1, 0]  # integers, as the frame had them
    assert result.rejected["reject_reason"].tolist() == ["exact_duplicate"]


def test_pipeline_exports_an_hf_folder(tmp_path: Path) -> None:
    source = tmp_path / "hub"
    hub_squad_v2().save_to_disk(str(source))
    config = tmp_path / "p.yaml"
    config.write_text(
        f"name: hf\ninput: {{path: {source}}}\noutput:\n  dir: {tmp_path / 'run'}\n"
        "  export:\n    - {path: train_hf, format: hf}\n    - {path: train.json, format: squad}\n"
        "stages:\n  - use: exact_dedup\n",
        encoding="utf-8",
    )
    result = run_pipeline(config)
    exported = datasets.load_from_disk(str(tmp_path / "run" / "train_hf"))
    assert exported.num_rows == result.output.num_rows == 3
    assert {k: exported.features[k] for k in HUB_SQUAD} == dict(HUB_SQUAD)
    squad = json.loads((tmp_path / "run" / "train.json").read_text(encoding="utf-8"))
    assert [qa["answers"] for qa in squad["data"][0]["paragraphs"][0]["qas"]][1] == []


def test_bad_hf_folders_are_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "hf"
    hub_squad_v2().save_to_disk(str(folder))
    (folder / "state.json").write_text("{not json", encoding="utf-8")
    result = curate_cli("convert", folder, tmp_path / "out.json")
    assert result.exit_code == 2 and without_progress(result.stderr).count("\n") == 1
    assert without_progress(result.stderr).startswith(
        f"error: malformed JSON in a datasets folder at {folder / 'state.json'}"
    )

    hub_squad_v2().save_to_disk(str(folder))
    data_file = next(folder.glob("*.arrow"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    result = curate_cli("convert", folder, tmp_path / "out.json")
    assert result.exit_code == 2 and without_progress(result.stderr).count("\n") == 1
    assert without_progress(result.stderr).startswith(f"error: cannot read an Arrow data file at {data_file}")

    with pytest.raises(InputError, match="not a datasets folder: no state.json or dataset_dict.json"):
        io.read(tmp_path, format="hf")

    a_file = tmp_path / "taken"
    a_file.write_text("x", encoding="utf-8")
    result = curate_cli("convert", needs_shared("xquad", "xquad.en.json"), a_file, "--to", "hf")
    assert result.exit_code == 2 and "the destination is a file, a folder is needed" in result.stderr


def test_an_export_decides_its_columns_and_labels_over_every_batch(tmp_path: Path) -> None:
    """Exports are written batch by batch (io.WRITE_BATCH_ROWS rows); what a batch cannot know
    alone (a column empty only in the first batch, a label first seen in the last) is decided
    over all rows, so every batch is written alike."""
    rows = io.WRITE_BATCH_ROWS + 5_000
    context = "서울은 대한민국의 수도이다."
    hub = pd.DataFrame(
        {
            "id": [f"q{i}" for i in range(rows)],
            "title": ["도시"] * rows,
            "context": [context] * rows,
            "question": ["대한민국의 수도는?"] * rows,
            "answers": [{"text": ["서울"], "answer_start": [0]}] * rows,
            # unknown in the first batch, known after it
            "is_impossible": [None] * io.WRITE_BATCH_ROWS + [False] * 5_000,
        }
    )
    hub.to_parquet(tmp_path / "hub.parquet")
    mrc = io.read(tmp_path / "hub.parquet")
    io.write(mrc, tmp_path / "out.parquet")
    back = pq.read_table(tmp_path / "out.parquet")
    assert back.column_names == [*HUB_SQUAD, "is_impossible"] and back.num_rows == rows
    assert back.column("is_impossible").null_count == io.WRITE_BATCH_ROWS

    labels = ["긍정", "부정"] * (rows // 2) + ["중립"]  # a third label, in the last batch only
    splits = ["train"] * (rows - 100) + ["test"] * 100  # the test split, in the last batch only
    table = pa.table(
        {
            "id": [f"r{i}" for i in range(len(labels))],
            "text": [f"리뷰 {i}" for i in range(len(labels))],
            "label": labels,
            "split": splits + ["test"],
        }
    )
    folder = curate.to_hf(curate.Dataset.from_arrow(table, "classification"), tmp_path / "hf")
    saved = datasets.load_from_disk(str(folder))
    assert list(saved) == ["train", "test"]
    names = ["긍정", "부정", "중립"]
    for split in saved.values():
        assert split.features["label"] == datasets.ClassLabel(names=names)
        assert "text_pair" not in split.features  # empty in every row
    assert saved["train"].num_rows == rows - 100 and saved["test"].num_rows == 101
    assert [names[i] for i in [*saved["train"]["label"], *saved["test"]["label"]]] == labels
    assert io.read(folder).column("id").to_pylist() == table.column("id").to_pylist()

    # Parquet as datasets writes it: the ClassLabel names in the metadata cover the last batch's label
    known = {"class_labels": json.dumps({"label": ["긍정", "부정"]}, ensure_ascii=False)}
    io.write(curate.Dataset(kind="classification", table=table, metadata=known), tmp_path / "labels.parquet")
    written = datasets.Dataset.from_parquet(str(tmp_path / "labels.parquet"))
    assert written.features["label"] == datasets.ClassLabel(names=names) and written["label"][-1] == 2
