"""What every layer did for one query, per component, and its JSON form (one record a question).

The engine collects it without components knowing: each component's model calls pass through a
``CallRecorder`` (calls, tokens, cache hits, seconds), and its ``LayerOutput.decision`` says what it
decided (a ranker's parsed order, a critic's reply, verdicts, votes, unit-test results). The
engine keeps, per component, the candidates it received and those it passed on.

``trace_record`` turns a question's results (one per turn) into plain JSON in which each distinct
text is stored once: ``texts`` holds them, and everything else refers to a text by its index
(``{"t": i}`` inside decisions). ``candidates`` lists each distinct candidate once as
``[text, critique or null, origin]``; a component's ``inputs`` and ``outputs`` are indices into it,
so a candidate passed from layer to layer is referenced, never copied.

Figures that depend on this particular execution (calls sent rather than served by the cache,
cache hits, seconds) sit under each component's ``run`` key; everything else is the same when the
question is run again from the cache.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from archon_cli.llm.accountant import CallStats
from archon_cli.llm.types import Completion, CompletionRequest
from archon_cli.state import Candidate, LayerOutput

TRACE_VERSION = 1


class _LLM(Protocol):
    async def complete(self, request: CompletionRequest) -> Completion: ...

    def note_parse_failure(self, component: str) -> None: ...


@dataclass
class CallRecorder:
    """Stands between one component and the query's LLM: passes every call on and counts it in a
    ``CallStats`` (the accountant's counters): ``calls`` are the replies the component received,
    cache hits among them, their tokens and cost, and its parse failures."""

    llm: _LLM
    stats: CallStats = field(default_factory=CallStats)

    def _count(self, completion: Completion) -> Completion:
        self.stats.calls += 1
        self.stats.cache_hits += completion.cached
        self.stats.add_usage(completion.usage)
        return completion

    async def complete(self, request: CompletionRequest) -> Completion:
        return self._count(await self.llm.complete(request))

    async def complete_samples(self, request: CompletionRequest, n: int) -> list[Completion]:
        together = getattr(self.llm, "complete_samples", None)
        if together is not None:
            replies = list(await together(request, n))
        else:
            replies = list(await asyncio.gather(*(self.llm.complete(request) for _ in range(n))))
        return [self._count(r) for r in replies]

    def note_parse_failure(self, component: str) -> None:
        self.stats.parse_failures[component] += 1
        self.llm.note_parse_failure(component)


@dataclass(frozen=True)
class ComponentTrace:
    """One component's part in one layer: its settings, what it received and what it gave."""

    config: Any  # the component's ComponentConfig
    inputs: tuple[Candidate, ...]
    output: LayerOutput
    calls: CallRecorder
    seconds: float

    def settings(self) -> dict[str, Any]:
        c = self.config
        style = getattr(c, "prompt_style", None) or getattr(c, "prompt_format", None)
        return {"type": c.type, "model": getattr(c, "model", None), "prompt_style": style}


async def traced(component: Any, state: Any, llm: _LLM) -> tuple[LayerOutput, ComponentTrace]:
    """Run ``component`` on ``state`` through a recorder; its output and its trace."""
    recorder = CallRecorder(llm)
    started = time.perf_counter()
    output = await component.run(state, recorder)
    trace = ComponentTrace(component.config, state.candidates, output, recorder, time.perf_counter() - started)
    return output, trace


@dataclass
class _Tables:
    texts: list[str] = field(default_factory=list)
    text_ids: dict[str, int] = field(default_factory=dict)
    candidates: list[list[Any]] = field(default_factory=list)
    candidate_ids: dict[Candidate, int] = field(default_factory=dict)

    def text(self, value: str | None) -> int | None:
        if value is None:
            return None
        index = self.text_ids.get(value)
        if index is None:
            index = self.text_ids[value] = len(self.texts)
            self.texts.append(value)
        return index

    def candidate(self, c: Candidate) -> int:
        index = self.candidate_ids.get(c)
        if index is None:
            index = self.candidate_ids[c] = len(self.candidates)
            self.candidates.append([self.text(c.text), self.text(c.critique), c.origin])
        return index

    def refs(self, value: Any) -> Any:
        """A decision with every string replaced by ``{"t": index}``."""
        if isinstance(value, str):
            return {"t": self.text(value)}
        if isinstance(value, dict):
            return {str(k): self.refs(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.refs(v) for v in value]
        return value


def _component(tables: _Tables, trace: ComponentTrace) -> dict[str, Any]:
    calls = trace.calls.stats
    return {
        **trace.settings(),
        "inputs": [tables.candidate(c) for c in trace.inputs],
        "outputs": [tables.candidate(c) for c in trace.output.candidates],
        **({"unit_tests": [tables.text(t) for t in trace.output.unit_tests]} if trace.output.unit_tests else {}),
        "decision": tables.refs(trace.output.decision),
        "replies": calls.calls,
        "prompt_tokens": calls.prompt_tokens,
        "completion_tokens": calls.completion_tokens,
        "cost": round(calls.cost, 8),
        "parse_failures": sum(calls.parse_failures.values()),
        "run": {"calls": calls.calls - calls.cache_hits, "cache_hits": calls.cache_hits, "seconds": round(trace.seconds, 4)},
    }


def trace_record(question_id: str, results: Sequence[Any]) -> dict[str, Any]:
    """The JSON trace of one question from its results (``QueryResult``, one per turn)."""
    tables = _Tables()
    turns = []
    for result in results:
        messages = [[m.get("role", ""), tables.text(str(m.get("content", "")))] for m in result.query.messages]
        layers = [
            {"layer": layer.index, "components": [_component(tables, c) for c in layer.components]}
            for layer in result.layers
        ]
        turns.append(
            {
                "messages": messages,
                "layers": layers,
                "answer": tables.text(result.answer) if result.error is None else None,
                "error": result.error,
            }
        )
    return {"id": question_id, "v": TRACE_VERSION, "turns": turns, "texts": tables.texts, "candidates": tables.candidates}


def is_trace(record: dict[str, Any]) -> bool:
    """A well-formed trace record (a damaged one is set aside, its question run again)."""
    return (
        isinstance(record.get("id"), str)
        and isinstance(record.get("turns"), list)
        and isinstance(record.get("texts"), list)
        and isinstance(record.get("candidates"), list)
    )


def without_run_figures(trace: dict[str, Any]) -> dict[str, Any]:
    """The trace less the figures of one execution (``run``): what a re-run from the cache repeats."""
    turns = [
        {
            **turn,
            "layers": [
                {**layer, "components": [{k: v for k, v in c.items() if k != "run"} for c in layer["components"]]}
                for layer in turn["layers"]
            ],
        }
        for turn in trace["turns"]
    ]
    return {**trace, "turns": turns}
