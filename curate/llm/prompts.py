"""Prompts that ask a chat model for extractive question/answer pairs, and a parser for its answers.

Built-in templates exist for Korean (``ko``) and English (``en``); the English one asks for questions
in the language of the passage, so it also serves passages in other languages. Both ask for a JSON
array ``[{"question": ..., "answer": ...}]`` whose answers are copied verbatim from the passage,
which is given between ``<passage>`` and ``</passage>`` lines.

A user template is a text file holding the user message (no system message is sent with it) with
the placeholders ``{passage}`` (required) and ``{n}`` (the number of pairs); literal braces are
doubled (``{{`` and ``}}``), as in :meth:`str.format`. Any other placeholder is a ConfigError.

:func:`parse_pairs` reads the first JSON array in a reply: inside a Markdown code fence or not,
after leading prose or not, or wrapped in an object (``{"pairs": [...]}``, as JSON mode makes
models do). Only when strict JSON fails are trailing commas before ``]``/``}`` dropped. A reply with
no array is reported as an error, an element that is not a ``{"question", "answer"}`` object as a bad
item; nothing raises.

:data:`PAIRS_SCHEMA` is the JSON schema of a reply, ``{"pairs": [{"question": ..., "answer": ...}]}``
(an object at the top, as structured output requires), sent as ``response_format`` where the server
supports it; the parser reads that shape too.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import ConfigError, Where
from curate.llm.client import Message

PLACEHOLDERS = ("passage", "n")
TEMPLATE_LANGUAGES = ("ko", "en")

SYSTEM = {
    "ko": "당신은 기계 독해(MRC) 학습 데이터를 만드는 도우미입니다. 요청받은 JSON만 출력합니다.",
    "en": "You write training data for extractive question answering. You output only the JSON you are asked for.",
}

USER = {
    "ko": """아래 지문을 읽고 질문과 답 {n}쌍을 만드세요.

규칙:
- 질문은 한국어로 쓰고, 지문만 읽고 답할 수 있어야 합니다.
- 답은 지문에 있는 짧은 구절을 한 글자도 바꾸지 않고 그대로 옮겨야 합니다 (띄어쓰기와 문장 부호 포함).
- 서로 다른 내용을 묻고, 같은 질문을 되풀이하지 마세요.
- 설명 없이 JSON 배열 하나만 출력하세요: [{{"question": "질문", "answer": "답"}}]

<passage>
{passage}
</passage>""",
    "en": """Read the passage below and write {n} question/answer pairs about it.

Rules:
- Write each question in the language of the passage; it must be answerable from the passage alone.
- Each answer is a short span copied from the passage exactly, character for character (spacing and
  punctuation included).
- Ask about different facts; do not repeat a question.
- Output one JSON array and nothing else: [{{"question": "...", "answer": "..."}}]

