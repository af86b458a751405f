"""A total-calls budget of N: the server (the witness) receives at most N requests, retries
included, the run stops with exit code 3, and what finished is saved."""

from __future__ import annotations

import json
from pathlib import Path

from archon_cli.testing import FaultPlan, FaultServer
from tests.reliability import (
    FAST_RETRY,
    eval_args,
    only_run_dir,
    read_records,
    run_parallel,
    summary_json,
    write_architecture,
)

BUDGET = 20


def test_total_calls_budget_caps_what_the_server_receives(tmp_path: Path) -> None:
    # Faults make retries happen: they must be paid from the same budget.
    plan = FaultPlan(latency=0.02, error_500=0.2, error_429=0.1, retry_after=0.02, seed=9)
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"total_calls: {BUDGET}\n", encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"id": f"q{i}", "prompt": f"What is {i % 9 + 1} + {i % 5 + 1}? #{i}"}) + "\n" for i in range(30)
        ),
        encoding="utf-8",
    )
    answers = tmp_path / "answers.jsonl"
    with FaultServer(plan) as eval_server, FaultServer(plan) as run_server:
        eval_arch = write_architecture(tmp_path / "eval.yaml", eval_server.api_base)
        run_arch = write_architecture(tmp_path / "run.yaml", run_server.api_base, samples=3)
        evaluated, ran = run_parallel(
            eval_args(eval_arch, tmp_path / "results", tmp_path / "cache", 50, "--budget", str(budget)),
            (
                "run",
                str(run_arch),
                "--input",
                str(queries),
                "--output",
                str(answers),
                "--budget",
                str(budget),
                "--no-cache",
                "--json",
                *FAST_RETRY,
            ),
        )
        eval_stats, run_stats = eval_server.stats(), run_server.stats()

    # archon eval: stopped by the budget, exit 3, the finished questions and a summary saved.
    assert evaluated.code == 3, evaluated.stderr
    assert "Traceback" not in evaluated.stderr and "budget reached" in evaluated.stderr
    summary = summary_json(evaluated.stdout)
    assert eval_stats["requests"] == summary["this_run"]["calls"] <= BUDGET
    assert summary["this_run"]["retries"] > 0, "this seed should cause retries inside the budget"
    assert not summary["complete"]
    run_dir = only_run_dir(tmp_path / "results")
    records = read_records(run_dir)
    assert 0 < len(records) == summary["questions"] < 50
    assert json.loads((run_dir / "summary.json").read_text())["questions"] == len(records)
    assert sum(r["calls"] for r in records) <= eval_stats["requests"]

    # archon run --input: three samples per query, same cap; answers written so far are kept.
    assert ran.code == 3, ran.stderr
    assert "Traceback" not in ran.stderr and "budget reached" in ran.stderr
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert run_stats["requests"] == report["calls"] <= BUDGET
    assert report["not_run_budget"] > 0
    written = [json.loads(line) for line in answers.read_text().splitlines()]
    assert written and all(r["calls"] <= 3 + r["retries"] for r in written)
    assert report["answered"] == sum(1 for r in written if r["error"] is None)
