"""Evaluating an architecture file into its run folder, as ``eval`` does for one file and
``compare`` for each architecture file it is given: the checks, the progress bar, the summary table
and the exit code."""

from __future__ import annotations

import asyncio
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich.console import Console

from archon_cli.benchmarks import get_benchmark
from archon_cli.commands.common import load_checked, print_warnings, warner
from archon_cli.commands.options import EvaluationOptions
from archon_cli.commands.progress import progress_bar
from archon_cli.commands.settings import EngineSettings, check_folder_option, data_dir_from_env, open_gateway
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import EXIT_BUDGET, EXIT_FAILED, EXIT_OK
from archon_cli.evaluation.judge import choose_judge, make_judge
from archon_cli.evaluation.run_folder import (
    EvalOptions,
    RunOutcome,
    RunPlan,
    check_folder_name,
    check_identity,
    default_run_id,
    evaluate_into_folder,
    plan_questions,
)
from archon_cli.evaluation.scope import EvalScope
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.ledger import LEDGER


def eval_options(
    benchmark: str, options: EvaluationOptions, run_id: str | None = None, judge_max_tokens: int | None = None
) -> EvalOptions:
    """What to evaluate an architecture file on (eval, and compare's architecture files), from the
    evaluation options (the data folder: --data-dir, else ARCHON_DATA_DIR)."""
    scope = {f.name: getattr(options, f.name) for f in fields(EvalScope)}
    return EvalOptions(
        **scope | {"data_dir": data_dir_from_env(options.data_dir)},
        benchmark=benchmark,
        run_id=run_id,
        judge_max_tokens=judge_max_tokens,
        trace=not options.no_trace,
    )


def plan_eval(
    architecture_path: Path,
    options: EvalOptions,
    settings: EngineSettings,
    console: Console,
    gateway: LLMGateway | None = None,
) -> tuple[RunPlan, LLMGateway]:
    """Everything checked before the first call: the architecture and budget, the benchmark's data,
    the sandbox for generated code, then (through ``gateway``, opened here if not given) every model
    route and key and the judge; and the run folder the evaluation goes to."""
    if options.run_id is not None:
        check_folder_name(options.run_id, "--run-id")
    check_folder_option(options.results_dir, "--results-dir")
    architecture = load_checked(architecture_path, settings, console)
    benchmark = get_benchmark(options.benchmark, options.data_dir)
    questions = plan_questions(benchmark, options.split, options.seed, options.limit)
    setup = benchmark.preflight(options.allow_unsandboxed)
    gateway = gateway or open_gateway(settings, on_warning=warner(console))
    ArchitectureRunner(architecture, gateway).check_routes()
    choice = choose_judge(benchmark, options.judge, settings.provider_keys, options.judge_max_tokens)
    judge = make_judge(gateway, choice)
    if choice is not None and choice.warning:
        print_warnings(console, [choice.warning])
    run_id = options.run_id or default_run_id(architecture, options, judge.model if judge else None, benchmark)
    check_identity(options.results_dir / run_id, benchmark)
    plan = RunPlan(
        run_dir=options.results_dir / run_id,
        architecture=architecture,
        benchmark=benchmark,
        questions=questions,
        split=options.split,
        seed=options.seed,
        limit=options.limit,
        judge=judge,
        extra={"architecture_file": str(architecture_path), **setup, **({"judge_origin": choice.origin} if choice else {})},
        wait_lock=options.wait_lock,
        trace=options.trace,
    )
    return plan, gateway


def count_earlier_spend(gateway: LLMGateway, run_dirs: list[Path]) -> None:
    """A whole-run limit binds over resumes: what earlier runs into these folders sent counts
    against it (llm/ledger.py), so killing and resuming a run cannot send more than the limit."""
    if gateway.accountant.whole_run_limited:
        for run_dir in dict.fromkeys(run_dirs):
            gateway.accountant.count_earlier(run_dir / LEDGER)


