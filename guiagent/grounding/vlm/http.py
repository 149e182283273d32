"""A :class:`VlmRuntime` that talks to an OpenAI-compatible server (vLLM, SGLang, llama.cpp
server, Ollama): ``POST {base_url}/chat/completions`` with the images as PNG data URLs.

Standard library only (urllib + json). Calls are deterministic (temperature 0) and ask for
token log-probabilities, which servers may ignore; a server that rejects them is asked again
without, and is not asked for them again. Connection errors, 429 and 5xx answers are retried
with exponential backoff and jitter (``Retry-After`` is respected); other 4xx answers are not.
The API key comes from ``GUIAGENT_VLM_API_KEY`` (or ``OPENAI_API_KEY``) and never appears in a
repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import email.utils
import io
import ipaddress
import json
import logging
import os
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from guiagent.errors import ModelServerError
from guiagent.grounding.vlm.base import Generation, Message

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

API_KEY_VARIABLES = ("GUIAGENT_VLM_API_KEY", "OPENAI_API_KEY")
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_SHOWN_CHARS = 300


def api_key_from_environment() -> str | None:
    """The first non-empty of ``GUIAGENT_VLM_API_KEY`` and ``OPENAI_API_KEY``, else None."""
    for name in API_KEY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where the server is and how to talk to it.

    ``base_url`` ends where the OpenAI paths begin (``http://host:8000/v1``; Ollama:
    ``http://host:11434/v1``). ``model=""`` uses the server's only model. Retries: at most
    ``retries`` more attempts after the first, waiting ``backoff_s * 2**n`` (jittered to
    50-100%, capped at ``max_backoff_s``) or what ``Retry-After`` asks, up to
    ``max_retry_after_s``.
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = ""
    api_key: str | None = field(default_factory=api_key_from_environment, repr=False)
    timeout_s: float = 120.0
    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0
    logprobs: bool = True

    def __post_init__(self) -> None:
        url = self.base_url.strip().rstrip("/")
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must look like http://host:8000/v1, not {self.base_url!r}")
        object.__setattr__(self, "base_url", url)
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")
        if self.retries < 0 or self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("retries, backoff_s and max_backoff_s must not be negative")


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    retry_after: float | None = None


class _HttpStatusError(Exception):
    """A non-retryable (or finally failed) HTTP status; turned into a ModelServerError by the caller."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail


