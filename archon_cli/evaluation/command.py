"""What `archon eval` does: plan the questions, prepare the run folder, evaluate with a progress
bar, write the summary. Shared pieces (``prepare_eval``) are used by search as well."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from archon_cli.benchmarks import get_benchmark, split_questions
from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.config.architecture import Architecture, load_architecture
from archon_cli.config.budget import check_budget
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import EXIT_BUDGET, EXIT_FAILED, EXIT_OK, UserError
from archon_cli.evaluation.evaluate import EvalOutcome, evaluate
from archon_cli.evaluation.judge import DEFAULT_JUDGE, GatewayJudge
from archon_cli.evaluation.summary import summarize
from archon_cli.llm.gateway import LLMGateway
from archon_cli.records import JsonlLog, write_json
from archon_cli.settings import EngineSettings, open_gateway


@dataclass(frozen=True)
class EvalOptions:
    benchmark: str
    split: str = "dev"
    limit: int | None = None
    seed: int = 0
    judge: str | None = None
    data_dir: Path | None = None
    results_dir: Path = Path("results")
    run_id: str | None = None
    judge_max_tokens: int = 512


def resolve_data_dir(data_dir: Path | None) -> Path | None:
    if data_dir is not None:
        return data_dir
    env = os.environ.get("ARCHON_DATA_DIR")
    return Path(env) if env else None


def plan_questions(benchmark: Benchmark, split: str, seed: int, limit: int | None) -> list[Question]:
    """The questions an evaluation runs: the split, then the first ``limit`` of it."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: must be at least 1")
    questions = benchmark.load()
    if not questions:
        raise UserError(f"{benchmark.name}: the data has no questions")
    chosen = split_questions(questions, split, seed, benchmark.name)
    return chosen[:limit] if limit is not None else chosen


def architecture_digest(architecture: Architecture) -> str:
    return hashlib.sha256(json.dumps(architecture.model_dump(), sort_keys=True).encode()).hexdigest()[:8]


def default_run_id(architecture: Architecture, options: EvalOptions, judge_model: str | None) -> str:
    """Same command, same id: that is what makes a re-run resume."""
    parts = [f"eval-{architecture.name}", options.benchmark, options.split, f"s{options.seed}"]
    if options.limit is not None:
        parts.append(f"n{options.limit}")
    digest = hashlib.sha256(f"{architecture_digest(architecture)}:{judge_model}".encode()).hexdigest()[:6]
    return "-".join([*parts, digest]).replace("/", "_")


def make_judge(
    benchmark: Benchmark, gateway: LLMGateway, judge_model: str | None, max_tokens: int = 512
) -> GatewayJudge | None:
    if not benchmark.needs_judge:
        return None
    judge = GatewayJudge(gateway, judge_model or DEFAULT_JUDGE, max_tokens=max_tokens)
    judge.check_route()
    return judge


def run_eval(
    architecture_path: Path, options: EvalOptions, settings: EngineSettings, console: Console, json_out: bool
) -> int:
    architecture, warnings = load_architecture(architecture_path)
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    check_budget(architecture, settings.budget)
    benchmark = get_benchmark(options.benchmark, resolve_data_dir(options.data_dir))
    questions = plan_questions(benchmark, options.split, options.seed, options.limit)
    gateway = open_gateway(settings)
    runner = ArchitectureRunner(architecture, gateway, settings.budget.calls_per_query)
    runner.check_routes()
    judge = make_judge(benchmark, gateway, options.judge, options.judge_max_tokens)
    run_id = options.run_id or default_run_id(architecture, options, judge.model if judge else None)
    run_dir = options.results_dir / run_id
    run_info = start_run_dir(
        run_dir,
        architecture,
        benchmark,
        questions,
        split=options.split,
        seed=options.seed,
        limit=options.limit,
        judge=judge,
        extra={"architecture_file": str(architecture_path)},
    )
    log = JsonlLog(run_dir / "questions.jsonl")

    started = time.perf_counter()
    outcome = _evaluate_with_progress(runner, benchmark, questions, log, judge, settings.concurrency, console, json_out)
    summary = build_summary(run_info, benchmark, outcome, time.perf_counter() - started, gateway)
    write_json(run_dir / "summary.json", summary)
    if json_out:
        print(json.dumps({"run_dir": str(run_dir), **summary}))
    else:
        print_summary(summary, run_dir, console)
    if outcome.budget_stopped:
        console.print(f"[yellow]{outcome.budget_message}[/]: finished questions are saved; re-run to resume")
        return EXIT_BUDGET
    if summary["questions"] and summary["errors"] == summary["questions"]:
        console.print("[bold red]error:[/] every question failed; see error_reasons in summary.json")
        return EXIT_FAILED
    return EXIT_OK


