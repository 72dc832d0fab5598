"""Dataset cards beside exports: a real pipeline run, the demo, standalone commands, and the
``datasets`` library reading the card's header back."""

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curate import io
from curate.io.card import hub_features, read_entries, size_category
from curate.pipeline import run_pipeline
from curate.schemas import get_schema, kinds
from tests.conftest import REPO, needs_shared
from tests.test_cli import curate

REVIEWS = REPO / "sample_data" / "reviews_cls.tsv"


def header(card: Path) -> dict:
    """The card's YAML header, parsed as the Hub parses it."""
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def hub_builder(folder: Path, config: str, cache: Path):
    """The ``datasets`` builder of a config of the card in ``folder`` (offline, local files only)."""
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets

    return datasets.load_dataset_builder(str(folder), config, cache_dir=str(cache))


def reviews_pipeline(tmp_path: Path, exports: list[dict]) -> dict:
    return {
        "name": "reviews",
        "input": {"path": str(REVIEWS), "kind": "classification"},
        "output": {"dir": str(tmp_path / "run"), "export": exports},
        "stages": [
            {"use": "language_id"},
            {"use": "sql_filter", "params": {"where": "length(text) >= 12", "reason": "short_review"}},
            {"use": "exact_dedup", "params": {"fields": ["text"]}},
            {"use": "bias_report", "params": {"min_count": 3}},
        ],
    }


@pytest.mark.parametrize("kind", kinds())
def test_features_of_every_kind_read_back_by_datasets_as_its_arrow_schema(kind):
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    schema = get_schema(kind).arrow_schema()
    meta = {"dataset_info": [{"config_name": "default", "features": hub_features(schema)}]}
    infos = DatasetInfosDict.from_dataset_card_data(DatasetCardData(**meta))
    assert infos["default"].features == datasets.Features.from_arrow_schema(schema)


def test_size_categories_are_the_hubs():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 2 * 10**6, 10**13)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "10K<n<100K",
        "100K<n<1M",
        "1M<n<10M",
        "n>1T",
    ]


