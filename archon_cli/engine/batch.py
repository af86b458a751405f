"""Answer many queries with one architecture, writing each result as it finishes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archon_cli.engine.runner import ArchitectureRunner, QueryResult
from archon_cli.records import JsonlLog
from archon_cli.state import Query


def result_record(result: QueryResult) -> dict[str, object]:
    """The JSON form of a query's result, as written to answers.jsonl and printed by --json."""
    return {
        "id": result.query.id,
        "answer": result.answer,
        "error": result.error,
        **result.stats.record_fields(),
        "seconds": round(result.seconds, 4),
        "layers": [layer.summary() for layer in result.layers],
    }


def _answered(record: dict[str, object]) -> bool:
    """A record of a query answered without an error (a record cut short is not)."""
    return "id" in record and "error" in record and record["error"] is None and isinstance(record.get("answer"), str)


@dataclass
class BatchSummary:
    total: int
    skipped: int = 0
    answered: int = 0
    failed: int = 0
    budget_stopped: int = 0


async def answer_to_file(
    runner: ArchitectureRunner,
    queries: list[Query],
    output: Path,
    concurrency: int,
    on_result: Callable[[QueryResult], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Answer ``queries`` into ``output`` (JSONL). Ids already answered there are skipped, so a
    re-run resumes; failed queries are recorded with their error and retried on the next run."""
    log = JsonlLog(output)
    records = log.read()
    done = {str(r["id"]) for r in records if _answered(r)}
    damaged = log.damaged + sum(1 for r in records if not _answered(r) and not isinstance(r.get("error"), str))
    if damaged and on_warning is not None:
        on_warning(f"{output}: skipped {damaged} damaged record(s) (torn, not UTF-8, not JSON or missing fields); asked again")
    todo = [q for q in queries if q.id not in done]
    summary = BatchSummary(total=len(queries), skipped=len(queries) - len(todo))
    async for result in runner.run_many(todo, concurrency):
        if result.budget_stop and not result.stats.calls:
            summary.budget_stopped += 1
            continue  # never started: nothing to record, the next run picks it up
        log.append(result_record(result))
        if result.error is None:
            summary.answered += 1
        elif result.budget_stop:
            summary.budget_stopped += 1
        else:
            summary.failed += 1
        if on_result:
            on_result(result)
    return summary
