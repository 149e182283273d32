"""OpenAICompatibleRuntime against a real HTTP server on 127.0.0.1 that answers like vLLM."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
from PIL import Image

from guiagent.errors import ModelServerError
from guiagent.grounding.vlm.base import Generation, VlmRuntime
from guiagent.grounding.vlm.http import OpenAICompatibleRuntime, ServerSettings, _retry_after

MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
KEY = "sk-test-0123456789"
FAST: dict[str, Any] = {"backoff_s": 0.001, "max_backoff_s": 0.002}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def vllm_answer(text: str = "(512,384)", logprobs: bool = True, prompt_tokens: int | None = 321) -> dict:
    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": text}}
    choice["logprobs"] = ({"content": [{"token": t, "logprob": -0.01 * (i + 1), "bytes": [],
                                        "top_logprobs": []} for i, t in enumerate(["(", "512", ")"])]}
                          if logprobs else None)
    answer: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion", "model": MODEL,
                              "choices": [choice]}
    if prompt_tokens is not None:
        answer["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": 3,
                           "total_tokens": prompt_tokens + 3}
    return answer


class FakeServer:
    """A ThreadingHTTPServer whose answers come from ``respond``; it records every request."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.respond: Callable[[Seen], Reply] = self.default
        self.release = threading.Event()  # ends a delayed answer early at teardown
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.answer(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self.answer(json.loads(self.rfile.read(length)))

            def answer(self, body: Any) -> None:
                seen = Seen(self.command, self.path, dict(self.headers.items()), body)
                fake.requests.append(seen)
                reply = fake.respond(seen)
                if reply.delay_s:
                    fake.release.wait(reply.delay_s)
                content = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client gave up (timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    @staticmethod
    def default(seen: Seen) -> Reply:
        if seen.path == "/v1/models":
            return Reply(body={"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        return Reply(body=vllm_answer())

    def posts(self) -> list[Seen]:
        return [seen for seen in self.requests if seen.method == "POST"]


@pytest.fixture()
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.httpd.shutdown()
    fake.httpd.server_close()


def runtime(server: FakeServer, **settings: Any) -> OpenAICompatibleRuntime:
    values: dict[str, Any] = {"model": MODEL, "api_key": KEY, "timeout_s": 5.0, **FAST, **settings}
    return OpenAICompatibleRuntime(ServerSettings(base_url=server.url, **values))


def grounding_messages() -> list[dict[str, Any]]:
    return [{"role": "system", "content": "You ground GUI targets."},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "crop:"},
                                         {"type": "image"}, {"type": "text", "text": "the Save button"}]}]


def images() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    frame = Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8), "RGB")
    crop = Image.fromarray(rng.integers(0, 256, (32, 32, 4), dtype=np.uint8), "RGBA")
    return [frame, crop]


def decode_data_url(url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(url[len(prefix):]))) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def test_request_shape_and_vllm_answer_with_logprobs(server: FakeServer) -> None:
    rt = runtime(server)
    assert isinstance(rt, VlmRuntime)
    pictures = images()
    generation = rt.generate(grounding_messages(), pictures, max_new_tokens=24)

    assert isinstance(generation, Generation)
    assert generation.text == "(512,384)"
    assert generation.token_logprobs == pytest.approx((-0.01, -0.02, -0.03))
    assert generation.input_tokens == 321
    assert generation.elapsed_ms > 0

    [seen] = server.requests
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.headers["Content-Type"] == "application/json"
    body = seen.body
    assert body["model"] == MODEL
    assert body["temperature"] == 0
    assert body["max_tokens"] == 24
    assert body["logprobs"] is True
    system, user = body["messages"]
    assert system == {"role": "system", "content": "You ground GUI targets."}
    kinds = [item["type"] for item in user["content"]]
    assert kinds == ["image_url", "text", "image_url", "text"]
    assert user["content"][3] == {"type": "text", "text": "the Save button"}
    first, second = (decode_data_url(item["image_url"]["url"])
                     for item in user["content"] if item["type"] == "image_url")
    assert np.array_equal(first, np.asarray(pictures[0]))
    assert np.array_equal(second, np.asarray(pictures[1].convert("RGB")))


def test_server_without_logprobs_or_usage(server: FakeServer) -> None:
    server.respond = lambda seen: Reply(body=vllm_answer("click(10, 20)", logprobs=False, prompt_tokens=None))
    generation = runtime(server).generate(grounding_messages(), images())
    assert generation.text == "click(10, 20)"
    assert generation.token_logprobs is None
    assert generation.input_tokens is None


