"""Run an architecture on queries: layer after layer, every component of a layer at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from archon_cli.components import Component, build_component
from archon_cli.config.architecture import Architecture
from archon_cli.engine.trace import ComponentTrace, traced
from archon_cli.errors import ArchonError, BudgetExceeded, UserError
from archon_cli.llm.accountant import CallStats
from archon_cli.llm.gateway import LLMGateway
from archon_cli.state import Candidate, LayerInput, Query


@dataclass(frozen=True)
class LayerTrace:
    index: int
    kind: str
    seconds: float
    calls: int
    cache_hits: int
    candidates: tuple[Candidate, ...]
    unit_tests: tuple[str, ...] = ()
    components: tuple[ComponentTrace, ...] = ()  # what each component received and decided

    def summary(self) -> dict[str, object]:
        return {
            "layer": self.index,
            "type": self.kind,
            "seconds": round(self.seconds, 4),
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "candidates": len(self.candidates),
        }


@dataclass
class QueryResult:
    """The outcome of one query. ``error`` is set (and ``answer`` empty) when it failed."""

    query: Query
    answer: str = ""
    layers: list[LayerTrace] = field(default_factory=list)
    stats: CallStats = field(default_factory=CallStats)
    seconds: float = 0.0
    error: str | None = None
    budget_stop: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class ArchitectureRunner:
    """Builds the components of an architecture once and runs them on any number of queries."""

    def __init__(self, architecture: Architecture, gateway: LLMGateway, calls_limit: int | None = None) -> None:
        self.architecture = architecture
        self.gateway = gateway
        self.calls_limit = calls_limit
        self._layers: list[list[Component]] = [  # type: ignore[type-arg]
            [build_component(c) for c in layer] for layer in architecture.layers
        ]

    def check_routes(self) -> None:
        """Every model route resolves and has its key: checked before the first call."""
        routes: dict[tuple[str, str | None, str | None], None] = {}
        for component in self.architecture.components():
            for model in component.models():
                routes.setdefault(
                    (model, getattr(component, "api_base", None), getattr(component, "api_key_env", None)), None
                )
        self.gateway.check_routes(list(routes))

    async def run(self, query: Query) -> QueryResult:
        """Run every layer on ``query``; provider failures are raised, not swallowed."""
        result = QueryResult(query=query)
        await self._execute(result)
        return result

    async def run_safely(self, query: Query) -> QueryResult:
        """Like ``run`` but a failure becomes ``QueryResult.error``, keeping the calls it spent.
        User errors (a bad route, a missing key) still raise: they would fail every query."""
        result = QueryResult(query=query)
        started = time.perf_counter()
        try:
            await self._execute(result)
        except UserError:
            raise
        except BudgetExceeded as exc:
            result.error, result.budget_stop = str(exc), True
        except ArchonError as exc:
            result.error = str(exc)
        if result.error:
            result.answer = ""
            result.seconds = time.perf_counter() - started
        return result

    async def _execute(self, result: QueryResult) -> None:
        query = result.query
        llm = self.gateway.for_query(self.calls_limit)
        result.stats = llm.stats
        started = time.perf_counter()
        state = LayerInput(query=query)
        for index, (layer, config_layer) in enumerate(zip(self._layers, self.architecture.layers, strict=True)):
            calls_before, hits_before = llm.stats.calls, llm.stats.cache_hits
            layer_started = time.perf_counter()
            ran = await asyncio.gather(*(traced(component, state, llm) for component in layer))
            outputs = [output for output, _ in ran]
            candidates = tuple(c for out in outputs for c in out.candidates)
            tests = next((out.unit_tests for out in outputs if out.unit_tests is not None), state.unit_tests)
            # Once unit tests exist, later layers see them appended to the query (as in Archon).
            state = LayerInput(
                query=query.with_unit_tests(tests), candidates=candidates, unit_tests=tests, original=query
            )
            result.layers.append(
                LayerTrace(
                    index=index,
                    kind="+".join(dict.fromkeys(c.type for c in config_layer)),
                    seconds=time.perf_counter() - layer_started,
                    calls=llm.stats.calls - calls_before,
                    cache_hits=llm.stats.cache_hits - hits_before,
                    candidates=candidates,
                    unit_tests=tests,
                    components=tuple(trace for _, trace in ran),
                )
            )
        # Deterministic final answer: the first candidate of the last layer.
        result.answer = state.candidates[0].text if state.candidates else ""
        result.seconds = time.perf_counter() - started

    async def run_many(self, queries: Iterable[Query], concurrency: int = 8) -> AsyncIterator[QueryResult]:
        """Results as each query finishes (not in input order); at most ``concurrency`` at once
        (0 = unbounded). After a budget stop no new query is started.

        A query's task is created only when it may start and dropped once its result is handed
        on, so memory stays flat however many queries there are (no task per query held to the end)."""
        stopped = asyncio.Event()
        finished: asyncio.Queue[asyncio.Future[QueryResult]] = asyncio.Queue()
        running: set[asyncio.Future[QueryResult]] = set()
        todo = iter(queries)

        def start_next() -> bool:
            query = next(todo, None)
            if query is None:
                return False
            task = asyncio.ensure_future(self._guarded(query, stopped))
            task.add_done_callback(finished.put_nowait)
            running.add(task)
            return True

        while (concurrency <= 0 or len(running) < concurrency) and start_next():
            pass
        try:
            while running:
                task = await finished.get()
                running.discard(task)
                start_next()
                yield task.result()
        finally:
            for t in running:
                t.cancel()

    async def _guarded(self, query: Query, stopped: asyncio.Event) -> QueryResult:
        if stopped.is_set():
            return QueryResult(query=query, error="not run: budget reached", budget_stop=True)
        result = await self.run_safely(query)
        if result.budget_stop:
            stopped.set()
        return result
