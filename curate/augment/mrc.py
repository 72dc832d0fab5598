"""Answer-preserving perturbation of extractive-QA contexts, and SQuAD 2.0-style unanswerable rows.

Both perturbations work on *blocks*: the sentences of the context (:func:`sentence_spans`), where
sentences that one answer or plausible answer touches across their boundary are one block, so no
answer is ever cut. A new context is built by concatenation, tracking where every original block
lands; each answer moves with its block and is checked again
(``context[answer_start:answer_start + len(text)] == text``); a perturbation that fails the check
is dropped.

- ``distractor``: insert 1..``max_distractors`` sentences taken from *other* contexts of the dataset
  (a :class:`SentencePool`) that contain none of the row's answer or plausible-answer texts (also
  not after NFC, whitespace and case folding) and are not in the row's context. They go at block
  boundaries that touch no answer block; when every boundary touches one (a context of one or two
  sentences), at any boundary.
- ``shuffle``: reorder the blocks (never the identity order); the sentences holding an answer keep
  their content and move as a whole. The whitespace between blocks stays in place.

Unanswerable questions (``is_impossible``) are perturbed the same way, their plausible answers
moved like answers. :func:`unanswerable_rows` pairs answerable questions with passages that do not
contain their answers (from a negative miner) to make ``is_impossible`` rows.

Everything is deterministic: each variant draws from ``random.Random`` seeded with the seed, the
row id, the method and the variant number, never from global state.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal, get_args

from curate.augment.sentences import core, sentence_spans
from curate.retrieval.chunk import answer_spans, contains_answer, text_key

Perturbation = Literal["distractor", "shuffle"]
PERTURBATIONS: tuple[Perturbation, ...] = get_args(Perturbation)
Method = Literal["distractor", "shuffle", "unanswerable"]
METHODS: tuple[Method, ...] = get_args(Method)

MIN_DISTRACTOR_CHARS = 10
"""Shortest sentence used as a distractor (shorter ones are mostly fragments and headings)."""
_DRAWS_PER_SENTENCE = 20  # pool draws tried for each distractor sentence
_ATTEMPTS_PER_VARIANT = 5  # fresh draws tried for a variant equal to the original or an earlier one

Answer = dict[str, Any]


@dataclass(frozen=True)
class Blocks:
    """A context cut into blocks: ``spans[i]`` is block i without surrounding whitespace,
    ``answer[i]`` whether it holds an answer or plausible answer. ``leading`` and ``trailing`` are
    the whitespace before the first and after the last block, ``gaps[i]`` the text between blocks i
    and i + 1 (whitespace)."""

    spans: list[tuple[int, int]]
    answer: list[bool]
    leading: str
    trailing: str
    gaps: list[str]


def context_blocks(context: str, spans: Sequence[tuple[int, int]]) -> Blocks | None:
    """Blocks of ``context`` such that every span in ``spans`` lies inside one block; None when a
    span reaches into the whitespace before the first or after the last sentence."""
    cores = [c for s, e in sentence_spans(context) if (c := core(context, s, e))[0] < c[1]]
    if not cores:
        return None
    n = len(cores)
    joined = [False] * n  # joined[i]: sentence i and i + 1 are one block
    marked = [False] * n
    for start, end in spans:
        if start < cores[0][0] or end > cores[-1][1]:
            return None
        # sentence i owns [cores[i].start, cores[i + 1].start): its text and the gap after it
        lo = max(i for i in range(n) if cores[i][0] <= start)
        hi = max(i for i in range(n) if cores[i][0] < end)
        if start >= cores[lo][1] or end > cores[hi][1]:  # a gap is part of the span: keep it inside
            hi = max(hi, lo + 1) if end <= cores[hi][1] else hi + 1
        for i in range(lo, hi + 1):
            marked[i] = True
        for i in range(lo, hi):
            joined[i] = True
    merged: list[tuple[int, int]] = []
    answer: list[bool] = []
    for i in range(n):
        if i > 0 and joined[i - 1]:
            merged[-1] = (merged[-1][0], cores[i][1])
            answer[-1] = answer[-1] or marked[i]
        else:
            merged.append(cores[i])
            answer.append(marked[i])
    gaps = [context[merged[i][1] : merged[i + 1][0]] for i in range(len(merged) - 1)]
    return Blocks(merged, answer, context[: merged[0][0]], context[merged[-1][1] :], gaps)


def _rebuild(
    context: str, blocks: Blocks, items: Sequence[int | str], seps: Sequence[str]
) -> tuple[str, dict[int, int]]:
    """Concatenate ``items`` (a block index, or an inserted sentence) with ``seps`` between them;
    return the new context and the new start of every original block."""
    out = [blocks.leading]
    pos = len(blocks.leading)
    moved: dict[int, int] = {}
    for k, item in enumerate(items):
        if k:
            out.append(seps[k - 1])
            pos += len(seps[k - 1])
        if isinstance(item, int):
            start, end = blocks.spans[item]
            moved[item] = pos
            piece = context[start:end]
        else:
            piece = item
        out.append(piece)
        pos += len(piece)
    out.append(blocks.trailing)
    return "".join(out), moved


def _move(
    spans: list[Answer] | None, blocks: Blocks, moved: Mapping[int, int], new_context: str
) -> tuple[list[Answer] | None, bool]:
    """Answers moved with their blocks, and whether every one reads exactly on ``new_context``."""
    if spans is None:
        return None, True
    out = []
    for answer in spans:
        start = answer["answer_start"]
        block = next(i for i, (s, e) in enumerate(blocks.spans) if s <= start < e)
        new_start = moved[block] + start - blocks.spans[block][0]
        if new_context[new_start : new_start + len(answer["text"])] != answer["text"]:
            return None, False
        out.append({"text": answer["text"], "answer_start": new_start})
    return out, True


@dataclass(frozen=True)
class Perturbed:
    """A perturbed context with its answers and plausible answers moved (exact spans)."""

    context: str
    answers: list[Answer]
    plausible_answers: list[Answer] | None


class SentencePool:
    """Sentences of many contexts, to draw distractors from. Sentences shorter than
    :data:`MIN_DISTRACTOR_CHARS` are left out; each distinct sentence is kept once, with the first
    context it came from and that context's document (article id or title), so that a row never
    gets a distractor from its own article, where a sentence is likely to state a competing fact."""

    def __init__(self) -> None:
        self.sentences: list[str] = []
        self.origins: list[tuple[str, str | None]] = []  # (context key, document) of each sentence
        self._seen: set[str] = set()

    @classmethod
    def from_contexts(
        cls, contexts: Iterable[str | None], documents: Iterable[str | None] | None = None
    ) -> SentencePool:
        """Pool of ``contexts``; ``documents`` gives the article (id or title) of each, when known."""
        pool = cls()
        for context, document in zip(contexts, documents if documents is not None else repeat(None), strict=False):
            pool.add(context, document)
        return pool

    def add(self, context: str | None, document: str | None = None) -> None:
        """Add the sentences of one context (sentences seen before add nothing new)."""
        if not context:
            return
        key = text_key(context)
        for start, end in sentence_spans(context):
            s, e = core(context, start, end)
            sentence = context[s:e]
            if len(sentence) >= MIN_DISTRACTOR_CHARS and sentence not in self._seen:
                self._seen.add(sentence)
                self.sentences.append(sentence)
                self.origins.append((key, document))

    def __len__(self) -> int:
        return len(self.sentences)

    def draw(
        self, rng: random.Random, count: int, context: str, avoid: Sequence[str], document: str | None = None
    ) -> list[str]:
        """Up to ``count`` distinct sentences from other contexts (and other documents than
        ``document``) that are not in ``context`` and contain none of the texts in ``avoid``."""
        if not self.sentences:
            return []
        own = text_key(context)
        found: list[str] = []
        for _ in range(count * _DRAWS_PER_SENTENCE):
            if len(found) == count:
                break
            i = rng.randrange(len(self.sentences))
            sentence = self.sentences[i]
            key, origin = self.origins[i]
            if key == own or (document is not None and origin == document) or sentence in found:
                continue
            if sentence in context:
                continue
            if any(contains_answer(sentence, text) for text in avoid):
                continue
            found.append(sentence)
        return found


def _answer_texts(answers: Sequence[Answer] | None, plausible: Sequence[Answer] | None) -> list[str]:
    return [a["text"] for a in [*(answers or []), *(plausible or [])] if a["text"]]


def perturb(
    context: str,
    answers: list[Answer],
    plausible_answers: list[Answer] | None,
    method: Perturbation,
    rng: random.Random,
    *,
    pool: SentencePool | None = None,
    max_distractors: int = 2,
    document: str | None = None,
) -> Perturbed | None:
    """One perturbation of ``context`` with its answers moved; None when the method cannot change
    this context (one block to shuffle, no distractor found) or an answer would not read exactly.
    ``document`` (article id or title) keeps distractors from the row's own article."""
    all_answers = [*answers, *(plausible_answers or [])]
    spans = [(a["answer_start"], a["answer_start"] + len(a["text"])) for a in all_answers]
    blocks = context_blocks(context, spans)
    if blocks is None:
        return None
    count = len(blocks.spans)
    if method == "shuffle":
        if count < 2:
            return None
        order = list(range(count))
        while order == sorted(order):
            rng.shuffle(order)
        items: list[int | str] = list(order)
        seps = blocks.gaps
    elif method == "distractor":
        if pool is None or max_distractors < 1:
            return None
        avoid = _answer_texts(answers, plausible_answers)
        drawn = pool.draw(rng, rng.randint(1, max_distractors), context, avoid, document)
        if not drawn:
            return None
        slots = [k for k in range(count + 1) if not any(blocks.answer[i] for i in (k - 1, k) if 0 <= i < count)]
        placed = sorted((rng.choice(slots or list(range(count + 1))), j) for j in range(len(drawn)))
        items, seps = _interleave(blocks, drawn, placed)
    else:
        raise ValueError(f"unknown perturbation {method!r}: choose from {list(PERTURBATIONS)}")
    new_context, moved = _rebuild(context, blocks, items, seps)
    new_answers, ok = _move(answers, blocks, moved, new_context)
    new_plausible, ok_plausible = _move(plausible_answers, blocks, moved, new_context)
    if not (ok and ok_plausible) or new_context == context:
        return None
    return Perturbed(new_context, new_answers or [], new_plausible)


