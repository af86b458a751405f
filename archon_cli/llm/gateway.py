"""The single door to language models: cache -> budget accountant -> per-model limit -> retry -> backend.

Components never call a provider directly; they get a ``QueryLLM`` (one per query) whose
``complete`` gives each request its sample slot (``SampleSlots``) and passes it through here.
Identical requests (same slot too) in flight at the same moment are sent once. ``complete_samples``
takes several samples of one prompt and sends those the cache lacks as one request with ``n``
where the route takes it (see ``llm/samples.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from archon_cli.errors import BudgetExceeded, TransientProviderError
from archon_cli.llm.accountant import TOKENS_PAST_MAX, BudgetAccountant, CallStats, Spend, prompt_token_bound
from archon_cli.llm.cache_redis import AnyResponseCache
from archon_cli.llm.local_models import LocalModelPool, local_name
from archon_cli.llm.samples import SampleCaps, chunked, split_usage
from archon_cli.llm.types import Completion, CompletionRequest, SampleSlots, Usage


class Backend(Protocol):
    """Sends one request. Raises TransientProviderError (retried) or ProviderError (not retried).

    A backend that knows prices also has ``price(model, prompt_tokens, completion_tokens) -> float``
    (dollars), which the gateway uses to reserve a send's worst case against a dollar limit."""

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]: ...

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; a server's ``Retry-After`` wins when it gives one."""

    max_attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 30.0
    jitter: float = 0.5


class _Wait:
    def __init__(self, policy: RetryPolicy) -> None:
        self._max = policy.max_wait
        self._backoff = wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        )

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self._max))
        return float(self._backoff(state))


