"""``answer_in_question``: flag MRC rows whose question already holds its answer."""

from __future__ import annotations

import pyarrow as pa

from curate.stages.base import Params, Split, Stage, reject


class AnswerInQuestionParams(Params):
    reject: bool = False
    """Reject flagged rows (reason ``answer_in_question``); a choice question ("A or B?") names its
    answer on purpose, so look at the flagged rows first."""


class AnswerInQuestion(Stage):
    """Add ``answer_in_question``: true when one of a row's answers occurs in its question (case
    folded), so a reader could copy it from the question instead of finding it in the context."""

    name = "answer_in_question"
    role = "flag"  # reject: true also rejects
    description = "Flag MRC rows whose question contains one of their answers."
    kinds = ("mrc",)
    requires = {"question": "string", "answers": "any"}
    adds = {"answer_in_question": pa.bool_()}
    Params = AnswerInQuestionParams
    params: AnswerInQuestionParams

    def process(self, batch: pa.Table, kind: str) -> Split:
        questions = batch.column("question").to_pylist()
        found = [
            any(answer["text"] and answer["text"].casefold() in (question or "").casefold() for answer in answers or [])
            for question, answers in zip(questions, batch.column("answers").to_pylist(), strict=True)
        ]
        table = batch.append_column("answer_in_question", pa.array(found, pa.bool_()))
        split = reject(table, [not (hit and self.params.reject) for hit in found], stage=self.id, reasons=self.name)
        return split.marked(
            flags=[[self.name] if hit else [] for hit in split.kept.column("answer_in_question").to_pylist()]
        )
