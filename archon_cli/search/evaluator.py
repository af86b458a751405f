"""One architecture evaluated for the search, into a run folder of the search folder, and the
``Trial`` that records it. Every stage uses it: stage 1, the baseline, stage 2 (search/loop.py, in
the driver's process) and the final test evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.config.architecture import Architecture
from archon_cli.errors import BudgetExceeded, UserError
from archon_cli.evaluation.judge import GatewayJudge
from archon_cli.evaluation.run_folder import RunOutcome, RunPlan, evaluate_into_folder
from archon_cli.llm.gateway import LLMGateway
from archon_cli.search.space import Point
from archon_cli.search.trials import Trial


@dataclass(frozen=True)
class Evaluator:
    benchmark: Benchmark
    gateway: LLMGateway
    judge: GatewayJudge | None
    search_dir: Path
    seed: int = 0
    concurrency: int = 8
    cost_weight: float = 0.0
    # Go on when the judge's verdicts are mostly unreadable (the scores are then marked unreliable).
    allow_weak_judge: bool = False

    def plan(
        self, architecture: Architecture, questions: list[Question], run_dir: Path, split: str, extra: dict[str, Any]
    ) -> RunPlan:
        return RunPlan(
            run_dir=run_dir,
            architecture=architecture,
            benchmark=self.benchmark,
            questions=questions,
            split=split,
            seed=self.seed,
            judge=self.judge,
            kind="search-trial",
            extra=extra,
        )

    async def outcome(
        self, architecture: Architecture, questions: list[Question], run_dir: Path, split: str, extra: dict[str, Any]
    ) -> RunOutcome:
        """The run as it ended (a budget stop included)."""
        plan = self.plan(architecture, questions, run_dir, split, extra)
        return await evaluate_into_folder(plan, self.gateway, concurrency=self.concurrency)

    async def evaluate(
        self, architecture: Architecture, questions: list[Question], run_dir: Path, split: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """The run's summary; a budget stop raises ``BudgetExceeded`` (what finished is in the folder)."""
        outcome = await self.outcome(architecture, questions, run_dir, split, extra)
        if outcome.budget_stopped:
            raise BudgetExceeded(outcome.budget_message)
        self.check_reliable(outcome.summary, run_dir)
        return outcome.summary

    def check_reliable(self, summary: dict[str, Any], run_dir: Path) -> None:
        if not summary.get("reliable", True) and not self.allow_weak_judge:
            judge = self.judge.model if self.judge else "?"
            raise UserError(
                f"{self.benchmark.name}: {summary.get('unreliable_reason')} (judge {judge}, run {run_dir}); "
                "a search would rank noise: use a stronger --judge, or pass --allow-weak-judge"
            )

    def objective(self, score: float | None, calls_per_query: float) -> float:
        return (score if score is not None else 0.0) - self.cost_weight * calls_per_query

    def trial(
        self, n: int, arch_id: str, point: Point | None, stage: str, summary: dict[str, Any], run_dir: Path
    ) -> Trial:
        cpq = float(summary["calls_per_query"])
        return Trial(
            trial=n,
            arch_id=arch_id,
            point=point.to_dict() if point else None,
            stage=stage,
            dev_score=summary["score"],
            ci95=summary["ci95"],
            calls_per_query=cpq,
            static_calls_per_query=float(summary.get("static_calls_per_query") or 0.0),
            tokens_per_query=float(summary["tokens_per_query"]),
            cost_per_query=float(summary["cost_per_query"]),
            errors=int(summary["errors"]),
            objective=self.objective(summary["score"], cpq),
            nominal_calls=round(cpq * summary["questions"]),
            real_calls=int(summary["calls"]),
            real_requests=int(summary.get("requests", 0)),
            run_dir=str(run_dir.relative_to(self.search_dir)),
            reliable=bool(summary.get("reliable", True)),
            questions=int(summary["questions"]),
        )
