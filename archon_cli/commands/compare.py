"""What `archon compare` does: read result folders (eval runs, search trials), evaluate architecture
files first if asked, then print the table and the paired comparisons and write the plots (and
report.md) to results/compare-<id>/."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from archon_cli.commands.common import print_table, print_warnings
from archon_cli.commands.evaluating import (
    count_earlier_spend,
    eval_exit_code,
    eval_options,
    evaluate_with_progress,
    plan_eval,
    print_summary,
)
from archon_cli.commands.options import EngineOptions, EvaluationOptions
from archon_cli.commands.settings import EngineSettings, check_folder_option, engine_settings
from archon_cli.commands.view import report_last
from archon_cli.errors import EXIT_BUDGET, EXIT_OK, UserError
from archon_cli.evaluation.run_folder import EvalOptions, RunResult, load_result
from archon_cli.llm.gateway import LLMGateway
from archon_cli.report.compare import (
    TABLE_HEADER,
    check_mixed,
    clean_json,
    compare_runs,
    format_row,
    is_architecture_file,
    screen_runs,
    write_report_files,
)
from archon_cli.report.view import REPORT


@dataclass(frozen=True)
class CompareCommand:
    """What `archon compare` was given: result folders or architecture files (``runs``). With
    ``benchmark``, architecture files are evaluated first, as `archon eval` would (same run folder,
    so it resumes)."""

    runs: list[Path] = field(default_factory=list)
    benchmark: str | None = None
    out: Path | None = None
    allow_mixed: bool = False
    markdown: bool = False
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)


def run_compare(command: CompareCommand, out: Console, err: Console) -> int:
    """Load (or evaluate) the runs, print the table and comparisons, write plots (and report.md)."""
    settings = engine_settings(command.engine)
    inputs, options = command.runs, command.evaluation
    if not inputs:
        raise UserError("give at least one result folder or architecture file")
    if command.out is not None:
        check_folder_option(command.out, "--out")
    check_folder_option(options.results_dir, "--results-dir")
    folders: list[Path] = []
    architectures: list[Path] = []
    for path in dict.fromkeys(inputs):
        if is_architecture_file(path):
            architectures.append(path)
        else:
            folders.append(path)
    evaluation = eval_options(command.benchmark, options) if command.benchmark else None
    if architectures and evaluation is None:
        raise UserError(f"{architectures[0]} is an architecture file: pass --benchmark NAME to evaluate it first")

    runs = [run for folder in folders for run in load_result(folder)]
    pending = [(str(p), _benchmark_name(evaluation), evaluation.split) for p in architectures] if evaluation else []
    check_mixed([(r.architecture, r.benchmark, r.split) for r in runs] + pending, command.allow_mixed)
    evaluated = _Evaluated()
    if evaluation is not None and architectures:
        evaluated = _evaluate_files(architectures, evaluation, settings, err)
        runs.extend(evaluated.runs)

    runs, warnings = screen_runs(runs)
    print_warnings(err, warnings)
    if not runs and evaluated.budget_stop:
        err.print(f"[yellow]{evaluated.budget_stop}[/]: nothing finished to compare; re-run to resume", highlight=False)
        return EXIT_BUDGET
    if not runs:
        raise UserError("nothing to compare: no run has finished questions")

    comparison = compare_runs(runs)
    out_dir = command.out or options.results_dir / f"compare-{comparison.compare_id}"
    plot_paths, report_path = write_report_files(comparison, out_dir, command.markdown, warnings)
    if options.json_out:
        data = {
            "compare_dir": str(out_dir),
            "runs": comparison.rows,
            "comparisons": comparison.pairs,
            "plots": [str(p) for p in plot_paths],
            "report": str(report_path) if report_path else None,
            "warnings": warnings,
            "this_run": evaluated.this_run,
        }
        print(json.dumps(clean_json(data), indent=2))
    else:
        _print_text(comparison.rows, comparison.pairs, plot_paths, report_path, comparison.title, out)
    if not options.no_report:
        report_last(runs, err, out_dir / REPORT, comparison)
    return EXIT_BUDGET if evaluated.budget_stop else EXIT_OK


def _benchmark_name(evaluation: EvalOptions) -> str:
    """The name runs of ``--benchmark`` carry: a task file's or data file's is the task's name."""
    from archon_cli.benchmarks import get_benchmark
    from archon_cli.benchmarks.task.file import is_task_name

    if is_task_name(evaluation.benchmark):
        return get_benchmark(evaluation.benchmark, evaluation.data_dir).name
    return evaluation.benchmark


@dataclass
class _Evaluated:
    """The architecture files evaluated first: their runs, what was sent, and a budget stop's message."""

    runs: list[RunResult] = field(default_factory=list)
    this_run: dict[str, object] = field(default_factory=dict)
    budget_stop: str = ""


def _evaluate_files(paths: list[Path], options: EvalOptions, settings: EngineSettings, console: Console) -> _Evaluated:
    """Each architecture file evaluated into its run folder (one gateway, one budget for all), then
    read back. A budget stop ends the evaluations (the rest could send nothing)."""
    evaluated = _Evaluated()
    gateway: LLMGateway | None = None
    plans = []
    for path in paths:
        plan, gateway = plan_eval(path, options, settings, console, gateway)
        plans.append((path, plan))
    if gateway is not None:  # the budget binds the files together, over resumes too
        count_earlier_spend(gateway, [plan.run_dir for _, plan in plans])
    for path, plan in plans:
        assert gateway is not None
        outcome = evaluate_with_progress(plan, gateway, settings, console, quiet=False)
        print_summary(outcome.summary, outcome.run_dir, console)
        code = eval_exit_code(outcome, console)
        if code != EXIT_OK:
            console.print(f"[yellow]warning:[/] evaluating {path} ended with exit code {code}", highlight=False)
        evaluated.runs.extend(load_result(outcome.run_dir))
        if outcome.budget_stopped:
            evaluated.budget_stop = outcome.budget_message
            break
    if gateway is not None:
        evaluated.this_run = gateway.stats.as_dict()
    return evaluated


def _print_text(
    rows: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    plot_paths: list[Path],
    report_path: Path | None,
    title: str,
    out: Console,
) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), caption="★ best (highest score)   ◆ on the score/calls Pareto front")
    for i, name in enumerate(TABLE_HEADER):
        table.add_column(name, justify="left" if i < 2 else "right", no_wrap=i == 1)
    for row in rows:
        cells = format_row(row)
        table.add_row(*(escape(c) for c in cells), style="bold" if row["best"] else None)
    print_table(out, table)
    if pairs:
        out.print("paired comparisons on shared questions (95% bootstrap CI):")
        for pair in pairs:
            line = f"  {escape(pair['verdict'])}  [dim](n={pair['shared_questions']})[/]"
            out.print(line, highlight=False, soft_wrap=True)
    for path in plot_paths:
        out.print(f"plot: {path}", highlight=False, soft_wrap=True)
    if report_path:
        out.print(f"report: {report_path}", highlight=False, soft_wrap=True)