def evaluate_with_progress(
    plan: RunPlan, gateway: LLMGateway, settings: EngineSettings, console: Console, quiet: bool
) -> RunOutcome:
    """Evaluate the plan into its folder, with a progress bar showing the running score."""
    from rich.progress import TextColumn

    scores: list[float] = []
    progress = progress_bar(console, quiet, TextColumn("score {task.fields[score]}"))
    with progress:
        task = progress.add_task(
            f"{plan.architecture.name} on {plan.benchmark.name}",
            total=len(plan.questions),
            completed=plan.finished(),
            score="-",
        )

        def on_record(record: dict[str, Any]) -> None:
            if record.get("score") is not None or record.get("error"):
                scores.append(float(record["score"]) if record.get("score") is not None else 0.0)
            progress.update(task, advance=1, score=f"{sum(scores) / len(scores):.3f}" if scores else "-")

        # What is sent is kept in the run folder, for a resume to count (see count_earlier_spend).
        keep = gateway.accountant.whole_run_limited
        if keep:
            gateway.accountant.keep_spend(plan.run_dir / LEDGER)
        try:
            return asyncio.run(
                evaluate_into_folder(
                    plan,
                    gateway,
                    concurrency=settings.concurrency,
                    calls_limit=settings.budget.calls_per_query,
                    on_record=on_record,
                    on_warning=warner(console),
                )
            )
        finally:
            if keep:
                gateway.accountant.keep_spend(None)


def print_summary(summary: dict[str, Any], run_dir: Path, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"{summary['architecture']} on {summary['benchmark']} ({summary['split']})", show_header=False)
    score = summary["score"]
    ci = summary["ci95"]
    shown = "-" if score is None else f"{score:.4f}  (95% CI {ci[0]:.4f}-{ci[1]:.4f})"
    reliable = summary.get("reliable", True)
    table.add_row(summary["metric"], shown if reliable else f"[bold red]{shown}  UNRELIABLE[/]")
    unscored = f", {summary['unscored']} without a verdict" if summary.get("unscored") else ""
    table.add_row(
        "questions", f"{summary['answered']} answered, {summary['errors']} errors{unscored} of {summary['questions']}"
    )
    verdicts = summary.get("judge_verdicts")
    if verdicts:
        table.add_row(
            "judge",
            f"{summary.get('judge') or '?'}: {verdicts['parsed']} of {verdicts['asked']} verdicts read "
            f"({verdicts['parsed_share']:.0%}; reliable from {verdicts['threshold']:.0%})",
        )
    if summary.get("sandbox"):
        table.add_row("sandbox", str(summary["sandbox"].get("mode")))
    static = summary.get("static_calls_per_query")
    cap = f" (static {static:g})" if static is not None and static != summary["calls_per_query"] else ""
    table.add_row("calls per query", f"{summary['calls_per_query']:.2f}{cap}")
    table.add_row("tokens per query", f"{summary['tokens_per_query']:.0f}")
    table.add_row("cost", f"${summary['cost']:.4f}")
    table.add_row(
        "this run",
        f"{summary['this_run']['calls']} calls sent in {summary['this_run'].get('requests', 0)} requests, "
        f"{summary['this_run']['cache_hits']} cache hits, {summary['resumed']} questions resumed",
    )
    table.add_row("wall time", f"{summary['wall_seconds']:.1f}s")
    for name, cat in summary["per_category"].items():
        table.add_row(f"  {name}", f"{cat['score']:.4f} (n={cat['n']})")
    console.print(table)
    console.print(f"results: {run_dir}")
    if not reliable:
        console.print(
            f"[bold red]{summary['metric']} {'-' if score is None else f'{score:.4f}'} is UNRELIABLE:[/] "
            f"{summary.get('unreliable_reason')}; use a stronger --judge",
            highlight=False,
            soft_wrap=True,
        )


def eval_exit_code(outcome: RunOutcome, console: Console) -> int:
    """A budget stop is exit 3 and every question failing exit 1, each said in one line."""
    summary = outcome.summary
    if outcome.budget_stopped:
        console.print(
            f"[yellow]{outcome.budget_message}[/]: finished questions are saved; re-run to resume", soft_wrap=True
        )
        return EXIT_BUDGET
    if summary["questions"] and summary["errors"] == summary["questions"]:
        console.print("[bold red]error:[/] every question failed; see error_reasons in summary.json")
        return EXIT_FAILED
    return EXIT_OK
