"""The run report: what load_run reads from real run folders, and the page written from it."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from curate.cli import app
from curate.pipeline import run_pipeline
from curate.report.html import render, write_html_report
from curate.report.load import load_run
from curate.text.pii import find_pii
from tests.conftest import REPO


def sql(query: str, params: list | None = None) -> list[tuple]:
    return duckdb.connect().execute(query, params or []).fetchall()


def count(query: str) -> int:
    return int(sql(query)[0][0])


def stage(run, stage_id: str):
    return next(s for s in run.stages if s.id == stage_id)


def test_every_stage_and_reason_of_the_demo_is_read_with_examples_from_its_rejected_rows(demo_run):
    run = load_run(demo_run.dir)
    assert [s.id for s in run.stages] == [r.id for r in demo_run.stages]
    assert run.input_rows == demo_run.input_rows and run.output_rows == demo_run.output.num_rows
    for loaded, ran in zip(run.stages, demo_run.stages, strict=True):
        assert {f.name: f.rows for f in loaded.reasons} == ran.stats.reasons
        rejected = ran.dir / "rejected.parquet" / "*.parquet"
        for finding in loaded.reasons:
            assert 1 <= len(finding.examples) <= 3
            for example in finding.examples:
                # the example is a rejected row of this stage, with its detail quoted as written
                detail = sql(
                    f"SELECT reject_detail FROM '{rejected}' WHERE id = ? AND reject_reason = ?",
                    [example.key, finding.name],
                )[0][0]
                assert example.detail == detail
    # the failing value is shown: the language column the detail names, the score of the rule
    assert [s.role for s in run.stages] == [r.role for r in demo_run.stages] and stage(run, "pii").role == "rewrite"
    assert "<p class='meta'>rewrite · " in render(run)
    wrong = stage(run, "language_filter").reasons[0].examples[0]
    assert dict(wrong.values)["lang_context"] == "en"
    gopher = stage(run, "gopher_quality").reasons[0]
    assert gopher.name == "gopher_function_word_ratio" and "gopher_function_word_ratio" in dict(
        gopher.examples[0].values
    )


def test_flags_are_counted_from_the_flag_column_as_the_stage_counts_them(demo_run):
    run = load_run(demo_run.dir)
    checks = stage(run, "mrc_checks")
    folder = next(r.dir for r in demo_run.stages if r.id == "mrc_checks")
    failed = {
        name: rows
        for name, rejects, rows in sql(f"SELECT * FROM '{folder / 'checks.parquet'}'")
        if rows and not rejects
    }
    assert {f.name: f.rows for f in checks.flags} == failed
    ambiguous = next(f for f in checks.flags if f.name == "mrc_answer_ambiguous")
    values = dict(ambiguous.examples[0].values)
    assert "mrc_answer_ambiguous" in values["mrc_flags"] and int(values["mrc_answer_occurrences"]) > 1


def test_rewrites_are_counted_with_before_and_after(demo_run):
    run = load_run(demo_run.dir)
    spans = stage(run, "validate_spans")
    folder = demo_run.stages[0].dir
    repaired = count(f"SELECT count(*) FROM '{folder / 'kept.parquet' / '*.parquet'}' WHERE span_repair IS NOT NULL")
    assert spans.rows_rewritten == repaired == 20  # per problem repaired, as the stage recorded them
    assert [(f.name, f.rows) for f in spans.rewrites] == [("span_mismatch", 17), ("offset_out_of_range", 3)]
    example = spans.rewrites[0].examples[0]
    before, after = example.changes["answers"]
    assert any(changed for _, changed in before) and any(changed for _, changed in after)
    # normalize_text leaves no column behind: its rewrites are the rows whose text differs from its input
    normalize = stage(run, "normalize_text")
    previous, current = (run.dir / "kept.parquet" / "*.parquet" for run in demo_run.stages[:2])
    changed = count(
        f"SELECT count(*) FROM '{current}' k JOIN '{previous}' i USING (id) WHERE k.context IS DISTINCT FROM i.context "
        "OR k.question IS DISTINCT FROM i.question OR k.answers IS DISTINCT FROM i.answers"
    )
    assert normalize.rows_rewritten == changed > 0
    context = count(f"SELECT count(*) FROM '{current}' k JOIN '{previous}' i USING (id) WHERE k.context != i.context")
    assert normalize.rewrites[0].name == "context" and normalize.rewrites[0].rows == context
    assert all(e.changes for e in normalize.rewrites[0].examples)


def test_recorded_flag_and_rewrite_counts_are_read_when_stats_carry_them(demo_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(demo_run.dir, folder)
    manifest_path = folder / "manifest.json"  # the run's record of each stage
    manifest = json.loads(manifest_path.read_text())
    record = manifest["stages"][7]  # pii
    record["rewrites"] = {"email": 3, "phone": 3, "rrn": 3}
    record["flags"] = {"pii_nearby": 2}
    manifest_path.write_text(json.dumps(manifest))
    pii = stage(load_run(folder), "pii")
    assert [(f.name, f.rows) for f in pii.rewrites] == [("email", 3), ("phone", 3), ("rrn", 3)]
    assert pii.rewrites[0].examples  # found by the stage's own marker (pii_count > 0)
    assert [(f.name, f.rows, f.examples) for f in pii.flags] == [("pii_nearby", 2, [])]


def test_histograms_cover_every_row_and_draw_the_recorded_thresholds(demo_run):
    run = load_run(demo_run.dir)
    gopher = stage(run, "gopher_quality")
    params = demo_run.stages[4].params
    words = next(h for h in gopher.histograms if h.column == "gopher_word_count")
    assert sum(k + r for _, _, k, r in words.bins) + words.nulls == gopher.rows_in
    assert sum(r for _, _, _, r in words.bins) == gopher.rows_rejected
    drawn = {t.param: t.value for t in words.thresholds}
    assert drawn["min_words_ko"] == params["min_words_ko"] == 15
    assert {t.param for t in words.off_axis} == {"max_words", "max_words_ko"}  # 100,000 is far from every row
    language = stage(run, "language_filter")
    assert [(t.column, t.value) for h in language.histograms for t in h.thresholds] == [("lang_context_score", 0.5)]
    shares = {s.column: s.values for s in language.languages}
    assert ("en", 0, 9) in shares["lang_context"]
    # a stage that only scores gets histograms of the columns it adds, without thresholds
    assert {h.column for h in stage(run, "language_id").histograms} == {"lang_context_score", "lang_question_score"}


def test_duplicate_clusters_show_the_kept_row_and_its_duplicates(demo_run):
    run = load_run(demo_run.dir)
    near = stage(run, "near_dedup")
    assert near.clusters and sum(c.size - 1 for c in near.clusters) <= near.rows_rejected
    cluster = near.clusters[0]
    assert cluster.representative is not None and cluster.representative.key == cluster.key
    assert all(dict(m.values)["similarity"] for m, _ in cluster.members)
    assert all(sim is not None and sim >= 0.8 for _, sim in cluster.members)


def test_the_report_masks_personal_data_when_the_run_has_a_pii_stage(demo_run):
    source = json.loads((REPO / "sample_data" / "korquad_sample.json").read_text(encoding="utf-8"))
    contexts = [p["context"] for a in source["data"] for p in a["paragraphs"]]
    found = {c[s.start : s.end] for c in contexts for s in find_pii(c)}
    assert len(found) >= 3  # the sample's e-mail, phone and resident registration number
    page = (demo_run.dir / "report.html").read_text(encoding="utf-8")
    assert load_run(demo_run.dir).masked
    assert not [value for value in found if value in page]


def test_a_stage_table_in_parts_of_different_columns_reads_like_one_table(demo_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(demo_run.dir, folder)
    stage_dir = folder / demo_run.stages[4].dir.name  # gopher_quality
    parts = stage_dir / "kept.parquet"
    table = pq.read_table(parts)
    shutil.rmtree(parts)
    parts.mkdir()
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), parts / "part-000000.parquet")
    later = table.slice(half).append_column("note", pa.array(["x"] * (table.num_rows - half)))
    pq.write_table(later, parts / "part-000001.parquet")  # a part with one more column
    split, whole = stage(load_run(folder), "gopher_quality"), stage(load_run(demo_run.dir), "gopher_quality")
    assert [(h.column, h.bins) for h in split.histograms] == [(h.column, h.bins) for h in whole.histograms]
    assert stage(load_run(folder), "gopher_repetition").histograms  # the next stage reads it as its input


def test_label_issues_show_given_against_suggested_and_the_worst_rows(classification_run):
    run = load_run(classification_run.dir)
    labels = stage(run, "label_issues").labels
    assert labels is not None and (labels.given, labels.suggested) == ("label", "suggested_label")
    kept = classification_run.stages[-1].dir / "kept.parquet" / "*.parquet"
    assert sum(n for _, _, n in labels.cells) == count(f"SELECT count(*) FROM '{kept}'")
    flagged = count(f"SELECT count(*) FROM '{kept}' WHERE label_issue")
    assert 0 < len(labels.worst) <= min(5, flagged)
    qualities = [float(dict(e.values)["label_quality"]) for e in labels.worst]
    assert qualities == sorted(qualities)


def test_contaminated_pairs_mark_the_span_they_share(tmp_path):
    source = json.loads((REPO / "sample_data" / "korquad_sample.json").read_text(encoding="utf-8"))
    paragraph = source["data"][0]["paragraphs"][0]
    eval_row = {
        "id": "eval-1",
        "context": "평가 세트의 앞부분. " + paragraph["context"][:200] + " 평가 세트만의 끝.",
        "question": "평가 질문은 무엇인가?",
        "answers": [{"text": "평가", "answer_start": 0}],
    }
    eval_path = tmp_path / "eval.jsonl"
    eval_path.write_text(json.dumps(eval_row, ensure_ascii=False) + "\n", encoding="utf-8")
    config = {
        "name": "contaminated",
        "input": {"path": str(REPO / "sample_data" / "korquad_sample.json")},
        "stages": [{"use": "decontaminate", "params": {"eval_path": str(eval_path), "drop": False}}],
    }
    result = run_pipeline(config, output=tmp_path / "run")
    pairs = stage(load_run(result.dir), "decontaminate").pairs
    assert pairs and all(p.eval_id == "eval-1" and p.field == "context" for p in pairs)
    shared = "".join(t for t, marked in pairs[0].train if marked)
    assert len(shared) >= 150 and shared in paragraph["context"] and shared in eval_row["context"]
    assert pairs[0].eval is not None and "".join(t for t, marked in pairs[0].eval if marked) == shared
    flags = stage(load_run(result.dir), "decontaminate").flags
    kept = result.stages[0].dir / "kept.parquet" / "*.parquet"
    assert flags[0].name == "contaminated" and flags[0].rows == count(
        f"SELECT count(*) FROM '{kept}' WHERE contaminated"
    )


def test_text_that_looks_like_markup_stays_text(tmp_path):
    rows = "id\ttext\tlabel\n" + "".join(
        f"r{i}\t{text}\tpositive\n"
        for i, text in enumerate(
            ["좋다", "</script><script>alert(1)</script> 좋아요", "<!-- 주석 --> 재밌다", "<b>굵게</b> 최고"]
        )
    )
    data = tmp_path / "reviews.tsv"
    data.write_text(rows, encoding="utf-8")
    config = {"name": "markup", "input": {"path": str(data), "kind": "classification"},
              "stages": [{"use": "length_filter", "params": {"field": "text", "max": 10}}]}  # fmt: skip
    result = run_pipeline(config, output=tmp_path / "run")
    page = render(load_run(result.dir))
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page and "&lt;b&gt;굵게" in page  # shown as examples
    assert "<script>alert(1)" not in page and "<b>굵게" not in page
    body = page.split("<script type='application/json' id='curate-charts'>")[1].split("</script>")[0]
    assert json.loads(body)  # the chart data ends where it should


def test_an_unfinished_run_is_shown_from_its_stage_folders(demo_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(demo_run.dir, folder)
    (folder / "manifest.json").unlink()
    run = load_run(folder)
    assert not run.finished and [s.id for s in run.stages] == [r.id for r in demo_run.stages]
    assert "did not finish" in render(run)


def test_curate_report_rebuilds_the_page(demo_run, tmp_path):
    out = tmp_path / "again.html"
    result = CliRunner().invoke(app, ["report", str(demo_run.dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"report: {out} ({out.stat().st_size:,} bytes)" in result.output
    assert out.read_bytes().startswith(b"<!doctype html>")


def test_curate_report_on_a_folder_without_a_run_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "not a run folder" in result.output


def test_the_run_writes_report_html_beside_report_md(demo_run):
    assert (demo_run.dir / "report.md").exists()
    page = (demo_run.dir / "report.html").read_text(encoding="utf-8")
    assert page == render(load_run(demo_run.dir))  # the page `curate report` writes for the finished run
    assert not re.findall(r"(?:src|href)\s*=\s*['\"]?(?:https?:)?//", page)  # nothing to fetch


def test_write_html_report_writes_where_asked(demo_run, tmp_path):
    path = write_html_report(demo_run.dir, tmp_path / "x" / "r.html")
    assert path == tmp_path / "x" / "r.html" and path.stat().st_size > 100_000


def test_a_generating_stage_shows_its_verdicts_and_token_usage(tmp_path):
    from tests.llm.chat_server import ChatServer

    with ChatServer() as server:
        config = {
            "name": "synthetic",
            "input": {"path": str(REPO / "sample_data" / "korquad_sample.json")},
            "stages": [
                {"use": "validate_spans"},
                {
                    "use": "generate_questions",
                    "params": {
                        "base_url": server.base_url,
                        "model": "test-model",
                        "cache_dir": str(tmp_path / "cache"),
                        "max_passages": 3,
                        "questions_per_passage": 2,
                    },
                },
            ],
        }
        result = run_pipeline(config, output=tmp_path / "run")
    folder = result.stages[1].dir
    generation = stage(load_run(result.dir), "generate_questions").generation
    assert generation is not None
    verdicts = dict(sql(f"SELECT status, count(*) FROM '{folder / 'generation.parquet'}' GROUP BY status"))
    assert {v.name: v.rows for v in generation.verdicts} == verdicts
    assert {"accepted", "answer_not_in_passage", "wrong_language", "near_duplicate"} <= set(verdicts)
    assert all(v.examples for v in generation.verdicts)
    usage = sql(f"SELECT prompt_tokens, completion_tokens FROM '{folder / 'usage.parquet'}'")[0]
    assert (generation.usage["prompt_tokens"], generation.usage["completion_tokens"]) == usage and usage[0] > 0
    page = render(load_run(result.dir))
    assert "data-section='generation'" in page and "Token usage" in page
