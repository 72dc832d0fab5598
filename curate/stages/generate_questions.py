"""``generate_questions``: synthetic extractive QA pairs from a chat model, checked before they join.

For every distinct passage (``context``) of an MRC dataset, up to ``max_passages`` in dataset order,
the stage asks a model behind an OpenAI-compatible endpoint (vLLM, llama.cpp server, Ollama, hosted
APIs; see :mod:`curate.llm.client`) for ``questions_per_passage`` question/answer pairs, in Korean or
English (:mod:`curate.llm.prompts`; per passage by language ID, or fixed by ``language``). Requests
run ``concurrency`` at a time and are cached on disk, so a rerun with the same cache asks nothing and
gives the same rows. The sampling parameters ``temperature``, ``top_p``, ``seed``, ``max_tokens``,
``n`` and ``stop`` are passed to the server as they are.

Structured output (``structured_output``, on by default): requests carry the JSON schema of the
reply (:data:`~curate.llm.prompts.PAIRS_SCHEMA`) as ``response_format``, so servers that support it
(vLLM, llama.cpp server, Ollama, OpenAI) can only answer with well-formed pairs. A server that
rejects it, or answers with text that is not JSON, is asked in plain text from then on and its
replies are parsed as usual; the ``usage`` artifact counts both (``structured``, ``fallbacks``) and
says why it fell back (``fallback_reason``).

Several samples (``n > 1``): the server returns ``n`` choices per passage. Their pairs are judged
in turn, choice 0 first, against the same checks, so a later sample fills the places of pairs an
earlier one had rejected, and a question a later sample repeats is a ``near_duplicate``; at most
``questions_per_passage`` pairs are accepted per passage whatever ``n`` is. Use ``temperature > 0``
with ``n > 1`` (at 0 the samples are the same).

A pair joins the data only when, in this order:

1. the reply (each choice) could be read (``unparseable`` otherwise: no JSON array, or an element
   that is not a question/answer object);
2. the answer occurs in the passage, exactly or else after NFC and whitespace folding of both sides,
   in which case the passage's own characters become the answer text (``answer_not_in_passage``).
   When it occurs several times the first occurrence is used, as SQuAD-style string search does
   (the artifact's ``detail`` says how many there were);
3. the question is in the passage's language (``wrong_language``; skipped for a passage without
   letters);
4. the question is not the same as any question of the dataset or an earlier accepted one (after
   NFC, lowercasing and whitespace folding), and its character 5-gram Jaccard similarity to every
   question of its passage, earlier accepted ones included, is below ``near_duplicate_threshold``
   (``near_duplicate``);
5. fewer than ``questions_per_passage`` pairs of the passage were accepted before it (``over_limit``).

Input rows are all kept unchanged, with ``source`` = ``original`` added when there is no ``source``
column. Accepted pairs become new rows, placed after the last row of the batch that holds their
passage's first row: ``id`` = ``<passage id>#gen-<k>`` (``passage_id``, else the id of the passage's
first row; ``k`` counts up, skipping ids in use), ``source`` = ``llm:<model>``, ``answers`` with the
exact offset, ``is_impossible`` false, ``title``/``document_id``/``passage_id`` copied from the
passage's first row and other columns null. Nothing is rejected; ``rows_added`` counts the accepted
pairs.

Artifacts: ``generation``, one row per pair the model proposed (``passage_id, choice, id, question,
answer, answer_start, status, detail``; ``choice`` is the sample it came from, ``status`` is
``accepted`` or one of the reasons above), and ``usage``, one row of counts: passages, requests
answered by the server and by the cache, the SDK's retries, prompt/completion tokens (answered and
cached apart), structured replies and fallbacks (with the reason), wall seconds, and the number of
pairs per status.

The API key is read from the environment variable named by ``api_key_env``; the parameter holds
only that name, so no key reaches stats, manifests, caches or artifacts, and a model that echoes
the key has it masked (``***``) by the client before its reply is cached or parsed.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from curate.dataset import Dataset
from curate.errors import ConfigError, CurateError, Where
from curate.llm.client import ENV_NAME, ChatClient, Choice, Sampling
from curate.llm.prompts import PAIRS_SCHEMA, BadItem, ParsedPairs, PromptTemplate, QAPair, parse_pairs
from curate.stages.base import Params, PlannedStage, Split, StageParams, reject
from curate.text.langid import LanguageIdentifier
from curate.text.shingles import prepare, shingle_hashes
from curate.text.spans import find_all, repair_span

STATUSES = ("accepted", "answer_not_in_passage", "wrong_language", "near_duplicate", "unparseable", "over_limit")
SHINGLE_CHARS = 5

GENERATION_SCHEMA = pa.schema(
    [
        ("passage_id", pa.string()),
        ("choice", pa.int32()),
        ("id", pa.string()),
        ("question", pa.string()),
        ("answer", pa.string()),
        ("answer_start", pa.int32()),
        ("status", pa.string()),
        ("detail", pa.string()),
    ]
)
USAGE_FIELDS = (
    "requests",
    "cached",
    "retries",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
    "cached_completion_tokens",
    "structured",
    "fallbacks",
    "seconds",
)
USAGE_SCHEMA = pa.schema(
    [("model", pa.string()), ("passages", pa.int64())]
    + [(name, pa.float64() if name == "seconds" else pa.int64()) for name in USAGE_FIELDS]
    + [("fallback_reason", pa.string()), ("pairs", pa.int64())]
    + [(status, pa.int64()) for status in STATUSES]
)


class GenerateQuestionsParams(Params):
    base_url: str
    """API root of an OpenAI-compatible server, serving ``/chat/completions`` (e.g.
    ``http://127.0.0.1:8000/v1`` for vLLM, ``http://127.0.0.1:11434/v1`` for Ollama)."""
    model: str
    """Model name as the server knows it."""
    api_key_env: str = "OPENAI_API_KEY"
    """NAME of the environment variable holding the API key (never the key itself); an unset
    variable sends no key, which local servers accept."""
    questions_per_passage: int = Field(default=3, ge=1, le=100)
    """Pairs asked for, and accepted at most, per passage."""
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    """Sampling temperature."""
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    """Nucleus sampling: draw from the smallest set of tokens whose probability reaches this (null: the
    server's default)."""
    max_tokens: int = Field(default=1024, ge=1)
    """Longest reply in tokens (a reply cut short usually fails to parse)."""
    seed: int | None = 0
    """Sampling seed sent to the server (null: none); servers that honour it repeat their replies."""
    n: int = Field(default=1, ge=1, le=32)
    """Samples per passage (the API's ``n``); their pairs are judged in turn, choice 0 first, and at
    most ``questions_per_passage`` are accepted. Use ``temperature > 0`` with ``n > 1``."""
    stop: tuple[str, ...] = Field(default=(), max_length=4)
    """Strings at which the server stops a reply (at most 4)."""
    structured_output: bool = True
    """Send the reply's JSON schema as ``response_format`` (``json_schema``); a server that rejects it
    or ignores it is asked in plain text from then on, and its replies are parsed."""
    concurrency: int = Field(default=4, ge=1, le=256)
    """Requests in flight at once."""
    max_retries: int = Field(default=4, ge=0)
    """Retries the ``openai`` SDK makes after connection errors, timeouts, HTTP 408, 409, 429 and 5xx,
    with exponential backoff (``Retry-After`` honoured up to two minutes)."""
    timeout: float = Field(default=120.0, gt=0.0)
    """Seconds one attempt may take."""
    cache_dir: str | None = ".curate-cache/llm"
    """Folder of the reply cache (relative paths start from the working directory); null turns it off."""
    language: Literal["auto", "ko", "en"] = "auto"
    """Prompt language: ``auto`` picks per passage by language ID (Korean prompt for Korean passages,
    the English prompt, asking for questions in the passage's language, for the rest); ``ko`` or
    ``en`` fixes the prompt and the language questions must be in."""
    prompt_template: str | None = None
    """A file holding the user message, with ``{passage}`` and ``{n}`` placeholders (literal braces
    doubled); replaces the built-in prompts, and no system message is sent."""
    max_passages: int | None = Field(default=None, ge=1)
    """Ask about the first this many distinct passages only (null: all)."""
    near_duplicate_threshold: float = Field(default=0.8, gt=0.0, le=1.0)
    """Character 5-gram Jaccard similarity from which a question is a near-duplicate of another
    question of its passage."""


@dataclass
class _Passage:
    first_row: int
    id: str
    context: str
    columns: dict[str, Any]
    questions: list[str] = field(default_factory=list)
    question_ids: list[str] = field(default_factory=list)
    language: str | None = None


@dataclass(frozen=True)
class QuestionsPlan:
    """Accepted rows by the dataset row they follow (``anchors``: those rows, sorted), every pair's
    verdict (``log``, the ``generation`` artifact) and the ``usage`` row."""

    new_rows: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    anchors: list[int] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)