<passage>
{passage}
</passage>""",
}

PAIRS_SCHEMA: dict[str, Any] = {
    "name": "qa_pairs",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "pairs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
                    "required": ["question", "answer"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["pairs"],
        "additionalProperties": False,
    },
}
"""The ``json_schema`` of structured output: ``{"pairs": [{"question": str, "answer": str}, ...]}``."""

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")
_MAX_STARTS = 200  # JSON start positions tried per candidate text
_SHOW_CHARS = 120


def check_template(text: str, *, source: str | None = None) -> None:
    """ConfigError unless ``text`` is a valid template: ``{passage}`` present, nothing but
    ``{passage}`` and ``{n}`` (no conversions or format specs), braces balanced."""
    where = Where(file=source, field="prompt_template")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise ConfigError(
            f"malformed prompt template ({exc})", where=where, hint="write literal braces as {{ and }}"
        ) from None
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ConfigError(
                "unknown placeholder in prompt template",
                where=where,
                value=shown,
                hint=f"placeholders: {allowed}; write literal braces as {{{{ and }}}}",
            )
    if "passage" not in {name for name, _, _ in fields}:
        raise ConfigError("prompt template has no {passage} placeholder", where=where, hint=f"placeholders: {allowed}")


@dataclass(frozen=True)
class PromptTemplate:
    """A user message template (``{passage}``, ``{n}``) and an optional system message."""

    user: str
    system: str | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        check_template(self.user, source=self.name)

    @classmethod
    def builtin(cls, language: str) -> PromptTemplate:
        """The built-in template for ``ko`` or ``en``."""
        if language not in TEMPLATE_LANGUAGES:
            raise ConfigError(
                "no built-in prompt for this language", value=language, hint=f"use one of: {', '.join(USER)}"
            )
        return cls(USER[language], SYSTEM[language], name=f"builtin:{language}")

    @classmethod
    def from_file(cls, path: str | Path) -> PromptTemplate:
        """A user template read from a UTF-8 text file (checked at once)."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                "prompt template not found",
                where=Where(file=str(file), field="prompt_template"),
                hint="check the path (relative paths start from the working directory)",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"prompt template cannot be read ({type(exc).__name__})",
                where=Where(file=str(file), field="prompt_template"),
            ) from None
        return cls(text, None, name=str(file))

    def render(self, passage: str, n: int) -> str:
        return self.user.format(passage=passage, n=n)

    def messages(self, passage: str, n: int) -> list[Message]:
        """The chat messages asking for ``n`` pairs about ``passage``."""
        out: list[Message] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": self.render(passage, n)})
        return out


@dataclass(frozen=True)
class QAPair:
    """One question and its answer as the model wrote them (surrounding whitespace removed)."""

    question: str
    answer: str


@dataclass(frozen=True)
class BadItem:
    """An element of the reply's array that is not a usable pair: a short ``shown`` form and why."""

    shown: str
    detail: str


@dataclass(frozen=True)
class ParsedPairs:
    """What a reply held: its array's elements in order (pairs and bad items), or an ``error`` when
    no array could be read."""

    items: list[QAPair | BadItem]
    error: str | None = None

    @property
    def pairs(self) -> list[QAPair]:
        return [item for item in self.items if isinstance(item, QAPair)]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= _SHOW_CHARS else text[: _SHOW_CHARS - 3] + "..."


def _as_list(value: Any) -> list[Any] | None:
    """The array a decoded JSON value stands for: itself, the first list of objects inside an object
    (``{"pairs": [...]}``), or a lone pair object as a list of one."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for inner in value.values():
            if isinstance(inner, list) and (not inner or isinstance(inner[0], dict)):
                return inner
        if {"question", "answer"} <= {str(k).lower() for k in value}:
            return [value]
    return None


def _first_array(text: str) -> list[Any] | None:
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"[\[{]", text)][:_MAX_STARTS]
    for start in starts:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        found = _as_list(value)
        if found is not None:
            return found
    return None


def _item(value: Any) -> QAPair | BadItem:
    if not isinstance(value, dict):
        return BadItem(_short(value), "element is not an object")
    fields = {str(k).lower(): v for k, v in value.items()}
    question, answer = fields.get("question"), fields.get("answer")
    if isinstance(answer, dict) and isinstance(answer.get("text"), str):  # {"text": ..., "answer_start": ...}
        answer = answer["text"]
    if isinstance(answer, int | float) and not isinstance(answer, bool):
        answer = str(answer)
    if not isinstance(question, str) or not question.strip():
        return BadItem(_short(value), "no question text")
    if not isinstance(answer, str) or not answer.strip():
        return BadItem(_short(value), "no answer text")
    return QAPair(question.strip(), answer.strip())


def parse_pairs(content: str) -> ParsedPairs:
    """The question/answer pairs of a model's reply (see the module docstring); never raises."""
    if not content or not content.strip():
        return ParsedPairs([], "empty reply")
    candidates = [m.group(1) for m in _FENCE.finditer(content)] + [content]
    for lenient in (False, True):
        for text in candidates:
            found = _first_array(_TRAILING_COMMA.sub(r"\1", text) if lenient else text)
            if found is not None:
                return ParsedPairs([_item(value) for value in found])
    return ParsedPairs([], f"no JSON array of question/answer pairs in the reply: {_short(content)!r}")
