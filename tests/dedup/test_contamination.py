"""Train/eval contamination: the methods on tiny inline texts, the ``decontaminate`` stage and the
``curate contamination`` command."""

import subprocess
import sys

import pyarrow as pa
import pytest

from curate import io
from curate.dataset import Dataset
from curate.dedup.contamination import (
    REPORT_SCHEMA,
    ContaminationSettings,
    exact_overlaps,
    field_texts,
    find_contamination,
    minhash_overlaps,
    ngram_overlaps,
    text_overlaps,
)
from curate.dedup.plan import MinHashSettings
from curate.errors import ConfigError
from curate.stages import REGISTRY, Decontaminate
from tests.conftest import answer, without_progress

SEJONG = (
    "세종대왕은 조선의 제4대 국왕으로 1418년부터 1450년까지 재위하였다. 그는 집현전을 설치하여 학문을 "
    "장려하였고, 1443년에 훈민정음을 창제하여 1446년에 반포하였다. 또한 측우기와 해시계 같은 과학 기구의 "
    "발명을 지원하였으며, 농사직설을 편찬하게 하여 농업 기술을 널리 보급하였다."
)
SEJONG_EDITED = (
    SEJONG.replace("1418년부터", "1418년에서")
    .replace("널리 보급하였다", "널리 퍼뜨렸다")
    .replace("과학 기구의", "과학 기구들의")
)
SEJONG_EN = (
    "King Sejong was the fourth king of Joseon, reigning from 1418 to 1450. He established the Hall of "
    "Worthies to promote learning, created Hunminjeongeum in 1443 and promulgated it in 1446. He also "
    "supported the invention of scientific instruments such as the rain gauge and the sundial, and had the "
    "Nongsa jikseol compiled to spread farming techniques widely."
)
BUSAN = (
    "부산은 대한민국 제2의 도시이자 최대의 항구 도시이다. 해운대 해수욕장과 광안대교가 유명하며, 매년 가을에는 "
    "부산국제영화제가 열려 전 세계의 영화인들이 모인다. 자갈치 시장은 한국 최대의 수산물 시장으로 알려져 있다."
)
JEJU = (
    "제주도는 대한민국에서 가장 큰 섬으로, 한라산이 섬의 중앙에 솟아 있다. 화산 활동으로 만들어진 독특한 "
    "지형과 용암 동굴이 많아 유네스코 세계자연유산으로 등재되었다. 감귤과 흑돼지가 특산물로 유명하다."
)
HANGUL = (
    "훈민정음은 백성을 가르치는 바른 소리라는 뜻으로, 1446년에 세상에 나왔다. 오늘날에는 한글이라고 부르며 "
    "10월 9일을 한글날로 기념한다."
)
QUESTION = "세종대왕이 훈민정음을 반포한 해는 언제인가?"  # 24 characters, 5 words: compared whole

NGRAMS_ONLY = ContaminationSettings(minhash=False, ngram_chars=None)


def methods(found):
    return {method for method, pairs in found.items() if len(pairs)}


# ----------------------------------------------------------------------------- methods on texts


def test_verbatim_passage_copy_is_found_by_every_method():
    found = text_overlaps([SEJONG], [BUSAN, SEJONG])
    assert methods(found) == {"minhash", "ngram_words", "ngram_chars"}
    for method in ("minhash", "ngram_words", "ngram_chars"):
        assert found[method].pairs() == [(0, 1)]
        assert found[method].overlap.tolist() == [1.0]
    words = len(SEJONG.split())
    assert found["ngram_words"].shared.tolist() == [words - 12]
    assert found["ngram_chars"].shared.tolist() == [len(SEJONG) - 49]
    assert found["minhash"].shared.tolist() == [-1]


def test_lightly_edited_passage_is_found_by_minhash():
    found = text_overlaps([SEJONG_EDITED], [SEJONG])
    assert found["minhash"].pairs() == [(0, 0)]
    assert 0.8 <= found["minhash"].overlap[0] < 1.0
    # runs between the edits are still shared, but only part of the windows
    assert 0.0 < found["ngram_chars"].overlap[0] < 1.0


def test_minhash_overlap_is_the_true_jaccard_and_respects_the_threshold():
    strict = MinHashSettings(threshold=0.9)
    assert len(minhash_overlaps([SEJONG_EDITED], [SEJONG], strict)) == 0
    loose = minhash_overlaps([SEJONG_EDITED, BUSAN], [JEJU, SEJONG], MinHashSettings(threshold=0.5))
    assert loose.pairs() == [(0, 1)]


