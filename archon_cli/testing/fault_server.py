"""An OpenAI-compatible chat-completions server with seeded faults, for tests and benchmarks.

The engine reaches it exactly as it reaches vLLM or llama.cpp: a component with
``model: openai/fake-model`` and ``api_base: <url>/v1``. Each request gets a fixed latency and,
with the configured probabilities, one fault: HTTP 500, HTTP 429 with ``Retry-After``, a hang past
the client's timeout, a 200 whose body is not JSON, a 200 with no choices, or a permanent refusal
(HTTP 403, HTTP 422). Replies are
deterministic text derived from the prompt: tiny-arith questions ("What is 3 + 4?") get the right
number except for a seeded share of wrong ones, so scores mean something; rankers, critics and
verifiers get replies in the format they parse. Which component asks is read from the request's
``X-Archon-Purpose`` header (archon sends the request's ``purpose`` there), never guessed from the
prompt's wording. Like a sampling server, it answers a prompt it has seen before at temperature
> 0 with other text (the n-th draw of a prompt gets its own reply; arithmetic stays right or
wrong per question), so independent samples can be told apart; a greedy request (temperature 0)
gets the first draw's text and takes no draw, so greedy and sampled requests of one prompt may
arrive in any order and each sample is the same. A request with ``n`` gets ``n``
choices, the next ``n`` draws of its prompt (so ten requests and one with ``n = 10`` get the same
ten texts), with OpenAI's usage: the prompt once, the completion tokens summed over the choices;
its fault, if any, is the whole request's. ``ignore_n`` makes it answer one choice whatever ``n``
says, as some OpenAI-compatible servers do; ``fail_first`` answers the first requests with HTTP 500.

Whether a request faults depends only on the seed, the model, the messages and how many times the
same messages were seen before, so a run is reproducible whatever the concurrency. The server
counts every request (total and per fault kind) for tests to compare with the client's own count.

In-process::

    with FaultServer(FaultPlan(latency=0.1, error_500=0.1)) as server:
        ...  # server.api_base, server.stats(), server.reset()

Standalone (prints its URL on the first line, serves until interrupted)::

    python -m archon_cli.testing.fault_server --port 0 --latency 0.1 --error-500 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import resource
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from archon_cli.llm.types import PURPOSE_HEADER

KINDS = ("ok", "error_500", "error_429", "hang", "garbage", "no_choices", "error_403", "error_422")
_FAULTS = KINDS[1:]


@dataclass(frozen=True)
class FaultPlan:
    """What the server does. Fault rates are probabilities per request; their sum must be <= 1."""

    latency: float = 0.0
    error_500: float = 0.0
    error_429: float = 0.0
    hang: float = 0.0
    garbage: float = 0.0  # a 200 whose body is not JSON
    no_choices: float = 0.0  # a 200 with "choices": []
    error_403: float = 0.0  # permission denied (permanent)
    error_422: float = 0.0  # unprocessable entity (permanent), as vLLM says of a parameter it rejects
    retry_after: float = 0.1  # seconds, sent with every 429
    hang_seconds: float = 30.0  # a hang ends after this long (or when the client gives up)
    wrong_rate: float = 0.2  # share of arithmetic questions answered wrongly
    seed: int = 0
    echo_headers: bool = False  # error bodies quote the request headers, like a careless proxy
    barrier: int = 0  # hold the first requests until this many have arrived (forces clients to overlap)
    ignore_n: bool = False  # answer one choice whatever ``n`` asks for
    fail_first: int = 0  # the first requests received are answered HTTP 500 (a fault that is sure to happen)
    spread: bool = False  # draw k of an arithmetic prompt (temperature > 0) answers k more: samples never agree

    def __post_init__(self) -> None:
        rates = (*self.fault_rates(), self.wrong_rate)
        if any(r < 0 or r > 1 for r in rates) or sum(rates[:-1]) > 1 + 1e-9:
            raise ValueError("fault rates must be between 0 and 1 and sum to at most 1")
        if min(self.latency, self.retry_after, self.hang_seconds, self.barrier, self.fail_first) < 0:
            raise ValueError("latency, retry_after, hang_seconds, barrier and fail_first must be >= 0")

    def fault_rates(self) -> tuple[float, ...]:
        """The rate of each fault kind, in the order of ``KINDS[1:]``."""
        return tuple(getattr(self, kind) for kind in _FAULTS)

    def choose(self, u: float) -> str:
        """The fault kind for a uniform draw ``u`` in [0, 1)."""
        edge = 0.0
        for kind, rate in zip(_FAULTS, self.fault_rates(), strict=True):
            edge += rate
            if u < edge:
                return kind
        return "ok"


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) derived from ``parts`` (stable across processes and runs)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# -- replies -----------------------------------------------------------------------------------

_ARITH = re.compile(r"What is (\d+) ([+\-]) (\d+)\?")
_LARGER = re.compile(r"Which is larger, (\d+) or (\d+)\?")
_CANDIDATE = re.compile(r"^\[(\d+)\] (.*)$", re.M)
_NUMBER = re.compile(r"-?\d+")


def _right_answer(text: str) -> int | None:
    m = _ARITH.search(text)
    if m:
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        return a + b if op == "+" else a - b
    m = _LARGER.search(text)
    if m:
        return max(int(m.group(1)), int(m.group(2)))
    return None


def _first_number(text: str) -> int | None:
    m = _NUMBER.search(text)
    return int(m.group()) if m else None


def reply_text(
    messages: Sequence[dict[str, Any]],
    seed: int = 0,
    wrong_rate: float = 0.2,
    purpose: str = "",
    draw: int = 0,
    spread: bool = False,
) -> str:
    """The deterministic reply to ``messages`` from the component ``purpose`` names (``ranker``,
    ``critic``, ``verifier:reasoning``, ``verifier:verdict``; anything else is answered as a
    question): a pure function of the purpose, the prompt, the seed and ``draw`` (which sample of
    this prompt it is; it changes the text of replies that are not arithmetic answers, and with
    ``spread`` an arithmetic answer too: draw k answers k more)."""
    contents = [str(m.get("content") or "") for m in messages]
    last = contents[-1] if contents else ""
    everything = "\n".join(contents)
    right = _right_answer(everything)
    candidates = [(int(k), text) for k, text in _CANDIDATE.findall(last)]

    def is_right(text: str) -> bool:
        return right is not None and _first_number(text) == right

    if purpose == "ranker":
        order = [k for k, t in candidates if is_right(t)] + [k for k, t in candidates if not is_right(t)]
        return " > ".join(f"[{k}]" for k in order) or "[1]"
    if purpose == "critic":
        return "\n".join(
            f"[{k}] Strengths: {'correct' if is_right(t) else 'short'}. Weaknesses: {'none' if is_right(t) else 'wrong'}."
            for k, t in candidates
        )
    proposed = re.search(r"Proposed answer:\n(.*)", last)
    if purpose == "verifier:verdict":
        return f"Verdict: {'correct' if proposed and is_right(proposed.group(1)) else 'incorrect'}"
    if purpose == "verifier:reasoning":
        return "The calculation checks out." if proposed and is_right(proposed.group(1)) else "The calculation is off."
    if right is None:
        drawn = last if draw == 0 else f"{last}\x1f{draw}"
        return f"Reply {hashlib.sha256(drawn.encode('utf-8')).hexdigest()[:8]}."
    question = (_ARITH.search(everything) or _LARGER.search(everything)).group(0)  # type: ignore[union-attr]
    wrong = _unit(seed, "wrong", question) < wrong_rate
    return str((right + 1 if wrong else right) + (draw if spread else 0))


def _tokens(text: str) -> int:
    """A token is a whitespace-separated word here (never more tokens than bytes, like real tokenizers)."""
    return max(1, len(text.split()))


def _truncate(text: str, max_tokens: object) -> str:
    """At most ``max_tokens`` tokens of ``text``, as a real server stops at the limit."""
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return text
    words = text.split()
    return text if len(words) <= max_tokens else " ".join(words[:max_tokens])


# -- the server --------------------------------------------------------------------------------


class FaultServer:
    """The server in a background thread of this process (its own event loop), on 127.0.0.1."""

    def __init__(self, plan: FaultPlan | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.plan = plan or FaultPlan()
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()  # requests for each (model, messages) digest
        self._draws: Counter[str] = Counter()  # sampled replies of each digest (greedy ones are no draw)
        self._auth: dict[str, None] = {}
        self._in_flight = 0
        self._max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the OpenAI ``api_base`` is ``url + "/v1"``)."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_base(self) -> str:
        return self.url + "/v1"

    def start(self) -> FaultServer:
        """Bind a port and serve from a background thread; returns once the server accepts."""
        _raise_fd_limit()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fault-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving (hung requests are ended) and join the thread."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self) -> None:
        self._stopping = asyncio.Event()
        self._runner = make_runner(self)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=4096).start()

    async def _close(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- counters

    def stats(self) -> dict[str, Any]:
        """Requests received: ``requests`` in all, ``by_kind`` (ok and each fault), in flight now
        and at most, and how many carried an ``Authorization`` header (the values stay private)."""
        with self._lock:
            return {
                "requests": sum(self._counts[k] for k in KINDS),
                "by_kind": {k: self._counts[k] for k in KINDS},
                "bad_requests": self._counts["bad_request"],
                "with_authorization": self._counts["with_authorization"],
                # Samples: choices sent in 200 replies, and the requests that asked for n > 1.
                "choices": self._counts["choices"],
                "n_requests": self._counts["n_requests"],
                # What the replies billed (usage of the 200s with choices).
                "prompt_tokens": self._counts["prompt_tokens"],
                "completion_tokens": self._counts["completion_tokens"],
                "in_flight": self._in_flight,
                "max_in_flight": self._max_in_flight,
                "plan": asdict(self.plan),
            }

    def reset(self, plan: FaultPlan | None = None) -> None:
        """Zero the counters (and the per-prompt occurrence counts); optionally change the plan."""
        with self._lock:
            self._counts.clear()
            self._seen.clear()
            self._draws.clear()
            self._auth.clear()
            self._max_in_flight = self._in_flight
            if plan is not None:
                self.plan = plan

    def authorizations(self) -> list[str]:
        """Distinct ``Authorization`` header values received (in-process only, never served)."""
        with self._lock:
            return list(self._auth)

    def _decide(
        self, model: str, messages: list[Any], authorization: str | None, n: int = 1, sampling: bool = True
    ) -> tuple[str, int]:
        """The fault kind of a request (by how many requests of its prompt came before), and how
        many draws of its prompt came before (a sampled request for ``n`` samples takes the next
        ``n``; a greedy one takes none, so when greedy and sampled requests of one prompt arrive
        in another order, every sample still gets the same draw)."""
        blob = json.dumps([model, messages], sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        with self._lock:
            occurrence = self._seen[digest]
            self._seen[digest] += n
            draw = self._draws[digest]
            if sampling:
                self._draws[digest] += n
            received = sum(self._counts[k] for k in KINDS)
            if received < self.plan.fail_first:
                kind = "error_500"
            else:
                kind = self.plan.choose(_unit(self.plan.seed, "fault", digest, occurrence))
            self._counts[kind] += 1
            if n > 1:
                self._counts["n_requests"] += 1
            if authorization:
                self._counts["with_authorization"] += 1
                self._auth.setdefault(authorization, None)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        return kind, draw

    async def _barrier(self) -> None:
        """Wait until ``plan.barrier`` requests have arrived in all (at most ``hang_seconds``)."""
        if self.plan.barrier <= 0:
            return
        deadline = time.monotonic() + self.plan.hang_seconds
        while time.monotonic() < deadline:
            with self._lock:
                if sum(self._counts[k] for k in KINDS) >= self.plan.barrier:
                    return
            await asyncio.sleep(0.01)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _bad_request(self) -> None:
        with self._lock:
            self._counts["bad_request"] += 1

    def _bill(self, prompt_tokens: int, completion_tokens: int, choices: int) -> None:
        with self._lock:
            self._counts["prompt_tokens"] += prompt_tokens
            self._counts["completion_tokens"] += completion_tokens
            self._counts["choices"] += choices

    # -- handlers

    async def handle_chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(messages, list) or not messages:
            self._bad_request()
            return _error(400, "request needs a non-empty 'messages' list")
        n = body.get("n", 1)  # type: ignore[union-attr]
        if n is None:
            n = 1
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
            self._bad_request()
            return _error(400, "'n' must be an integer from 1 to 128")
        model = str(body.get("model") or "")  # type: ignore[union-attr]
        plan = self.plan
        answered = 1 if plan.ignore_n else n
        temperature = body.get("temperature")  # type: ignore[union-attr]
        sampling = isinstance(temperature, (int, float)) and temperature > 0
        kind, draw = self._decide(model, messages, request.headers.get("Authorization"), answered, sampling)
        try:
            await self._barrier()
            if kind == "hang":
                assert self._stopping is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), plan.hang_seconds)
                return _error(504, "hung request ended")
            if plan.latency:
                await asyncio.sleep(plan.latency)
            echo = _echo(request) if plan.echo_headers else ""
            if kind == "error_500":
                return _error(500, f"injected server error{echo}")
            if kind == "error_429":
                return _error(429, f"injected rate limit{echo}", {"Retry-After": f"{plan.retry_after:g}"})
            if kind == "error_403":
                return _error(403, f"injected permission denied: this key may not use {model}{echo}")
            if kind == "error_422":
                return _error(422, f"injected unprocessable entity: {model} rejects this request{echo}")
            if kind == "garbage":
                return web.Response(
                    status=200, text="<html>upstream garbage, not JSON", content_type="application/json"
                )
            purpose = request.headers.get(PURPOSE_HEADER, "")
            limit = body.get("max_completion_tokens") or body.get("max_tokens")  # type: ignore[union-attr]
            texts = [
                _truncate(
                    reply_text(
                        messages, plan.seed, plan.wrong_rate, purpose, draw + i if sampling else 0, plan.spread
                    ),
                    limit,
                )
                for i in range(answered)
            ]
            prompt_tokens = sum(_tokens(str(m.get("content") or "")) for m in messages if isinstance(m, dict))
            completion_tokens = sum(_tokens(text) for text in texts)
            if kind != "no_choices":
                self._bill(prompt_tokens, completion_tokens, len(texts))
            choices = (
                []
                if kind == "no_choices"
                else [
                    {"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                    for i, text in enumerate(texts)
                ]
            )
            return web.json_response(
                {
                    "id": f"chatcmpl-{hashlib.sha256(texts[0].encode()).hexdigest()[:12]}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": choices,
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                }
            )
        finally:
            self._done()

    async def handle_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def handle_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.stats())

    async def handle_models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})


_ERROR_TYPES = {403: "permission_error", 422: "invalid_request_error", 429: "rate_limit_error"}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": _ERROR_TYPES.get(status, "server_error")}}
    return web.json_response(body, status=status, headers=headers)


def _echo(request: web.Request) -> str:
    # The key first, as some providers quote it (without its "sk-" prefix), then the headers with
    # Authorization first, so the key survives any truncation of the message on the client side.
    key = request.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("sk-")
    headers = sorted(request.headers.items(), key=lambda kv: kv[0].lower() != "authorization")
    return f"; incorrect key {key}; request headers: " + ", ".join(f"{k}: {v}" for k, v in headers)


def make_runner(server: FaultServer) -> web.AppRunner:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    for prefix in ("/v1", ""):
        app.router.add_post(prefix + "/chat/completions", server.handle_chat)
        app.router.add_get(prefix + "/models", server.handle_models)
    app.router.add_get("/stats", server.handle_stats)
    app.router.add_post("/reset", server.handle_reset)
    # A client that gives up (timeout) cancels its handler, so hung requests do not pile up.
    return web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)


def _raise_fd_limit() -> None:
    """Hundreds of concurrent connections need more file descriptors than the usual soft limit."""
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


# -- standalone --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m archon_cli.testing.fault_server",
        description="OpenAI-compatible chat-completions server with seeded faults (prints its URL).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each reply")
    p.add_argument("--error-500", type=float, default=0.0, help="share of requests answered with HTTP 500")
    p.add_argument("--error-429", type=float, default=0.0, help="share answered with HTTP 429 and Retry-After")
    p.add_argument("--hang", type=float, default=0.0, help="share that hang (past the client's timeout)")
    p.add_argument("--garbage", type=float, default=0.0, help="share answered 200 with a body that is not JSON")
    p.add_argument("--no-choices", type=float, default=0.0, help="share answered 200 with no choices")
    p.add_argument("--error-403", type=float, default=0.0, help="share answered with HTTP 403 (permanent)")
    p.add_argument("--error-422", type=float, default=0.0, help="share answered with HTTP 422 (permanent)")
    p.add_argument("--retry-after", type=float, default=0.1, help="Retry-After seconds sent with 429s")
    p.add_argument("--hang-seconds", type=float, default=30.0, help="how long a hang lasts at most")
    p.add_argument("--wrong-rate", type=float, default=0.2, help="share of arithmetic questions answered wrongly")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--echo-headers", action="store_true", help="quote request headers in error bodies")
    p.add_argument("--barrier", type=int, default=0, help="hold the first requests until this many arrived")
    p.add_argument("--ignore-n", action="store_true", help="answer one choice whatever 'n' asks for")
    p.add_argument("--fail-first", type=int, default=0, help="answer the first this many requests with HTTP 500")
    return p


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        plan = FaultPlan(
            latency=args.latency,
            error_500=args.error_500,
            error_429=args.error_429,
            hang=args.hang,
            garbage=args.garbage,
            no_choices=args.no_choices,
            error_403=args.error_403,
            error_422=args.error_422,
            retry_after=args.retry_after,
            hang_seconds=args.hang_seconds,
            wrong_rate=args.wrong_rate,
            seed=args.seed,
            echo_headers=args.echo_headers,
            barrier=args.barrier,
            ignore_n=args.ignore_n,
            fail_first=args.fail_first,
        )
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    server = FaultServer(plan, host=args.host, port=args.port).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
