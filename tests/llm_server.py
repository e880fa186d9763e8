"""A small OpenAI-compatible chat-completions server on loopback, for tests and manual runs.

Tests get it through the ``llm_server`` fixture and point the real ``openai`` client at
``server.base_url``; nothing mocks the client. Each ``POST /v1/chat/completions`` consumes one
queued behaviour (``server.enqueue(...)``); with the queue empty, ``server.default`` answers
(a valid persona unless a test changes it)::

    llm_server.enqueue(Status(429, retry_after="0.2"), Status(500), Drop(), Slow(1.0))
    llm_server.enqueue(Reply.from_callable(lambda req: Reply(req.body["messages"][-1]["content"])))
    ...
    assert llm_server.requests[0].body["temperature"] == 0.7

Behaviours: :class:`Reply`, :class:`Slow`, :class:`Status`, :class:`Drop`, :class:`Raw`.

Outside pytest it serves the default behaviour until interrupted, so a person can run the
product against it end to end::

    python -m tests.llm_server --port 8099
    OPENAI_BASE_URL=http://127.0.0.1:8099/v1 LLM_BACKEND=openai python manage.py ...
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import pytest

VALID_PERSONA: dict[str, Any] = {
    "summary": (
        "熱愛音樂與串流娛樂的年輕族群，通勤時間離不開耳機，週末常到展演空間看現場演出，"
        "也樂於在社群上分享新發現的歌單與生活小物。"
    ),
    "profile": {
        "basic_attributes": "以 20 至 25 歲的學生與社會新鮮人為主，居住在雙北與台中等都會區。",
        "personality": "好奇、外向，重視自我風格，容易被新鮮的內容與社群話題吸引。",
        "mental_state": "面對課業與初入職場的壓力，習慣用音樂與短影音放鬆、轉換心情。",
        "interests": "獨立音樂、演唱會、串流影集、手機遊戲與咖啡廳探店。",
        "lifestyle": "生活節奏快，多搭捷運通勤，消費精打細算但願意為喜愛的體驗花錢。",
    },
    "hashtags": {"zh": ["音樂愛好者", "多元生活"], "en": ["MusicLover", "DiverseLife"]},
    "age_groups": {"15-19": 30, "20-25": 40, "26-35": 20, "36-45": 5, "46-59": 3, "60+": 2},
    "gender": {"male": 60, "female": 40},
}

# Usage the server reports when a Reply does not say: a rough 4-characters-per-token estimate.
AUTO_USAGE = "auto"


def valid_persona_json() -> str:
    return json.dumps(VALID_PERSONA, ensure_ascii=False)


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it. ``body`` is the parsed JSON (None if there was none)."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any] | None
    received_at: float = field(default_factory=time.monotonic)


class Behaviour(Protocol):
    def respond(self, handler: _Handler, request: ReceivedRequest) -> None: ...


# --- behaviours ---------------------------------------------------------------------------------


@dataclass
class Reply:
    """A 200 chat completion with ``content``; ``model`` defaults to the one requested.

    ``usage=None`` leaves the usage object out; the default estimates it from the text.
    """

    content: str | None = field(default_factory=valid_persona_json)
    finish_reason: str = "stop"
    usage: tuple[int, int] | str | None = AUTO_USAGE
    model: str | None = None
    refusal: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def from_callable(fn: Callable[[ReceivedRequest], Reply | str | dict[str, Any]]) -> Computed:
        """A behaviour that answers from the request: ``fn`` returns a Reply, text or a dict."""
        return Computed(fn)

    def respond(self, handler: _Handler, request: ReceivedRequest) -> None:
        body = request.body or {}
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.refusal is not None:
            message["refusal"] = self.refusal
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model or body.get("model") or "fake-model",
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
        }
        usage = self._usage(body)
        if usage is not None:
            prompt, completion_tokens = usage
            completion["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt + completion_tokens,
            }
        handler.send_json(200, completion, self.headers)

    def _usage(self, body: dict[str, Any]) -> tuple[int, int] | None:
        if self.usage is None or isinstance(self.usage, tuple):
            return self.usage
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        return max(1, prompt_chars // 4), max(1, len(self.content or "") // 4)


@dataclass
class Computed:
    """See :meth:`Reply.from_callable`."""

    fn: Callable[[ReceivedRequest], Reply | str | dict[str, Any]]

    def respond(self, handler: _Handler, request: ReceivedRequest) -> None:
        answer = self.fn(request)
        if isinstance(answer, str):
            answer = Reply(answer)
        elif isinstance(answer, dict):
            answer = Reply(json.dumps(answer, ensure_ascii=False))
        answer.respond(handler, request)


@dataclass
class Slow:
    """Wait ``seconds`` (a client time-out usually fires first), then behave like ``then``."""

    seconds: float
    then: Behaviour = field(default_factory=Reply)

    def respond(self, handler: _Handler, request: ReceivedRequest) -> None:
        # An Event rather than time.sleep, so stopping the server does not wait for sleepers.
        if handler.server.stopping.wait(self.seconds):
            return
        # The client has usually given up waiting by now, which is the point.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.then.respond(handler, request)


@dataclass
class Status:
    """An error status with an OpenAI error body ``{"error": {message, type, code}}``.

    ``retry_after`` / ``retry_after_ms`` set those headers; ``body`` replaces the whole body
    (a dict is sent as JSON, a str as text).
    """

    status: int
    retry_after: str | None = None
    message: str | None = None
    type: str | None = None
    code: str | None = None
    retry_after_ms: str | None = None
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def respond(self, handler: _Handler, request: ReceivedRequest) -> None:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = self.retry_after_ms
        if isinstance(self.body, str):
            handler.send_raw(self.status, self.body.encode(), "text/plain; charset=utf-8", headers)
            return
        body = self.body if self.body is not None else self._error_body()
        handler.send_json(self.status, body, headers)

    def _error_body(self) -> dict[str, Any]:
        default_type, default_code = _ERROR_KINDS.get(
            self.status, ("server_error" if self.status >= 500 else "invalid_request_error", None)
        )
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Error"
        return {
            "error": {
                "message": self.message or phrase,
                "type": self.type or default_type,
                "param": None,
                "code": self.code or default_code,
            }
        }


_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class Drop:
    """Close the connection without answering (a crashed proxy, a reset load balancer)."""

    def respond(self, handler: _Handler, request: ReceivedRequest) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


@dataclass
class Raw:
    """Any status and bytes, e.g. a 200 that is not a chat completion."""

    status: int
    body: bytes
    content_type: str = "application/json"

    def respond(self, handler: _Handler, request: ReceivedRequest) -> None:
        handler.send_raw(self.status, self.body, self.content_type, {})


# --- the server ---------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck Slow never keeps the test process alive
    fake: FakeLLMServer
    stopping: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # pytest shows failures; a line per request would bury them

    def do_GET(self) -> None:
        request = self._receive(with_body=False)
        if request.path.rstrip("/") == "/v1/models":
            model = {"object": "model", "created": 0, "owned_by": "fake-llm-server"}
            data = [{"id": m, **model} for m in self.server.fake.models]
            self.send_json(200, {"object": "list", "data": data}, {})
        else:
            self._not_found(request)

    def do_POST(self) -> None:
        request = self._receive(with_body=True)
        fake = self.server.fake
        if request.path.rstrip("/") != "/v1/chat/completions":
            self._not_found(request)
            return
        if request.body is None:
            Status(400, message="We could not parse the JSON body of your request.").respond(
                self, request
            )
            return
        if fake.api_key is not None and request.headers.get("authorization") != (
            f"Bearer {fake.api_key}"
        ):
            Status(401, message="Incorrect API key provided.").respond(self, request)
            return
        if request.body.get("stream"):
            Status(400, message="stream is not supported by the fake server").respond(self, request)
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client went away
            fake.next_behaviour().respond(self, request)

    def _receive(self, *, with_body: bool) -> ReceivedRequest:
        body: dict[str, Any] | None = None
        if with_body:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(raw) if raw else None
                body = parsed if isinstance(parsed, dict) else None
            except ValueError:
                body = None
        request = ReceivedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.server.fake.record(request)
        return request

    def _not_found(self, request: ReceivedRequest) -> None:
        message = f"Unknown request URL: {request.method} {request.path}."
        Status(404, message=message, code="unknown_url").respond(self, request)

    def send_json(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_raw(status, data, "application/json", headers)

    def send_raw(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        # One request per connection: the client never reuses a socket the server is closing.
        self.send_header("Connection", "close")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True


class FakeLLMServer:
    """A scriptable OpenAI-compatible server on ``127.0.0.1`` (port 0: any free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o"),
    ) -> None:
        self.default: Behaviour = Reply()
        self.api_key = api_key  # None: accept any key (like Ollama); else require this one
        self.models = models
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._requests: list[ReceivedRequest] = []
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._httpd.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """Queued behaviours not yet consumed."""
        with self._lock:
            return len(self._queue)

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    """A fresh fake OpenAI server for one test."""
    with FakeLLMServer() as server:
        yield server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake OpenAI chat-completions API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: any)")
    args = parser.parse_args(argv)
    server = FakeLLMServer(args.host, args.port, api_key=args.api_key)
    print(f"Fake LLM server on {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
