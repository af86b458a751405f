"""What ``archon serve`` does with a request, apart from HTTP: which architecture answers it, the key
check, running it through the shared engine and gateway, what a failure means to the client, the
request log, and the drain at shutdown.

Every architecture shares the one gateway of the process, so all requests share its cache, budget
accountant, per-model limits and retries, exactly as the queries of one ``archon run`` do.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archon_cli.engine.runner import ArchitectureRunner, QueryResult
from archon_cli.errors import UserError
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.litellm_backend import redact_secrets
from archon_cli.llm.types import Message
from archon_cli.server.protocol import NO_CLIENT_RETRY, ApiError, model_card, shorten, usage_body
from archon_cli.server.request_log import RequestLog, log_record
from archon_cli.state import Query

MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ServeOptions:
    """``api_key``: the bearer token requests must carry (None: no key needed). ``concurrency``:
    requests running their architecture at once (0 = unbounded; the others wait their turn).
    ``grace``: seconds requests in flight get to finish after SIGTERM before they are answered 503."""

    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 32
    grace: float = 30.0
    max_body_bytes: int = MAX_BODY_BYTES
    request_log: Path | None = None
    # Seconds a client has to send a whole request (head and body); then 408 and disconnected.
    read_timeout: float = 10.0


@dataclass(frozen=True)
class ServedArchitecture:
    name: str
    runner: ArchitectureRunner

    @property
    def calls(self) -> int:
        return self.runner.architecture.static_calls()


def new_request_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def archon_figures(name: str, result: QueryResult) -> dict[str, Any]:
    """The ``archon`` field of a reply: the architecture's calls, cache hits, retries, cost and time per layer."""
    s = result.stats
    return {
        "architecture": name,
        "calls": s.calls,
        "requests": s.requests,  # provider requests (a generator's n samples may share one)
        "cache_hits": s.cache_hits,
        "retries": s.retries,
        "cost": round(s.cost, 8),
        "seconds": round(result.seconds, 4),
        "parse_failures": dict(s.parse_failures),
        "layers": [layer.summary() for layer in result.layers],
    }


def result_usage(result: QueryResult) -> dict[str, int]:
    """``usage``: the tokens of every call the architecture made (cache hits included)."""
    return usage_body(result.stats.prompt_tokens, result.stats.completion_tokens)


class RequestGate:
    """The requests running now: at most ``concurrency`` at once (0 = unbounded; the others wait),
    and the drain at shutdown: once it begins no request is let in, and ``grace`` seconds later
    those still running are cancelled and answered 503."""

    def __init__(self, concurrency: int, grace: float) -> None:
        self.grace = grace
        self.in_flight = 0
        self.draining = False
        self._slots = asyncio.Semaphore(concurrency) if concurrency > 0 else None
        self._tasks: set[asyncio.Future[QueryResult]] = set()
        self._expired = False

    async def run(self, work: Callable[[], Awaitable[QueryResult]]) -> QueryResult:
        """``work()`` in a slot; raises ApiError 503 when draining, or cut off by the end of the grace."""
        if self.draining:
            raise shutting_down()
        self.in_flight += 1
        task = asyncio.ensure_future(self._in_slot(work))
        self._tasks.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self._expired and task.cancelled() and not (current is not None and current.cancelling()):
                raise shutting_down(f"the request did not finish within the {self.grace:g}s grace period") from None
            raise  # the client went away, or the server is being stopped hard
        finally:
            self._tasks.discard(task)
            self.in_flight -= 1

    async def _in_slot(self, work: Callable[[], Awaitable[QueryResult]]) -> QueryResult:
        if self._slots is None:
            return await work()
        async with self._slots:
            return await work()

    def begin_drain(self) -> None:
        """Call on the server's event loop."""
        if not self.draining:
            self.draining = True
            asyncio.get_running_loop().call_later(self.grace, self._expire)

    def _expire(self) -> None:
        self._expired = True
        for task in list(self._tasks):
            task.cancel()


