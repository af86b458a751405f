"""Comparing runs (`archon compare`): which runs to compare, their labels, the ranked table
rows, the paired comparisons on shared questions, and the report files (plots, report.md).

A run is compared on the questions it has (``evaluation.run_folder.load_result`` reads it and
summarises its records again), so an incomplete run is usable and the table agrees with the
paired comparison. Errored questions score 0, as in `archon eval`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

from archon_cli.errors import UserError
from archon_cli.evaluation.run_folder import RunResult
from archon_cli.report.stats import paired_bootstrap, pareto_front, points_factor, verdict

ARCHITECTURE_SUFFIXES = (".yaml", ".yml", ".json")
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 10000
# Every pair is compared when a group has at most this many runs; above it, the best against each other.
ALL_PAIRS_MAX = 4


def is_architecture_file(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in ARCHITECTURE_SUFFIXES and path.name not in ("run.json", "search.json")
    )


def check_mixed(groups: list[tuple[str, str, str]], allow_mixed: bool) -> None:
    """Refuse runs of different benchmarks or splits (their scores do not compare) unless allowed.
    ``groups`` holds (name, benchmark, split) per run."""
    by_group: dict[tuple[str, str], list[str]] = {}
    for name, benchmark, split in groups:
        by_group.setdefault((benchmark, split), []).append(name)
    if len(by_group) <= 1 or allow_mixed:
        return
    what = "benchmarks" if len({b for b, _ in by_group}) > 1 else "splits"
    parts = []
    for (benchmark, split), names in by_group.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{benchmark} ({split}): {shown}")
    raise UserError(
        f"the runs are on different {what}, so their scores do not compare ({'; '.join(parts)}); "
        "compare one benchmark and split at a time, or pass --allow-mixed"
    )


def assign_labels(runs: list[RunResult]) -> None:
    """Short unique names: the architecture name, else the folder name, else more of the path."""

    def candidates(run: RunResult) -> list[str]:
        parent = run.search or run.path.parent.name
        return [run.architecture, run.path.name, f"{parent}/{run.path.name}", str(run.path)]

    levels = [0] * len(runs)
    for _ in range(4):
        labels = [candidates(r)[lvl] for r, lvl in zip(runs, levels, strict=True)]
        counts = Counter(labels)
        clashing = [i for i, label in enumerate(labels) if counts[label] > 1 and levels[i] < 3]
        if not clashing:
            break
        for i in clashing:
            levels[i] += 1
    seen: Counter[str] = Counter()
    for run, lvl in zip(runs, levels, strict=True):
        label = candidates(run)[lvl]
        seen[label] += 1
        run.label = label if seen[label] == 1 else f"{label}#{seen[label]}"


def screen_runs(runs: list[RunResult]) -> tuple[list[RunResult], list[str]]:
    """Each run once (by folder); runs without finished questions left out, incomplete ones kept.
    Returns the runs to compare and a warning for each run left out or incomplete."""
    unique: dict[Path, RunResult] = {}
    for run in runs:
        unique.setdefault(run.path.resolve(), run)
    warnings: list[str] = []
    for run in unique.values():
        warnings.extend(run.notes)
        if not run.records:
            warnings.append(f"{run.path} has no finished questions yet ({run.expected} planned); left out")
        elif not run.complete:
            warnings.append(
                f"{run.path} is incomplete: {len(run.records)} of {run.expected} questions; compared on those"
            )
        if run.records and not run.summary.get("reliable", True):
            warnings.append(f"{run.path}: {run.summary.get('unreliable_reason')}")
    return [r for r in unique.values() if r.records], warnings


@dataclass
class Comparison:
    """The table rows (ranked), the paired comparisons, and the folder name they go to."""

    rows: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    compare_id: str

    @property
    def title(self) -> str:
        return table_title(self.rows)


def compare_runs(runs: list[RunResult]) -> Comparison:
    """Label, rank and compare runs (see ``screen_runs`` for which)."""
    assign_labels(runs)
    ranked = rank_runs(runs)
    return Comparison(table_rows(ranked), comparisons(ranked), compare_id(ranked))


def write_report_files(
    comparison: Comparison, out_dir: Path, markdown: bool, warnings: list[str]
) -> tuple[list[Path], Path | None]:
    """The plots in ``out_dir``, and report.md (with the warnings) when asked for; returns their paths."""
    from archon_cli.report import markdown as report_md
    from archon_cli.report import plots

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out_dir}: {exc.strerror}") from None
    plot_paths = plots.make_plots(comparison.rows, out_dir)
    report_path = None
    if markdown:
        report_path = report_md.write_report(
            out_dir / "report.md",
            comparison.title,
            TABLE_HEADER,
            [format_row(r) for r in comparison.rows],
            comparison.pairs,
            plot_paths,
            warnings,
        )
    return plot_paths, report_path


# -- table, comparisons ---------------------------------------------------------------------------


def rank_runs(runs: list[RunResult]) -> list[RunResult]:
    """Grouped by benchmark and split (in first-seen order), then by score (best first), then fewer calls."""
    order = {g: i for i, g in reversed(list(enumerate(r.group for r in runs)))}

    def key(run: RunResult) -> tuple[int, int, float, float]:
        score = run.summary["score"]
        return (order[run.group], score is None, -(score or 0.0), run.summary["calls_per_query"])

    return sorted(runs, key=key)


def table_rows(ranked: list[RunResult]) -> list[dict[str, Any]]:
    """One row per run, in ranked order, with the best of each group and the score/calls Pareto front marked."""
    rows = []
    fronts: dict[tuple[str, str], set[int]] = {}
    for group in dict.fromkeys(r.group for r in ranked):
        members = [i for i, r in enumerate(ranked) if r.group == group]
        points = [(ranked[i].summary["calls_per_query"], ranked[i].summary["score"]) for i in members]
        fronts[group] = {members[j] for j in pareto_front(points)}
    best_seen: set[tuple[str, str]] = set()
    for i, run in enumerate(ranked):
        s = run.summary
        best = run.group not in best_seen and s["score"] is not None
        if best:
            best_seen.add(run.group)
        rows.append(
            {
                "label": run.label,
                "path": str(run.path),
                "kind": run.kind,
                "architecture": run.architecture,
                "run_id": run.info.get("run_id") or run.path.name,
                "search": run.search,
                "benchmark": run.benchmark,
                "split": run.split,
                "metric": run.metric,
                "scale": run.scale,
                "questions": len(run.records),
                "expected": run.expected,
                "complete": run.complete,
                "score": s["score"],
                "ci95": s["ci95"],
                "calls_per_query": s["calls_per_query"],
                "tokens_per_query": s["tokens_per_query"],
                "cost_per_query": s["cost_per_query"],
                "latency_p50": s["latency_p50"],
                "latency_p95": s["latency_p95"],
                "errors": s["errors"],
                "reliable": s.get("reliable", True),
                "unreliable_reason": s.get("unreliable_reason"),
                "per_category": s["per_category"],
                "best": best,
                "pareto": i in fronts[run.group],
            }
        )
    return rows


def compare_pair(a: RunResult, b: RunResult, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """Paired bootstrap of A - B on the questions both runs scored, with its verdict."""
    shared = sorted(q for q in set(a.records) & set(b.records) if a.score_of(q) is not None and b.score_of(q) is not None)
    base: dict[str, Any] = {"a": a.label, "b": b.label, "shared_questions": len(shared)}
    if not shared:
        return {
            **base,
            "diff": None,
            "ci95": None,
            "points": None,
            "points_ci95": None,
            "significant": False,
            "winner": None,
            "verdict": f"{a.label} and {b.label} share no questions",
        }
    result = paired_bootstrap(
        [a.score_of(q) or 0.0 for q in shared],
        [b.score_of(q) or 0.0 for q in shared],
        resamples=resamples,
        seed=BOOTSTRAP_SEED,
    )
    f = points_factor(a.scale)
    winner = None
    if result.significant:
        winner = a.label if result.diff > 0 else b.label
    return {
        **base,
        "diff": result.diff,
        "ci95": [result.low, result.high],
        "points": result.diff * f,
        "points_ci95": [result.low * f, result.high * f],
        "significant": result.significant,
        "winner": winner,
        "verdict": verdict(a.label, b.label, result, a.scale),
    }


def comparisons(ranked: list[RunResult], resamples: int = BOOTSTRAP_RESAMPLES) -> list[dict[str, Any]]:
    """Every pair when a group has 2-4 runs; otherwise the best against each other run. Never across groups."""
    out: list[dict[str, Any]] = []
    for group in dict.fromkeys(r.group for r in ranked):
        members = [r for r in ranked if r.group == group]
        if len(members) <= ALL_PAIRS_MAX:
            pairs = list(combinations(members, 2))
        else:
            pairs = [(members[0], other) for other in members[1:]]
        out.extend(compare_pair(a, b, resamples) for a, b in pairs)
    return out


def compare_id(runs: list[RunResult]) -> str:
    """Derived from the run names (order does not matter), with a digest of their paths."""
    digest = hashlib.sha256("\n".join(sorted(str(r.path.resolve()) for r in runs)).encode()).hexdigest()[:6]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", "-vs-".join(sorted(r.label for r in runs)))
    if len(slug) > 60:
        slug = f"{len(runs)}-runs"
    return f"{slug}-{digest}"


# -- formatting -------------------------------------------------------------------------------------

TABLE_HEADER = ["", "run", "score [95% CI]", "questions", "calls/q", "tokens/q", "cost/q", "p50", "p95", "errors"]


def _num(value: float | None, spec: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{spec}}{suffix}"


def format_row(row: dict[str, Any]) -> list[str]:
    """The table cells of one row (shared by the terminal table and the Markdown report)."""
    ci = row["ci95"] or [None, None]
    digits = ".3f" if row["scale"] <= 1 else ".2f"
    score = _num(row["score"], digits)
    if row["score"] is not None:
        score += f" [{_num(ci[0], digits)}-{_num(ci[1], digits)}]"
    if not row.get("reliable", True):
        score += " UNRELIABLE"
    questions = str(row["questions"]) if row["complete"] else f"{row['questions']}/{row['expected']} (incomplete)"
    marks = " ".join(m for m, on in (("★ best", row["best"]), ("◆", row["pareto"] and not row["best"])) if on)
    return [
        marks,
        row["label"],
        score,
        questions,
        _num(row["calls_per_query"], ".2f"),
        _num(row["tokens_per_query"], ".0f"),
        "$" + _num(row["cost_per_query"], ".4g"),
        _num(row["latency_p50"], ".2f", "s"),
        _num(row["latency_p95"], ".2f", "s"),
        str(row["errors"]),
    ]


def table_title(rows: list[dict[str, Any]]) -> str:
    groups = dict.fromkeys((r["benchmark"], r["split"], r["metric"]) for r in rows)
    if len(groups) == 1:
        benchmark, split, metric = next(iter(groups))
        return f"{benchmark} ({split}), {metric}: {len(rows)} runs"
    return f"{len(rows)} runs on {len(groups)} benchmark/split groups (--allow-mixed)"


def clean_json(value: Any) -> Any:
    """JSON has no NaN: replace it with null, recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value