def test_server_that_rejects_logprobs_is_asked_again_without_and_remembered(server: FakeServer) -> None:
    def respond(seen: Seen) -> Reply:
        if "logprobs" in seen.body:
            return Reply(400, {"object": "error", "message": "logprobs is not supported by this model",
                               "type": "BadRequestError", "code": 400})
        return Reply(body=vllm_answer(logprobs=False))

    server.respond = respond
    rt = runtime(server)
    assert rt.generate(grounding_messages(), images()).text == "(512,384)"
    assert rt.generate(grounding_messages(), images()).token_logprobs is None
    assert ["logprobs" in seen.body for seen in server.posts()] == [True, False, False]


def test_other_400_is_not_retried(server: FakeServer) -> None:
    server.respond = lambda seen: Reply(400, {"error": {"message": "max_tokens is too large"}})
    with pytest.raises(ModelServerError, match=r"answered 400.*max_tokens is too large"):
        runtime(server).generate(grounding_messages(), images())
    assert len(server.requests) == 1


def test_api_key_from_environment_never_shown(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("GUIAGENT_VLM_API_KEY", "sk-guiagent")
    assert ServerSettings().api_key == "sk-guiagent"
    monkeypatch.delenv("GUIAGENT_VLM_API_KEY")
    settings = ServerSettings(base_url=server.url, model=MODEL)
    assert settings.api_key == "sk-openai"
    assert "sk-openai" not in repr(settings)
    OpenAICompatibleRuntime(settings).generate(grounding_messages(), images())
    assert server.requests[-1].headers["Authorization"] == "Bearer sk-openai"

    monkeypatch.delenv("OPENAI_API_KEY")
    OpenAICompatibleRuntime(ServerSettings(base_url=server.url, model=MODEL)).generate([], [])
    assert "Authorization" not in server.requests[-1].headers


def test_401_says_to_set_the_key_and_hides_it(server: FakeServer) -> None:
    server.respond = lambda seen: Reply(401, {"error": {"message": f"invalid key {KEY}"}})
    with pytest.raises(ModelServerError) as caught:
        runtime(server).generate(grounding_messages(), images())
    message = str(caught.value)
    assert "401" in message and "GUIAGENT_VLM_API_KEY" in message
    assert KEY not in message
    assert len(server.requests) == 1


def test_503_is_retried_until_ok(server: FakeServer) -> None:
    def respond(seen: Seen) -> Reply:
        if len(server.requests) <= 2:
            return Reply(503, {"error": {"message": "model is loading"}})
        return Reply(body=vllm_answer())

    server.respond = respond
    assert runtime(server, retries=3).generate(grounding_messages(), images()).text == "(512,384)"
    assert len(server.requests) == 3


def test_gives_up_after_the_retries(server: FakeServer) -> None:
    server.respond = lambda seen: Reply(502, b"Bad Gateway", {"Content-Type": "text/plain"})
    with pytest.raises(ModelServerError, match=r"answered 502.*Bad Gateway"):
        runtime(server, retries=2).generate(grounding_messages(), images())
    assert len(server.requests) == 3


def test_backoff_grows_and_retry_after_is_respected(server: FakeServer) -> None:
    def respond(seen: Seen) -> Reply:
        if len(server.requests) == 1:
            return Reply(503, {"error": "busy"})
        if len(server.requests) == 2:
            return Reply(429, {"error": "slow down"}, {"Retry-After": "7"})
        if len(server.requests) == 3:
            return Reply(500, {"error": "oops"})
        return Reply(body=vllm_answer())

    server.respond = respond
    waits: list[float] = []
    settings = ServerSettings(base_url=server.url, model=MODEL, api_key=KEY, retries=5, backoff_s=1.0)
    rt = OpenAICompatibleRuntime(settings, sleep=waits.append, rng=lambda: 1.0)
    assert rt.generate(grounding_messages(), images()).text == "(512,384)"
    assert waits == [1.0, 7.0, 4.0]  # backoff 1 * 2**0, then Retry-After, then 1 * 2**2


def test_retry_after_beyond_the_limit_fails_at_once(server: FakeServer) -> None:
    server.respond = lambda seen: Reply(429, {"error": "quota"}, {"Retry-After": "3600"})
    waits: list[float] = []
    settings = ServerSettings(base_url=server.url, model=MODEL, api_key=KEY, max_retry_after_s=30)
    with pytest.raises(ModelServerError, match="asks to wait 3600 s"):
        OpenAICompatibleRuntime(settings, sleep=waits.append).generate(grounding_messages(), images())
    assert waits == [] and len(server.requests) == 1


def test_retry_after_header_forms() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after(None) is None and _retry_after("soon") is None
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < (_retry_after(date) or 0) <= 30


def test_timeout_fails_within_bounded_time(server: FakeServer) -> None:
    server.respond = lambda seen: Reply(body=vllm_answer(), delay_s=5.0)
    started = time.monotonic()
    with pytest.raises(ModelServerError, match=r"did not answer within 0.3 s.*timeout_s"):
        runtime(server, timeout_s=0.3, retries=2).generate(grounding_messages(), images())
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 1  # a slow server is not sent the same work again


def test_connection_refused_says_to_start_the_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ServerSettings(base_url=f"http://127.0.0.1:{port}/v1", model=MODEL, api_key=KEY,
                              retries=2, **FAST)
    with pytest.raises(ModelServerError) as caught:
        OpenAICompatibleRuntime(settings).generate(grounding_messages(), images())
    message = str(caught.value)
    assert "connection refused" in message and "after 3 attempts" in message
    assert f"vllm serve {MODEL}" in message and KEY not in message


def test_malformed_answers(server: FakeServer) -> None:
    html = {"Content-Type": "text/html"}
    server.respond = lambda seen: Reply(body=b"<html>proxy login</html>", headers=html)
    with pytest.raises(ModelServerError, match=r"not JSON.*proxy login"):
        runtime(server).generate(grounding_messages(), images())
    server.respond = lambda seen: Reply(body={"id": "x", "choices": []})
    with pytest.raises(ModelServerError, match="no choices"):
        runtime(server).generate(grounding_messages(), images())
    server.respond = lambda seen: Reply(body={"error": {"message": "out of memory"}})
    with pytest.raises(ModelServerError, match="out of memory"):
        runtime(server).generate(grounding_messages(), images())
    assert len(server.requests) == 3


def test_unknown_model_lists_the_served_ones(server: FakeServer) -> None:
    def respond(seen: Seen) -> Reply:
        if seen.method == "POST":
            return Reply(404, {"object": "error", "message": "The model `nope` does not exist."})
        return Reply(body={"data": [{"id": "a-model"}, {"id": "b-model"}]})

    server.respond = respond
    served = "'nope' is not served here; the server serves: a-model, b-model"
    with pytest.raises(ModelServerError, match=served):
        runtime(server, model="nope").generate(grounding_messages(), images())


def test_list_models_and_the_only_model_is_used_when_none_is_named(server: FakeServer) -> None:
    rt = runtime(server, model="")
    assert rt.list_models() == [MODEL]
    rt.generate(grounding_messages(), images())
    assert server.posts()[0].body["model"] == MODEL
    assert MODEL in rt.name


def test_image_count_must_match_the_image_items(server: FakeServer) -> None:
    rt = runtime(server)
    with pytest.raises(ValueError, match="more image items"):
        rt.generate(grounding_messages(), images()[:1])
    with pytest.raises(ValueError, match="3 images given"):
        rt.generate(grounding_messages(), [*images(), images()[0]])
    assert server.requests == []


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="base_url"):
        ServerSettings(base_url="localhost:8000")
    with pytest.raises(ValueError, match="timeout_s"):
        ServerSettings(timeout_s=0)
    assert ServerSettings(base_url="http://h:8000/v1/").base_url == "http://h:8000/v1"


