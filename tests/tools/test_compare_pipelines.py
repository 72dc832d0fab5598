"""The pipeline comparison finds changed rows, reasons, counts and values, and lists new fields apart."""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tests.tools.compare_pipelines import compare


def run_folder(root, *, reason="too_short", kept=("d1", "d2"), flags=None, extra_column=False, title="제목"):
    """A run folder of kind corpus with one stage, as ``curate run`` writes it."""
    (root / "01_length_filter").mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({"input": {"kind": "corpus"}}))
    rows = [{"doc_id": d, "title": title, "text": "본문"} for d in kept]
    table = pa.Table.from_pylist(rows)
    if extra_column:
        table = table.append_column("role_note", pa.array(["x"] * len(rows)))
    pq.write_table(table, root / "01_length_filter" / "kept.parquet")
    pq.write_table(table, root / "output.parquet")
    rejected = [
        {"doc_id": "d3", "title": "", "text": "", "reject_reason": reason, "reject_detail": "text_chars=0 < min 1"}
    ]
    pq.write_table(pa.Table.from_pylist(rejected), root / "01_length_filter" / "rejected.parquet")
    stats = {"rows_in": 3, "rows_kept": len(kept), "rows_rejected": 1, "reasons": {reason: 1}, "seconds": 0.1}
    if flags is not None:
        stats["flags"] = flags
    (root / "01_length_filter" / "stats.json").write_text(json.dumps(stats))
    return root


def test_the_same_rows_and_counts_are_the_same_and_new_fields_are_listed_apart(tmp_path):
    before = run_folder(tmp_path / "before")
    after = run_folder(tmp_path / "after", flags={}, extra_column=True)
    result = compare("corpus", before, after)
    assert not result.differs, result.differences
    assert (result.same_kept, result.same_rejected, result.same_reasons, result.same_stats, result.same_output) == (
        True,
        True,
        True,
        True,
        True,
    )
    assert result.new_fields == {
        "kept +role_note": ["01_length_filter"],
        "stats +flags": ["01_length_filter"],
        "output +role_note": ["output.parquet"],
    }


def test_a_changed_reason_id_count_or_value_is_a_difference(tmp_path):
    before = run_folder(tmp_path / "before", flags={})
    after = run_folder(tmp_path / "after", reason="empty", kept=("d2", "d1"), flags={"f": 1}, title="다른 제목")
    result = compare("corpus", before, after)
    assert result.same_kept is False and result.same_reasons is False and result.same_stats is False
    assert result.same_rejected is True and result.same_output is False
    assert (
        "01_length_filter kept: 2 -> 2 rows; same ids, order differs from position 0 (d1 vs d2)" in result.differences
    )
    assert "01_length_filter d3 reject_reason: 'too_short' -> 'empty'" in result.differences
    assert "01_length_filter stats flags: {} -> {'f': 1}" in result.differences
    assert "01_length_filter stats reasons: {'too_short': 1} -> {'empty': 1}" in result.differences
    assert any(d.startswith("output: 2 -> 2 rows; same ids, order differs") for d in result.differences)