class GenerateQuestions(PlannedStage):
    """Ask a chat model for question/answer pairs about each passage; append the pairs whose answer is
    in the passage, whose question is in the passage's language and new (see the module docstring)."""

    name = "generate_questions"
    role = "generate"
    Params: ClassVar[type[StageParams]] = GenerateQuestionsParams
    params: GenerateQuestionsParams
    kinds = ("mrc",)
    requires = {"id": "any", "context": "string", "question": "string"}
    adds = {"source": pa.string()}
    rejects_added = False
    description = "synthetic QA pairs from an OpenAI-compatible chat model, checked and appended"

    def __init__(self, params: Any = None, *, id: str | None = None, **kwargs: Any):
        super().__init__(params, id=id, **kwargs)
        if not ENV_NAME.fullmatch(self.params.api_key_env):
            # the value is not shown: a key pasted here by mistake must not reach the error
            raise ConfigError(
                f"bad value for parameter 'api_key_env' for stage '{self.name}' "
                "(must be the NAME of an environment variable)",
                where=Where(stage=self.id),
                hint="put the key in an environment variable and give its name, e.g. OPENAI_API_KEY",
            )
        self._identifier: LanguageIdentifier | None = None  # loaded once per process, when first needed

    # ----------------------------------------------------------------- setup
    def input_files(self) -> list[Path]:
        return [Path(self.params.prompt_template)] if self.params.prompt_template else []

    def check_input(self, dataset: Dataset) -> None:
        super().check_input(dataset)
        self.template()
        self.client()
        self.identifier()

    def template(self) -> PromptTemplate | None:
        """The user's template, or None for the built-in ones."""
        if not self.params.prompt_template:
            return None
        try:
            return PromptTemplate.from_file(self.params.prompt_template)
        except CurateError as exc:
            raise exc.at(stage=self.id) from None

    def client(self) -> ChatClient:
        p = self.params
        try:
            return ChatClient(
                p.base_url,
                p.model,
                api_key_env=p.api_key_env,
                timeout=p.timeout,
                max_retries=p.max_retries,
                concurrency=p.concurrency,
                cache_dir=Path(p.cache_dir) if p.cache_dir else None,
            )
        except CurateError as exc:
            raise exc.at(stage=self.id) from None

    def sampling(self) -> Sampling:
        """The sampling parameters sent with every request."""
        p = self.params
        return Sampling(p.temperature, p.top_p, p.seed, p.max_tokens, p.n, p.stop)

    def identifier(self) -> LanguageIdentifier:
        if self._identifier is None:
            try:
                self._identifier = LanguageIdentifier()
            except FileNotFoundError as exc:
                raise ConfigError(f"language ID is unavailable ({exc})", where=Where(stage=self.id)) from None
        return self._identifier

    # ----------------------------------------------------------------- plan
    def _passages(self, dataset: Dataset) -> tuple[list[_Passage], dict[str, str], set[str]]:
        """Distinct passages in order of first appearance, every question folded -> its row id, and
        the ids in use."""
        names = dataset.schema.names
        ids = dataset.column("id").to_pylist()
        contexts = dataset.column("context").to_pylist()
        questions = dataset.column("question").to_pylist()
        copied = {
            name: dataset.column(name).to_pylist() for name in ("title", "document_id", "passage_id") if name in names
        }
        passage_ids = copied.get("passage_id", [None] * len(ids))
        by_context: dict[str, _Passage] = {}
        for row, (row_id, context, question) in enumerate(zip(ids, contexts, questions, strict=True)):
            if not context or not context.strip():
                continue
            passage = by_context.get(context)
            if passage is None:
                passage_id = passage_ids[row] or row_id or f"row-{row}"
                columns = {name: values[row] for name, values in copied.items()}
                passage = by_context[context] = _Passage(row, str(passage_id), context, columns)
            if question:
                passage.questions.append(question)
                passage.question_ids.append(str(row_id))
        folded: dict[str, str] = {}
        for row_id, text in zip(ids, prepare(questions), strict=True):
            if text:
                folded.setdefault(text, str(row_id))
        return list(by_context.values()), folded, {str(i) for i in ids if i is not None}

    def plan(self, dataset: Dataset) -> QuestionsPlan:
        p = self.params
        passages, known_questions, used_ids = self._passages(dataset)
        if p.max_passages is not None:
            passages = passages[: p.max_passages]
        plan = QuestionsPlan()
        if not passages:
            return replace(plan, usage=self._usage_row(plan.log, None, 0))
        custom = self.template()
        if p.language == "auto":
            found = self.identifier().identify([passage.context for passage in passages]).languages
            for passage, language in zip(passages, found, strict=True):
                passage.language = language
        else:
            for passage in passages:
                passage.language = p.language
        requests = []
        for passage in passages:
            template = custom or PromptTemplate.builtin("ko" if passage.language == "ko" else "en")
            requests.append(template.messages(passage.context, p.questions_per_passage))
        client = self.client()
        try:
            completions = client.complete_many(
                requests, self.sampling(), schema=PAIRS_SCHEMA if p.structured_output else None
            )
        except CurateError as exc:
            raise exc.at(stage=self.id) from None
        parsed = [[parse_pairs(choice.content) for choice in c.choices] for c in completions]
        pairs = [item for replies in parsed for reply in replies for item in reply.items if isinstance(item, QAPair)]
        languages = self.identifier().identify([pair.question for pair in pairs]).languages if pairs else []
        question_language = dict(zip(map(id, pairs), languages, strict=True))
        for passage, completion, replies in zip(passages, completions, parsed, strict=True):
            self._judge(passage, completion.choices, replies, question_language, known_questions, used_ids, plan)
        anchors = sorted(plan.new_rows)
        return replace(plan, anchors=anchors, usage=self._usage_row(plan.log, client, len(passages)))

    def _judge(
        self,
        passage: _Passage,
        choices: tuple[Choice, ...],
        replies: list[ParsedPairs],
        question_language: dict[int, str | None],
        known_questions: dict[str, str],
        used_ids: set[str],
        plan: QuestionsPlan,
    ) -> None:
        """Check the pairs of one passage's replies (choice 0 first) in order; accepted ones become
        rows of the ``plan`` (its ``new_rows``, and every pair is noted in its ``log``)."""
        p = self.params
        log = plan.log

        def note(choice: int, status: str, detail: str | None, pair: QAPair | None = None, **more: Any) -> None:
            log.append(
                {
                    "passage_id": passage.id,
                    "choice": choice,
                    "id": more.get("id"),
                    "question": pair.question if pair else None,
                    "answer": more.get("answer", pair.answer if pair else None),
                    "answer_start": more.get("answer_start"),
                    "status": status,
                    "detail": detail,
                }
            )

        existing = shingle_hashes(prepare(passage.questions), "char", SHINGLE_CHARS) if passage.questions else None
        neighbours: list[tuple[str, set[int]]] = [
            (row_id, set(existing.of(i).tolist())) for i, row_id in enumerate(passage.question_ids) if existing
        ]
        accepted = 0
        items: list[tuple[int, QAPair | BadItem]] = []
        for index, (sample, reply) in enumerate(zip(choices, replies, strict=True)):
            if reply.error is not None:
                cut = " (the reply was cut at max_tokens)" if sample.finish_reason == "length" else ""
                note(index, "unparseable", reply.error + cut)
            items.extend((index, item) for item in reply.items)
        for index, item in items:
            if isinstance(item, BadItem):
                note(index, "unparseable", f"{item.detail}: {item.shown}")
                continue
            span = repair_span(passage.context, item.answer, 0)
            if span is None:
                note(
                    index,
                    "answer_not_in_passage",
                    "the answer occurs nowhere in the passage, even after folding",
                    item,
                )
                continue
            language = question_language.get(id(item))
            if passage.language is not None and language != passage.language:
                note(index, "wrong_language", f"question is '{language}', passage is '{passage.language}'", item)
                continue
            folded = prepare([item.question])[0]
            if folded in known_questions:
                note(index, "near_duplicate", f"same question as {known_questions[folded]}", item)
                continue
            mine = set(shingle_hashes([folded], "char", SHINGLE_CHARS).hashes.tolist())
            similar = max(((_jaccard(mine, theirs), row_id) for row_id, theirs in neighbours), default=None)
            if similar is not None and similar[0] >= p.near_duplicate_threshold:
                note(index, "near_duplicate", f"{similar[0]:.2f} character 5-gram Jaccard with {similar[1]}", item)
                continue
            if accepted >= p.questions_per_passage:
                note(index, "over_limit", f"{p.questions_per_passage} pairs already accepted for this passage", item)
                continue
            answer_text = passage.context[span.start : span.end]
            row_id = _new_id(passage.id, used_ids)
            plan.new_rows.setdefault(passage.first_row, []).append(
                self._row(passage, row_id, item.question, answer_text, span.start)
            )
            known_questions[folded] = row_id
            neighbours.append((row_id, mine))
            accepted += 1
            details = []
            if span.method == "normalized":
                details.append(f"answer found after NFC/whitespace folding (model wrote {item.answer!r})")
            if (count := len(find_all(passage.context, answer_text))) > 1:
                details.append(f"answer occurs {count} times in the passage; the first is used")
            note(
                index,
                "accepted",
                "; ".join(details) or None,
                item,
                id=row_id,
                answer=answer_text,
                answer_start=span.start,
            )

    def _row(self, passage: _Passage, row_id: str, question: str, answer: str, start: int) -> dict[str, Any]:
        return {
            **passage.columns,
            "id": row_id,
            "context": passage.context,
            "question": question,
            "answers": [{"text": answer, "answer_start": start}],
            "is_impossible": False,
            "plausible_answers": None,
            "source": f"llm:{self.params.model}",
        }

    def _usage_row(self, log: list[dict[str, Any]], client: ChatClient | None, passages: int) -> dict[str, Any]:
        counts = Counter(entry["status"] for entry in log)
        spent = client.usage.as_dict() if client is not None else {}
        row: dict[str, Any] = {"model": self.params.model, "passages": passages}
        row.update({name: spent.get(name, 0) for name in USAGE_FIELDS})
        row["fallback_reason"] = client.fallback if client is not None else None
        row["pairs"] = len(log)
        row.update({status: counts.get(status, 0) for status in STATUSES})
        return row

    # ----------------------------------------------------------------- rows
    def split(self, batch: pa.Table, plan: QuestionsPlan, start: int) -> Split:
        n = batch.num_rows
        end = start + n
        kept = batch
        if "source" not in batch.schema.names:
            kept = batch.append_column("source", pa.array(["original"] * n, pa.string()))
        lo, hi = bisect.bisect_left(plan.anchors, start), bisect.bisect_left(plan.anchors, end)
        new_rows = [row for anchor in plan.anchors[lo:hi] for row in plan.new_rows[anchor]]
        if new_rows:
            kept = pa.concat_tables([kept, pa.Table.from_pylist(new_rows, schema=kept.schema)])
        rejected = reject(batch, [True] * n, stage=self.id, reasons="unused").rejected
        return Split(kept, rejected, added=len(new_rows))

    def plan_artifacts(self, plan: QuestionsPlan) -> dict[str, pa.Table]:
        return {
            "generation": pa.Table.from_pylist(plan.log, schema=GENERATION_SCHEMA),
            "usage": pa.Table.from_pylist([plan.usage], schema=USAGE_SCHEMA),
        }


def _jaccard(a: set[int], b: set[int]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def _new_id(passage_id: str, used: set[str]) -> str:
    k = 1
    while f"{passage_id}#gen-{k}" in used:
        k += 1
    row_id = f"{passage_id}#gen-{k}"
    used.add(row_id)
    return row_id