def test_a_shared_run_of_13_words_is_found_and_12_is_not():
    run = "하늘 아래 가장 오래된 도서관에는 아무도 읽지 않은 책들이 먼지를 뒤집어쓴 채 조용히 잠들어 있었다"
    words = run.split()
    assert len(words) == 15
    thirteen, twelve = " ".join(words[:13]), " ".join(words[:12])
    train = f"어제 시장에서 사과와 배를 샀다 {thirteen} 그리고 우리는 집으로 돌아왔다"
    found = text_overlaps([train], [f"전혀 다른 이야기의 시작 {thirteen} 끝"], NGRAMS_ONLY)
    assert found["ngram_words"].pairs() == [(0, 0)]
    assert found["ngram_words"].shared.tolist() == [1]
    evaluation_windows = len(f"전혀 다른 이야기의 시작 {thirteen} 끝".split()) - 12  # the shorter text
    assert found["ngram_words"].overlap.tolist() == [pytest.approx(1 / evaluation_windows)]
    found = text_overlaps([train], [f"전혀 다른 이야기의 시작 {twelve} 끝"], NGRAMS_ONLY)
    assert methods(found) == set()


def test_a_shared_run_of_50_characters_is_found_and_49_is_not():
    run = "The quick brown fox jumps over the lazy dog while the cat sleeps"
    train = "Alpha beta gamma;" + run[:50] + "/delta epsilon zeta."
    only_chars = ContaminationSettings(minhash=False, ngram_words=None)
    found = ngram_overlaps([train], ["Completely unrelated opening," + run[:50] + "!"], 50, unit="char")
    assert found.pairs() == [(0, 0)] and found.shared.tolist() == [1]
    assert methods(text_overlaps([train], ["Completely unrelated opening," + run[:49] + "!"], only_chars)) == set()


def test_short_common_answers_are_not_flagged():
    found = text_overlaps(["1990", "서울", "1990년", "약 940만 명"], ["1990", "서울", "1990년", "약 940만 명"])
    assert methods(found) == set()
    # a longer identical text is compared whole
    name = "대한민국 임시정부 국무령 이승만 대통령"
    assert len(name) >= 20
    found = text_overlaps([name], [name])
    assert found["exact"].pairs() == [(0, 0)]
    assert ContaminationSettings().min_chars == 20
    assert methods(text_overlaps([name], [name], ContaminationSettings(min_chars=30))) == set()


def test_a_question_repeated_exactly_is_flagged():
    found = text_overlaps(
        [QUESTION, "부산에서 열리는 영화제의 이름은 무엇인가?"], ["  세종대왕이  훈민정음을 반포한 해는 언제인가? "]
    )
    assert found["exact"].pairs() == [(0, 0)]
    assert found["exact"].overlap.tolist() == [1.0] and found["exact"].shared.tolist() == [-1]
    assert found["minhash"].pairs() == [(0, 0)]
    assert len(found["ngram_words"]) == len(found["ngram_chars"]) == 0  # too short for windows


def test_case_and_unicode_forms_do_not_hide_a_copy():
    import unicodedata

    found = text_overlaps([unicodedata.normalize("NFD", SEJONG)], [SEJONG])
    assert methods(found) == {"minhash", "ngram_words", "ngram_chars"}
    english = text_overlaps([SEJONG_EN.upper()], [SEJONG_EN])
    assert english["ngram_chars"].overlap.tolist() == [1.0]
    cased = text_overlaps([SEJONG_EN.upper()], [SEJONG_EN], ContaminationSettings(lowercase=False))
    assert methods(cased) == set()


def test_translations_are_not_flagged():
    found = text_overlaps([SEJONG_EN, BUSAN, JEJU], [SEJONG])
    assert methods(found) == set()


def test_repeated_texts_give_one_pair_per_repetition():
    found = text_overlaps([SEJONG, BUSAN, SEJONG], [SEJONG, JEJU, SEJONG])
    assert found["ngram_chars"].pairs() == [(0, 0), (0, 2), (2, 0), (2, 2)]
    assert found["minhash"].pairs() == [(0, 0), (0, 2), (2, 0), (2, 2)]


def test_null_and_empty_texts_never_match():
    found = text_overlaps([None, "", "   "], [None, "", " "], ContaminationSettings(min_chars=1))
    assert methods(found) == set()


def test_exact_overlaps_pairs_every_identical_text():
    found = exact_overlaps(["a", "b", "a"], ["a", "c", "a"])
    assert found.pairs() == [(0, 0), (0, 2), (2, 0), (2, 2)]