def _interleave(
    blocks: Blocks, drawn: Sequence[str], placed: Sequence[tuple[int, int]]
) -> tuple[list[int | str], list[str]]:
    """Blocks in order with ``drawn[j]`` inserted before block ``slot`` for each ``(slot, j)`` in
    ``placed`` (slot = number of blocks: at the end), and the separators between the items: the
    original gap between two blocks, or the gap at the insertion point (the first gap, or a space,
    at either end of the context)."""
    count = len(blocks.spans)
    default = blocks.gaps[0] if blocks.gaps else " "
    slot_gap = [default, *blocks.gaps, default]  # slot_gap[k]: separator at slot k
    items: list[int | str] = []
    slots: list[int | None] = []  # the slot of an inserted sentence, None for a block
    for slot in range(count + 1):
        for k, j in placed:
            if k == slot:
                items.append(drawn[j])
                slots.append(slot)
        if slot < count:
            items.append(slot)
            slots.append(None)
    seps: list[str] = []
    for k in range(len(items) - 1):
        here, after = items[k], items[k + 1]
        if isinstance(here, int) and isinstance(after, int):
            seps.append(blocks.gaps[here])
        else:
            at = slots[k] if slots[k] is not None else slots[k + 1]
            seps.append(slot_gap[at or 0])
    return items, seps


