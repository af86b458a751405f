"""What `archon eval` does: check everything, evaluate the architecture into its run folder with a
progress bar (a re-run resumes), print the summary."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from archon_cli.commands.evaluating import eval_exit_code, evaluate_with_progress, plan_eval, print_summary
from archon_cli.commands.settings import EngineSettings
from archon_cli.commands.view import report_last
from archon_cli.evaluation.run_folder import EvalOptions


def run_eval(
    architecture_path: Path,
    options: EvalOptions,
    settings: EngineSettings,
    console: Console,
    json_out: bool,
    report: bool = True,
) -> int:
    plan, gateway = plan_eval(architecture_path, options, settings, console)
    outcome = evaluate_with_progress(plan, gateway, settings, console, quiet=json_out)
    if json_out:
        print(json.dumps({"run_dir": str(outcome.run_dir), **outcome.summary}))
    else:
        print_summary(outcome.summary, outcome.run_dir, console)
    code = eval_exit_code(outcome, console)
    if report:
        report_last([outcome.run_dir], console)
    return code
