"""``archon check TASK``: a task file or data file read and checked without calling a model.

The report: the rows read, the columns, each split's size, the first input as the model sees it
(with the instruction), the scorer, and each problem as one line naming the file, row and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon_cli.errors import ArchonError


def check_task(path: Path) -> dict[str, Any]:
    """The verdict on one task, as the JSON record ``check --json`` prints."""
    from archon_cli.benchmarks.task.benchmark import TaskBenchmark

    problems: list[str] = []
    try:
        bench = TaskBenchmark(path, problems=problems)
        if not problems:
            questions = bench.load()  # imports a python scorer's function
            dev = bench.split(questions, "dev", 0)
            sizes = {"dev": len(dev), "test": len(questions) - len(dev)}
    except ArchonError as exc:
        return {"file": str(path), "ok": False, "kind": "task", "error": str(exc), "problems": problems}
    task = bench.task
    first = task.questions[0].asked(0) if task.questions else None
    record: dict[str, Any] = {
        "file": str(path),
        "ok": not problems,
        "kind": "task",
        "name": task.name,
        "data": task.data_source,
        "rows": len(task.frame),
        "columns": task.columns,
        "scorer": bench.scorer.describe(),
        "first_input": first,
        "problems": problems,
        **task.identity(),
        **task.files(),
    }
    if problems:
        record["error"] = problems[0]
    else:
        record["splits"] = sizes
    return record
