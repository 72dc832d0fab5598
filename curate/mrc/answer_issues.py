"""Answers that do not fit their question (pure functions over extractive-QA rows).

Three signals, each independent of the others:

``answer_type_mismatch``
    :func:`asked_type` reads what a question asks for from its question words (Korean and
    English rules): ``date`` (언제, 몇 년, 며칠, when, what year), ``number`` (몇, 얼마, how many,
    how much), ``person`` (누구, 누가, who), ``place`` (어디, where) or ``other``.
    :func:`answer_types` then learns, from the answer text alone (character n-gram TF-IDF and a
    logistic regression, out-of-fold probabilities over stratified folds; the text is prefixed
    with its :func:`rule_answer_type`), which type each answer
    looks like, using the asked type as a noisy label; cleanlab's ``find_label_issues`` names the
    rows whose answer does not look like what the question asks ("언제" answered by a name).
    Only rows with a typed question (not ``other``) take part. A type with fewer rows than folds
    cannot be learned: its rows fall back to :func:`rule_answer_type` (digits, dates, counters
    such as 년/월/일/명/개/원/km), which recognises dates and numbers only: persons and places
    cannot be told apart by rules without a named-entity model, so the fallback flags a row only
    when a date or number question has an answer that is no date/number, or a person/place
    question has an answer that is clearly a date or number.
``answer_disagreement``
    :func:`answers_disagree`: a row has several gold answers (annotators) and two of them share no
    span and no text (neither holds the other after folding).
``reader_disagreement``
    :func:`reader_disagrees`: a reader's predicted span, given with high confidence, matches none
    of the gold answers (after NFC, whitespace and case folding; one containing the other counts
    as a match).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

AnswerType = Literal["date", "number", "person", "place", "other"]
ANSWER_TYPES: tuple[AnswerType, ...] = get_args(AnswerType)
TYPED: tuple[AnswerType, ...] = ("date", "number", "person", "place")
"""The types a question can ask for that take part in the type check."""
RuleType = Literal["date", "number", "text"]
"""What rules can tell of an answer: a date, a number, or some other text (a name, a place, a
phrase: rules cannot tell which)."""


def fold(text: str | None) -> str:
    """NFC, case folded, whitespace runs to one space, trimmed."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


# --------------------------------------------------------------------------- what the question asks

_KO_DATE_AFTER_MYEOT = ("년", "월", "일", "시", "세기", "년도", "학년도")
_KO_DURATION = ("동안", "간", "만에", "째")
_KO_PLACE_AFTER_EONEU = ("나라", "도시", "지역", "곳", "대륙", "국가", "섬", "마을", "장소", "지방")
_KO_DATE_AFTER_EONEU = ("해", "년도", "연도", "시대", "세기", "요일", "날")
_EN_WH = frozenset(["what", "which", "who", "whom", "whose", "when", "where", "how"])
_EN_DATE_NOUNS = frozenset(["year", "years", "date", "day", "month", "century", "decade", "era", "time", "period"])
_EN_HOW_NUMBER = frozenset(["many", "much", "old", "long", "far", "often", "big", "large", "tall", "high"])
_EN_WORD = re.compile(r"[a-z]+")


def _korean_asked(eojeols: list[str]) -> AnswerType | None:
    for i, word in enumerate(eojeols):
        following = eojeols[i + 1] if i + 1 < len(eojeols) else ""
        if word.startswith(("언제", "며칠")) and not word.startswith(("언제나", "언제든")):
            if word.startswith("며칠") and (word.endswith(_KO_DURATION) or following.startswith(_KO_DURATION)):
                return "number"
            return "date"
        if word.startswith("몇") and not word.startswith("몇몇"):
            counter = word[1:] or following
            if counter.startswith(_KO_DATE_AFTER_MYEOT) and not (
                counter.endswith(_KO_DURATION) or following.startswith(_KO_DURATION)
            ):
                return "date"
            return "number"
        if word.startswith("얼마"):
            return "number"
        if word in ("누가", "누군가가") or (word.startswith("누구") and not word.startswith("누구나")):
            return "person"
        if word.startswith(("어디", "어딘")) and not word.startswith(("어디든", "어디나")):
            return "place"
        if word in ("어느", "어떤", "무슨") and following:
            if following.startswith(_KO_PLACE_AFTER_EONEU):
                return "place"
            if following.startswith(_KO_DATE_AFTER_EONEU):
                return "date"
    return None


def _english_asked(words: list[str]) -> AnswerType | None:
    for i, word in enumerate(words):
        if word not in _EN_WH:
            continue
        following = words[i + 1] if i + 1 < len(words) else ""
        if word == "when":
            return "date"
        if word in ("who", "whom", "whose"):
            return "person"
        if word == "where":
            return "place"
        if word == "how":
            return "number" if following in _EN_HOW_NUMBER else "other"
        if word in ("what", "which") and following in _EN_DATE_NOUNS:
            return "date"
        if word in ("what", "which") and following in ("percentage", "percent", "number", "amount"):
            return "number"
        return "other"
    return None


