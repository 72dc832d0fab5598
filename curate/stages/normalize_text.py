"""``normalize_text``: Unicode, whitespace, control-character and HTML clean-up that moves
answer spans with the text, so normalizing a KorQuAD context never breaks an answer."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa

from curate.mrc.edits import move_answers
from curate.schemas import get_schema
from curate.stages.base import ColumnType, Params, Split, Stage, changed, reject
from curate.stages.fields import text_fields
from curate.text.normalize import Op, normalize, normalize_text


class NormalizeTextParams(Params):
    fields: list[str] | None = None
    """Columns to normalize (string or list of strings); default: the kind's text fields. On MRC
    data ``context`` edits move ``answers`` and ``plausible_answers`` with them."""
    unicode: Literal["nfc", "nfkc", "none"] = "nfc"
    """Unicode normalization form; NFKC also folds compatibility characters (full-width, ㈜)."""
    whitespace: bool = True
    """Collapse every whitespace run (tabs, newlines, U+3000, NBSP) to one space and trim."""
    control_chars: bool = True
    """Remove C0/C1 control characters and zero-width characters."""
    html: bool = True
    """Unescape HTML entities (``&amp;``) and remove HTML tags (block tags become a space)."""

    def ops(self) -> tuple[Op, ...]:
        ops: list[Op] = []
        if self.html:
            ops += ["html_tags", "html_entities"]
        if self.control_chars:
            ops.append("control_chars")
        if self.unicode != "none":
            ops.append(self.unicode)
        if self.whitespace:
            ops.append("whitespace")
        return tuple(ops)


class NormalizeText(Stage):
    """Normalize text fields in place. Rows are rejected only on MRC data, with reason
    ``answer_lost``, when an answer does not survive the edit of its context (for example an
    answer made only of an HTML tag). The stats count the rewritten rows per column changed
    (``rewrites``: ``context``, ``question``, ``answers`` moved with their context, ...)."""

    name = "normalize_text"
    role = "rewrite"  # rejects only MRC rows whose answer does not survive the edit
    description = "Normalise text in place (Unicode form, spaces, HTML, control characters); MRC answers move along."
    Params = NormalizeTextParams
    params: NormalizeTextParams

    def required(self, kind: str) -> dict[str, ColumnType]:
        return dict.fromkeys(text_fields(kind, self.params.fields), "text")

    def process(self, batch: pa.Table, kind: str) -> Split:
        ops = self.params.ops()
        fields = text_fields(kind, self.params.fields)
        table = batch
        keep = [True] * batch.num_rows
        details: list[str | None] = [None] * batch.num_rows
        if kind == "mrc" and "context" in fields:
            table, keep, details = self._contexts(table, ops)
        for name in fields:
            if kind == "mrc" and name == "context":
                continue
            column = table.column(name)
            values = [_apply(v, ops) for v in column.to_pylist()]
            table = table.set_column(table.column_names.index(name), name, pa.array(values, column.type))
        split = reject(table, keep, stage=self.id, reasons="answer_lost", details=details)
        compared = [*fields, *(["answers", "plausible_answers"] if kind == "mrc" and "context" in fields else [])]
        before = batch.filter(pa.array(keep, pa.bool_()))
        return split.marked(rewrites=changed(before, split.kept, list(dict.fromkeys(compared))))

    def _contexts(self, table: pa.Table, ops: tuple[Op, ...]) -> tuple[pa.Table, list[bool], list[str | None]]:
        answer_type = get_schema("mrc").field("answers").type  # type: ignore[union-attr]
        cache: dict[str, Any] = {}
        contexts, answers, plausible, keep, details = [], [], [], [], []
        rows = table.select(["context", "answers", "plausible_answers"]).to_pylist()
        for row in rows:
            context = row["context"]
            if context not in cache:
                cache[context] = normalize(context, ops)
            new_context, omap = cache[context]
            moved, problem = move_answers(row["answers"], omap, new_context, lambda t: normalize_text(t, ops))
            moved_plausible = row["plausible_answers"]
            if problem is None and moved_plausible is not None:
                moved_plausible, problem = move_answers(
                    moved_plausible, omap, new_context, lambda t: normalize_text(t, ops)
                )
            if problem is None:
                contexts.append(new_context)
                answers.append(moved)
                plausible.append(moved_plausible)
            else:
                contexts.append(context)
                answers.append(row["answers"])
                plausible.append(row["plausible_answers"])
            keep.append(problem is None)
            details.append(problem)
        for name, values, dtype in (
            ("context", contexts, pa.string()),
            ("answers", answers, answer_type),
            ("plausible_answers", plausible, answer_type),
        ):
            table = table.set_column(table.column_names.index(name), name, pa.array(values, dtype))
        return table, keep, details


def _apply(value: Any, ops: tuple[Op, ...]) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [normalize_text(v, ops) if v is not None else None for v in value]
    return normalize_text(value, ops)