class ArchitectureService:
    """The architectures served, by name, and the state of the server (counters, drain)."""

    def __init__(
        self,
        architectures: list[ServedArchitecture],
        gateway: LLMGateway,
        options: ServeOptions | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        names = [a.name for a in architectures]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise UserError(f"two architectures are named {duplicate!r}: serve one as NAME=PATH")
        if not architectures:
            raise UserError("no architecture to serve")
        self.architectures = {a.name: a for a in architectures}
        self.gateway = gateway
        self.options = options or ServeOptions()
        self.notify = notify or (lambda _message: None)
        self.created = int(time.time())
        self.started = time.monotonic()
        self.log = RequestLog(self.options.request_log, on_warning=lambda message: self.notify(message))
        self.statuses: Counter[int] = Counter()
        self.gate = RequestGate(self.options.concurrency, self.options.grace)
        self._running: dict[str, QueryResult] = {}

    # -- who may ask, and for what

    def check_key(self, authorization: str | None) -> None:
        """401 unless the request carries the server's key as ``Authorization: Bearer KEY``."""
        expected = self.options.api_key
        if expected is None:
            return
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "missing API key: send it as 'Authorization: Bearer <key>'", code="invalid_api_key")
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            raise ApiError(401, "incorrect API key", code="invalid_api_key")

    def architecture(self, name: str) -> ServedArchitecture:
        served = self.architectures.get(name)
        if served is None:
            known = ", ".join(sorted(self.architectures))
            raise ApiError(
                404,
                f"the model {shorten(name)!r} does not exist here; served: {known}",
                code="model_not_found",
                param="model",
            )
        return served

    def models(self) -> list[dict[str, Any]]:
        return [model_card(a.name, self.created, a.calls) for a in self.architectures.values()]

    # -- answering

    async def run(self, served: ServedArchitecture, messages: tuple[Message, ...], request_id: str) -> QueryResult:
        """Run ``served`` on the conversation. A provider failure or a spent budget comes back in the
        result (see ``failure``); raises ApiError 503 when the server is shutting down."""
        query = Query(messages=messages, id=request_id)
        # Kept until the request is logged: a run cut short (the grace, a client gone) has spent calls.
        result = self._running[request_id] = QueryResult(query=query)
        return await self.gate.run(lambda: served.runner.run_safely(query, result))

    def failure(self, result: QueryResult) -> ApiError | None:
        """What a failed run is to the client: 429 when a budget stopped it, 502 when a provider failed
        after archon's retries. Both say 'do not resend' to clients that listen (``x-should-retry``)."""
        if result.error is None:
            return None
        message = self.redact(result.error)
        if result.budget_stop:
            return ApiError(429, message, type="insufficient_quota", code="budget_spent", headers=dict(NO_CLIENT_RETRY))
        return ApiError(502, message, type="server_error", code="provider_error", headers=dict(NO_CLIENT_RETRY))

    def redact(self, text: str) -> str:
        return redact_secrets(text, [self.options.api_key])

    def record(
        self,
        request_id: str,
        model: str | None,
        status: int,
        stream: bool,
        stats: CallStats | None,
        started: float,
        error: str | None = None,
    ) -> None:
        """Count the request and append it to the request log (with what a run cut short spent)."""
        partial = self._running.pop(request_id, None)
        if stats is None and partial is not None:
            stats = partial.stats
        self.statuses[status] += 1
        if model is not None:
            model = shorten(model)
        self.log.append(log_record(request_id, model, status, stream, stats, time.perf_counter() - started, error))

    # -- shutdown

    @property
    def draining(self) -> bool:
        return self.gate.draining

    def begin_drain(self) -> None:
        """Refuse new requests (503); those in flight get ``grace`` seconds, then are answered 503.
        Call on the server's event loop."""
        self.gate.begin_drain()

    def close(self) -> None:
        self.log.close()

    def health(self) -> dict[str, Any]:
        spent = self.gateway.stats
        return {
            "status": "draining" if self.draining else "ok",
            "models": list(self.architectures),
            "in_flight": self.gate.in_flight,
            "requests": sum(self.statuses.values()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "uptime_s": round(time.monotonic() - self.started, 1),
            "budget": self.gateway.accountant.budget.describe(),
            "spent": {
                "calls": spent.calls,
                "cache_hits": spent.cache_hits,
                "tokens": spent.tokens,
                "cost": round(spent.cost, 8),
            },
        }

    def summary(self) -> dict[str, Any]:
        """Totals for the command to print at exit."""
        s = self.gateway.stats
        # The provider requests the calls went out in (``n`` samples in one) are ``provider_requests``:
        # ``requests`` here are the requests this server answered.
        provider = s.as_dict()
        provider["provider_requests"] = provider.pop("requests", 0)
        return {
            **provider,
            "requests": sum(self.statuses.values()),
            "ok": self.statuses.get(200, 0),
            "failed": sum(v for k, v in self.statuses.items() if k != 200),
            "log_lines_lost": self.log.lost,
        }


def shutting_down(reason: str = "the server is shutting down") -> ApiError:
    return ApiError(503, reason, type="server_error", code="shutting_down", headers={"Retry-After": "1"})
