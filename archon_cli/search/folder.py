"""Files a search leaves in results/<search-id>/: leaderboard.csv, best.yaml, pareto.csv/.png,
search.json. Trial architectures are in trials/<id>/architecture.yaml (each trial's run folder)."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, Any

import yaml

from archon_cli.records import write_json
from archon_cli.report.stats import pareto_front
from archon_cli.search.space import FeasibleSpace, Point

if TYPE_CHECKING:
    from archon_cli.benchmarks.base import Question
    from archon_cli.search.driver import SearchDriver, SearchResult, Trial

LEADERBOARD_FIELDS = [
    "rank", "arch_id", "dev_score", "dev_ci_low", "dev_ci_high", "test_score", "test_ci_low", "test_ci_high",
    "objective", "calls_per_query", "tokens_per_query", "cost_per_query", "errors", "trial", "point",
]  # fmt: skip


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def leaderboard_rows(trials: list[Trial]) -> list[dict[str, Any]]:
    ranked = sorted(trials, key=lambda t: (-t.objective, t.calls_per_query, t.trial))
    rows = []
    for rank, t in enumerate(ranked, start=1):
        rows.append(
            {
                "rank": rank,
                "arch_id": t.arch_id,
                "dev_score": _fmt(t.dev_score),
                "dev_ci_low": _fmt(t.ci95[0] if t.ci95 else None),
                "dev_ci_high": _fmt(t.ci95[1] if t.ci95 else None),
                "test_score": _fmt(t.test_score),
                "test_ci_low": _fmt(t.test_ci95[0] if t.test_ci95 else None),
                "test_ci_high": _fmt(t.test_ci95[1] if t.test_ci95 else None),
                "objective": _fmt(t.objective),
                "calls_per_query": f"{t.calls_per_query:.2f}",
                "tokens_per_query": f"{t.tokens_per_query:.1f}",
                "cost_per_query": f"{t.cost_per_query:.6f}",
                "errors": t.errors,
                "trial": t.trial,
                "point": json.dumps(t.point, sort_keys=True),
            }
        )
    return rows


def write_outputs(
    driver: SearchDriver, result: SearchResult, feasible: FeasibleSpace, dev: list[Question], test: list[Question]
) -> None:
    out = result.search_dir
    rows = leaderboard_rows(result.trials)
    with (out / "leaderboard.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=LEADERBOARD_FIELDS)
        writer.writeheader()
        writer.writerows(rows)

    if result.best is not None and result.best.point is not None:
        best_arch = feasible.architecture(Point(**result.best.point)).model_copy(
            update={
                "name": result.best.arch_id,
                "description": f"best of {driver.s.algorithm} search {out.name} on {driver.s.benchmark.name} "
                f"(dev {driver.s.benchmark.metric} {result.best.dev_score:.4f}, {result.best.calls_per_query:.1f} calls/query)",
            }
        )
        (out / "best.yaml").write_text(
            yaml.safe_dump(best_arch.model_dump(exclude_none=True), sort_keys=False),
            encoding="utf-8",
        )

    front_idx = pareto_front([(t.calls_per_query, t.dev_score) for t in result.trials])
    front = sorted((result.trials[i] for i in front_idx), key=lambda t: t.calls_per_query)
    with (out / "pareto.csv").open("w", newline="", encoding="utf-8") as f:
        pareto = csv.writer(f)
        pareto.writerow(["arch_id", "calls_per_query", "dev_score"])
        for t in front:
            pareto.writerow([t.arch_id, f"{t.calls_per_query:.2f}", _fmt(t.dev_score)])
    _plot_pareto(result.trials, front, out / "pareto.png", driver.s.benchmark.metric)

    write_json(
        out / "search.json",
        {
            **json.loads((out / "search.json").read_text(encoding="utf-8")),
            "status": "complete",
            "dev_questions": len(dev),
            "test_questions": len(test),
            "model_ranking": [{"model": m, "dev_score": s} for m, s in result.ranking],
            "feasible_architectures": len(feasible.all_points()),
            "trials_done": len(result.trials),
            "space_exhausted": result.exhausted,
            "best": result.best.to_dict() if result.best else None,
            "finals": [t.to_dict() for t in result.finals],
            "nominal_calls": result.nominal_calls,
            "real_calls": result.real_calls,
            "reuse_ratio": round(result.real_calls / result.nominal_calls, 4) if result.nominal_calls else None,
            "calls_sent_this_run": driver.gateway.stats.calls,
            "wall_seconds": round(result.wall_seconds, 2),
        },
    )


def _plot_pareto(trials: list[Trial], front: list[Trial], path: Any, metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
    ax.scatter([t.calls_per_query for t in trials], [t.dev_score or 0.0 for t in trials], alpha=0.6, label="trials")
    ax.plot([t.calls_per_query for t in front], [t.dev_score or 0.0 for t in front], "r-o", label="Pareto front")
    ax.set_xlabel("calls per query")
    ax.set_ylabel(f"dev {metric}")
    ax.set_title("score versus calls per query")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
