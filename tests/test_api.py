"""The library API (``curate.api``): each command's function on real data, its result's counts
checked against the files it wrote, read back."""

import json

import pyarrow.parquet as pq
import pytest

import curate
from curate import api, io, progress
from curate.dataset import Dataset
from curate.errors import ConfigError
from curate.quality.classifier import TrainSettings
from curate.stages.chunk_passages import ChunkPassagesParams
from curate.stages.label_issues import LabelIssuesParams
from curate.stages.mine_hard_negatives import MineHardNegativesParams
from curate.stages.minhash_dedup import MinHashDedupParams
from tests.conftest import REPO, needs_shared

SAMPLE = REPO / "sample_data"
KORQUAD = SAMPLE / "korquad_sample.json"
REVIEWS = SAMPLE / "reviews_cls.tsv"
RETRIEVAL = SAMPLE / "retrieval"


def rows(path):
    return io.read(path).num_rows


def parts(folder):
    return {name: part.num_rows for name, part in io.read_bundle(folder).items()}


def test_the_api_is_exported_and_names_every_command():
    assert "api" in curate.__all__ and curate.api is api
    commands = {
        "run", "rejected", "report", "convert", "validate", "dedup", "contamination", "mrc_to_retrieval",
        "mine_negatives", "chunk_passages", "label_issues", "bias", "export_label_studio", "import_label_studio",
        "train_quality", "stages", "stage", "schemas", "schema",
    }  # fmt: skip
    assert commands <= set(api.__all__)
    assert all(callable(getattr(api, name)) for name in commands)


def test_convert_counts_what_it_wrote_and_steps_progress(tmp_path):
    steps = []
    with progress.listening(lambda phase, done, total, unit: steps.append((phase, done, total))):
        done = api.convert(KORQUAD, tmp_path / "k.jsonl")
    assert (done.kind, done.rows) == ("mrc", rows(tmp_path / "k.jsonl")) and done.rows == 272
    assert done.card == tmp_path / "README.md" and done.card.exists() and done.quarantine is None
    assert ("reading korquad_sample.json", 272, 272) in steps and ("writing k.jsonl", 272, 272) in steps


