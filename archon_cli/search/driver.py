"""The search driver: rank the pool (stage 1), measure the baseline (one greedy call of the best
model), search the budget-shaped space (stage 2, on rungs of growing dev subsets: search/fidelity.py),
evaluate the best and the baseline on the held-out test split, write the leaderboard and the verdict.

Every evaluation goes through ``evaluate_into_folder`` and the shared response cache, into its own
run folder in the search folder, so finished questions and finished trials survive a kill;
re-running the same command replays the recorded trials into the algorithm (same asks, same tells)
and carries on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.errors import UserError
from archon_cli.evaluation.judge import EMBEDDED_MAX_TOKENS, GatewayJudge, judge_model_for
from archon_cli.evaluation.run_folder import RunResult, plan_questions
from archon_cli.llm.accountant import Budget
from archon_cli.llm.gateway import LLMGateway
from archon_cli.search.baseline import baseline_architecture, closing_line, read_run, versus, versus_baseline
from archon_cli.search.choices import ALGORITHMS
from archon_cli.search.estimate import CallEstimate, estimate_calls
from archon_cli.search.evaluator import Evaluator
from archon_cli.search.executor import LocalExecutor, TrialExecutor
from archon_cli.search.fidelity import rung_sizes, spread
from archon_cli.search.folder import SearchFolder
from archon_cli.search.loop import Stage2, Stage2Plan
from archon_cli.search.pool import PoolModel
from archon_cli.search.space import FeasibleSpace, Point, SearchSpace, build_architecture
from archon_cli.search.trials import SearchResult, Trial, rank_trials


class Opening(NamedTuple):
    """Stage 1 and the baseline on dev, as stage 2 and the result need them."""

    ranking: list[tuple[str, float]]  # (model, dev score), best first
    stage1: list[Trial]
    base_dev: Trial
    base_dev_run: RunResult


async def _baseline_run(opening: asyncio.Future[Opening]) -> RunResult:
    return (await opening).base_dev_run


@dataclass(frozen=True)
class SearchSettings:
    benchmark: Benchmark
    pool: list[PoolModel]
    budget: Budget
    space: SearchSpace = field(default_factory=SearchSpace)
    algorithm: str = "gp"
    trials: int = 20
    seed: int = 0
    cost_weight: float = 0.0
    final_k: int = 3
    dev_limit: int | None = None
    test_limit: int | None = None
    concurrency: int = 8
    judge_model: str | None = None
    judge_max_tokens: int | None = None
    # Go on when the judge's verdicts are mostly unreadable (the scores are then marked unreliable).
    allow_weak_judge: bool = False
    # Rung sizes of the multi-fidelity search (search/fidelity.py); None: every trial on the whole dev split.
    rungs: tuple[int, ...] | None = None
    # A hard cap on the calls this run of the search sends (with the budget's total_calls, the lower binds).
    search_calls: int | None = None

    def validate(self) -> None:
        if self.trials < 1:
            raise UserError(f"--trials {self.trials}: must be at least 1")
        ALGORITHMS.lookup(self.algorithm)
        if not self.pool:
            raise UserError("the model pool is empty: give at least one model with --models")
        if self.final_k < 0:
            raise UserError(f"--final-k {self.final_k}: must be 0 or more")
        if not (math.isfinite(self.cost_weight) and self.cost_weight >= 0):
            raise UserError(f"--cost-weight {self.cost_weight}: must be a finite number, 0 or more")
        if self.search_calls is not None and self.search_calls < 1:
            raise UserError(f"--search-calls {self.search_calls}: must be at least 1")

    def gateway_budget(self) -> Budget:
        """The budget the gateway enforces: ``--search-calls`` caps its total calls (the lower wins)."""
        if self.search_calls is None:
            return self.budget
        total = min(self.budget.total_calls or self.search_calls, self.search_calls)
        return self.budget.model_copy(update={"total_calls": total})

    def search_id(self) -> str:
        """Same settings, same id: re-running the command resumes the same search folder (with raised
        whole-run limits too: what was spent before counts against them)."""
        key = json.dumps(
            {
                "pool": [p.model_dump() for p in self.pool],
                "space": self.space.model_dump(),
                "cost_weight": self.cost_weight,
                "dev_limit": self.dev_limit,
                "judge": self.judge_model,
                # The per-query budget shapes the space; the whole-run limits only say when to stop
                # (spent over every resume, search/ledger), so raising them resumes the same folder.
                "budget": self.budget.model_dump(exclude={"name", "total_calls", "total_tokens", "dollars"}),
                # Plain searches keep the ids they had before rungs existed.
                **({"rungs": list(self.rungs)} if self.rungs else {}),
                # A task's files (their hashes): a changed file is another search.
                **self.benchmark.identity(),
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:6]
        calls = self.budget.calls_per_query or "inf"
        return f"search-{self.benchmark.name}-{self.algorithm}-b{calls}-s{self.seed}-{digest}"


class SearchDriver:
    """The four stages in order: stage 1 (rank the pool), the baseline, stage 2 (search/loop.py,
    on ``executor``: by default ``workers`` trials at once in this process) and the final test
    evaluation; each evaluation through one ``Evaluator`` into the search folder. With a pool of
    one model and 2+ workers, stage 1 and the baseline take one of the workers' slots while stage
    2 starts in the others (nothing to rank: the results are the same)."""

    def __init__(
        self,
        settings: SearchSettings,
        gateway: LLMGateway,
        results_dir: Path,
        search_id: str | None = None,
        on_trial: Callable[[Trial, list[Trial]], None] | None = None,
        on_stage: Callable[[str], None] | None = None,
        executor: TrialExecutor | None = None,
        workers: int = 1,
    ) -> None:
        settings.validate()
        if workers < 1:
            raise UserError(f"--workers {workers}: must be at least 1")
        self.s = settings
        self.gateway = gateway
        self.dir = results_dir / (search_id or settings.search_id())
        self.folder = SearchFolder(self.dir)
        self.on_trial = on_trial or (lambda _t, _all: None)
        self.on_stage = on_stage or (lambda _m: None)
        self.endpoints = {
            p.model: {k: v for k, v in (("api_base", p.api_base), ("api_key_env", p.api_key_env)) if v}
            for p in settings.pool
        }
        judge_model = judge_model_for(settings.benchmark, settings.judge_model)
        max_tokens = settings.judge_max_tokens or EMBEDDED_MAX_TOKENS
        self.judge = GatewayJudge(gateway, judge_model, max_tokens=max_tokens) if judge_model else None
        self.evaluator = Evaluator(
            benchmark=settings.benchmark,
            gateway=gateway,
            judge=self.judge,
            search_dir=self.dir,
            seed=settings.seed,
            concurrency=settings.concurrency,
            cost_weight=settings.cost_weight,
            allow_weak_judge=settings.allow_weak_judge,
        )
        self.executor: TrialExecutor = executor or LocalExecutor(self.evaluator, workers)

    # -- the search ------------------------------------------------------------------------------

    def questions(self, split: str, limit: int | None) -> list[Question]:
        """The split in a seeded random order (so a limit, and every rung, mixes the categories),
        then its first ``limit``."""
        chosen = plan_questions(self.s.benchmark, split, self.s.seed, None)
        salt = f"{self.s.benchmark.name}:{split}"
        return spread(chosen, [q.id for q in chosen], self.s.seed, salt)[:limit]

    async def run(self) -> SearchResult:
        started = time.perf_counter()
        dev = self.questions("dev", self.s.dev_limit)
        test = self.questions("test", self.s.test_limit) if self.s.final_k else []
        sizes = rung_sizes(self.s.rungs, len(dev))
        self._check_budget()
        estimate = self.estimate(dev, test, sizes)
        self.on_stage(estimate.describe(self.s.search_calls))
        self.folder.start(
            self._settings_info(dev, test) | {"rungs": list(sizes), "estimated_calls": estimate.as_dict()}
        )

        # A lone model needs no ranking: with 2+ workers its stage-1 run (the baseline on dev) is
        # one of the N evaluations in flight, and stage 2 starts beside it.
        beside = len(self.s.pool) == 1 and self.executor.workers > 1
        self.on_stage("stage 1: ranking the model pool" + (" (one model: beside stage 2)" if beside else ""))
        running = asyncio.Semaphore(self.executor.workers)  # the --workers slots
        opening = asyncio.ensure_future(self._opening(dev, running))
        baseline = asyncio.ensure_future(_baseline_run(opening))
        try:
            models = [self.s.pool[0].model] if beside else [m for m, _ in (await opening).ranking]
            feasible = FeasibleSpace(self.s.space, models, self.s.budget.calls_per_query, self.endpoints)
            trials, evaluations, exhausted = await self._stage2(feasible, dev, sizes, baseline, running)
            ranking, stage1, base_dev, _ = await opening
        finally:
            for task in (opening, baseline):
                task.cancel()  # stage 2 failed while stage 1 was still running (done: no effect)
            await asyncio.gather(opening, baseline, return_exceptions=True)
        ranked = rank_trials(trials)
        finals = await self._final(ranked[: self.s.final_k], feasible, test) if test else []
        base_test = await self._versus_on_test(models[0], finals, test) if finals else None
        everything = stage1 + evaluations + finals + [base_dev] + ([base_test] if base_test else [])
        best_versus = versus_baseline(finals[0].arch_id, base_dev.arch_id, finals[0].vs_baseline) if finals else None
        result = SearchResult(
            search_dir=self.dir,
            ranking=ranking,
            trials=trials,
            best=ranked[0] if ranked else None,
            finals=finals,
            nominal_calls=sum(t.nominal_calls for t in everything),
            real_calls=sum(t.real_calls for t in everything),
            real_requests=sum(t.real_requests for t in everything),
            exhausted=exhausted,
            wall_seconds=time.perf_counter() - started,
            evaluations=evaluations,
            baseline={
                "model": models[0],
                "architecture": base_dev.arch_id,
                "dev": base_dev.to_dict(),
                "test": base_test.to_dict() if base_test else None,
            },
            versus_baseline=best_versus,
            verdict=closing_line(best_versus, [(t.arch_id, t.vs_baseline) for t in finals[1:]]),
        )
        self._finish(result, feasible, dev, test)
        return result

    def estimate(self, dev: list[Question], test: list[Question], sizes: tuple[int, ...]) -> CallEstimate:
        """The calls these settings will need (call counts do not depend on the models' order)."""
        feasible = FeasibleSpace(self.s.space, [p.model for p in self.s.pool], self.s.budget.calls_per_query)
        return estimate_calls(
            pool_size=len(self.s.pool),
            dev=len(dev),
            test=len(test),
            rungs=sizes,
            trials=self.s.trials,
            final_k=self.s.final_k,
            architecture_calls=[feasible.calls(p) for p in feasible.all_points()],
        )

    def _finish(self, result: SearchResult, feasible: FeasibleSpace, dev: list[Question], test: list[Question]) -> None:
        best = None
        if result.best is not None and result.best.point is not None:
            shown = "-" if result.best.dev_score is None else f"{result.best.dev_score:.4f}"
            best = feasible.architecture(Point(**result.best.point)).model_copy(
                update={
                    "name": result.best.arch_id,
                    "description": f"best of {self.s.algorithm} search {self.dir.name} on {self.s.benchmark.name} "
                    f"(dev {self.s.benchmark.metric} {shown}, "
                    f"{result.best.calls_per_query:.1f} calls/query)",
                }
            )
        self.folder.finish(
            result.trials,
            best,
            self.s.benchmark.metric,
            {
                "dev_questions": len(dev),
                "test_questions": len(test),
                "model_ranking": [{"model": m, "dev_score": s} for m, s in result.ranking],
                "feasible_architectures": len(feasible.all_points()),
                "trials_done": len(result.trials),
                "evaluations": len(result.evaluations),
                "space_exhausted": result.exhausted,
                "best": result.best.to_dict() if result.best else None,
                "finals": [t.to_dict() for t in result.finals],
                "baseline": result.baseline,
                "versus_baseline": result.versus_baseline,
                "verdict": result.verdict,
                "nominal_calls": result.nominal_calls,
                "real_calls": result.real_calls,
                "real_requests": result.real_requests,
                "reuse_ratio": round(result.real_calls / result.nominal_calls, 4) if result.nominal_calls else None,
                "calls_sent_this_run": self.gateway.stats.calls,
                "requests_sent_this_run": self.gateway.stats.requests,
                "wall_seconds": round(result.wall_seconds, 2),
            },
        )

    def _check_budget(self) -> None:
        """Before any call: the budget must pay for at least one architecture of the space.
        Call counts do not depend on which model ranks first, so the pool order will do."""
        models = [p.model for p in self.s.pool]
        if FeasibleSpace(self.s.space, models, self.s.budget.calls_per_query).all_points():
            return
        unbounded = FeasibleSpace(self.s.space, models, None)
        least = min(unbounded.calls(p) for p in unbounded.all_points())
        raise UserError(
            f"budget of {self.s.budget.calls_per_query} calls per query is too small for any architecture "
            f"in the space (the cheapest costs {least})"
        )

    async def _opening(self, dev: list[Question], running: asyncio.Semaphore) -> Opening:
        """Stage 1 (in one of the N slots) and the baseline on dev: the ranking, stage 1's trials,
        and the baseline's trial and run."""
        async with running:  # asked for before any trial
            ranking, stage1 = await self._rank_models(dev)
            base_dev, base_dev_run = await self._baseline(ranking[0][0], "dev", dev)
        return Opening(ranking, stage1, base_dev, base_dev_run)

    async def _rank_models(self, dev: list[Question]) -> tuple[list[tuple[str, float]], list[Trial]]:
        """Stage 1: each model answers the dev split alone, one greedy call (temperature 0) per
        question, as the baseline does: the best model's stage-1 run is the baseline on dev, answered
        from the cache. Models ranked by score (pool order on ties)."""
        scores: list[tuple[str, float]] = []
        trials = []
        for i, pool_model in enumerate(self.s.pool):
            model = pool_model.model
            arch = build_architecture(
                Point(1, 1, 0, 1, False, "none", temperature=0.0),
                [model],
                self.s.space.for_pool(1),
                name=f"single-{model}",
                endpoints=self.endpoints,
            )
            run_dir = self.folder.stage1_dir(model)
            summary = await self.evaluator.evaluate(arch, dev, run_dir, "dev", {"stage": "stage1", "model": model})
            trial = self.evaluator.trial(-(i + 1), f"single-{model.replace('/', '_')}", None, "stage1", summary, run_dir)
            trials.append(trial)
            scores.append((model, summary["score"] if summary["score"] is not None else 0.0))
            self.on_stage(f"  {model}: {scores[-1][1]:.4f}")
        order = sorted(range(len(scores)), key=lambda i: (-scores[i][1], i))
        return [scores[i] for i in order], trials

    async def _baseline(self, model: str, split: str, questions: list[Question]) -> tuple[Trial, RunResult]:
        """One greedy call of ``model`` on ``questions`` (search/baseline.py), and its run read back."""
        architecture = baseline_architecture(model, self.s.space, self.endpoints)
        run_dir = self.folder.baseline_dir(split)
        summary = await self.evaluator.evaluate(architecture, questions, run_dir, split, {"stage": "baseline", "model": model})
        trial = self.evaluator.trial(0, architecture.name, None, f"baseline-{split}", summary, run_dir)
        if split == "test":
            trial.test_score, trial.test_ci95 = summary["score"], summary["ci95"]
        shown = "-" if summary["score"] is None else f"{summary['score']:.4f}"
        self.on_stage(f"baseline: one greedy call of {model}: {split} {shown} ({len(questions)} questions)")
        return trial, read_run(run_dir)

    async def _stage2(
        self,
        feasible: FeasibleSpace,
        dev: list[Question],
        sizes: tuple[int, ...],
        baseline: asyncio.Future[RunResult],
        running: asyncio.Semaphore,
    ) -> tuple[list[Trial], list[Trial], bool]:
        """Stage 2 (search/loop.py). Returns each architecture at its highest rung, every
        evaluation, and whether the space ran out."""
        space_size = len(feasible.all_points())
        rungs = "" if len(sizes) == 1 else f", on rungs of {'/'.join(map(str, sizes))} dev questions"
        workers = self.executor.workers
        at_once = "" if workers == 1 else f", {workers} trials at once ({self.executor.name})"
        self.on_stage(
            f"stage 2: {self.s.algorithm} search over {space_size} architectures within budget{rungs}{at_once}"
        )
        plan = Stage2Plan(
            feasible=feasible,
            dev=dev,
            sizes=sizes,
            algorithm=self.s.algorithm,
            seed=self.s.seed,
            trials=self.s.trials,
            final_k=self.s.final_k,
            judge_model=self.judge.model if self.judge else None,
            judge_max_tokens=self.s.judge_max_tokens,
        )
        stage2 = Stage2(plan, self.evaluator, self.folder, self.executor, baseline, self.on_trial, self.on_stage, running)
        result = await stage2.run()
        return result.trials, result.evaluations, result.exhausted

    async def _final(self, best: list[Trial], feasible: FeasibleSpace, test: list[Question]) -> list[Trial]:
        """The top architectures on the held-out test split."""
        self.on_stage(f"final: top {len(best)} on the test split ({len(test)} questions)")
        finals = []
        for trial in best:
            assert trial.point is not None
            point = Point(**trial.point)
            architecture = feasible.architecture(point).model_copy(update={"name": trial.arch_id})
            run_dir = self.folder.final_dir(trial.arch_id)
            summary = await self.evaluator.evaluate(
                architecture, test, run_dir, "test", {"stage": "final", "point": trial.point}
            )
            final = self.evaluator.trial(trial.trial, trial.arch_id, point, "final", summary, run_dir)
            trial.test_score, trial.test_ci95 = summary["score"], summary["ci95"]
            final.test_score, final.test_ci95 = summary["score"], summary["ci95"]
            final.rung = trial.rung
            finals.append(final)
            shown = "-" if summary["score"] is None else f"{summary['score']:.4f}"
            self.on_stage(f"  {trial.arch_id}: test {shown}")
        return finals

    async def _versus_on_test(self, model: str, finals: list[Trial], test: list[Question]) -> Trial:
        """The baseline on the test split, and each finalist's paired difference from it."""
        trial, run = await self._baseline(model, "test", test)
        for final in finals:
            final.vs_baseline = versus(self.dir / final.run_dir, run)
        return trial

    def _settings_info(self, dev: list[Question], test: list[Question]) -> dict[str, Any]:
        return {
            "benchmark": self.s.benchmark.name,
            "metric": self.s.benchmark.metric,
            "scale": self.s.benchmark.scale,
            "split": "dev",
            "algorithm": self.s.algorithm,
            "trials": self.s.trials,
            "seed": self.s.seed,
            "budget": self.s.budget.model_dump(),
            "cost_weight": self.s.cost_weight,
            "final_k": self.s.final_k,
            "pool": [p.model_dump() for p in self.s.pool],
            "space": self.s.space.model_dump(),
            "dev_questions": len(dev),
            "test_questions": len(test),
            "judge": self.judge.model if self.judge else None,
            "workers": self.executor.workers,
            "executor": self.executor.name,
        }