class OpenAICompatibleRuntime:
    """Runs a VLM behind an OpenAI-compatible ``/chat/completions`` endpoint.

    ``sleep`` and ``rng`` are what the retry loop waits with and jitters with (tests pass
    their own).
    """

    def __init__(self, settings: ServerSettings | None = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        self.settings = settings or ServerSettings()
        self._sleep = sleep
        self._rng = rng
        self._send_logprobs = self.settings.logprobs
        self._model = self.settings.model
        self._opener = _opener_for(self.settings.base_url)
        self.name = f"openai:{self._model or '?'}@{self.settings.base_url}"

    # -- public ----------------------------------------------------------------------------

    def generate(self, messages: Sequence[Message], images: Sequence[Image.Image], *,
                 max_new_tokens: int = 64) -> Generation:
        started = time.perf_counter()  # elapsed_ms: the whole call, image encoding and retries included
        converted = chat_messages(messages, images)  # checks the images before any request
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": converted,
            "temperature": 0,
            "max_tokens": max_new_tokens,
        }
        data = self._post_chat(payload)
        text, logprobs, input_tokens = parse_completion(data, self._redact)
        return Generation(text=text, token_logprobs=logprobs,
                          elapsed_ms=(time.perf_counter() - started) * 1000.0,
                          input_tokens=input_tokens)

    def list_models(self) -> list[str]:
        """The model names the server serves (``GET {base_url}/models``)."""
        try:
            answer = self._with_retries("GET", "/models", None)
        except _HttpStatusError as error:
            raise self._status_error(error, "/models") from None
        data = self._json(answer.body, "/models")
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ModelServerError(f"{self.settings.base_url}/models answered without a 'data' list; "
                                   "is base_url the OpenAI-compatible root (it usually ends in /v1)?")
        return [str(entry["id"]) for entry in entries if isinstance(entry, dict) and "id" in entry]

    @property
    def model(self) -> str:
        """The model name sent with each call; asks the server once when none was set."""
        if not self._model:
            models = self.list_models()
            if len(models) != 1:
                raise ModelServerError(
                    f"no model name set and the server at {self.settings.base_url} serves "
                    f"{len(models)} models ({', '.join(models) or 'none'}); "
                    "choose one with ServerSettings(model=...)")
            self._model = models[0]
            self.name = f"openai:{self._model}@{self.settings.base_url}"
        return self._model

    # -- requests --------------------------------------------------------------------------

    def _post_chat(self, payload: dict[str, Any]) -> Any:
        while True:
            if self._send_logprobs:
                payload["logprobs"] = True
            else:
                payload.pop("logprobs", None)
            try:
                answer = self._with_retries("POST", "/chat/completions", json.dumps(payload).encode())
            except _HttpStatusError as error:
                if (self._send_logprobs and error.status in (400, 422)
                        and "logprob" in error.detail.lower()):
                    log.info("%s rejects logprobs; asking again without", self.settings.base_url)
                    self._send_logprobs = False
                    continue
                raise self._status_error(error, "/chat/completions") from None
            return self._json(answer.body, "/chat/completions")

    def _with_retries(self, method: str, path: str, body: bytes | None) -> _Answer:
        s = self.settings
        attempts = s.retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                answer = self._request(method, path, body)
            except _ConnectionProblem as problem:
                if last or not problem.retryable:
                    raise ModelServerError(self._connection_message(problem, attempt + 1)) from None
                delay = self._backoff(attempt)
                log.warning("%s%s: %s; retrying in %.2f s", s.base_url, path, problem.reason, delay)
                self._sleep(delay)
                continue
            if answer.status < 400:
                return answer
            detail = self._redact(_error_detail(answer.body))
            if answer.status not in _RETRYABLE_STATUS or last:
                raise _HttpStatusError(answer.status, detail)
            if answer.retry_after is not None and answer.retry_after > s.max_retry_after_s:
                raise ModelServerError(
                    f"{s.base_url}{path} answered {answer.status} and asks to wait "
                    f"{answer.retry_after:.0f} s (more than max_retry_after_s={s.max_retry_after_s:g}); "
                    f"try again later. The server said: {detail}")
            delay = answer.retry_after if answer.retry_after is not None else self._backoff(attempt)
            log.warning("%s%s answered %d; retrying in %.2f s", s.base_url, path, answer.status, delay)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _request(self, method: str, path: str, body: bytes | None) -> _Answer:
        headers = {"Accept": "application/json", "User-Agent": "guiagent"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        request = urllib.request.Request(self.settings.base_url + path, data=body, headers=headers,
                                         method=method)
        try:
            with self._opener.open(request, timeout=self.settings.timeout_s) as response:
                return _Answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            try:
                content = error.read()
            except OSError:
                content = b""
            finally:
                error.close()
            return _Answer(error.code, content, _retry_after(error.headers.get("Retry-After")))
        except urllib.error.URLError as error:
            raise _ConnectionProblem.from_reason(error.reason) from None
        except TimeoutError:  # the connection was made but the answer did not come in time
            raise _ConnectionProblem(f"no answer within {self.settings.timeout_s:g} s", timeout=True,
                                     retryable=False) from None
        except OSError as error:  # reset, closed mid-answer, http.client protocol errors
            raise _ConnectionProblem.from_reason(error) from None

    def _backoff(self, attempt: int) -> float:
        s = self.settings
        delay = min(s.max_backoff_s, s.backoff_s * 2.0**attempt)
        return delay * (0.5 + 0.5 * self._rng())

    # -- errors ----------------------------------------------------------------------------

    def _connection_message(self, problem: _ConnectionProblem, attempts: int) -> str:
        url = self.settings.base_url
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        if problem.timeout:
            return (f"the VLM server at {url} did not answer within {self.settings.timeout_s:g} s{tries}; "
                    "it may be overloaded or still loading the model: raise ServerSettings.timeout_s "
                    "or check the server's log")
        model = self.settings.model or "MODEL"
        return (f"could not reach the VLM server at {url}: {problem.reason}{tries}; is the server "
                f"running? start it with e.g. `vllm serve {model}` (or check base_url)")

    def _status_error(self, error: _HttpStatusError, path: str) -> ModelServerError:
        url = f"{self.settings.base_url}{path}"
        said = f"; the server said: {error.detail}" if error.detail else ""
        if error.status in (401, 403):
            where = ("the key in GUIAGENT_VLM_API_KEY (or OPENAI_API_KEY) was refused"
                     if self.settings.api_key else "no API key was sent")
            return ModelServerError(f"{url} answered {error.status} (not authorised): {where}; "
                                    f"set GUIAGENT_VLM_API_KEY to the server's key{said}")
        if error.status == 404:
            return ModelServerError(f"{url} answered 404{said}; {self._not_found_hint(path)}")
        if error.status == 413:
            return ModelServerError(f"{url} answered 413 (request too large){said}; send smaller "
                                    "images or raise the server's request size limit")
        return ModelServerError(f"{url} answered {error.status}{said}")

    def _not_found_hint(self, path: str) -> str:
        if path == "/models":
            return "is base_url the OpenAI-compatible root? it usually ends in /v1"
        try:
            models = self.list_models()
        except ModelServerError:
            return ("the server does not list its models either: is base_url the OpenAI-compatible "
                    "root? it usually ends in /v1")
        if self._model in models:
            return "the model is served, so check base_url (it usually ends in /v1)"
        shown = ", ".join(models) if models else "none"
        return f"model {self._model!r} is not served here; the server serves: {shown}"

    def _json(self, body: bytes, path: str) -> Any:
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            shown = self._redact(body[:_SHOWN_CHARS].decode("utf-8", "replace"))
            raise ModelServerError(f"{self.settings.base_url}{path} answered something that is not "
                                   f"JSON: {shown!r}; is base_url an OpenAI-compatible server?") from None

    def _redact(self, text: str) -> str:
        key = self.settings.api_key
        return text.replace(key, "***") if key else text


class _ConnectionProblem(Exception):
    def __init__(self, reason: str, *, timeout: bool = False, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout
        self.retryable = retryable

    @classmethod
    def from_reason(cls, reason: object) -> _ConnectionProblem:
        if isinstance(reason, socket.gaierror):
            return cls(f"host name not found ({reason})", retryable=False)
        if isinstance(reason, ConnectionRefusedError):
            return cls("connection refused")
        if isinstance(reason, TimeoutError):
            return cls("timed out while connecting")
        return cls(str(reason) or type(reason).__name__)


def chat_messages(messages: Sequence[Message], images: Sequence[Image.Image]) -> list[dict[str, Any]]:
    """``messages`` with each ``{"type": "image"}`` item replaced by the next image as a PNG data URL."""
    remaining = iter(images)
    used = 0
    converted: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) or content is None:
            converted.append(dict(message))
            continue
        items: list[Any] = []
        for item in content:
            if isinstance(item, dict) and item.get("type") == "image":
                image = next(remaining, None)
                if image is None:
                    raise ValueError(f"the messages have more image items than the {len(images)} "
                                     "images given")
                used += 1
                items.append({"type": "image_url", "image_url": {"url": png_data_url(image)}})
            else:
                items.append(item)
        converted.append({**message, "content": items})
    if used != len(images):
        raise ValueError(f"{len(images)} images given but the messages have {used} image items")
    return converted


def png_data_url(image: Image.Image) -> str:
    """``data:image/png;base64,...`` of ``image`` in RGB (fast compression: screens compress well)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def parse_completion(data: Any, redact: Callable[[str], str] = str) -> tuple[str, tuple[float, ...] | None,
                                                                              int | None]:
    """Text, token log-probabilities (if any) and prompt tokens (if told) of a chat completion."""
    if isinstance(data, dict) and "error" in data and not data.get("choices"):
        raise ModelServerError(f"the server answered an error: {redact(_error_detail(data))}")
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        shown = redact(json.dumps(data)[:_SHOWN_CHARS])
        raise ModelServerError(f"the server's answer has no choices: {shown}")
    choice = choices[0]
    message = choice.get("message")
    text = _content_text(message.get("content") if isinstance(message, dict) else None)
    usage = data.get("usage")
    prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    input_tokens = prompt_tokens if isinstance(prompt_tokens, int) else None
    return text, _logprobs(choice.get("logprobs")), input_tokens


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers answer in parts
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _logprobs(logprobs: Any) -> tuple[float, ...] | None:
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None
    values: list[float] = []
    for entry in content:
        value = entry.get("logprob") if isinstance(entry, dict) else None
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        values.append(float(value))
    return tuple(values)


def _error_detail(body: bytes | Any) -> str:
    """The server's own words about an error, short: OpenAI, FastAPI and plain-text shapes."""
    data: Any = body
    if isinstance(body, bytes):
        text = body.decode("utf-8", "replace").strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return text[:_SHOWN_CHARS]
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return str(value)[:_SHOWN_CHARS]
    return json.dumps(data)[:_SHOWN_CHARS]


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _opener_for(base_url: str) -> urllib.request.OpenerDirector:
    """urllib's opener; a server on this machine is never reached through $http_proxy."""
    host = urllib.parse.urlsplit(base_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()