def test_convert_quarantines_bad_rows_and_says_how_many(tmp_path):
    api.convert(KORQUAD, tmp_path / "good.jsonl")
    good = (tmp_path / "good.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join([good[0], "{not json", good[1]]) + "\n", encoding="utf-8")
    done = api.convert(src, tmp_path / "out.parquet", kind="mrc", skip_bad_rows=True)
    assert (done.rows, done.quarantined) == (2, 1)
    assert rows(tmp_path / "out.parquet") == 2
    assert done.quarantine == tmp_path / "out.parquet.quarantine.jsonl"
    assert len(done.quarantine.read_text(encoding="utf-8").splitlines()) == 1


def test_convert_a_retrieval_folder_whole(tmp_path):
    done = api.convert(RETRIEVAL, tmp_path / "rb", to="parquet")
    assert done.kind is None and dict(done.parts) == parts(tmp_path / "rb") == parts(RETRIEVAL)
    assert done.rows == sum(done.parts.values())


def test_validate_reports_and_repairs_what_it_counts(tmp_path):
    done = api.validate(KORQUAD, report=tmp_path / "problems.csv", repair=tmp_path / "fixed.parquet")
    assert not done.clean and done.kind == "mrc" and done.rows == 272
    assert len((tmp_path / "problems.csv").read_text(encoding="utf-8").splitlines()) == done.problems.num_rows + 1
    assert done.repaired_rows == rows(tmp_path / "fixed.parquet")
    assert done.unrepaired == tmp_path / "fixed.rejected.jsonl"
    assert done.unrepaired_rows == rows(done.unrepaired) > 0
    assert done.repaired_rows + done.unrepaired_rows == 272
    assert api.validate(tmp_path / "fixed.parquet").clean


def test_validate_a_retrieval_folder_and_refuse_to_repair_it(tmp_path):
    done = api.validate(RETRIEVAL, report=tmp_path / "problems.jsonl")
    assert done.kind is None and dict(done.parts) == parts(RETRIEVAL)
    written = (tmp_path / "problems.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(written) == done.problems.num_rows and done.clean == (not written)
    with pytest.raises(ConfigError, match="--repair works on MRC data"):
        api.validate(RETRIEVAL, repair=tmp_path / "x.json")


def test_dedup_counts_kept_and_removed_rows_as_written(tmp_path):
    done = api.dedup(KORQUAD, tmp_path / "kept.parquet", clusters=tmp_path / "clusters.parquet")
    assert done.stats.rows_kept == rows(done.kept) and done.stats.rows_rejected == rows(done.rejected) > 0
    assert done.rejected == tmp_path / "kept.rejected.parquet" and done.conflicts is None
    assert pq.read_table(done.clusters).num_rows >= done.stats.rows_rejected
    assert done.qrels_repointed is None and done.card is not None


def test_dedup_of_a_retrieval_folder_repoints_its_qrels(tmp_path):
    done = api.dedup(RETRIEVAL, tmp_path / "deduped", MinHashDedupParams(threshold=0.5))
    written = parts(tmp_path / "deduped")
    assert written["corpus"] == done.stats.rows_kept and rows(done.rejected) == done.stats.rows_rejected
    assert done.qrels_repointed is not None and written["qrels"] == parts(RETRIEVAL)["qrels"] - done.qrels_merged


def test_contamination_drops_the_rows_it_counts(tmp_path):
    evaluation = tmp_path / "eval.jsonl"
    io.write(Dataset.from_arrow(io.read(KORQUAD).to_arrow().slice(0, 40), "mrc"), evaluation)
    done = api.contamination(KORQUAD, evaluation, report=tmp_path / "overlaps.csv", drop=tmp_path / "clean.parquet")
    assert done.contaminated >= 40 and done.found.num_train == 272
    assert done.clean_rows == rows(done.clean) == 272 - done.contaminated
    assert len(done.report.read_text(encoding="utf-8").splitlines()) == done.report_rows + 1


def test_mrc_to_retrieval_counts_every_part(tmp_path):
    done = api.mrc_to_retrieval(KORQUAD, tmp_path / "beir")
    assert dict(done.parts) == parts(tmp_path / "beir") and done.parts["queries"] == 272


def test_mine_negatives_from_mrc_and_from_a_folder(tmp_path):
    done = api.mine_negatives(KORQUAD, tmp_path / "triplets.jsonl", MineHardNegativesParams(count=3))
    lines = [json.loads(line) for line in (tmp_path / "triplets.jsonl").read_text(encoding="utf-8").splitlines()]
    assert done.written.rows == len(lines) and done.written.negatives == sum(len(t["negatives"]) for t in lines)
    assert done.rejected == sum(done.reasons.values()) > 0 and set(done.dropped) >= {"positive"}
    folder = api.mine_negatives(RETRIEVAL, tmp_path / "folder.parquet")
    assert folder.written.rows == rows(tmp_path / "folder.parquet") > 0 and folder.rejected == 0


def test_chunk_passages_of_a_folder_and_of_an_mrc_set(tmp_path):
    settings = ChunkPassagesParams(size=40, overlap=0)
    folder = api.chunk_passages(RETRIEVAL, tmp_path / "chunked", settings)
    written = parts(tmp_path / "chunked")
    assert folder.corpus == (parts(RETRIEVAL)["corpus"], written["corpus"]) and folder.corpus[1] > folder.corpus[0]
    assert folder.qrels is not None and folder.qrels[1] == written["qrels"]
    mrc = api.chunk_passages(KORQUAD, tmp_path / "chunked.parquet", ChunkPassagesParams(size=60, overlap=0))
    table = pq.read_table(tmp_path / "chunked.parquet")
    assert (mrc.questions, mrc.passages) == (table.num_rows, len(set(table.column("passage_id").to_pylist())))
    assert mrc.questions + mrc.rejected == 272 and mrc.reasons == {"span_invalid": mrc.rejected}


def test_label_issues_writes_the_rows_it_flags(tmp_path):
    done = api.label_issues(
        REVIEWS, LabelIssuesParams(folds=3), out=tmp_path / "all.parquet", issues=tmp_path / "issues.csv"
    )
    flagged = pq.read_table(done.out).column("label_issue").to_pylist()
    assert done.rows == len(flagged) == 303
    assert done.issues.num_rows == sum(flagged) == rows(done.issues_file) > 0


def test_bias_writes_the_tables_it_measured(tmp_path):
    cleaned = tmp_path / "cleaned.parquet"
    io.write(Dataset.from_arrow(io.read(REVIEWS).to_arrow().slice(0, 200), "classification"), cleaned)
    done = api.bias(REVIEWS, compare=cleaned, out=tmp_path / "bias")
    assert done.after is not None and done.shifts is not None and done.shifts.num_rows > 0
    assert sorted(done.tables) == sorted((tmp_path / "bias").rglob("*.parquet")) and len(done.tables) > 2
    assert pq.read_table(tmp_path / "bias" / "bias_shifts.parquet").num_rows == done.shifts.num_rows


def test_label_studio_export_then_import(tmp_path):
    exported = api.export_label_studio(REVIEWS, tmp_path / "ls", select="label = 'negative'")
    tasks = json.loads(exported.tasks_file.read_text(encoding="utf-8"))
    assert exported.tasks == len(tasks) > 0 and exported.config_file.exists() and exported.pushed is None
    imported = api.import_label_studio(
        REVIEWS, tmp_path / "same.parquet", exported.tasks_file, report=tmp_path / "r.parquet"
    )
    assert imported.rows == rows(imported.dst) == 303
    assert sum(imported.statuses.values()) == len(tasks) == pq.read_table(imported.report).num_rows
    with pytest.raises(ConfigError, match="give either EXPORT.json or --pull"):
        api.import_label_studio(REVIEWS, tmp_path / "x.parquet")


def test_train_quality_names_a_missing_column(tmp_path):
    report = api.train_quality(REVIEWS, tmp_path / "q.bin", TrainSettings(epoch=2), good="positive")
    assert report.model == str(tmp_path / "q.bin") and (tmp_path / "q.bin").exists()
    assert sum(report.rows.values()) == 303 and report.accuracy is not None
    body = tmp_path / "body.tsv"
    body.write_text("id\tbody\tlabel\n1\tgood film\tpositive\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no such column") as missing:
        api.train_quality(body, tmp_path / "x.bin")
    assert missing.value.where.field == "text" and "'body', 'id', 'label'" in missing.value.message


def test_run_then_rejected_and_report(tmp_path):
    result = api.run(REPO / "pipelines" / "demo.yaml", output=tmp_path / "run")
    assert result.output.num_rows == rows(tmp_path / "run" / "output.parquet")
    found = api.rejected(result.dir, out=tmp_path / "rejected.parquet")
    assert found.table.num_rows == sum(n for _, _, n in found.counts) == rows(found.out) > 0
    pii = api.rejected(result.dir, stage="pii")
    assert pii.out is None and {s for s, _, _ in pii.counts} == {"pii"}
    page = api.report(result.dir, tmp_path / "page.html")
    assert page.path == tmp_path / "page.html" and page.bytes == page.path.stat().st_size


def test_stages_and_schemas_are_listed():
    listed = {info.name: info for info in api.stages()}
    assert "minhash_dedup" in listed and listed["minhash_dedup"].role == "filter"
    one = api.stage("minhash_dedup")
    assert one.cls == "curate.stages.minhash_dedup.MinHashDedup"
    assert {p.name: p.default for p in one.params}["threshold"] == "default 0.8"
    with pytest.raises(ConfigError):
        api.stage("no_such_stage")
    assert "mrc" in api.schemas() and api.schema("mrc").startswith("kind: mrc")


def test_real_squad_through_the_api(tmp_path):
    squad = needs_shared("squad2", "train-v2.0-first10.json")
    found = api.validate(squad, report=tmp_path / "problems.csv")
    assert found.rows == 4719
    built = api.mrc_to_retrieval(squad, tmp_path / "beir")
    assert dict(built.parts) == parts(tmp_path / "beir") and built.parts["queries"] == 4719
