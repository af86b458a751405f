"""`archon serve` over raw HTTP: every broken request gets OpenAI's error body with the right status
(never a traceback, never a dead server), and a stop drains requests in flight or answers them 503."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from archon_cli.testing import FaultPlan, FaultServer
from tests.server import one_call, start_server, wait_in_flight

GOOD = {"model": "one-call", "messages": [{"role": "user", "content": "What is 1 + 2?"}]}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with FaultServer(FaultPlan(wrong_rate=0.0)) as provider, start_server([one_call(provider.api_base)]) as server:
        yield server.url


def assert_error(reply: httpx.Response, status: int, fragment: str = "", code: str | None = None) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert fragment in body["error"]["message"], body
    assert "Traceback" not in reply.text and 'File "' not in reply.text
    if code is not None:
        assert body["error"]["code"] == code


@pytest.mark.parametrize(
    ("content", "fragment", "code"),
    [
        (b"", "body is empty", "invalid_json"),
        (b"{not json", "not valid JSON at line 1, column 2", "invalid_json"),
        (b"\xff\xfe\x00garbage", "not valid JSON", "invalid_json"),
        (b"[" * 200_000, "not valid JSON", "invalid_json"),
        (b'["a list"]', "must be a JSON object, got list", "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "'model' is required", None),
        (b'{"model": 7, "messages": [{"role": "user", "content": "hi"}]}', "'model' must be a string", None),
        (b'{"model": "one-call"}', "'messages' is required", None),
        (b'{"model": "one-call", "messages": "hi"}', "'messages' must be a list", None),
        (b'{"model": "one-call", "messages": []}', "at least one message", None),
        (b'{"model": "one-call", "messages": [7]}', "'messages[0]' must be an object", None),
        (b'{"model": "one-call", "messages": [{"content": "hi"}]}', "'messages[0].role' is required", None),
        (
            b'{"model": "one-call", "messages": [{"role": "wizard", "content": "hi"}]}',
            "'messages[0].role' must be one of",
            None,
        ),
        (
            b'{"model": "one-call", "messages": [{"role": "user", "content": 5}]}',
            "string or a list of text parts",
            None,
        ),
        (
            b'{"model": "one-call", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}',
            "must be a text part",
            "unsupported_content",
        ),
        (b'{"model": "one-call", "messages": [{"role": "system", "content": "be brief"}]}', "a user message", None),
        (
            b'{"model": "one-call", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
            "'stream' must be true or false",
            None,
        ),
        (b'{"model": "one-call", "messages": [{"role": "user", "content": "hi"}], "n": 3}', "'n' must be 1", None),
        (
            b'{"model": "one-call", "messages": [{"role": "user", "content": "hi"}], "tools": [{}]}',
            "'tools' are not supported",
            None,
        ),
    ],
)
def test_malformed_requests_are_400(url: str, content: bytes, fragment: str, code: str | None) -> None:
    reply = httpx.post(url + "/v1/chat/completions", content=content, headers={"content-type": "application/json"})
    assert_error(reply, 400, fragment, code)


def test_unknown_fields_and_model_settings_are_ignored(url: str) -> None:
    body = {
        **GOOD,
        "temperature": 1.9,
        "max_tokens": 1,
        "top_p": 0.1,
        "stop": ["x"],
        "seed": 4,
        "user": "u-1",
        "metadata": {"a": 1},
        "some_future_field": [1, 2, {"x": None}],
        "n": 1,
        "messages": [
            {"role": "developer", "content": "Answer briefly.", "name": "dev"},
            {"role": "user", "content": [{"type": "text", "text": "What is 1 + 2?"}]},
        ],
    }
    reply = httpx.post(url + "/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "3"


def test_huge_bodies_are_413_declared_or_streamed(url: str) -> None:
    big = b'{"model": "one-call", "messages": [{"role": "user", "content": "' + b"a" * 9_000_000 + b'"}]}'
    assert_error(httpx.post(url + "/v1/chat/completions", content=big), 413, "over the limit", "request_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is only known while reading
        for _ in range(10):
            yield b"a" * 1_000_000

    assert_error(httpx.post(url + "/v1/chat/completions", content=chunks()), 413, "over the limit")


def test_paths_and_methods_answer_in_openai_shape(url: str) -> None:
    assert_error(httpx.get(url + "/v1/nothing/here"), 404, "Not Found", "not_found")
    assert_error(httpx.get(url + "/v1/chat/completions"), 405, "Method Not Allowed", "method_not_allowed")
    assert_error(httpx.get(url + "/v1/models/gpt-4o"), 404, "'gpt-4o' does not exist", "model_not_found")
    assert httpx.get(url + "/v1/models/one-call").json()["id"] == "one-call"
    assert httpx.post(url + "/chat/completions", json=GOOD).status_code == 200  # clients that drop the /v1


def test_a_storm_of_bad_requests_leaves_the_server_serving(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    for raw in (
        b"GARBAGE\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{",  # body never finished
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"\x00\x01\x02" * 100,
    ):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                sock.recv(65536)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: httpx.post(url + "/v1/chat/completions", content=b"{" * i), range(1, 41)))
    assert {r.status_code for r in replies} == {400}
    reply = httpx.post(url + "/v1/chat/completions", json=GOOD)
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "3"
    assert httpx.get(url + "/health").json()["status"] == "ok"


# -- the drain on stop ------------------------------------------------------------------------


def _post_in_flight(url: str) -> concurrent.futures.Future[httpx.Response]:
    """A request sent from another thread; returns once the server is running it."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    future = pool.submit(lambda: httpx.post(url + "/v1/chat/completions", json=GOOD, timeout=30))
    pool.shutdown(wait=False)
    wait_in_flight(url, 1)
    return future


def test_stop_lets_requests_in_flight_finish() -> None:
    with FaultServer(FaultPlan(latency=1.0, wrong_rate=0.0)) as provider:
        server = start_server([one_call(provider.api_base)], grace=10)
        pending = _post_in_flight(server.url)
        started = time.perf_counter()
        server.stop()
        stopped = time.perf_counter() - started
        reply = pending.result()
    assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "3"
    assert stopped < 5


def test_stop_answers_503_after_the_grace_period() -> None:
    with FaultServer(FaultPlan(latency=5.0)) as provider:
        server = start_server([one_call(provider.api_base)], grace=0.5)
        pending = _post_in_flight(server.url)
        started = time.perf_counter()
        server.stop()
        stopped = time.perf_counter() - started
        reply = pending.result()
    assert_error(reply, 503, "did not finish within the 0.5s grace period", "shutting_down")
    assert reply.headers["retry-after"] == "1"
    assert stopped < 4  # the grace, not the provider's 5 s
    assert json.loads(reply.text)["error"]["type"] == "server_error"
