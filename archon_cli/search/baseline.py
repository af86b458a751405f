"""The baseline a search is measured against, and the paired verdict.

The baseline is the stage-1 best model with one greedy call (temperature 0, one sample), evaluated
on the same dev and test questions as the architectures (its run folders are under baseline/ in
the search folder). Each architecture's difference from it is paired over the questions both
answered, with a percentile bootstrap 95% interval (``report.compare.compare_pair``), in points
(x100 for 0-1 metrics). ``versus_baseline`` is that difference for the search's best architecture on
the test split, and ``closing_line`` says it in words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archon_cli.config.architecture import Architecture
from archon_cli.evaluation.run_folder import RunResult, load_result
from archon_cli.report.compare import compare_pair
from archon_cli.search.space import SearchSpace

BASELINE_LABEL = "one call"


def baseline_architecture(model: str, space: SearchSpace, endpoints: dict[str, dict[str, str]]) -> Architecture:
    """One greedy call of ``model``, with the space's answer length."""
    generator = {
        "type": "generator",
        "model": model,
        "samples": 1,
        "temperature": 0.0,
        "max_tokens": space.max_tokens,
        **endpoints.get(model, {}),
    }
    return Architecture.model_validate({"name": f"one-call-{model.replace('/', '_')}", "layers": [[generator]]})


def read_run(run_dir: Path) -> RunResult:
    return load_result(run_dir)[0]


def versus(run_dir: Path, baseline: RunResult) -> dict[str, Any] | None:
    """The paired difference (points) of the run in ``run_dir`` minus the baseline, on their shared
    questions: {difference, ci_low, ci_high, questions, significant}; None when they share none."""
    run = read_run(run_dir)
    run.label, baseline.label = run.architecture, BASELINE_LABEL
    pair = compare_pair(run, baseline)
    if pair["points"] is None:
        return None
    low, high = pair["points_ci95"]
    return {
        "difference": round(pair["points"], 2),
        "ci_low": round(low, 2),
        "ci_high": round(high, 2),
        "questions": pair["shared_questions"],
        "significant": bool(pair["significant"]),
    }


def versus_baseline(best: str, baseline_name: str, paired: dict[str, Any] | None) -> dict[str, Any] | None:
    """search.json's ``versus_baseline``: the best architecture against the baseline on the test split."""
    if paired is None:
        return None
    return {
        "best": best,
        "baseline": baseline_name,
        "split": "test",
        "questions": paired["questions"],
        "difference": paired["difference"],
        "ci_low": paired["ci_low"],
        "ci_high": paired["ci_high"],
        "unit": "points",
        "significant": paired["significant"],
    }


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def closing_line(versus_best: dict[str, Any] | None, others: list[tuple[str, dict[str, Any] | None]]) -> str:
    """The verdict in words: the best against one call on the held-out questions; ``others`` are the
    other finalists' (name, paired difference on test)."""
    if versus_best is None:
        return "no test evaluation (--final-k 0), so no verdict against one call"
    d, low, high, n = versus_best["difference"], versus_best["ci_low"], versus_best["ci_high"], versus_best["questions"]
    interval = f"(95% CI {_signed(low)} to {_signed(high)}) on {n} held-out questions"
    if versus_best["significant"] and d > 0:
        return f"best beats one call by {_signed(d)} points {interval}"
    if versus_best["significant"]:
        return f"one call beats the best architecture: best - one call = {_signed(d)} points {interval}"
    winners = [name for name, v in others if v is not None and v["significant"] and v["difference"] > 0]
    line = f"no architecture beat one call significantly (best - one call = {_signed(d)} points {interval})"
    if winners:
        line = (
            f"the best did not beat one call significantly (best - one call = {_signed(d)} points {interval}); "
            f"{', '.join(winners)} did"
        )
    return line
