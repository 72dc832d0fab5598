"""A client for OpenAI-compatible chat endpoints (vLLM, llama.cpp server, Ollama, hosted APIs).

:class:`ChatClient` POSTs ``{base_url}/chat/completions`` with ``model``, ``messages``,
``temperature``, ``max_tokens``, ``seed`` and an optional ``response_format``, using only the
standard library.

- **Key.** The API key is read from the environment variable named by ``api_key_env`` (absent is
  fine for local servers) and sent as ``Authorization: Bearer``. It is kept in memory only: never in
  cache files, errors, usage counts or ``repr``. Whatever the server sends back (replies, error
  messages) has the key masked as ``***`` before it is used, printed or cached, so a server or a
  model that echoes it leaks it nowhere. Redirects are not followed, so the header never reaches
  another host.
- **Retries.** Connection errors, timeouts, HTTP 408, 429 and 5xx are retried up to ``max_retries``
  times, waiting ``backoff * 2**attempt`` seconds (at most ``max_backoff``) scaled by a jitter in
  [0.5, 1] drawn from a seeded generator, or longer when the server sends ``Retry-After`` (honoured
  up to ten minutes). Every other 4xx fails at once with a one-line error quoting the server's
  message: 401, 403 and 404 as :class:`~curate.errors.ConfigError` (key, permissions, URL or model),
  the rest as :class:`~curate.errors.StageError`.
- **Cache.** With ``cache_dir`` every answered request is stored as one JSON file,
  ``<cache_dir>/<key[:2]>/<key>.json``, written atomically (temporary file + rename). The key is
  the sha256 of the endpoint (``base_url`` without user info, query or fragment) and the request
  body (model, messages, temperature, max_tokens, seed, response_format), so two servers that serve
  a model under the same name never answer for each other; the API key is not part of it. A cached
  request sends nothing.
- **Concurrency.** :meth:`ChatClient.complete_many` runs requests on ``concurrency`` threads and
  returns the completions in input order; the first error stops requests not yet sent and is
  raised once the running ones end (their answers stay cached).
- **Usage.** :attr:`ChatClient.usage` sums requests, cache hits, retries, waiting time and the
  server's ``usage.prompt_tokens`` / ``completion_tokens``, separately for answered and cached
  requests.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import os
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from curate.errors import ConfigError, CurateError, StageError, Where
from curate.redact import redact

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": str}``."""

CACHE_FORMAT = 2  # 2: the endpoint is part of the key
RETRY_AFTER_CAP = 600.0  # seconds: a longer Retry-After is cut to this
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOPBACK = {"localhost", "::1", "ip6-localhost"}
_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class Completion:
    """The answer to one chat request: the assistant's ``content``, the server's ``finish_reason``
    (``length`` means ``max_tokens`` cut it short), its token counts, whether it came from the
    cache, and the cache ``key`` of the request."""

    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    key: str


@dataclass
class Usage:
    """What a client spent: requests answered by the server (``requests``) and from the cache
    (``cached``), ``retries`` and the seconds spent waiting before them (``waited``), tokens of the
    answered requests and, apart, of the cached ones, and wall ``seconds`` in :meth:`ChatClient.complete_many`."""

    requests: int = 0
    cached: int = 0
    retries: int = 0
    waited: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["waited"] = round(self.waited, 3)
        out["seconds"] = round(self.seconds, 3)
        return out


class _Aborted(Exception):
    """A request not sent because another one of its batch failed."""


@dataclass
class _Batch:
    """State shared by the requests of one :meth:`ChatClient.complete_many` call."""

    abort: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turns every redirect into an HTTPError, so the Authorization header stays with ``base_url``."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def is_loopback(host: str | None) -> bool:
    """True for ``localhost``, ``127.x.x.x`` and ``::1``."""
    host = (host or "").lower().strip("[]")
    return host in _LOOPBACK or host.startswith("127.")


