"""What `archon eval` does: check everything, evaluate the architecture into its run folder with a
progress bar (a re-run resumes), print the summary."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from archon_cli.commands.evaluating import (
    count_earlier_spend,
    eval_exit_code,
    eval_options,
    evaluate_with_progress,
    plan_eval,
    print_summary,
)
from archon_cli.commands.options import EngineOptions, EvaluationOptions
from archon_cli.commands.settings import engine_settings
from archon_cli.commands.view import report_last


@dataclass(frozen=True)
class EvalCommand:
    """What `archon eval` was given."""

    architecture: Path
    benchmark: str
    run_id: str | None = None
    judge_max_tokens: int | None = None
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)


def run_eval(command: EvalCommand, console: Console) -> int:
    options = eval_options(command.benchmark, command.evaluation, command.run_id, command.judge_max_tokens)
    settings = engine_settings(command.engine)
    json_out = command.evaluation.json_out
    plan, gateway = plan_eval(command.architecture, options, settings, console)
    count_earlier_spend(gateway, [plan.run_dir])
    outcome = evaluate_with_progress(plan, gateway, settings, console, quiet=json_out)
    if json_out:
        print(json.dumps({"run_dir": str(outcome.run_dir), **outcome.summary}))
    else:
        print_summary(outcome.summary, outcome.run_dir, console)
    code = eval_exit_code(outcome, console)
    if not command.evaluation.no_report:
        report_last([outcome.run_dir], console)
    return code