def asked_type(question: str | None) -> AnswerType:
    """What ``question`` asks for, from its first question word (see the module notes)."""
    text = unicodedata.normalize("NFC", question or "").casefold()
    found = _korean_asked(re.findall(r"[\w]+", text))
    if found is None:
        found = _english_asked(_EN_WORD.findall(text))
    return found or "other"


# --------------------------------------------------------------------------- what the answer looks like

_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_DATE = re.compile(
    r"\d+\s*(년|월|일|세기|년대|시\b|시\s*\d|분기)"
    r"|(초|중|후|말)(기|반|엽|순)$|시대|시절|요일|오전|오후|새벽|봄|여름|가을|겨울|[0-9]+\s*(bc|ad|bce|ce)\b"
    r"|\b(1[0-9]{3}|20[0-9]{2})s?\b"
    rf"|\b({_MONTHS.replace(' ', '|')})\b"
    r"|\b(century|centuries|monday|tuesday|wednesday|thursday|friday|saturday|sunday|spring|summer|autumn|winter)\b"
    r"|\d{1,4}[./-]\d{1,2}([./-]\d{1,4})?",
    re.IGNORECASE,
)
_KO_NUMERALS = [
    "한",
    "두",
    "세",
    "네",
    "다섯",
    "여섯",
    "일곱",
    "여덟",
    "아홉",
    "열",
    "스무",
    "스물",
    "서른",
    "마흔",
    "쉰",
    "예순",
    "일흔",
    "여든",
    "아흔",
    "백",
    "천",
    "만",
    "억",
    "조",
    "하루",
    "이틀",
    "사흘",
    "나흘",
    "닷새",
    "엿새",
    "이레",
    "여드레",
    "아흐레",
    "열흘",
    "절반",
    "반",
]
_COUNTERS = [
    "명",
    "개",
    "원",
    "달러",
    "km",
    "킬로미터",
    "미터",
    "m",
    "cm",
    "mm",
    "kg",
    "킬로그램",
    "그램",
    "g",
    "톤",
    "리터",
    "l",
    "%",
    "퍼센트",
    "배",
    "곳",
    "기",
    "살",
    "세",
    "권",
    "대",
    "채",
    "척",
    "마리",
    "번",
    "회",
    "차",
    "등",
    "위",
    "점",
    "편",
    "장",
    "호",
    "층",
    "종",
    "가지",
    "부",
    "개국",
    "시간",
    "분",
    "초",
    "주",
    "개월",
    "년간",
    "일간",
    "달",
]
_NUMERALS = "|".join(sorted(_KO_NUMERALS, key=len, reverse=True))
_UNITS = "|".join(sorted(_COUNTERS, key=len, reverse=True))
_NUMBER = re.compile(
    r"\d"
    rf"|^({_NUMERALS})+\s*({_UNITS})"
    rf"|^({_NUMERALS})+\s*(쯤|가량|정도|여|남짓)?$"
    r"|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen"
    r"|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand"
    r"|million|billion|trillion|dozen|half|third|quarter|percent)\b",
    re.IGNORECASE,
)


def rule_answer_type(answer: str | None) -> RuleType:
    """``date`` when ``answer`` reads like a date or period (digits with 년/월/일, a year, a month
    name, 세기, 후기, 여름 ...), ``number`` when it holds a number (digits, Korean numerals with a
    counter such as 명/개/원/km, English number words), else ``text``."""
    text = fold(answer)
    if not text:
        return "text"
    if _DATE.search(text):
        return "date"
    if _NUMBER.search(text):
        return "number"
    return "text"


def rule_mismatch(asked: AnswerType, rule: RuleType) -> bool:
    """Whether rules alone can tell that an answer of ``rule`` type does not answer a question
    asking for ``asked`` (a number question may be answered by a date-like text, 몇 년)."""
    if asked == "date":
        return rule != "date"
    if asked == "number":
        return rule == "text"
    if asked in ("person", "place"):
        return rule in ("date", "number")
    return False


# --------------------------------------------------------------------------- learned answer types


@dataclass
class AnswerTypes:
    """Result of :func:`answer_types`, one entry per row (None for rows that do not take part).

    ``answer_type`` is the type the answer looks like (classifier: the most probable type; rules:
    :func:`rule_answer_type`, ``text`` when rules cannot tell); ``quality`` the out-of-fold
    probability of the asked type (cleanlab's self-confidence; None for rule rows); ``mismatch``
    the flag; ``method`` ``classifier`` or ``rules``. ``note`` says which types fell back to rules
    and why."""

    asked: list[AnswerType]
    answer_type: list[str | None]
    quality: list[float | None]
    mismatch: list[bool]
    method: list[str | None]
    note: str