def test_settings_are_checked():
    with pytest.raises(ValueError, match="threshold"):
        ContaminationSettings(threshold=1.5)
    with pytest.raises(ValueError, match="ngram_words"):
        ContaminationSettings(ngram_words=0)
    with pytest.raises(ValueError, match="min_chars"):
        ContaminationSettings(min_chars=0)
    with pytest.raises(ValueError, match="n-gram size"):
        ngram_overlaps(["a"], ["a"], 0)


# ----------------------------------------------------------------------------- datasets


def mrc(rows):
    return Dataset.from_arrow(pa.Table.from_pylist(rows), "mrc")


def row(id, context, question, *answers):
    return {"id": id, "context": context, "question": question, "answers": [answer(context, a) for a in answers]}


def eval_rows():
    return [
        row("ev-1", SEJONG, QUESTION, "1446년"),
        row("ev-2", SEJONG, "세종대왕이 설치한 기관은?", "집현전"),
        row("ev-3", JEJU, "제주도 중앙에 솟은 산은?", "한라산"),
    ]


def train_rows():
    return [
        row("tr-copy", SEJONG, "집현전을 설치한 왕은 누구인가?", "세종대왕"),  # passage copied
        row("tr-edit", SEJONG_EDITED, "측우기를 지원한 왕은?", "세종대왕"),  # passage lightly edited
        row("tr-en", SEJONG_EN, "When was Hunminjeongeum promulgated?", "1446"),  # translation
        row("tr-question", HANGUL, QUESTION, "1446년"),  # eval question repeated
        row("tr-clean", BUSAN, "부산에서 가을에 열리는 행사는 무엇인가?", "부산국제영화제"),
        {
            "id": "tr-answers",
            "context": BUSAN + " 제주도 중앙에 솟은 산은 한라산이다 그리고 제주도는 대한민국에서 가장 큰 섬",
            "question": "부산의 유명한 다리는?",
            "answers": [{"text": "광안대교", "answer_start": BUSAN.index("광안대교")}],
        },
    ]


def test_find_contamination_report():
    found = find_contamination(mrc(train_rows()), mrc(eval_rows()))
    report = found.report
    assert report.schema == REPORT_SCHEMA
    assert report.column_names == ["train_id", "eval_id", "field", "method", "overlap", "shared"]
    records = report.to_pylist()
    keys = {(r["train_id"], r["eval_id"], r["field"], r["method"]) for r in records}
    assert len(keys) == len(records)  # one row per (train row, eval row, field, method)
    for eval_id in ("ev-1", "ev-2"):
        for method in ("minhash", "ngram_words", "ngram_chars"):
            assert ("tr-copy", eval_id, "context", method) in keys
        assert ("tr-edit", eval_id, "context", "minhash") in keys
    assert ("tr-question", "ev-1", "question", "exact") in keys
    assert {r["train_id"] for r in records} == {"tr-copy", "tr-edit", "tr-question"}
    assert found.contaminated.tolist() == [True, True, False, True, False, False]
    exact = next(r for r in records if r["method"] == "exact")
    assert exact["overlap"] == 1.0 and exact["shared"] is None
    copy = next(r for r in records if r["train_id"] == "tr-copy" and r["method"] == "ngram_chars")
    assert copy["overlap"] == 1.0 and copy["shared"] == len(SEJONG) - 49
    # deterministic order: train row, eval row, field (asked order), method
    order = [
        (train_rows().index(next(t for t in train_rows() if t["id"] == r["train_id"])), r["eval_id"]) for r in records
    ]
    assert order == sorted(order)
    again = find_contamination(mrc(train_rows()), mrc(eval_rows()))
    assert again.report.equals(report)


def test_counts_and_summaries():
    found = find_contamination(mrc(train_rows()), mrc(eval_rows()))
    counts = {(r["field"], r["method"]): (r["train_rows"], r["eval_rows"]) for r in found.counts().to_pylist()}
    assert counts[("context", "minhash")] == (2, 2)
    assert counts[("context", "ngram_chars")] == (2, 2)
    assert counts[("question", "exact")] == (1, 1)
    summaries = found.summaries()
    assert summaries[2] is None and summaries[4] is None
    assert summaries[0].startswith("context~ev-1 (minhash 1.00, +1 more); ")
    assert "context~ev-1 (ngram_chars 1.00, " in summaries[0]
    assert "question=ev-1 (exact)" in summaries[3]


