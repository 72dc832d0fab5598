"""Chat completions from OpenAI-compatible servers (vLLM, llama.cpp server, Ollama, hosted APIs) on
the ``openai`` SDK, with curate's cache, usage accounting, key masking and structured output.

- **Transport.** ``openai.OpenAI(base_url, max_retries, timeout)`` sends ``POST {base_url}/chat/completions``
  and retries connection errors, timeouts, HTTP 408, 409, 429 and 5xx with exponential backoff
  (``Retry-After`` honoured up to two minutes). What still fails is one line naming the endpoint and
  model: 401, 403, 404 and redirects as ConfigError, the rest as StageError. Redirects are not
  followed (the key stays with ``base_url``); a loopback ``base_url`` is never reached via a proxy.
- **Key.** Read from the environment variable named by ``api_key_env`` (unset: no ``Authorization``
  header). Everything the server sends back (replies, error messages, the model name) has it masked
  as ``***`` before it is used, printed or cached.
- **Sampling.** :class:`Sampling`: ``temperature``, ``top_p``, ``seed``, ``max_tokens``, ``n``,
  ``stop`` are passed through; with ``n > 1`` a completion has ``n`` choices.
- **Structured output.** With a ``schema`` (a ``json_schema`` object: name, schema, strict) a request
  carries ``response_format: {"type": "json_schema", ...}``. A server that rejects it (HTTP 400
  naming ``response_format`` or ``json_schema``) is asked again without it; one that answers with a
  choice that is not JSON (not cut at ``max_tokens``) has that answer kept for plain parsing. Either
  way the client sends plain requests from then on (:attr:`ChatClient.fallback` says why) and
  counts the fallbacks.
- **Cache.** With ``cache_dir`` every answer is one JSON file, ``<cache_dir>/<key[:2]>/<key>.json``,
  written atomically; the key is the sha256 of the endpoint (``base_url`` without user info, query
  or fragment) and the request body, never the API key. A structured request that fell back is
  cached as such (its ``fallback`` reason), so a rerun sends nothing.
- **Concurrency.** :meth:`ChatClient.complete_many` runs ``concurrency`` requests at once, in input
  order; the first error stops the requests not yet started and is raised when the running ones end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
from openai.types.chat import ChatCompletion

from curate.errors import ConfigError, CurateError, StageError, Where
from curate.files import atomic_file
from curate.redact import redact

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

CACHE_FORMAT = 3  # 3: several choices per answer; structured-output fallbacks recorded
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAMES_FORMAT = re.compile(r"response_format|json_schema", re.IGNORECASE)
_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters passed to the server; None, ``n = 1`` and no ``stop`` are not sent."""

    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The request fields these parameters add."""
        out: dict[str, Any] = {
            name: value
            for name in ("temperature", "top_p", "seed", "max_tokens")
            if (value := getattr(self, name)) is not None
        }
        if self.n != 1:
            out["n"] = self.n
        if self.stop:
            out["stop"] = list(self.stop)
        return out


@dataclass(frozen=True)
class Choice:
    """One of a completion's answers: the assistant's ``content`` and the server's ``finish_reason``
    (``length`` means ``max_tokens`` cut it short)."""

    content: str
    finish_reason: str | None


@dataclass(frozen=True)
class Completion:
    """The answer to one chat request: ``n`` choices in index order, token counts, whether it came
    from the cache, the cache ``key`` of the answered request, the SDK's ``retries``, and whether it
    was answered under the JSON schema asked for (``structured``) or why not (``fallback``)."""

    choices: tuple[Choice, ...]
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    key: str
    retries: int = 0
    structured: bool = False
    fallback: str | None = None

    @property
    def content(self) -> str:
        """The first choice's content."""
        return self.choices[0].content

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason


@dataclass
class Usage:
    """What a client spent: completions answered by the server (``requests``, not counting requests
    rejected for their ``response_format``) and by the cache (``cached``), the SDK's ``retries``,
    tokens (answered and cached apart), completions asked for a JSON schema that were answered under
    it (``structured``) or fell back to plain prompting (``fallbacks``), and wall ``seconds`` in
    :meth:`ChatClient.complete_many`."""

    requests: int = 0
    cached: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    structured: int = 0
    fallbacks: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


class _FormatRejected(Exception):
    """The server refused the request's ``response_format`` (HTTP 400 naming it)."""