def answer_types(
    questions: Sequence[str | None],
    answers: Sequence[str | None],
    *,
    folds: int = 5,
    seed: int = 0,
) -> AnswerTypes:
    """Learn answer types from the answers and flag answers whose type disagrees with the question.

    Args:
        questions: the question of each row.
        answers: the (first) answer text of each row; None or blank for unanswerable rows, which
            do not take part.
        folds: folds of the stratified cross-validation; a type needs at least this many rows.
    """
    n = len(questions)
    if len(answers) != n:
        raise ValueError(f"need one answer per question, got {n} questions and {len(answers)} answers")
    asked = [asked_type(q) for q in questions]
    answer_type: list[str | None] = [None] * n
    quality: list[float | None] = [None] * n
    mismatch = [False] * n
    method: list[str | None] = [None] * n
    rows = [i for i in range(n) if asked[i] != "other" and fold(answers[i])]
    counts = Counter(asked[i] for i in rows)
    learned = sorted(t for t, c in counts.items() if c >= folds)
    if len(learned) < 2:
        learned = []
    small = sorted(t for t in counts if t not in learned)
    if learned:
        model_rows = [i for i in rows if asked[i] in learned]
        probs = _out_of_fold(
            [f"<{rule_answer_type(answers[i])}> {fold(answers[i])}" for i in model_rows],
            [learned.index(asked[i]) for i in model_rows],
            folds,
            seed,
        )
        labels = np.array([learned.index(asked[i]) for i in model_rows])
        from cleanlab.filter import find_label_issues

        issues = find_label_issues(labels, probs, n_jobs=1)
        for j, i in enumerate(model_rows):
            answer_type[i] = learned[int(probs[j].argmax())]
            quality[i] = float(probs[j, labels[j]])
            mismatch[i] = bool(issues[j])
            method[i] = "classifier"
    for i in rows:
        if asked[i] in small:
            rule = rule_answer_type(answers[i])
            answer_type[i], mismatch[i], method[i] = rule, rule_mismatch(asked[i], rule), "rules"
    if not rows:
        note = "no row with a typed question and an answer"
    elif not learned:
        note = f"rules only: fewer than 2 types with at least {folds} rows ({_counts(counts)})"
    elif small:
        note = f"classifier on {', '.join(learned)}; rules for {', '.join(small)} (fewer than {folds} rows)"
    else:
        note = f"classifier on {', '.join(learned)} ({_counts(counts)})"
    return AnswerTypes(asked, answer_type, quality, mismatch, method, note)


def _counts(counts: Counter[AnswerType]) -> str:
    return ", ".join(f"{t}={c}" for t, c in sorted(counts.items()))


def _out_of_fold(texts: list[str], labels: list[int], folds: int, seed: int) -> np.ndarray:
    """Out-of-fold class probabilities of a character n-gram TF-IDF + logistic regression model."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline

    y = np.asarray(labels)
    classes = int(y.max()) + 1
    probs = np.zeros((len(texts), classes))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(y)), y):
        model = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
            LogisticRegression(max_iter=1000, class_weight="balanced"),
        )
        model.fit([texts[i] for i in train], y[train])
        fitted = model.predict_proba([texts[i] for i in test])
        probs[np.ix_(test, model.classes_)] = fitted
    return probs


# --------------------------------------------------------------------------- several answers, readers


def _agree(a: tuple[str, int | None], b: tuple[str, int | None]) -> bool:
    """Two answers agree when their spans overlap or one folded text holds the other."""
    (text_a, start_a), (text_b, start_b) = a, b
    fa, fb = fold(text_a), fold(text_b)
    if fa and fb and (fa in fb or fb in fa):
        return True
    if start_a is None or start_b is None:
        return False
    return start_a < start_b + len(text_b) and start_b < start_a + len(text_a)


def answer_agreement(answers: Sequence[dict[str, Any]] | None) -> float | None:
    """Share of answer pairs that agree (overlapping spans or one text holding the other); None
    with fewer than two non-blank answers."""
    spans = [(a.get("text") or "", a.get("answer_start")) for a in answers or [] if fold(a.get("text"))]
    pairs = [(spans[i], spans[j]) for i in range(len(spans)) for j in range(i + 1, len(spans))]
    if not pairs:
        return None
    return sum(_agree(a, b) for a, b in pairs) / len(pairs)


def answers_disagree(answers: Sequence[dict[str, Any]] | None) -> bool:
    """Whether two of the answers share no span and no text (see :func:`answer_agreement`)."""
    agreement = answer_agreement(answers)
    return agreement is not None and agreement < 1.0


def reader_matches(prediction: str | None, gold: Sequence[str | None]) -> bool:
    """Whether a predicted span matches one of the gold answers (folded equal, or one holds the
    other). An empty prediction (the reader finds no answer) matches only an empty gold list."""
    predicted = fold(prediction)
    golds = [g for g in (fold(x) for x in gold) if g]
    if not predicted:
        return not golds
    return any(predicted in g or g in predicted for g in golds)


def reader_disagrees(
    prediction: str | None, confidence: float | None, gold: Sequence[str | None], minimum: float
) -> bool:
    """A confident (``confidence >= minimum``) prediction that matches none of the gold answers."""
    if confidence is None or confidence < minimum:
        return False
    return not reader_matches(prediction, gold)