def test_configured_server_grounds_a_description_through_ecp(server: FakeServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """configure_vlm(base_url=...) routes descriptions to the server; the server finds a red
    square in each image it receives and answers in Qwen2.5-VL's pixel space."""
    import guiagent.grounding as grounding
    from guiagent.geometry import Point
    from guiagent.grounding.vlm import configure_vlm
    from guiagent.screen.capture import Frame

    # Keep the registration to this test: other tests expect no VLM to be configured.
    monkeypatch.setattr(grounding, "_FACTORIES", dict(grounding._FACTORIES))
    monkeypatch.setattr(grounding, "_INSTANCES", dict(grounding._INSTANCES))
    pixels = np.full((2160, 3840, 3), 240, np.uint8)
    pixels[1500:1540, 900:940] = (0, 0, 255)  # BGR red, centre (920, 1520)
    sizes: list[tuple[int, int]] = []

    def answer(seen: Seen) -> Reply:
        if seen.path == "/v1/models":
            return FakeServer.default(seen)
        items = seen.body["messages"][-1]["content"]
        shown = decode_data_url([i for i in items if i["type"] == "image_url"][-1]["image_url"]["url"])
        sizes.append((shown.shape[1], shown.shape[0]))
        ys, xs = np.nonzero((shown[..., 0] > 200) & (shown[..., 1] < 80))
        text = f'{{"point_2d": [{xs.mean() + 0.5:.0f}, {ys.mean() + 0.5:.0f}]}}'
        return Reply(body=vllm_answer(text))

    server.respond = answer
    monkeypatch.setenv("GUIAGENT_VLM_API_KEY", KEY)
    configure_vlm(base_url=server.url, server_model=MODEL)
    match = grounding.locate(Frame(pixels), "the red square icon")
    assert match.grounder == "vlm"
    assert match.point.distance_to(Point(920.0, 1520.0)) <= 2.5
    assert sizes[0][0] * sizes[0][1] <= 1_003_520 and sizes[1] == (1036, 1036)
    assert 0.9 < match.score < 1.0  # from the server's token log-probabilities