def test_pipeline_card_counts_features_and_steps_match_the_manifest_and_files(tmp_path):
    exports = [{"path": "clean.jsonl"}, {"path": "clean.parquet"}, {"path": "sub/clean.csv"}]
    result = run_pipeline(reviews_pipeline(tmp_path, exports))
    run = result.dir
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["cards"] == ["README.md", "sub/README.md"] == result.cards
    rows = manifest["output"]["rows"]
    assert 0 < rows < manifest["input"]["rows"]

    meta = header(run / "README.md")
    assert meta["license"] == "unknown"
    assert meta["task_categories"] == ["text-classification"]
    assert "ko" in meta["language"]
    assert meta["size_categories"] == ["n<1K"]
    infos = {info["config_name"]: info for info in meta["dataset_info"]}
    assert set(infos) == {"clean", "clean-parquet"}  # two exports in one folder: one card, a config each
    for info in infos.values():
        assert info["splits"][0]["name"] == "train" and info["splits"][0]["num_examples"] == rows
    assert len((run / "clean.jsonl").read_text(encoding="utf-8").splitlines()) == rows
    assert pq.read_metadata(run / "clean.parquet").num_rows == rows
    # one loader per folder for `datasets`: the Parquet config is listed, the JSON Lines one described
    assert [c["config_name"] for c in meta["configs"]] == ["clean-parquet"]
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "clean.parquet"}]

    builder = hub_builder(run, "clean-parquet", tmp_path / "cache")
    import datasets

    assert builder.info.features == datasets.Features.from_arrow_schema(pq.read_schema(run / "clean.parquet"))
    assert builder.info.splits["train"].num_examples == rows
    loaded = datasets.load_dataset(str(run), "clean-parquet", cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == rows

    text = (run / "README.md").read_text(encoding="utf-8")
    for stage in manifest["stages"]:  # the curation table repeats the manifest's counts
        line = next(ln for ln in text.splitlines() if ln.startswith(f"| `{stage['id']}` | {stage['use']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] == stage["role"] != ""
        assert cells[3:6] == [f"{stage['rows_in']:,}", f"{stage['rows_kept']:,}", f"{stage['rows_rejected']:,}"]
    assert "short_review" in text and "exact_duplicate" in text
    assert "### Bias diagnostics" in text and "one_token_rule" in text
    entries = read_entries(run / "README.md")
    assert [e["path"] for e in entries] == ["clean.jsonl", "clean.parquet"]
    assert [s["rows_rejected"] for s in entries[0]["steps"]] == [s["rows_rejected"] for s in manifest["stages"]]

    sub = header(run / "sub" / "README.md")
    assert sub["dataset_info"][0]["config_name"] == "default"
    assert {"name": "text", "dtype": "string"} in sub["dataset_info"][0]["features"]
    assert "../manifest.json" in (run / "sub" / "README.md").read_text(encoding="utf-8")


def test_a_rerun_without_an_export_takes_its_card_away(tmp_path):
    exports = [{"path": "clean.parquet"}, {"path": "sub/clean.csv"}]
    run_pipeline(reviews_pipeline(tmp_path, exports))
    assert (tmp_path / "run" / "sub" / "README.md").exists()
    result = run_pipeline(reviews_pipeline(tmp_path, exports[:1]))
    assert not (tmp_path / "run" / "sub" / "README.md").exists()
    assert result.cards == ["README.md"]
    assert [e["path"] for e in read_entries(tmp_path / "run" / "README.md")] == ["clean.parquet"]


def test_the_licence_and_keys_a_user_sets_survive_a_rerun(tmp_path):
    exports = [{"path": "clean.parquet"}]
    run_pipeline(reviews_pipeline(tmp_path, exports))
    card = tmp_path / "run" / "README.md"
    text = card.read_text(encoding="utf-8")
    text = text.replace("license: unknown  # set", "license: cc-by-sa-4.0\npretty_name: Reviews\n# set", 1)
    card.write_text(text.replace("tags:\n- curate", "tags:\n- curate\n- reviews", 1), encoding="utf-8")
    pipeline = reviews_pipeline(tmp_path, exports)
    pipeline["stages"][1]["params"]["where"] = "length(text) >= 15"  # the run changes: a new card
    result = run_pipeline(pipeline)
    meta = header(card)
    assert meta["license"] == "cc-by-sa-4.0" and meta["pretty_name"] == "Reviews"
    assert meta["tags"] == ["curate", "reviews"]
    assert meta["dataset_info"][0]["splits"][0]["num_examples"] == result.output.num_rows


def test_a_readme_curate_did_not_write_is_left_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("# My notes\n", encoding="utf-8")
    done = curate("convert", REVIEWS, out / "reviews.parquet")
    assert done.returncode == 0, done.stderr
    assert (out / "README.md").read_text(encoding="utf-8") == "# My notes\n"
    assert "README.md was not written by curate" in done.stderr and "README.curate.md" in done.stderr
    assert header(out / "README.curate.md")["dataset_info"][0]["splits"][0]["num_examples"] == 303


def test_demo_pipeline_card(tmp_path):
    result = run_pipeline(REPO / "pipelines" / "demo.yaml", output=tmp_path / "demo")
    card = tmp_path / "demo" / "README.md"
    meta = header(card)
    assert meta["language"] == ["ko"] and meta["task_categories"] == ["question-answering"]
    assert meta["task_ids"] == ["extractive-qa"]
    assert "configs" not in meta  # a SQuAD file is not rows the Hub's loaders read
    info = meta["dataset_info"][0]
    back = io.read(tmp_path / "demo" / "clean.json")
    assert info["splits"][0]["num_examples"] == back.num_rows == result.output.num_rows
    assert [f["name"] for f in info["features"]] == back.to_arrow().column_names
    text = card.read_text(encoding="utf-8")
    assert "| `language_filter` | language_filter | filter | 266 | 257 | 9 | wrong_language 9 | - | - |" in text
    assert "| `normalize_text` | normalize_text | rewrite | 266 | 266 | 0 | - | - | " in text


def test_convert_of_a_beir_folder_puts_the_card_inside_it(tmp_path):
    dst = tmp_path / "beir"
    done = curate("convert", REPO / "sample_data" / "retrieval", dst, "--to", "beir")
    assert done.returncode == 0, done.stderr
    assert f"card: {dst / 'README.md'}" in done.stdout
    meta = header(dst / "README.md")
    assert meta["task_categories"] == ["text-retrieval"]
    infos = {i["config_name"]: i for i in meta["dataset_info"]}
    assert set(infos) == {"corpus", "queries", "qrels"}
    corpus_lines = len((dst / "corpus.jsonl").read_text(encoding="utf-8").splitlines())
    qrels_lines = len((dst / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()) - 1  # header
    assert infos["corpus"]["splits"] == [
        {"name": "train", "num_bytes": infos["corpus"]["splits"][0]["num_bytes"], "num_examples": corpus_lines}
    ]
    assert infos["qrels"]["splits"][0]["name"] == "test"
    assert infos["qrels"]["splits"][0]["num_examples"] == qrels_lines
    assert [c["config_name"] for c in meta["configs"]] == ["corpus", "queries"]  # JSON Lines loader
    builder = hub_builder(dst, "corpus", tmp_path / "cache")
    assert builder.info.splits["train"].num_examples == corpus_lines


def test_pipeline_beir_export_card_describes_the_folder(tmp_path):
    pipeline = {
        "name": "corpus",
        "input": {"path": str(REPO / "sample_data" / "retrieval"), "format": "beir", "kind": "corpus"},
        "output": {"dir": str(tmp_path / "run"), "export": [{"path": "beir", "format": "beir"}]},
        "stages": [{"use": "exact_dedup", "params": {"fields": ["text"]}}],
    }
    result = run_pipeline(pipeline)
    folder = tmp_path / "run" / "beir"
    assert result.cards == ["beir/README.md"]
    meta = header(folder / "README.md")
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "corpus.jsonl"}]}]
    lines = len((folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines())
    assert meta["dataset_info"][0]["splits"][0]["num_examples"] == lines == result.output.num_rows
    import datasets

    hub_builder(folder, "default", tmp_path / "cache")
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == lines and loaded["train"].column_names[0] == "_id"


def test_dedup_card_has_the_stage_counts(tmp_path):
    dst = tmp_path / "out" / "dedup.jsonl"
    done = curate("dedup", REVIEWS, dst, "--threshold", "0.5")
    assert done.returncode == 0, done.stderr
    entry = read_entries(dst.parent / "README.md")[0]
    removed = pq.read_table(tmp_path / "out" / "dedup.rejected.parquet", columns=[]).num_rows
    assert entry["steps"][0]["use"] == "minhash_dedup" and entry["steps"][0]["rows_rejected"] == removed
    kept = len(dst.read_text(encoding="utf-8").splitlines())
    assert (
        entry["steps"][0]["rows_kept"]
        == kept
        == header(dst.parent / "README.md")["dataset_info"][0]["splits"][0]["num_examples"]
    )


def test_mined_triplets_and_repaired_spans_get_cards(tmp_path):
    squad = REPO / "sample_data" / "korquad_sample.json"
    dst = tmp_path / "mined" / "train.jsonl"
    done = curate("mine-negatives", squad, dst, "--to", "sentence-transformers", "--count", "2")
    assert done.returncode == 0, done.stderr
    meta = header(dst.parent / "README.md")
    info = meta["dataset_info"][0]
    assert [f["name"] for f in info["features"]] == ["anchor", "positive", "negative"]
    assert info["splits"][0]["num_examples"] == len(dst.read_text(encoding="utf-8").splitlines())
    entry = read_entries(dst.parent / "README.md")[0]
    assert entry["steps"][0]["use"] == "mine_hard_negatives" and entry["format"] == "sentence-transformers"
    assert entry["steps"][0]["role"] == "convert"

    repaired = tmp_path / "repaired" / "fixed.parquet"
    done = curate("validate", squad, "--repair", repaired)
    assert done.returncode == 1, done.stderr  # the sample has problems: exit 1, and the repair is written
    entry = read_entries(repaired.parent / "README.md")[0]
    rejected = len((repaired.parent / "fixed.rejected.jsonl").read_text(encoding="utf-8").splitlines())
    assert entry["steps"][0]["rows_rejected"] == rejected == sum(entry["steps"][0]["reasons"].values())
    assert entry["steps"][0]["rows_kept"] == pq.read_metadata(repaired).num_rows


def test_card_of_a_real_multilingual_set_lists_its_languages(tmp_path):
    pipeline = {
        "name": "xquad",
        "input": {"path": str(needs_shared("xquad", "xquad.de.json"))},
        "output": {"dir": str(tmp_path / "run"), "export": [{"path": "out/de.parquet"}]},
        "stages": [{"use": "language_id"}, {"use": "exact_dedup"}],
    }
    result = run_pipeline(pipeline)
    meta = header(tmp_path / "run" / "out" / "README.md")
    assert meta["language"] == ["de"]
    assert meta["dataset_info"][0]["splits"][0]["num_examples"] == result.output.num_rows
    assert meta["size_categories"] == ["1K<n<10K"]


def test_a_datasets_folder_card_gives_the_features_and_splits_load_from_disk_opens(tmp_path: Path):
    import datasets

    mrc = tmp_path / "mrc_hf"
    assert curate("convert", REPO / "sample_data" / "korquad_sample.json", mrc, "--to", "hf").returncode == 0
    (info,) = header(mrc / "README.md")["dataset_info"]
    opened = datasets.load_from_disk(str(mrc))
    assert info["features"] == opened.features._to_yaml_list()
    assert "struct" in {f["name"]: f for f in info["features"]}["answers"]  # the Hub's SQuAD layout
    assert info["splits"] == [{"name": "train", "num_bytes": opened.data.nbytes, "num_examples": opened.num_rows}]

    rows = tmp_path / "reviews.jsonl"
    lines = [
        {"id": f"r{i}", "text": f"리뷰 {i}", "label": "pos" if i % 3 else "neg", "split": s}
        for i, s in enumerate(["train"] * 5 + ["test"] * 2)
    ]
    rows.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    labels = tmp_path / "labels_hf"
    assert curate("convert", rows, labels, "--to", "hf").returncode == 0
    (info,) = header(labels / "README.md")["dataset_info"]
    opened = datasets.load_from_disk(str(labels))
    assert info["features"] == opened["train"].features._to_yaml_list()
    assert {f["name"]: f for f in info["features"]}["label"]["dtype"]["class_label"]["names"] == {
        "0": "neg",
        "1": "pos",
    }
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {"train": 5, "test": 2}