def test_each_answer_is_compared_separately():
    long_answer = "훈민정음을 창제하여 1446년에 반포하였다"
    assert len(long_answer) >= 20
    train = [row("t", SEJONG, "세종대왕은 무엇을 했나?", "세종대왕", long_answer)]
    found = find_contamination(mrc(train), mrc([row("e", SEJONG, "무엇을 했나", long_answer)]), fields=["answers"])
    assert [(r["field"], r["method"]) for r in found.report.to_pylist()] == [
        ("answers", "minhash"),
        ("answers", "exact"),
    ]
    texts, owner = field_texts(mrc(train).column("answers"))
    assert texts == ["세종대왕", long_answer] and owner.tolist() == [0, 0]


def test_ngram_fraction_decides_without_hiding_findings():
    quote = " ".join(SEJONG.split()[:14])  # a 14-word quotation inside a long, different passage
    long_train = f"{BUSAN} {JEJU} {quote} {BUSAN}"
    train = [row("t", long_train, "부산의 유명한 다리는?", "광안대교")]
    evaluation = [row("e", SEJONG, "질문", "세종대왕")]
    any_run = find_contamination(
        mrc(train), mrc(evaluation), fields=["context"], settings=ContaminationSettings(ngram_fraction=0.0)
    )
    assert any_run.contaminated.tolist() == [True]
    fraction = ContaminationSettings(ngram_fraction=0.5)
    strict = find_contamination(mrc(train), mrc(evaluation), fields=["context"], settings=fraction)
    assert strict.contaminated.tolist() == [False]
    assert strict.report.equals(any_run.report)  # the report lists every finding either way
    assert strict.summaries() == [None] and strict.counts().num_rows == 0


def test_other_kinds_use_their_text_fields():
    train = Dataset.from_arrow(
        pa.table({"id": ["a", "b"], "text": [SEJONG, BUSAN], "label": ["역사", "지리"]}), "classification"
    )
    evaluation = Dataset.from_arrow(pa.table({"id": ["x"], "text": [SEJONG], "label": ["역사"]}), "classification")
    found = find_contamination(train, evaluation)
    assert found.fields == ("text", "text_pair")
    assert set(found.report.column("train_id").to_pylist()) == {"a"}


def test_missing_field_is_a_clear_error():
    with pytest.raises(ConfigError, match="no such column in the evaluation set") as info:
        find_contamination(
            mrc(train_rows()),
            Dataset.from_arrow(pa.table({"id": ["x"], "text": ["t"]}), "document"),
            fields=["context"],
        )
    assert "field 'context'" in info.value.message and "columns: id, text" in info.value.message


# ----------------------------------------------------------------------------- stage


@pytest.fixture
def eval_file(tmp_path):
    path = tmp_path / "eval.jsonl"
    io.write(mrc(eval_rows()), path)
    return path


def test_stage_drops_contaminated_rows(eval_file):
    stage = Decontaminate(eval_path=str(eval_file))
    assert REGISTRY["decontaminate"] is Decontaminate
    result = stage(mrc(train_rows()))
    kept, rejected = result.kept.to_arrow(), result.rejected.to_arrow()
    assert kept.num_rows + rejected.num_rows == 6
    assert kept.column("id").to_pylist() == ["tr-en", "tr-clean", "tr-answers"]
    assert rejected.column("id").to_pylist() == ["tr-copy", "tr-edit", "tr-question"]
    assert set(rejected.column("reject_reason").to_pylist()) == {"contaminated"}
    assert result.stats.reasons == {"contaminated": 3}
    details = rejected.column("reject_detail").to_pylist()
    assert "context~ev-1 (minhash 1.00" in details[0]
    assert "context~ev-1 (minhash 0.8" in details[1]
    assert "question=ev-1 (exact)" in details[2]
    assert kept.column("contaminated").to_pylist() == [False] * 3
    assert kept.column("contamination").to_pylist() == [None] * 3
    assert rejected.column("contamination").to_pylist() == [
        d.removeprefix("overlaps the evaluation set: ") for d in details
    ]
    report = result.artifacts["contamination"]
    assert report.column_names == ["train_id", "eval_id", "field", "method", "overlap", "shared"]
    assert set(report.column("train_id").to_pylist()) == {"tr-copy", "tr-edit", "tr-question"}