class LLMGateway:
    """Shared by every query of a run. Owns the cache, the accountant, the retry policy and the pool
    of embedded models (handed to the default backend, LiteLLM, which is imported on first use)."""

    def __init__(
        self,
        backend: Backend | None = None,
        cache: AnyResponseCache | None = None,
        accountant: BudgetAccountant | None = None,
        retry: RetryPolicy | None = None,
        model_limits: dict[str, int] | None = None,
        local_models: LocalModelPool | None = None,
    ) -> None:
        self._backend = backend
        self.local_models = local_models or LocalModelPool()
        self.cache = cache
        self.accountant = accountant or BudgetAccountant()
        self.retry = retry or RetryPolicy()
        self._limits = {m: asyncio.Semaphore(n) for m, n in (model_limits or {}).items() if n > 0}
        self._in_flight: dict[str, asyncio.Future[Completion]] = {}
        self._caps = SampleCaps()

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from archon_cli.llm.litellm_backend import LiteLLMBackend

            self._backend = LiteLLMBackend(self.local_models)
        return self._backend

    @property
    def stats(self) -> CallStats:
        return self.accountant.stats

    def check_routes(self, routes: list[tuple[str, str | None, str | None]]) -> None:
        """Fail before any call if a model cannot be routed or its key is missing."""
        for model, api_base, api_key_env in routes:
            self.backend.check_route(model, api_base, api_key_env)

    def for_query(self, calls_limit: int | None = None) -> QueryLLM:
        return QueryLLM(self, calls_limit)

    async def complete(
        self, request: CompletionRequest, stats: CallStats, calls_limit: int | None = None
    ) -> Completion:
        if self.cache is not None:
            hit = self.cache.get(request)
            if hit is not None:
                self._count_hit(stats, hit.usage)
                return hit
        key = request.cache_key()
        shared = self._in_flight.get(key)
        while shared is not None:  # the same request is being sent right now: wait for its reply
            try:
                completion = await asyncio.shield(shared)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not shared.cancelled() or (current is not None and current.cancelling()):
                    raise
                # Its sender was cancelled (a server's client left), not this one: send it here.
                shared = self._in_flight.get(key)
                continue
            self._count_hit(stats, completion.usage)
            return _shared_copy(completion)
        if calls_limit is not None and stats.calls - stats.retries >= calls_limit:
            raise BudgetExceeded(f"budget reached: the query needs more than {calls_limit} calls")
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._in_flight[key] = future
        try:
            completion = await self._send(request, stats)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(completion)
        finally:
            del self._in_flight[key]
        if self.cache is not None:
            self.cache.put(request, completion)
        return completion

    async def _send(self, request: CompletionRequest, stats: CallStats) -> Completion:
        """One sample, one request: a group of one (the same reserve, retry and settle loop)."""
        (completion,) = await self._send_group([request], stats, resend=False)
        return completion

    def worst_case(self, request: CompletionRequest) -> Spend:
        """What one send of ``request`` may spend at most: one call, its prompt's token bound plus
        ``max_tokens`` (and a character's overrun), and those tokens at the backend's price (when a
        dollar limit is set)."""
        sent = request.messages if request.prompt is None else ({"role": "", "content": request.prompt},)
        prompt = prompt_token_bound(sent)
        completion = request.max_tokens + TOKENS_PAST_MAX
        price = getattr(self.backend, "price", None) if self.accountant.budget.dollars is not None else None
        dollars = float(price(request.model, prompt, completion)) if price is not None else 0.0
        return Spend(calls=1, tokens=prompt + completion, dollars=dollars)

    async def _call_backend(self, request: CompletionRequest) -> tuple[str, Usage]:
        if local_name(request.model):
            return await self.backend.complete(request)  # queued on the model's own worker: no deadline
        try:
            # LiteLLM has its own timeout; this guard catches a client that never returns. (A
            # timeout scope, not wait_for: on Python 3.11 wait_for wraps each send in a task of its own.)
            async with asyncio.timeout(request.timeout + 5.0):
                return await self.backend.complete(request)
        except TimeoutError:
            raise TransientProviderError(f"{request.model}: no reply within {request.timeout:.0f}s") from None

    @contextlib.asynccontextmanager
    async def _limit(self, model: str) -> AsyncIterator[None]:
        sem = self._limits.get(model)
        if sem is None:
            yield
            return
        async with sem:
            yield

    # -- several samples of one prompt (``n``) --------------------------------------------------

    async def complete_samples(
        self, requests: list[CompletionRequest], stats: CallStats, calls_limit: int | None = None
    ) -> list[Completion]:
        """Samples of one prompt (``requests`` differ only in their slots), in their order. Those
        the cache holds or a request in flight is fetching are taken from there; the rest are sent
        in as few requests as the route allows (``n`` samples each) and cached under their own
        slots. Every sample sent counts as a call; each request sent counts in ``requests``."""
        if len(requests) <= 1 or self._caps.cap(self.backend, requests[0]) <= 1:
            return list(await asyncio.gather(*(self.complete(r, stats, calls_limit) for r in requests)))
        results: list[Completion | None] = [None] * len(requests)
        waiting: list[tuple[int, asyncio.Future[Completion]]] = []  # fetched by another request
        wanted: dict[str, list[int]] = {}  # each key to send: the positions that want it
        to_send: list[CompletionRequest] = []
        for i, request in enumerate(requests):
            key = request.cache_key()
            if key in wanted:  # the same slot twice (temperature 0): one draw, shared
                wanted[key].append(i)
                continue
            hit = self.cache.get(request) if self.cache is not None else None
            if hit is not None:
                self._count_hit(stats, hit.usage)
                results[i] = hit
            elif key in self._in_flight:
                waiting.append((i, self._in_flight[key]))
            else:
                wanted[key] = [i]
                to_send.append(request)
        if to_send and calls_limit is not None and stats.calls - stats.retries + len(to_send) > calls_limit:
            raise BudgetExceeded(f"budget reached: the query needs more than {calls_limit} calls")
        futures: dict[str, asyncio.Future[Completion]] = {}
        for request in to_send:
            future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_consume)
            futures[request.cache_key()] = self._in_flight[request.cache_key()] = future

        def deliver(request: CompletionRequest, completion: Completion) -> None:
            futures[request.cache_key()].set_result(completion)
            if self.cache is not None:
                self.cache.put(request, completion)

        try:
            await self._send_samples(to_send, stats, deliver)
        except asyncio.CancelledError:
            for future in futures.values():
                future.cancel()
            raise
        except BaseException as exc:
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)
            raise
        finally:
            for key in futures:
                del self._in_flight[key]
        for key, positions in wanted.items():
            completion = futures[key].result()
            results[positions[0]] = completion
            for i in positions[1:]:
                self._count_hit(stats, completion.usage)
                results[i] = _shared_copy(completion)
        for i, shared in waiting:
            completion = await asyncio.shield(shared)
            self._count_hit(stats, completion.usage)
            results[i] = _shared_copy(completion)
        return [r for r in results if r is not None]

    def _count_hit(self, stats: CallStats, usage: Usage) -> None:
        self.stats.cache_hits += 1
        stats.cache_hits += 1
        stats.add_usage(usage)  # the query's own figures describe the architecture

    async def _send_samples(
        self,
        requests: list[CompletionRequest],
        stats: CallStats,
        deliver: Callable[[CompletionRequest, Completion], None],
    ) -> None:
        """Send ``requests`` (samples of one prompt) in groups of as many as one request may carry,
        the groups at once. A reply with fewer choices than asked delivers those it has; the rest
        are sent again (counted as retries), in groups the route has shown it can answer. A group
        that fails for good fails the whole; the samples delivered before stay delivered."""
        pending, resend = requests, False
        while pending:
            groups = chunked(pending, self._caps.cap(self.backend, pending[0]))
            outcomes = await asyncio.gather(
                *(self._send_group(group, stats, resend) for group in groups), return_exceptions=True
            )
            error: BaseException | None = None
            pending = []
            for group, outcome in zip(groups, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    error = error or outcome
                    continue
                for request, completion in zip(group, outcome, strict=False):
                    deliver(request, completion)
                if len(outcome) < len(group):
                    self._caps.learn(group[0], len(group), len(outcome))
                    pending += group[len(outcome) :]
            if error is not None:
                raise error
            resend = True

    async def _send_group(self, group: list[CompletionRequest], stats: CallStats, resend: bool) -> list[Completion]:
        """One request for the samples of ``group`` (``n = len(group)``), retried as a whole. It
        reserves and counts ``len(group)`` calls per send (a resend's as retries) and one request.
        Returns the samples that came back (at least one), each with its share of the usage."""
        request, k = group[0], len(group)
        attempts = 0
        started = time.perf_counter()
        try:
            async with self._limit(request.model):
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.retry.max_attempts),
                    wait=_Wait(self.retry),
                    retry=retry_if_exception_type(TransientProviderError),
                    reraise=True,
                ):
                    with attempt:
                        reservation = await self.accountant.reserve(request.model, self.worst_case(request).times(k))
                        attempts += 1
                        stats.calls += k
                        stats.requests += 1
                        if resend or attempts > 1:
                            stats.retries += k
                            self.stats.retries += k
                        reply: tuple[list[str], Usage] | None = None
                        try:
                            reply = await self._call_backend_samples(request, k)
                        finally:  # a send that failed (or was cancelled) is still a call per sample
                            self.accountant.settle(reservation, reply[1] if reply else None)
                        texts, usage = reply
        except BudgetExceeded:
            raise
        except Exception as exc:
            stats.failures += k
            self.stats.failures += k
            if attempts > 1:
                exc.args = (f"{exc} (after {attempts} attempts)",)
            raise
        stats.add_usage(usage)
        texts = texts[:k]
        latency = time.perf_counter() - started
        return [
            Completion(text=text, usage=share, attempts=attempts, latency=latency)
            for text, share in zip(texts, split_usage(usage, len(texts)), strict=True)
        ]

    async def _call_backend_samples(self, request: CompletionRequest, n: int) -> tuple[list[str], Usage]:
        if n == 1:
            text, usage = await self._call_backend(request)
            return [text], usage
        try:
            async with asyncio.timeout(request.timeout + 5.0):
                texts, usage = await self.backend.complete_samples(request, n)  # type: ignore[attr-defined]
        except TimeoutError:
            raise TransientProviderError(f"{request.model}: no reply within {request.timeout:.0f}s") from None
        if not texts:
            raise TransientProviderError(f"{request.model}: reply had no choices")
        return texts, usage


