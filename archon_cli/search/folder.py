"""The search folder, ``results/<search-id>/``: the one owner of its files.

    search.json       the settings (status "running"), then the outcome (status "complete")
    trials.jsonl      each finished evaluation (an architecture at a rung), appended as it
                      finishes (a re-run replays them)
    leaderboard.csv   every trial, best first; best.yaml, the best architecture (runs with eval)
    pareto.csv/.png   the trials no other beats on both score and calls per query

Each evaluation is a run folder (``evaluation.run_folder``) under stage1/, trials/ (one per
architecture: a promotion to a higher rung adds questions to it), final/ and baseline/ (dev/ and
test/: one greedy call of the stage-1 best model): the layout is evaluation/search_layout.py's.
Everything here is written from plain data: trials, an architecture, a few figures.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from archon_cli.config.architecture import Architecture
from archon_cli.evaluation.run_folder import check_not_elsewhere
from archon_cli.evaluation.search_layout import SEARCH_INFO, SearchLayout
from archon_cli.records import JsonlLog, write_json
from archon_cli.report.plots import plot_score_versus
from archon_cli.report.stats import pareto_front
from archon_cli.search.trials import Trial, rank_trials, trial_from_record

LEADERBOARD_FIELDS = [
    "rank", "arch_id", "dev_questions", "dev_score", "dev_ci_low", "dev_ci_high",
    "vs_baseline", "vs_baseline_ci_low", "vs_baseline_ci_high",
    "test_score", "test_ci_low", "test_ci_high",
    "objective", "calls_per_query", "static_calls_per_query", "tokens_per_query", "cost_per_query", "errors", "trial", "rung", "point", "reliable",
]  # fmt: skip


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def leaderboard_rows(trials: list[Trial]) -> list[dict[str, Any]]:
    rows = []
    for rank, t in enumerate(rank_trials(trials), start=1):
        versus = t.vs_baseline or {}
        rows.append(
            {
                "rank": rank,
                "arch_id": t.arch_id,
                "dev_questions": t.questions or "",
                "dev_score": _fmt(t.dev_score),
                "dev_ci_low": _fmt(t.ci95[0] if t.ci95 else None),
                "dev_ci_high": _fmt(t.ci95[1] if t.ci95 else None),
                "vs_baseline": versus.get("difference", ""),
                "vs_baseline_ci_low": versus.get("ci_low", ""),
                "vs_baseline_ci_high": versus.get("ci_high", ""),
                "test_score": _fmt(t.test_score),
                "test_ci_low": _fmt(t.test_ci95[0] if t.test_ci95 else None),
                "test_ci_high": _fmt(t.test_ci95[1] if t.test_ci95 else None),
                "objective": _fmt(t.objective),
                "calls_per_query": f"{t.calls_per_query:.2f}",
                "static_calls_per_query": f"{t.static_calls_per_query:g}" if t.static_calls_per_query else "",
                "tokens_per_query": f"{t.tokens_per_query:.1f}",
                "cost_per_query": f"{t.cost_per_query:.6f}",
                "errors": t.errors,
                "trial": t.trial,
                "rung": t.rung,
                "point": json.dumps(t.point, sort_keys=True),
                "reliable": "yes" if t.reliable else "no (judge verdicts mostly unreadable)",
            }
        )
    return rows


class SearchFolder(SearchLayout):
    """The search folder's files, over its layout (evaluation/search_layout.py: the run folders)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.leaderboard = path / "leaderboard.csv"
        self.best = path / "best.yaml"
        self._trials = JsonlLog(path / "trials.jsonl")

    # -- search.json and trials.jsonl

    def start(self, info: dict[str, Any]) -> None:
        """Write the settings (``kind`` search, status running) before the first evaluation."""
        check_not_elsewhere(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(
            self.path / SEARCH_INFO, {"kind": "search", "search_id": self.path.name, "status": "running", **info}
        )

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / SEARCH_INFO).read_text(encoding="utf-8"))
        return data

    def recorded_trials(self, whole_split: int) -> dict[tuple[str, int], dict[str, Any]]:
        """The search evaluations finished by an earlier run, by (architecture id, questions); a
        record without a question count (written before rungs) was over the ``whole_split``."""
        # A damaged record (a field missing, unknown or of the wrong type) is left out: that
        # evaluation runs again, its questions answered from its run folder and the cache.
        return {
            (r["arch_id"], int(r.get("questions") or whole_split)): r
            for r in self._trials.read()
            if r.get("stage") == "search" and trial_from_record(r) is not None
        }

    def record_trial(self, trial: Trial) -> None:
        self._trials.append(trial.to_dict())

    # -- the outcome

    def finish(self, trials: list[Trial], best: Architecture | None, metric: str, outcome: dict[str, Any]) -> None:
        """Write the leaderboard, best.yaml, the Pareto front (CSV and plot) and the outcome in search.json."""
        with self.leaderboard.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=LEADERBOARD_FIELDS)
            writer.writeheader()
            writer.writerows(leaderboard_rows(trials))

        if best is not None:
            self.best.write_text(yaml.safe_dump(best.model_dump(exclude_none=True), sort_keys=False), encoding="utf-8")

        front_idx = pareto_front([(t.calls_per_query, t.dev_score) for t in trials])
        front = sorted((trials[i] for i in front_idx), key=lambda t: t.calls_per_query)
        with (self.path / "pareto.csv").open("w", newline="", encoding="utf-8") as f:
            pareto = csv.writer(f)
            pareto.writerow(["arch_id", "calls_per_query", "dev_score"])
            for t in front:
                pareto.writerow([t.arch_id, f"{t.calls_per_query:.2f}", _fmt(t.dev_score)])
        _plot_pareto(trials, metric, self.path / "pareto.png")

        write_json(self.path / SEARCH_INFO, {**self.info(), "status": "complete", **outcome})


def _plot_pareto(trials: list[Trial], metric: str, path: Path) -> None:
    """Score against calls per query, drawn as `archon compare` draws it; the front is labelled."""
    ranked = rank_trials(trials)
    rows = [
        {
            "label": t.arch_id,
            "best": t is ranked[0],
            "benchmark": "",
            "split": "dev",
            "metric": f"dev {metric}",
            "score": t.dev_score,
            "ci95": t.ci95,
            "calls_per_query": t.calls_per_query,
        }
        for t in trials
    ]
    plot_score_versus(
        rows, "calls_per_query", "calls per query", "Score vs calls per query", path, labels="front", series="trials"
    )