def request_key(endpoint: str, body: dict[str, Any]) -> str:
    """The cache key of a request body sent to ``endpoint``: sha256 of their canonical JSON."""
    canonical = json.dumps(
        {"cache_format": CACHE_FORMAT, "endpoint": endpoint, **body}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


class ChatClient:
    """Chat completions from an OpenAI-compatible endpoint, cached, retried and concurrent.

    Args:
        base_url: the API root that serves ``/chat/completions``, e.g. ``http://127.0.0.1:8000/v1``
            (vLLM), ``http://127.0.0.1:11434/v1`` (Ollama) or ``https://api.openai.com/v1``.
        model: the model name the server knows.
        api_key_env: NAME of the environment variable holding the API key (not the key itself).
        timeout: seconds a connection or read may stall before the attempt counts as failed.
        max_retries: retries after the first attempt of a request.
        backoff: seconds before the first retry; doubled at each further retry.
        max_backoff: the longest wait between attempts (unless ``Retry-After`` asks for more).
        concurrency: requests in flight at once in :meth:`complete_many`.
        cache_dir: folder of the on-disk cache; None turns caching off.
        jitter_seed: seed of the retry jitter.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        concurrency: int = 4,
        cache_dir: str | Path | None = None,
        jitter_seed: int = 0,
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
        if max_retries < 0 or backoff < 0 or max_backoff < 0:
            raise ConfigError("max_retries, backoff and max_backoff must be >= 0", where=Where(field="max_retries"))
        self.base_url = base_url.strip().rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.display_url = _display_url(self.base_url)
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.concurrency = concurrency
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.usage = Usage()
        self._api_key = os.environ.get(api_key_env) or None
        self._lock = threading.Lock()
        self._rng = random.Random(jitter_seed)
        handlers: list[Any] = [_NoRedirect()]
        if is_loopback(parts.hostname):
            handlers.append(urllib.request.ProxyHandler({}))  # a local server is never reached via a proxy
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"ChatClient({self.display_url!r}, {self.model!r}, api_key_env={self.api_key_env!r})"

    # ----------------------------------------------------------------- requests
    def request_body(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON body sent for ``messages`` (fields left None are not sent)."""
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages]}
        body["temperature"] = temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if seed is not None:
            body["seed"] = seed
        if response_format is not None:
            body["response_format"] = response_format
        return body

    def complete(
        self,
        messages: Sequence[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Completion:
        """One chat completion, from the cache when the same request was answered before."""
        body = self.request_body(
            messages, temperature=temperature, max_tokens=max_tokens, seed=seed, response_format=response_format
        )
        return self._complete(body, None)

    def _complete(self, body: dict[str, Any], batch: _Batch | None) -> Completion:
        key = request_key(self.display_url, body)
        hit = self._read_cache(key)
        if hit is not None:
            with self._lock:
                self.usage.cached += 1
                self.usage.cached_prompt_tokens += hit.prompt_tokens
                self.usage.cached_completion_tokens += hit.completion_tokens
            return hit
        reply = self._post(body, batch)
        completion = self._completion(reply, key)
        if self.cache_dir is not None:
            self._write_cache(key, body, completion, reply.get("model"))
        with self._lock:
            self.usage.requests += 1
            self.usage.prompt_tokens += completion.prompt_tokens
            self.usage.completion_tokens += completion.completion_tokens
        return completion

    def complete_many(
        self,
        batch: Sequence[Sequence[Message]],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> list[Completion]:
        """Completions of many requests, ``concurrency`` at a time, in the order of ``batch``.

        The first failure stops the requests not yet sent; it is raised when the running ones end."""
        if not batch:
            return []
        started = time.perf_counter()
        state = _Batch()
        bodies = [
            self.request_body(
                messages, temperature=temperature, max_tokens=max_tokens, seed=seed, response_format=response_format
            )
            for messages in batch
        ]
        try:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies))) as pool:
                futures = [pool.submit(self._guarded, body, state) for body in bodies]
                _, pending = wait(futures, return_when=FIRST_EXCEPTION)
                if pending and state.abort.is_set():
                    for future in pending:
                        future.cancel()
                    wait(pending)
            if state.failure is not None:
                raise state.failure
            return [future.result() for future in futures]
        finally:
            with self._lock:
                self.usage.seconds += time.perf_counter() - started

    def _guarded(self, body: dict[str, Any], state: _Batch) -> Completion:
        if state.abort.is_set():
            raise _Aborted()
        try:
            return self._complete(body, state)
        except _Aborted:
            raise
        except BaseException as exc:
            with self._lock:
                if state.failure is None:
                    state.failure = exc
            state.abort.set()
            raise

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "curate"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _post(self, body: dict[str, Any], batch: _Batch | None) -> dict[str, Any]:
        """POST with retries; the parsed JSON reply. Within a batch, stops once another request failed."""
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        attempt = 0
        while True:
            if batch is not None and batch.abort.is_set():
                raise _Aborted()
            request = urllib.request.Request(self.url, data=payload, headers=self._headers(), method="POST")
            retry_after: float | None = None
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    raw = response.read()
                return self._decode(raw)
            except urllib.error.HTTPError as exc:
                status = exc.code
                message = self._server_message(exc)
                if not (status in (408, 429) or status >= 500):
                    raise self._refused(status, message, exc.headers.get("Location")) from None
                retry_after = parse_retry_after(exc.headers.get("Retry-After"))
                reason = f"HTTP {status}: {message}"
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = self._redact(_describe(exc))
            if attempt >= self.max_retries:
                raise StageError(
                    f"chat request to {self.display_url} failed after {attempt + 1} attempts ({reason})",
                    hint="check that the server is up; raise max_retries or timeout for a busy server",
                )
            delay = self._delay(attempt, retry_after)
            with self._lock:
                self.usage.retries += 1
                self.usage.waited += delay
            if batch is None:
                time.sleep(delay)
            elif batch.abort.wait(delay):
                raise _Aborted()
            attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        with self._lock:
            jitter = 0.5 + 0.5 * self._rng.random()
        delay = min(self.max_backoff, self.backoff * 2.0**attempt) * jitter
        return max(delay, retry_after) if retry_after is not None else delay

    def _decode(self, raw: bytes) -> dict[str, Any]:
        try:
            reply = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            reply = None
        if not isinstance(reply, dict) or not isinstance(reply.get("choices"), list) or not reply["choices"]:
            raise StageError(
                f"chat endpoint {self.display_url} answered with something that is not a chat completion",
                value=_shorten(self._redact(raw.decode("utf-8", "replace"))),
                hint="base_url must point at an OpenAI-compatible API root (ending in /v1)",
            )
        masked: dict[str, Any] = self._redact(reply)
        return masked

    def _server_message(self, exc: urllib.error.HTTPError) -> str:
        """The server's error message (OpenAI, vLLM, llama.cpp, Ollama and FastAPI shapes), one line."""
        try:
            raw = exc.read()
        except (OSError, http.client.HTTPException):
            raw = b""
        finally:
            exc.close()
        text = raw.decode("utf-8", "replace")
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        message: Any = text
        if isinstance(data, dict):
            error = data.get("error")
            if isinstance(error, dict):
                message = error.get("message") or error
            elif error:
                message = error
            else:
                message = data.get("message") or data.get("detail") or text
        line = " ".join(str(message).split()) or (exc.reason if isinstance(exc.reason, str) else "no message")
        return _shorten(self._redact(line))

    def _redact(self, value: Any) -> Any:
        return redact(value, self._api_key)

    def _refused(self, status: int, message: str, location: str | None) -> CurateError:
        """The error for a status that is not retried."""
        what = f"chat endpoint {self.display_url}"
        if status == 401:
            hint = (
                f"set the environment variable {self.api_key_env} to a valid key"
                if self._api_key
                else f"the environment variable {self.api_key_env} is not set (api_key_env names it)"
            )
            return ConfigError(f"{what} rejected the API key (HTTP 401: {message})", hint=hint)
        if status == 403:
            return ConfigError(
                f"{what} refused access (HTTP 403: {message})",
                hint=f"check that the key in {self.api_key_env} may use model '{self.model}'",
            )
        if status == 404:
            return ConfigError(
                f"{what} has no such endpoint or model (HTTP 404: {message})",
                hint=f"base_url must be the API root serving /chat/completions (e.g. http://127.0.0.1:8000/v1); "
                f"check that model '{self.model}' is served",
            )
        if 300 <= status < 400:
            target = self._redact(_display_url(location)) if location else "another address"
            return ConfigError(
                f"{what} redirects to {target} (HTTP {status})",
                hint="use the final address as base_url (redirects are not followed so the key stays with it)",
            )
        return StageError(
            f"{what} rejected the request (HTTP {status}: {message})",
            hint="check max_tokens, temperature and the prompt length against what the server accepts",
        )

    def _completion(self, reply: dict[str, Any], key: str) -> Completion:
        choice = reply["choices"][0] if isinstance(reply["choices"][0], dict) else {}
        message = choice.get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        usage = reply.get("usage")
        if not isinstance(usage, dict):
            usage = {}
        return Completion(
            content=content if isinstance(content, str) else "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=_count(usage.get("prompt_tokens")),
            completion_tokens=_count(usage.get("completion_tokens")),
            cached=False,
            key=key,
        )

    # ----------------------------------------------------------------- cache
    def cache_path(self, key: str) -> Path | None:
        """Where the answer to the request with ``key`` is cached (None without a cache)."""
        return self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir is not None else None

    def _read_cache(self, key: str) -> Completion | None:
        path = self.cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            response = saved["response"]
            return Completion(
                content=str(response["content"]),
                finish_reason=response.get("finish_reason"),
                prompt_tokens=_count(response.get("prompt_tokens")),
                completion_tokens=_count(response.get("completion_tokens")),
                cached=True,
                key=key,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # an unreadable entry is asked again and overwritten

    def _write_cache(self, key: str, body: dict[str, Any], completion: Completion, served_by: Any) -> None:
        path = self.cache_path(key)
        assert path is not None
        entry = {
            "key": key,
            "endpoint": self.display_url,
            "request": self._redact(body),
            "response": {
                "model": served_by if isinstance(served_by, str) else None,
                "content": completion.content,
                "finish_reason": completion.finish_reason,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, ensure_ascii=False, indent=1)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _shorten(text: str) -> str:
    """``text`` cut to ``_MESSAGE_CHARS`` (masking comes first, so no part of a key survives a cut)."""
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _describe(exc: BaseException) -> str:
    """A short reason for a connection-level failure."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason
        return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
