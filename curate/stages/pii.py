"""``pii``: find personal information (emails, phone numbers, resident registration numbers, card
numbers, IP addresses, business registration numbers, passport, driver's licence and bank account
numbers) in text fields; redact it, reject the rows, or only flag them. The rules of each kind are
in :mod:`curate.text.pii`.

Every row gets two score columns, computed on the text as it came in: ``pii_count`` (int32, PII
found over all fields) and ``pii_kinds`` (list<string>, the distinct kinds found, sorted). With
``action: reject`` rows with PII are rejected (reason ``pii``); with ``flag`` nothing is
rejected and the stats count the flagged rows per kind; with ``redact`` (default) each value is
replaced in place (see :func:`curate.text.pii.redact`) and the stats count the rewritten rows per
kind redacted (``rewrites``).

On MRC data the redaction of ``context`` moves ``answers`` and ``plausible_answers`` through the
offset map. An answer that overlaps PII cannot survive the edit (and redacting the answer text on
its own would not be the same edit: PII is found in context), so its row is rejected with reason
``pii_in_answer``; every other answer keeps its exact text. Rejected rows keep their original
columns, PII included, as every stage's rejected rows do: treat the rejected output as sensitive.
Details never quote a PII value: they show all but its last two characters masked.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator

from curate.dataset import Dataset
from curate.errors import ConfigError, Where
from curate.mrc.edits import move_answers
from curate.stages.base import ColumnType, Split, check_distinct, names_in, reject
from curate.stages.fields import text_fields
from curate.stages.scoring import ScoreParams, ScoreStage, Verdict, set_columns
from curate.text.pii import (
    DEFAULT_KINDS,
    PII_KINDS,
    PiiFinder,
    PiiSpan,
    Redaction,
    check_kinds,
    check_tags,
    excerpt,
    redact_all,
)

COUNT_COLUMN = "pii_count"
KINDS_COLUMN = "pii_kinds"
_MAX_DETAIL_ITEMS = 3


def _default_kinds() -> list[str]:
    return list(DEFAULT_KINDS)


class PiiParams(ScoreParams):
    fields: list[str] | None = None
    """Columns to scan (string or list<string>); default: the kind's text fields. On MRC data a
    redacted ``context`` moves ``answers`` and ``plausible_answers`` with it."""
    kinds: list[str] = Field(default_factory=_default_kinds)
    """PII kinds to find: ``email``, ``phone``, ``rrn`` (resident registration number), ``card``,
    ``ip``, ``brn`` (business registration number), ``passport``, ``driver_license``,
    ``bank_account`` (default: all of them)."""
    action: Literal["redact", "reject", "flag"] = "redact"
    """``redact``: replace PII in place (rows whose MRC answer overlaps PII are rejected,
    ``pii_in_answer``); ``reject``: reject rows with PII (``pii``); ``flag``: only add the score
    columns. ``filter: false`` is the same as ``flag``."""
    style: Literal["tag", "mask", "remove"] = "tag"
    """How ``redact`` replaces a value: ``tag`` (``[EMAIL]``, ``[PHONE]``, ``[RRN]``, ``[CARD]``,
    ``[IP]``, ``[BRN]``, ``[PASSPORT]``, ``[DRIVER_LICENSE]``, ``[BANK_ACCOUNT]``), ``mask``
    (letters and digits become ``*``, separators stay, the length is kept) or ``remove``."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Replacement per kind for ``style: tag``, overriding the defaults, e.g. ``{phone: "<전화>"}``."""
    rrn_checksum: bool = True
    """Require the check digit of resident registration numbers. Numbers issued since October 2020
    end in a random digit instead, so false finds them too, at the cost of more false positives
    on unrelated 13-digit numbers."""

    @model_validator(mode="before")
    @classmethod
    def _filter_is_action(cls, data: Any) -> Any:
        """Keep the inherited ``filter`` switch in step with ``action``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        action, given = data.get("action", "redact"), data.get("filter")
        if given is False:
            if "action" in data and action != "flag":
                raise ValueError(f"filter: false means action: flag, but action is {action!r}")
            data["action"] = action = "flag"
        elif given is True and action == "flag":
            raise ValueError("filter: true contradicts action: flag")
        data["filter"] = action != "flag"
        return data

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            check_distinct(value, "fields", if_empty="leave it out for the kind's text fields")
        return value

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        check_distinct(value, "kinds", if_empty=f"choose from {', '.join(PII_KINDS)}")
        check_kinds(value)
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        check_tags(value)
        return value

    @model_validator(mode="after")
    def _tags_need_tag_style(self) -> PiiParams:
        if self.tags and self.style != "tag":
            raise ValueError(f"tags apply only to style 'tag': style is {self.style!r}")
        return self


class Pii(ScoreStage):
    """Find PII in text fields; add ``pii_count`` and ``pii_kinds``; redact, reject or flag.

    Reasons: ``pii`` (``action: reject``; also a redacted value in which PII is still found, which
    only a pathological text can cause), ``pii_in_answer`` (an MRC answer overlaps PII of its
    context), ``span_mismatch`` (an MRC answer whose context has PII does not match its own span,
    so it cannot be moved; ``validate_spans`` first avoids it) and ``answer_lost`` (an answer that
    did not survive the move).
    """

    name = "pii"
    role = "rewrite"  # action: reject rejects instead, action: flag only flags
    Params = PiiParams
    params: PiiParams
    adds = {COUNT_COLUMN: pa.int32(), KINDS_COLUMN: pa.list_(pa.string())}
    description = (
        "find emails, phone, resident registration, card, business registration, passport, driver's licence and"
        " bank account numbers, IPs; redact or reject"
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._forget()

    @cached_property
    def _finder(self) -> PiiFinder:
        return PiiFinder(self.params.kinds, rrn_checksum=self.params.rrn_checksum)

    def _forget(self) -> None:
        """Drop the memo of spans and redactions (it lives for one batch)."""
        self._spans: dict[str, list[PiiSpan]] = {}
        self._redactions: dict[str, Redaction] = {}

    def check_input(self, dataset: Dataset) -> None:
        fields = text_fields(dataset.kind, self.params.fields)
        if not fields:
            raise ConfigError(
                f"kind '{dataset.kind}' has no text fields",
                where=Where(stage=self.id),
                hint="name the columns to scan in 'fields'",
            )
        super().check_input(dataset)

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(text_fields(kind, self.params.fields), "text")

    # ----------------------------------------------------------------- detection (memoized per batch)
    def find(self, text: str | None) -> list[PiiSpan]:
        """PII in ``text`` (each distinct text is scanned once per batch)."""
        if not text:
            return []
        found = self._spans.get(text)
        if found is None:
            found = self._spans[text] = self._finder(text)
        return found

    def _redaction(self, text: str) -> Redaction:
        done = self._redactions.get(text)
        if done is None:
            done = self._redactions[text] = redact_all(
                text, self.find, self.params.style, tags=self.params.tags or None
            )
        return done

    def _hits(self, batch: pa.Table, fields: list[str]) -> list[list[tuple[str, PiiSpan]] | None]:
        """Per row: ``(field, span)`` for every PII found, fields in order (list items as
        ``field[i]``), or None when there is none."""
        hits: list[list[tuple[str, PiiSpan]] | None] = [None] * batch.num_rows
        find = self.find
        for name in fields:
            for row, value in enumerate(batch.column(name).to_pylist()):
                if not value:
                    continue
                if isinstance(value, list):
                    found = [(f"{name}[{i}]", span) for i, item in enumerate(value) for span in find(item)]
                else:
                    found = [(name, span) for span in find(value)]
                if found:
                    hits[row] = (hits[row] or []) + found
        return hits

    # ----------------------------------------------------------------- ScoreStage
    def score_columns(self, kind: str) -> dict[str, pa.DataType]:
        return dict(self.adds)

    def score(self, batch: pa.Table, kind: str) -> dict[str, pa.Array]:
        return _scores(self._hits(batch, text_fields(kind, self.params.fields)))

    def verdicts(self, scored: pa.Table, kind: str) -> list[Verdict | None]:
        counts = scored.column(COUNT_COLUMN).to_pylist()
        flagged = [i for i, n in enumerate(counts) if n]
        out: list[Verdict | None] = [None] * scored.num_rows
        if not flagged:
            return out
        hits = self._hits(scored.take(flagged), text_fields(kind, self.params.fields))
        found_kinds = scored.column(KINDS_COLUMN).take(flagged).to_pylist()
        for row, row_hits, kinds in zip(flagged, hits, found_kinds, strict=True):
            if row_hits:
                detail = _describe(row_hits)
            else:  # reused scores of a text that has changed since
                detail = f"{COUNT_COLUMN}={counts[row]}, {KINDS_COLUMN}={','.join(kinds or [])}"
            out[row] = Verdict("pii", detail)
        return out

    def flagged(self, kept: pa.Table, kind: str) -> list[list[str]]:
        """``action: flag``: each kept row is flagged with the kinds of PII found in it."""
        return names_in(kept, KINDS_COLUMN)

    def process(self, batch: pa.Table, kind: str) -> Split:
        self._forget()
        try:
            if self.params.action != "redact":
                return super().process(batch, kind)
            return self._redact(batch, kind)
        finally:
            self._forget()

    # ----------------------------------------------------------------- redaction
    def _redact(self, batch: pa.Table, kind: str) -> Split:
        fields = text_fields(kind, self.params.fields)
        hits = self._hits(batch, fields)
        present = all(name in batch.column_names for name in self.score_columns(kind))
        table = batch if present and self.params.reuse_scores else set_columns(batch, _scores(hits))
        n = table.num_rows
        keep = [True] * n
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        todo = [row for row, found in enumerate(hits) if found]
        if not todo:
            return reject(table, keep, stage=self.id, reasons=reasons, details=details)
        mrc = kind == "mrc" and "context" in fields
        edited = [*fields, "answers", "plausible_answers"] if mrc else fields
        old = {name: table.column(name).to_pylist() for name in edited}
        new = {name: list(values) for name, values in old.items()}
        changed: set[str] = set()
        redacted: list[list[str]] = []  # per rewritten row, the kinds of PII redacted in it
        for row in todo:
            updates: dict[str, Any] = {}
            problem: tuple[str, str] | None = None
            for name in fields:
                value = old[name][row]
                if not value:
                    continue
                items: list[str | None] = value if isinstance(value, list) else [value]
                if not any(self.find(item) for item in items):
                    continue
                dones = [self._redaction(item) if item else None for item in items]
                if any(done is not None and not done.clean for done in dones):
                    problem = ("pii", f"PII still found in {name} after redaction")
                elif mrc and name == "context":
                    done = dones[0]
                    assert done is not None
                    moved, problem = _move(done, value, old["answers"][row], old["plausible_answers"][row])
                    updates.update(context=done.text, answers=moved[0], plausible_answers=moved[1])
                else:
                    texts = [item if done is None else done.text for item, done in zip(items, dones, strict=True)]
                    updates[name] = texts if isinstance(value, list) else texts[0]
                if problem is not None:
                    break
            if problem is not None:
                keep[row], (reasons[row], details[row]) = False, problem
                continue
            rewrote = [name for name, value in updates.items() if value != old[name][row]]
            for name in rewrote:
                new[name][row] = updates[name]
                changed.add(name)
            if rewrote:
                redacted.append(sorted({span.kind for _, span in hits[row] or []}))
        for name in edited:
            if name in changed:
                column = table.column(name)
                table = table.set_column(table.column_names.index(name), name, pa.array(new[name], column.type))
        return reject(table, keep, stage=self.id, reasons=reasons, details=details).marked(rewrites=redacted)


def _scores(hits: list[list[tuple[str, PiiSpan]] | None]) -> dict[str, pa.Array]:
    return {
        COUNT_COLUMN: pa.array([len(h) if h else 0 for h in hits], pa.int32()),
        KINDS_COLUMN: pa.array(
            [sorted({span.kind for _, span in h}) if h else [] for h in hits], pa.list_(pa.string())
        ),
    }


def _move(
    done: Redaction,
    context: str,
    answers: list[dict[str, Any]] | None,
    plausible: list[dict[str, Any]] | None,
) -> tuple[tuple[Any, Any], tuple[str, str] | None]:
    """Answers and plausible answers moved through every redaction pass of ``context``, or
    ``(reason, detail)`` when they cannot be."""
    lists: dict[str, list[dict[str, Any]] | None] = {"answers": answers, "plausible_answers": plausible}
    for label, items in lists.items():
        for i, answer in enumerate(items or []):
            start, text = answer["answer_start"], answer["text"]
            if start is None or text is None or start < 0 or context[start : start + len(text)] != text:
                detail = f"{label}[{i}] does not match its span at {start}, so it cannot move with the redaction"
                return (answers, plausible), ("span_mismatch", detail + " (run validate_spans first)")
    for step in done.passes:
        for label, items in lists.items():
            for i, answer in enumerate(items or []):
                start = answer["answer_start"]
                end = start + len(answer["text"])
                for span in step.spans:
                    if span.start < end and start < span.end:
                        detail = f"{label}[{i}] overlaps {span.kind} {excerpt(span.text)} in context"
                        return (answers, plausible), ("pii_in_answer", detail)
        for label, items in lists.items():
            if items is not None:
                moved, problem = move_answers(items, step.omap, step.text, _same)
                if problem is not None:
                    return (answers, plausible), ("answer_lost", f"{label}: {problem}")
                lists[label] = moved
    return (lists["answers"], lists["plausible_answers"]), None


def _same(text: str) -> str:
    return text


def _describe(hits: list[tuple[str, PiiSpan]]) -> str:
    """``"phone in context: *********78; email in question: *********om"`` (at most three)."""
    parts = [f"{span.kind} in {field}: {excerpt(span.text)}" for field, span in hits[:_MAX_DETAIL_ITEMS]]
    if len(hits) > _MAX_DETAIL_ITEMS:
        parts.append(f"+{len(hits) - _MAX_DETAIL_ITEMS} more")
    return "; ".join(parts)