def _shared_copy(completion: Completion) -> Completion:
    """A reply another request of this run fetched: served like a cache hit (no call of its own)."""
    return Completion(text=completion.text, usage=completion.usage, cached=True, attempts=0)


def _consume(future: asyncio.Future[Any]) -> None:
    # Mark a shared request's failure as seen, so asyncio does not warn when nobody else waited on it.
    if not future.cancelled():
        future.exception()


class QueryLLM:
    """The view of the gateway one query gets: gives every request its sample slot, and counts
    the query's own calls, cache hits and parse failures."""

    def __init__(self, gateway: LLMGateway, calls_limit: int | None = None) -> None:
        self.gateway = gateway
        self.calls_limit = calls_limit
        self.stats = CallStats()
        self.slots = SampleSlots()

    async def complete(self, request: CompletionRequest) -> Completion:
        return await self.gateway.complete(self.slots.assign(request), self.stats, self.calls_limit)

    async def complete_samples(self, request: CompletionRequest, n: int) -> list[Completion]:
        """``n`` samples of ``request``, each with its own slot (as ``n`` calls of ``complete``
        would get), sent as one request with ``n`` where the route takes it."""
        requests = [self.slots.assign(request) for _ in range(n)]
        return await self.gateway.complete_samples(requests, self.stats, self.calls_limit)

    def note_parse_failure(self, component: str) -> None:
        self.stats.parse_failures[component] += 1
        self.gateway.stats.parse_failures[component] += 1