def request_key(endpoint: str, body: dict[str, Any]) -> str:
    """The cache key of a request body sent to ``endpoint``: sha256 of their canonical JSON."""
    canonical = json.dumps(
        {"cache_format": CACHE_FORMAT, "endpoint": endpoint, **body}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ChatClient:
    """Chat completions from one model of an OpenAI-compatible endpoint (see the module docstring).

    Args:
        base_url: the API root that serves ``/chat/completions``, e.g. ``http://127.0.0.1:8000/v1``
            (vLLM), ``http://127.0.0.1:8080/v1`` (llama.cpp server), ``http://127.0.0.1:11434/v1``
            (Ollama) or ``https://api.openai.com/v1``.
        model: the model name the server knows.
        api_key_env: NAME of the environment variable holding the API key (not the key itself).
        timeout: seconds one attempt may take before it counts as failed.
        max_retries: retries the SDK makes after the first attempt of a request.
        concurrency: requests in flight at once in :meth:`complete_many`.
        cache_dir: folder of the on-disk cache; None turns caching off.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 4,
        concurrency: int = 4,
        cache_dir: str | Path | None = None,
    ) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                "base_url must be an http(s) URL",
                where=Where(field="base_url"),
                value=_display_url(base_url),
                hint="e.g. http://127.0.0.1:8000/v1",
            )
        if not model.strip():
            raise ConfigError("model must not be empty", where=Where(field="model"))
        if not ENV_NAME.fullmatch(api_key_env):
            # never echo the value: a key pasted here by mistake must not reach the error
            raise ConfigError(
                "api_key_env must be the NAME of an environment variable (letters, digits, _)",
                where=Where(field="api_key_env"),
                hint="put the key in an environment variable and give its name, e.g. OPENAI_API_KEY",
            )
        if timeout <= 0:
            raise ConfigError("timeout must be > 0 seconds", where=Where(field="timeout"), value=timeout)
        if concurrency < 1:
            raise ConfigError("concurrency must be >= 1", where=Where(field="concurrency"), value=concurrency)
        if max_retries < 0:
            raise ConfigError("max_retries must be >= 0", where=Where(field="max_retries"), value=max_retries)
        self.base_url = base_url.strip().rstrip("/")
        self.endpoint = _display_url(self.base_url)
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.concurrency = concurrency
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.usage = Usage()
        self.fallback: str | None = None
        """Why this endpoint gets no ``response_format`` any more (None while it is sent)."""
        self._api_key = os.environ.get(api_key_env) or None
        self._lock = threading.Lock()
        # without a key the SDK still wants one; the Authorization header is then left out of every request
        self._headers: dict[str, Any] = {} if self._api_key else {"Authorization": openai.omit}
        loopback = parts.hostname in ("localhost", "::1") or parts.hostname.startswith("127.")
        self._sdk = openai.OpenAI(
            base_url=self.base_url,
            api_key=self._api_key or "no-key",
            max_retries=max_retries,
            timeout=timeout,
            http_client=openai.DefaultHttpxClient(follow_redirects=False, trust_env=not loopback),
        )

    def __repr__(self) -> str:
        return f"ChatClient({self.endpoint!r}, {self.model!r}, api_key_env={self.api_key_env!r})"

    # ----------------------------------------------------------------- requests
    def request_body(self, messages: Sequence[Message], sampling: Sampling = Sampling()) -> dict[str, Any]:
        """The JSON body sent for ``messages`` without structured output."""
        return {"model": self.model, "messages": [dict(m) for m in messages], **sampling.body()}

    def complete(
        self, messages: Sequence[Message], sampling: Sampling = Sampling(), *, schema: dict[str, Any] | None = None
    ) -> Completion:
        """One chat completion, from the cache when the same request was answered before; under the
        JSON ``schema`` (a ``json_schema`` object) when given and the server takes it."""
        body = self.request_body(messages, sampling)
        if schema is None:
            return self._answer(body)
        asked = {**body, "response_format": {"type": "json_schema", "json_schema": schema}}
        key = request_key(self.endpoint, asked)
        hit = self._read_cache(key)
        completion: Completion | None = None
        reason = hit if isinstance(hit, str) else None
        if isinstance(hit, Completion):
            completion = self._count(hit)
        elif reason is None and self.fallback is not None:
            reason = self.fallback
        elif reason is None:
            try:
                completion = self._answer(asked)
            except _FormatRejected as exc:
                reason = f"the server rejected response_format ({exc})"
        if completion is not None:
            reason = _not_json(completion)
            if reason is None:
                with self._lock:
                    self.usage.structured += 1
                return replace(completion, structured=True)
            self._fall_back(reason)
            return replace(completion, fallback=reason)  # a plain answer already: keep it
        assert reason is not None
        self._fall_back(reason)
        if hit is None:
            self._write_cache(key, {"key": key, "endpoint": self.endpoint, "request": asked, "fallback": reason})
        return replace(self._answer(body), fallback=reason)

    def complete_many(
        self,
        batch: Sequence[Sequence[Message]],
        sampling: Sampling = Sampling(),
        *,
        schema: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """Completions of many requests, ``concurrency`` at a time, in the order of ``batch``.

        The first failure stops the requests not yet started; it is raised when the running ones end."""
        if not batch:
            return []
        started = time.perf_counter()
        failed = threading.Event()

        def one(messages: Sequence[Message]) -> Completion | None:
            if failed.is_set():
                return None
            try:
                return self.complete(messages, sampling, schema=schema)
            except BaseException:
                failed.set()
                raise

        try:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch))) as pool:
                futures = [pool.submit(one, messages) for messages in batch]
            errors = [error for future in futures if (error := future.exception()) is not None]
            if errors:
                raise errors[0]
            return [completion for future in futures if (completion := future.result()) is not None]
        finally:
            with self._lock:
                self.usage.seconds += time.perf_counter() - started

    def _answer(self, body: dict[str, Any]) -> Completion:
        """The completion of ``body``: from the cache, else from the server (then cached)."""
        key = request_key(self.endpoint, body)
        hit = self._read_cache(key)
        if isinstance(hit, Completion):
            return self._count(hit)
        completion, served_by = self._send(body, key)
        if self.cache_dir is not None:
            self._write_cache(key, _entry(self.endpoint, key, self._redact(body), completion, served_by))
        return self._count(completion)

    def _count(self, completion: Completion) -> Completion:
        with self._lock:
            if completion.cached:
                self.usage.cached += 1
                self.usage.cached_prompt_tokens += completion.prompt_tokens
                self.usage.cached_completion_tokens += completion.completion_tokens
            else:
                self.usage.requests += 1
                self.usage.retries += completion.retries
                self.usage.prompt_tokens += completion.prompt_tokens
                self.usage.completion_tokens += completion.completion_tokens
        return completion

    def _fall_back(self, reason: str) -> None:
        with self._lock:
            self.usage.fallbacks += 1
            if self.fallback is None:
                self.fallback = reason

    def _send(self, body: dict[str, Any], key: str) -> tuple[Completion, str | None]:
        """Ask the server (the SDK retries); the completion, with the key masked, and the model that served it."""
        try:
            raw = self._sdk.chat.completions.with_raw_response.create(**body, extra_headers=self._headers)
        except openai.BadRequestError as exc:
            message = self._server_message(exc)
            if "response_format" in body and (_NAMES_FORMAT.search(message) or exc.param == "response_format"):
                raise _FormatRejected(message) from None
            raise self._failure(exc) from None
        except openai.OpenAIError as exc:
            with self._lock:
                self.usage.retries += _attempts(exc) - 1
            raise self._failure(exc) from None
        try:
            reply = raw.parse()
        except ValueError:  # a JSON content type with a body that is not JSON
            reply = None
        choices = getattr(reply, "choices", None)
        if not isinstance(reply, ChatCompletion) or not isinstance(choices, list) or not choices:
            raise StageError(
                f"chat endpoint {self.endpoint} (model '{self.model}') answered with no chat completion",
                value=_shorten(self._redact(raw.http_response.text)),
                hint="base_url must point at an OpenAI-compatible API root (ending in /v1)",
            )
        usage = reply.usage
        completion = Completion(
            choices=tuple(
                Choice(self._redact(getattr(c.message, "content", None) or ""), c.finish_reason)
                for c in sorted(choices, key=lambda c: getattr(c, "index", 0) or 0)
            ),
            prompt_tokens=_count(getattr(usage, "prompt_tokens", 0)),
            completion_tokens=_count(getattr(usage, "completion_tokens", 0)),
            cached=False,
            key=key,
            retries=raw.retries_taken,
        )
        served_by = getattr(reply, "model", None)
        return completion, self._redact(served_by) if isinstance(served_by, str) else None

    # ----------------------------------------------------------------- errors
    def _redact(self, value: Any) -> Any:
        return redact(value, self._api_key)

    def _server_message(self, exc: openai.APIStatusError) -> str:
        """The server's error message (OpenAI, vLLM, llama.cpp, Ollama and FastAPI shapes), one line, masked."""
        message: Any = exc.body
        if isinstance(message, dict):
            message = message.get("message") or message.get("detail") or message.get("error") or message
        line = " ".join(str(message if message is not None else "").split()) or exc.message
        return _shorten(self._redact(line))

    def _failure(self, exc: openai.OpenAIError) -> CurateError:
        """The one-line error for what the SDK raised once its retries were spent."""
        what = f"chat endpoint {self.endpoint} (model '{self.model}')"
        tries = f"{_attempts(exc)} attempt{'s' if _attempts(exc) != 1 else ''}"
        if isinstance(exc, openai.APITimeoutError):
            hint = "check that the server is up; raise timeout for a slow server or long replies"
            return StageError(f"{what} did not answer within {self.timeout:g} s ({tries})", hint=hint)
        if isinstance(exc, openai.APIConnectionError):
            cause = f"{type(exc.__cause__).__name__}: {exc.__cause__}" if exc.__cause__ else exc.message
            hint = "check that the server is up and that base_url is right"
            return StageError(f"{what} cannot be reached ({tries}; {_shorten(self._redact(cause))})", hint=hint)
        if not isinstance(exc, openai.APIStatusError):
            return StageError(f"{what} failed ({_shorten(self._redact(str(exc)))})")
        status, key = exc.status_code, self.api_key_env
        said = f"HTTP {status}: {self._server_message(exc)}"
        if isinstance(exc, openai.AuthenticationError):
            unset = f"the environment variable {key} is not set (api_key_env names it)"
            hint = f"set the environment variable {key} to a valid key" if self._api_key else unset
            return ConfigError(f"{what} rejected the API key ({said})", hint=hint)
        if isinstance(exc, openai.PermissionDeniedError):
            return ConfigError(
                f"{what} refused access ({said})", hint=f"check that the key in {key} may use this model"
            )
        if isinstance(exc, openai.NotFoundError):
            hint = "base_url must be the API root serving /chat/completions (e.g. http://127.0.0.1:8000/v1); "
            return ConfigError(f"{what} has no such endpoint or model ({said})", hint=hint + "check the model name")
        if 300 <= status < 400:
            location = exc.response.headers.get("location")
            target = self._redact(_display_url(location)) if location else "another address"
            hint = "use the final address as base_url (redirects are not followed so the key stays with it)"
            return ConfigError(f"{what} redirects to {target} (HTTP {status})", hint=hint)
        if isinstance(exc, openai.RateLimitError):
            hint = "lower concurrency, or raise max_retries"
            return StageError(f"{what} still limits the request rate after {tries} ({said})", hint=hint)
        if status >= 500 or status in (408, 409):
            hint = "check the server's log; raise max_retries for a busy server"
            return StageError(f"{what} failed after {tries} ({said})", hint=hint)
        hint = "check max_tokens, temperature, top_p, n, stop and the prompt length against what the server accepts"
        return StageError(f"{what} rejected the request ({said})", hint=hint)

    # ----------------------------------------------------------------- cache
    def cache_path(self, key: str) -> Path | None:
        """Where the answer to the request with ``key`` is cached (None without a cache)."""
        return self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir is not None else None

    def _read_cache(self, key: str) -> Completion | str | None:
        """The cached completion of ``key``, the reason its structured request fell back, or None."""
        path = self.cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(saved.get("fallback"), str):
                return str(saved["fallback"])
            response = saved["response"]
            return Completion(
                choices=tuple(Choice(str(c["content"]), c.get("finish_reason")) for c in response["choices"]),
                prompt_tokens=_count(response.get("prompt_tokens")),
                completion_tokens=_count(response.get("completion_tokens")),
                cached=True,
                key=key,
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # an unreadable entry is asked again and overwritten

    def _write_cache(self, key: str, entry: dict[str, Any]) -> None:
        path = self.cache_path(key)
        if path is None:
            return
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(entry, ensure_ascii=False, indent=1), encoding="utf-8")


def _entry(endpoint: str, key: str, body: dict[str, Any], completion: Completion, model: str | None) -> dict[str, Any]:
    """The cache file's content for an answered request."""
    return {
        "key": key,
        "endpoint": endpoint,
        "request": body,
        "response": {
            "model": model,
            "choices": [asdict(choice) for choice in completion.choices],
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        },
    }


def _not_json(completion: Completion) -> str | None:
    """Why a reply asked for under a JSON schema shows the server ignored it (a choice that is not
    JSON and was not cut at max_tokens), or None."""
    for index, choice in enumerate(completion.choices):
        if choice.finish_reason == "length":
            continue
        try:
            json.loads(choice.content)
        except ValueError:
            return f"the server answered choice {index} with text that is not JSON: {_shorten(choice.content)!r}"
    return None


def _attempts(exc: openai.OpenAIError) -> int:
    """Attempts the SDK made before raising ``exc`` (it numbers its retries in a request header)."""
    request = getattr(exc, "request", None)
    try:
        return int(request.headers.get("x-stainless-retry-count", 0)) + 1 if request is not None else 1
    except (TypeError, ValueError):
        return 1


def _shorten(text: str) -> str:
    """``text`` cut to ``_MESSAGE_CHARS`` (masking comes first, so no part of a key survives a cut)."""
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _display_url(url: str) -> str:
    """``url`` without user info, query or fragment (safe to print)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