def _rng(seed: int, row_id: Any, method: str, variant: int, attempt: int) -> random.Random:
    return random.Random(f"{seed}|{row_id}|{method}|{variant}|{attempt}")


def augment_question(
    row: Mapping[str, Any],
    method: Perturbation,
    *,
    copies: int = 1,
    seed: int = 0,
    pool: SentencePool | None = None,
    max_distractors: int = 2,
) -> list[dict[str, Any]]:
    """Up to ``copies`` perturbed copies of one MRC row, all different from each other and from
    the original context; ``[]`` when the row's spans are not exact. Distractors never come from
    the row's article (``document_id``, else ``title``; build the pool with the same keys).

    New rows keep every column of ``row`` except ``id`` (``<id>#aug-<method>-<n>``, n from 0),
    ``context``, ``answers``, ``plausible_answers``, ``passage_id`` (``<passage_id or context
    hash>#<new id>``) and ``source`` (``augment:<method>``).
    """
    context = row.get("context")
    if not context:
        return []
    _, problem = answer_spans(context, row)
    if problem is not None:
        return []
    answers, plausible = list(row.get("answers") or []), row.get("plausible_answers")
    document = row.get("document_id") or row.get("title")
    seen = {context}
    out: list[dict[str, Any]] = []
    for variant in range(copies):
        for attempt in range(_ATTEMPTS_PER_VARIANT):
            rng = _rng(seed, row.get("id"), method, variant, attempt)
            made = perturb(
                context, answers, plausible, method, rng, pool=pool, max_distractors=max_distractors, document=document
            )
            if made is not None and made.context not in seen:
                seen.add(made.context)
                new_id = f"{row.get('id')}#aug-{method}-{len(out)}"
                out.append(
                    {
                        **row,
                        "id": new_id,
                        "context": made.context,
                        "answers": made.answers,
                        "plausible_answers": made.plausible_answers,
                        "passage_id": f"{row.get('passage_id') or text_key(context)}#{new_id}",
                        "source": f"augment:{method}",
                    }
                )
                break
    return out


