"""The evaluation loop: questions answered and scored, one record each.

Each question: the architecture responds (every turn), the benchmark scores the response (with
the judge if it needs one), and one record is appended to the run's JSONL as soon as the question
finishes. Records already in the file are kept and their questions skipped, so a re-run resumes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.engine.trace import trace_record
from archon_cli.errors import ArchonError, BudgetExceeded, UserError
from archon_cli.evaluation.judge import GatewayJudge
from archon_cli.evaluation.summary import is_finished, is_well_formed, latest_by_id
from archon_cli.llm.accountant import CallStats
from archon_cli.records import JsonlLog


@dataclass
class EvalOutcome:
    """Records in question order (finished ones only) and whether a budget limit cut the run short."""

    records: list[dict[str, Any]] = field(default_factory=list)
    resumed: int = 0
    budget_stopped: bool = False
    budget_message: str = ""


def _record(question: Question, stats: CallStats, judge_stats: CallStats | None) -> dict[str, Any]:
    return {
        "id": question.id,
        "category": question.category,
        "answer": "",
        "answers": [],
        "score": None,
        "score_details": {},
        "error": None,
        **stats.record_fields(),
        "judge_calls": judge_stats.calls if judge_stats else 0,
        "latency": 0.0,
    }


async def evaluate_question(
    runner: ArchitectureRunner,
    benchmark: Benchmark,
    question: Question,
    judge: GatewayJudge | None,
    on_trace: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """One question's record. Provider failures become the record's ``error``; budget stops raise.
    ``on_trace`` gets the question's trace (``engine.trace``) before the record is returned."""
    started = time.perf_counter()
    stats = CallStats()
    judge_for_q = judge.for_question() if judge else None
    answers: list[str] = []
    error: str | None = None
    score = None
    details: dict[str, Any] = {}
    try:
        response = await benchmark.respond(question, runner.run_safely)
        if on_trace is not None:
            on_trace(trace_record(question.id, response.results))
        for result in response.results:
            stats.merge(result.stats)
        failed = next((r for r in response.results if r.error), None)
        if failed is not None:
            if failed.budget_stop:
                raise BudgetExceeded(failed.error or "budget reached")
            error = failed.error
        else:
            answers = response.answers
            scored = await benchmark.score(question, response, judge_for_q)
            score, details = scored.value, scored.details
    except (UserError, BudgetExceeded):
        raise
    except ArchonError as exc:  # a judge that failed after retries, a sandbox that could not start
        error = f"scoring failed: {exc}"
    record = _record(question, stats, judge_for_q.stats if judge_for_q else None)
    if error is not None and error.startswith("scoring failed"):
        record["scoring_failed"] = True  # not the architecture's fault: left out of the score
    record.update(
        answer=answers[-1] if answers else "",
        answers=answers,
        score=score,
        score_details=details,
        error=error,
        latency=round(time.perf_counter() - started, 4),
    )
    return record


async def evaluate(
    runner: ArchitectureRunner,
    benchmark: Benchmark,
    questions: list[Question],
    *,
    log: JsonlLog | None = None,
    judge: GatewayJudge | None = None,
    concurrency: int = 8,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    traces: JsonlLog | None = None,
) -> EvalOutcome:
    """Evaluate ``questions``; finished records in ``log`` are reused and not run again. Each
    question's trace goes to ``traces`` (if given) just before its record goes to ``log``, so a
    finished question always has its trace (a kill in between runs the question again)."""
    outcome = EvalOutcome()
    done: dict[str, dict[str, Any]] = {}
    if log is not None:
        wanted = {q.id for q in questions}
        records = [r for r in log.read() if is_well_formed(r)]  # a damaged record's question runs again
        done = {k: r for k, r in latest_by_id(records).items() if k in wanted and is_finished(r)}
    outcome.resumed = len(done)
    todo = [q for q in questions if q.id not in done]
    fresh: dict[str, dict[str, Any]] = {}
    sem = asyncio.Semaphore(concurrency) if concurrency > 0 else None
    stop = asyncio.Event()

    async def one(question: Question) -> None:
        if stop.is_set():
            return
        traced: list[dict[str, Any]] = []
        on_trace = traced.append if traces is not None else None
        try:
            if sem is None:
                record = await evaluate_question(runner, benchmark, question, judge, on_trace)
            else:
                async with sem:
                    if stop.is_set():
                        return
                    record = await evaluate_question(runner, benchmark, question, judge, on_trace)
        except BudgetExceeded as exc:
            outcome.budget_stopped, outcome.budget_message = True, str(exc)
            stop.set()
            return
        if traces is not None and traced:
            traces.append(traced[0])
        fresh[question.id] = record
        if log is not None:
            log.append(record)
        if on_record is not None:
            on_record(record)

    tasks = [asyncio.ensure_future(one(q)) for q in todo]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    outcome.records = [done.get(q.id) or fresh[q.id] for q in questions if q.id in done or q.id in fresh]
    return outcome
