"""``curate convert`` and ``curate validate`` on real third-party files, as a user runs them: counts and
types hold after the readers became strict (skipped with a message when ../shared/data is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from curate import io
from tests.conftest import needs_shared, without_progress


def curate(*args):
    return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True)


def test_squad2_converts_validates_and_comes_back_unchanged(tmp_path):
    source = needs_shared("squad2", "train-v2.0-first10.json")
    result = curate("convert", source, tmp_path / "squad2.parquet")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "(4,719 rows, kind mrc)" in result.stdout
    table = pq.read_table(tmp_path / "squad2.parquet")
    impossible = table.column("is_impossible").to_pylist()
    assert Counter(impossible) == {False: 4719 - 348, True: 348}  # as the data README states
    plausible = table.column("plausible_answers").to_pylist()
    assert all(p for p, i in zip(plausible, impossible, strict=True) if i)
    assert curate("convert", tmp_path / "squad2.parquet", tmp_path / "back.json").returncode == 0
    assert json.loads((tmp_path / "back.json").read_text(encoding="utf-8")) == json.loads(
        source.read_text(encoding="utf-8")
    )
    checked = curate("validate", source)
    assert checked.returncode == 0 and "4,719 rows of kind mrc, no problems" in checked.stdout


def test_tsv_files_keep_every_row_and_their_text(tmp_path):
    nsmc = needs_shared("nsmc", "binary_sample50k.tsv")
    result = curate("convert", nsmc, tmp_path / "nsmc.parquet", "--kind", "classification", "--rename", "document=text")
    assert result.returncode == 0 and "(50,000 rows" in result.stdout, result.stderr
    korsts = needs_shared("korsts", "KorSTS", "sts-train.tsv")
    renames = ["--rename", "sentence1=text", "--rename", "sentence2=text_pair", "--rename", "score=label"]
    result = curate("convert", korsts, tmp_path / "korsts.parquet", "--kind", "classification", *renames)
    assert result.returncode == 0 and "(5,749 rows" in result.stdout, result.stderr
    table = pq.read_table(tmp_path / "korsts.parquet")
    assert table.schema.field("label").type == pa.string()
    first = korsts.read_text(encoding="utf-8").splitlines()[1].split("\t")
    assert table.column("label")[0].as_py() == first[4] == "5.000"  # a score stays the text it was


def test_mrpc_needs_its_quoting_and_says_so_in_one_line(tmp_path):
    test = needs_shared("mrpc", "msr_paraphrase_test.txt")
    renames = ["--rename", "#1 String=text", "--rename", "#2 String=text_pair", "--rename", "Quality=label"]
    plain = curate("convert", test, tmp_path / "mrpc.parquet", "--kind", "classification", *renames)
    assert plain.returncode == 2 and without_progress(plain.stderr).count("\n") == 1
    assert f"expected 5 fields, found 9 at {test}, line 2" in plain.stderr and "--quote" in plain.stderr
    assert not (tmp_path / "mrpc.parquet").exists()
    for name, rows in (("msr_paraphrase_test.txt", 1713), ("msr_paraphrase_train.txt", 4045)):
        path = needs_shared("mrpc", name)
        quoted = curate(
            "convert", path, tmp_path / f"{name}.parquet", "--quote", '"', "--kind", "classification", *renames
        )
        assert quoted.returncode == 0 and f"({rows:,} rows" in quoted.stdout, quoted.stderr
        assert set(pq.read_table(tmp_path / f"{name}.parquet").column("label").to_pylist()) == {"0", "1"}


def test_nsmc_reviews_read_the_same_on_every_run(tmp_path):
    source = needs_shared("nsmc", "reviews.jsonl.gz")
    first = io.read(source, kind="document", rename={"review": "text", "review_id": "id"}).to_arrow()
    assert first.num_rows == 712_404
    assert first.column_names == ["id", "text", "date", "rating", "movie_id"]  # the order of the file's keys
    again = io.read(source, kind="document", rename={"review": "text", "review_id": "id"}).to_arrow()
    assert again.equals(first)