def test_stage_flag_only(eval_file):
    result = Decontaminate(eval_path=str(eval_file), drop=False)(mrc(train_rows()))
    kept = result.kept.to_arrow()
    assert kept.num_rows == 6 and result.rejected.num_rows == 0
    assert kept.column("contaminated").to_pylist() == [True, True, False, True, False, False]
    assert result.stats.flags == {"contaminated": 3} and result.stats.rows_flagged == 3
    summaries = kept.column("contamination").to_pylist()
    assert summaries[0].startswith("context~ev-1 (minhash 1.00") and summaries[2] is None


def test_stage_reads_renamed_eval_columns_and_keeps_input_on_arrow(tmp_path):
    path = tmp_path / "eval.csv"
    io.write_table(pa.table({"qid": ["x1"], "passage": [SEJONG], "label": ["역사"]}), path)
    train = pa.table({"id": ["a", "b"], "text": [SEJONG_EDITED, JEJU], "label": ["역사", "지리"]})
    stage = Decontaminate(
        eval_path=str(path), eval_kind="classification", eval_columns={"qid": "id", "passage": "text"}
    )
    result = stage(train, kind="classification")
    assert isinstance(result.kept, pa.Table)
    assert result.rejected.column("id").to_pylist() == ["a"]
    report = result.artifacts["contamination"]
    assert set(report.column("eval_id").to_pylist()) == {"x1"}
    assert report.column("method").to_pylist() == ["minhash", "ngram_words", "ngram_chars"]


def test_stage_params_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="missing parameter 'eval_path'"):
        Decontaminate()
    with pytest.raises(ConfigError, match="unknown parameter 'ngrams'"):
        Decontaminate(eval_path="x", ngrams=3)
    with pytest.raises(ConfigError, match=r"bad value for parameter 'threshold' .*greater than 0.*: got 0"):
        Decontaminate(eval_path="x", threshold=0)
    with pytest.raises(ConfigError, match=r"bad value for parameter 'num_perm' .*greater than or equal to 2"):
        Decontaminate(eval_path="x", num_perm=1)
    with pytest.raises(ConfigError, match=r"bad combination of parameters .*bands x rows \(20 x 10\) exceeds num_perm"):
        Decontaminate(eval_path="x", bands=20, rows=10)
    with pytest.raises(ConfigError, match="evaluation set not found"):
        Decontaminate(eval_path=str(tmp_path / "nope.jsonl"))(mrc(train_rows()))


def test_stage_in_a_pipeline(tmp_path, eval_file):
    from curate.pipeline import run_pipeline

    source = tmp_path / "train.jsonl"
    io.write(mrc(train_rows()), source)
    config = {
        "name": "decon",
        "input": {"path": str(source)},
        "stages": [{"use": "decontaminate", "params": {"eval_path": str(eval_file), "ngram_words": None}}],
    }
    result = run_pipeline(config, output=tmp_path / "run")
    assert result.output.num_rows == 3
    assert (tmp_path / "run" / "01_decontaminate" / "contamination.parquet").exists()


# ----------------------------------------------------------------------------- command


def curate(*args):
    return subprocess.run([sys.executable, "-m", "curate", *map(str, args)], capture_output=True, text=True)


def test_cli_contamination(tmp_path, eval_file):
    train = tmp_path / "train.json"
    io.write(mrc(train_rows()), train)
    report, clean = tmp_path / "report.csv", tmp_path / "clean.jsonl"
    result = curate("contamination", train, eval_file, "--out", report, "--drop", clean)
    assert result.returncode == 0, result.stderr
    assert "3 of 6 training rows overlap" in result.stdout
    assert "minhash" in result.stdout and "exact" in result.stdout
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "train_id,eval_id,field,method,overlap,shared"
    assert lines[1].startswith("tr-copy,ev-1,context,minhash,1.0,")
    assert io.read(clean).table.column("id").to_pylist() == ["tr-en", "tr-clean", "tr-answers"]
    only_questions = curate("contamination", train, eval_file, "--field", "question", "--out", tmp_path / "q.jsonl")
    assert only_questions.returncode == 0 and "1 of 6 training rows" in only_questions.stdout


def test_cli_contamination_errors(tmp_path, eval_file):
    train = tmp_path / "train.jsonl"
    io.write(mrc(train_rows()), train)
    result = curate("contamination", train, eval_file, "--field", "passage")
    assert result.returncode == 2
    assert without_progress(result.stderr).strip().count("\n") == 0 and "field 'passage'" in result.stderr
    bad = curate("contamination", train, eval_file, "--threshold", "2")
    assert bad.returncode == 2 and bad.stderr.startswith("error: bad value for option '--threshold'")
    assert "less than 1" in bad.stderr and bad.stderr.strip().count("\n") == 0