def start_run_dir(
    run_dir: Path,
    architecture: Architecture,
    benchmark: Benchmark,
    questions: list[Question],
    *,
    split: str,
    seed: int,
    limit: int | None,
    judge: GatewayJudge | None,
    kind: str = "eval",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a run folder with architecture.yaml and run.json (what `compare` reads)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "architecture.yaml").write_text(
        yaml.safe_dump(architecture.model_dump(), sort_keys=False), encoding="utf-8"
    )
    run_info = {
        "kind": kind,
        "run_id": run_dir.name,
        "architecture": architecture.name,
        "static_calls": architecture.static_calls(),
        "benchmark": benchmark.name,
        "metric": benchmark.metric,
        "scale": benchmark.scale,
        "split": split,
        "seed": seed,
        "limit": limit,
        "judge": judge.model if judge else None,
        "question_ids": [q.id for q in questions],
        **(extra or {}),
    }
    write_json(run_dir / "run.json", run_info)
    return run_info


def _evaluate_with_progress(
    runner: ArchitectureRunner,
    benchmark: Benchmark,
    questions: list[Question],
    log: JsonlLog,
    judge: GatewayJudge | None,
    concurrency: int,
    console: Console,
    quiet: bool,
) -> EvalOutcome:
    from rich.progress import TextColumn

    from archon_cli.progress import progress_bar

    scores: list[float] = []
    progress = progress_bar(console, quiet, TextColumn("score {task.fields[score]}"))
    already = {k for k, r in _latest(log).items() if not r.get("error")} & {q.id for q in questions}
    with progress:
        task = progress.add_task(
            f"{runner.architecture.name} on {benchmark.name}", total=len(questions), completed=len(already), score="-"
        )

        def on_record(record: dict[str, Any]) -> None:
            scores.append(float(record["score"]) if record.get("score") is not None else 0.0)
            progress.update(task, advance=1, score=f"{sum(scores) / len(scores):.3f}")

        return asyncio.run(
            evaluate(runner, benchmark, questions, log=log, judge=judge, concurrency=concurrency, on_record=on_record)
        )


def _latest(log: JsonlLog) -> dict[str, dict[str, Any]]:
    from archon_cli.evaluation.summary import latest_by_id

    return latest_by_id(log.read())


def build_summary(
    run_info: dict[str, Any], benchmark: Benchmark, outcome: EvalOutcome, seconds: float, gateway: LLMGateway
) -> dict[str, Any]:
    summary = {
        "run_id": run_info["run_id"],
        "architecture": run_info["architecture"],
        "benchmark": benchmark.name,
        "metric": benchmark.metric,
        "split": run_info["split"],
        "seed": run_info["seed"],
        "complete": not outcome.budget_stopped and len(outcome.records) == len(run_info["question_ids"]),
        **summarize(outcome.records),
        "resumed": outcome.resumed,
        "wall_seconds": round(seconds, 3),
        "this_run": gateway.stats.as_dict(),
    }
    summary.update(benchmark.aggregate(outcome.records))
    return summary


def print_summary(summary: dict[str, Any], run_dir: Path, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{summary['architecture']} on {summary['benchmark']} ({summary['split']})", show_header=False)
    score = summary["score"]
    ci = summary["ci95"]
    table.add_row(summary["metric"], "-" if score is None else f"{score:.4f}  (95% CI {ci[0]:.4f}-{ci[1]:.4f})")
    table.add_row("questions", f"{summary['answered']} answered, {summary['errors']} errors of {summary['questions']}")
    table.add_row("calls per query", f"{summary['calls_per_query']:.2f}")
    table.add_row("tokens per query", f"{summary['tokens_per_query']:.0f}")
    table.add_row("cost", f"${summary['cost']:.4f}")
    table.add_row(
        "this run",
        f"{summary['this_run']['calls']} calls sent, {summary['this_run']['cache_hits']} cache hits, {summary['resumed']} questions resumed",
    )
    table.add_row("wall time", f"{summary['wall_seconds']:.1f}s")
    for name, cat in summary["per_category"].items():
        table.add_row(f"  {name}", f"{cat['score']:.4f} (n={cat['n']})")
    console.print(table)
    console.print(f"results: {run_dir}")