Negative = tuple[str, str | None, str]
"""``(passage_id, title, text)`` of a passage to pair a question with."""


def unanswerable_rows(
    rows: Iterable[Mapping[str, Any]], negatives: Mapping[str, Sequence[Negative]], per_question: int = 1
) -> Iterator[dict[str, Any]]:
    """SQuAD 2.0-style unanswerable rows: each answerable question of ``rows`` (a non-blank answer
    given, ``is_impossible`` not true) paired with up to ``per_question`` of its ``negatives`` (by question
    id, best first).

    A negative is skipped when it is empty, is the question's own context, or its title or text
    contains an answer or plausible answer of the question (:func:`contains_answer`: exact, or
    after NFC, whitespace and case folding). Rows keep the question's other columns and get ``id``
    ``<id>#aug-unanswerable-<n>``, the negative's ``passage_id``, ``title`` and text as ``context``,
    ``document_id`` None, ``is_impossible`` True, ``answers`` and ``plausible_answers`` empty and
    ``source`` ``augment:unanswerable``.
    """
    for row in rows:
        answers = row.get("answers") or []
        if row.get("is_impossible") or not answers:
            continue
        texts = _answer_texts(answers, row.get("plausible_answers"))
        if not any(t.strip() for t in texts):
            continue  # nothing to check a negative against
        made = 0
        for passage_id, title, text in negatives.get(str(row.get("id")), ()):
            if made >= per_question:
                break
            if not text or not text.strip() or text == row.get("context"):
                continue
            if any(contains_answer(text, a) or (title and contains_answer(title, a)) for a in texts):
                continue
            yield {
                **row,
                "id": f"{row.get('id')}#aug-unanswerable-{made}",
                "title": title,
                "context": text,
                "answers": [],
                "is_impossible": True,
                "plausible_answers": [],
                "document_id": None,
                "passage_id": passage_id,
                "source": "augment:unanswerable",
            }
            made += 1
