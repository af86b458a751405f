"""The search driver: rank the pool (stage 1), measure the baseline (one greedy call of the best
model), search the budget-shaped space (stage 2, on rungs of growing dev subsets: search/fidelity.py),
evaluate the best and the baseline on the held-out test split, write the leaderboard and the verdict.

Every evaluation goes through ``evaluate_into_folder`` and the shared response cache, into its own
run folder in the search folder, so finished questions and finished trials survive a kill;
re-running the same command replays the recorded trials into the algorithm (same asks, same tells)
and carries on.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.config.architecture import Architecture
from archon_cli.errors import BudgetExceeded, UserError
from archon_cli.evaluation.judge import EMBEDDED_MAX_TOKENS, GatewayJudge, judge_model_for
from archon_cli.evaluation.run_folder import RunPlan, RunResult, evaluate_into_folder, plan_questions
from archon_cli.llm.accountant import Budget
from archon_cli.llm.gateway import LLMGateway
from archon_cli.search.algorithms import ALGORITHMS, SearchAlgorithm, make_algorithm
from archon_cli.search.baseline import baseline_architecture, closing_line, read_run, versus, versus_baseline
from archon_cli.search.estimate import CallEstimate, estimate_calls
from archon_cli.search.executor import TrialExecutor
from archon_cli.search.fidelity import RungScheduler, rung_sizes, spread
from archon_cli.search.folder import SearchFolder
from archon_cli.search.parallel import ParallelSearch
from archon_cli.search.pool import PoolModel
from archon_cli.search.space import FeasibleSpace, Point, SearchSpace, architecture_id, build_architecture
from archon_cli.search.trials import SearchResult, Trial, rank_trials

# Asks in a row that only repeat evaluated points before the driver calls the space exhausted.
_MAX_REPEATS = 200


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
        if self.algorithm not in ALGORITHMS:
            raise UserError(f"unknown search algorithm {self.algorithm!r} (expected one of: {', '.join(ALGORITHMS)})")
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
    def __init__(
        self,
        settings: SearchSettings,
        gateway: LLMGateway,
        results_dir: Path,
        search_id: str | None = None,
        on_trial: Callable[[Trial, list[Trial]], None] | None = None,
        on_stage: Callable[[str], None] | None = None,
        executor: TrialExecutor | None = None,
    ) -> None:
        settings.validate()
        # None: stage 2 runs here, one trial at a time; else up to executor.workers at once (search.parallel).
        self.executor = executor
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

    # -- evaluation of one architecture --------------------------------------------------------

    def _objective(self, score: float | None, calls_per_query: float) -> float:
        return (score if score is not None else 0.0) - self.s.cost_weight * calls_per_query

    async def _evaluate(
        self, architecture: Architecture, questions: list[Question], run_dir: Path, split: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        plan = RunPlan(
            run_dir=run_dir,
            architecture=architecture,
            benchmark=self.s.benchmark,
            questions=questions,
            split=split,
            seed=self.s.seed,
            judge=self.judge,
            kind="search-trial",
            extra=extra,
        )
        outcome = await evaluate_into_folder(plan, self.gateway, concurrency=self.s.concurrency)
        if outcome.budget_stopped:
            raise BudgetExceeded(outcome.budget_message)
        if not outcome.summary.get("reliable", True) and not self.s.allow_weak_judge:
            judge = plan.judge.model if plan.judge else "?"
            raise UserError(
                f"{self.s.benchmark.name}: {outcome.summary.get('unreliable_reason')} (judge {judge}, run {run_dir}); "
                "a search would rank noise: use a stronger --judge, or pass --allow-weak-judge"
            )
        return outcome.summary

    def _trial(
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
            objective=self._objective(summary["score"], cpq),
            nominal_calls=round(cpq * summary["questions"]),
            real_calls=int(summary["calls"]),
            real_requests=int(summary.get("requests", 0)),
            run_dir=str(run_dir.relative_to(self.dir)),
            reliable=bool(summary.get("reliable", True)),
            questions=int(summary["questions"]),
        )

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
        # Parallel trials (--workers 2+) each run on the whole dev split: rungs need one process.
        sizes = rung_sizes(None if self.executor is not None else self.s.rungs, len(dev))
        self._check_budget()
        estimate = self.estimate(dev, test, sizes)
        self.on_stage(estimate.describe(self.s.search_calls))
        self.folder.start(
            self._settings_info(dev, test) | {"rungs": list(sizes), "estimated_calls": estimate.as_dict()}
        )

        ranking, stage1 = await self._rank_models(dev)
        models = [m for m, _ in ranking]
        feasible = FeasibleSpace(self.s.space, models, self.s.budget.calls_per_query, self.endpoints)
        base_dev, base_dev_run = await self._baseline(models[0], "dev", dev)
        trials, evaluations, exhausted = await self._search(feasible, dev, sizes, base_dev_run)
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

    async def _rank_models(self, dev: list[Question]) -> tuple[list[tuple[str, float]], list[Trial]]:
        """Stage 1: each model answers the dev split alone, one greedy call (temperature 0) per
        question, as the baseline does: the best model's stage-1 run is the baseline on dev, answered
        from the cache. Models ranked by score (pool order on ties)."""
        self.on_stage("stage 1: ranking the model pool")
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
            summary = await self._evaluate(arch, dev, run_dir, "dev", {"stage": "stage1", "model": model})
            trial = self._trial(-(i + 1), f"single-{model.replace('/', '_')}", None, "stage1", summary, run_dir)
            trials.append(trial)
            scores.append((model, summary["score"] if summary["score"] is not None else 0.0))
            self.on_stage(f"  {model}: {scores[-1][1]:.4f}")
        order = sorted(range(len(scores)), key=lambda i: (-scores[i][1], i))
        return [scores[i] for i in order], trials

    async def _baseline(self, model: str, split: str, questions: list[Question]) -> tuple[Trial, RunResult]:
        """One greedy call of ``model`` on ``questions`` (search/baseline.py), and its run read back."""
        architecture = baseline_architecture(model, self.s.space, self.endpoints)
        run_dir = self.folder.baseline_dir(split)
        summary = await self._evaluate(architecture, questions, run_dir, split, {"stage": "baseline", "model": model})
        trial = self._trial(0, architecture.name, None, f"baseline-{split}", summary, run_dir)
        if split == "test":
            trial.test_score, trial.test_ci95 = summary["score"], summary["ci95"]
        shown = "-" if summary["score"] is None else f"{summary['score']:.4f}"
        self.on_stage(f"baseline: one greedy call of {model}: {split} {shown} ({len(questions)} questions)")
        return trial, read_run(run_dir)

    def _propose(self, algorithm: SearchAlgorithm, feasible: FeasibleSpace, values: dict[Point, float]) -> Point | None:
        """The algorithm's next unevaluated point; None when it keeps repeating evaluated ones."""
        for _ in range(_MAX_REPEATS + 1):
            point = feasible.canonical(algorithm.ask())
            if point not in values:
                return point
            algorithm.tell(point, values[point])
        return None

    async def _search(
        self, feasible: FeasibleSpace, dev: list[Question], sizes: tuple[int, ...], baseline: RunResult
    ) -> tuple[list[Trial], list[Trial], bool]:
        """Stage 2: new architectures at rung 0, promotions as search/fidelity.py decides. Returns
        each architecture at its highest rung, every evaluation, and whether the space ran out.
        Recorded evaluations are replayed first (a resume): the same decisions follow from them."""
        space_size = len(feasible.all_points())
        if self.executor is not None:
            self.on_stage(
                f"stage 2: {self.s.algorithm} search over {space_size} architectures within budget, "
                f"{self.executor.workers} trials at once, each on all {len(dev)} dev questions"
            )
            trials, exhausted = await ParallelSearch(self, self.executor).run(feasible, dev, space_size, baseline)
            return trials, trials, exhausted
        rungs = "" if len(sizes) == 1 else f", on rungs of {'/'.join(map(str, sizes))} dev questions"
        self.on_stage(f"stage 2: {self.s.algorithm} search over {space_size} architectures within budget{rungs}")
        recorded = self.folder.recorded_trials(len(dev))
        algorithm = make_algorithm(self.s.algorithm, feasible, self.s.seed)
        scheduler = RungScheduler(sizes)
        latest: dict[str, Trial] = {}
        evaluations: list[Trial] = []
        points: dict[str, Point] = {}
        values: dict[Point, float] = {}
        exhausted = False
        while True:
            step = scheduler.promotion()
            if step is None and not exhausted and len(latest) < min(self.s.trials, space_size):
                point = self._propose(algorithm, feasible, values)
                if point is None:
                    exhausted = True
                else:
                    arch_id = architecture_id(point, feasible.models)
                    points[arch_id] = point
                    step = (arch_id, 0)
            if step is None:
                step = scheduler.top_up(max(self.s.final_k, 1))
            if step is None:
                break
            arch_id, rung = step
            number = latest[arch_id].trial if arch_id in latest else len(latest) + 1
            earlier = [t for t in evaluations if t.arch_id == arch_id]
            trial = await self._measure(
                feasible, points[arch_id], rung, number, dev[: sizes[rung]], earlier, recorded, baseline
            )
            evaluations.append(trial)
            latest[arch_id] = trial
            scheduler.record(arch_id, rung, trial.objective, trial.calls_per_query, number)
            values[points[arch_id]] = trial.objective
            if earlier:
                algorithm.update(points[arch_id], trial.objective)
            else:
                algorithm.tell(points[arch_id], trial.objective)
            self.on_trial(trial, list(latest.values()))
        return list(latest.values()), evaluations, exhausted or len(latest) >= space_size

    async def _measure(
        self,
        feasible: FeasibleSpace,
        point: Point,
        rung: int,
        number: int,
        questions: list[Question],
        earlier: list[Trial],
        recorded: dict[tuple[str, int], dict[str, Any]],
        baseline: RunResult,
    ) -> Trial:
        """One architecture on one rung's questions (recorded by an earlier run, or evaluated now in
        the architecture's run folder, where a promotion only adds the new questions)."""
        arch_id = architecture_id(point, feasible.models)
        run_dir = self.folder.trial_dir(arch_id)
        if (arch_id, len(questions)) in recorded:
            trial = Trial(**recorded[(arch_id, len(questions))])
            trial.trial = number
            if trial.vs_baseline is None:
                trial.vs_baseline = versus(self.dir / trial.run_dir, baseline)
            return trial
        architecture = feasible.architecture(point).model_copy(update={"name": arch_id})
        summary = await self._evaluate(
            architecture, questions, run_dir, "dev", {"stage": "search", "point": point.to_dict(), "rung": rung}
        )
        trial = self._trial(number, arch_id, point, "search", summary, run_dir)
        trial.rung, trial.questions = rung, len(questions)
        # What this evaluation added: the questions of the lower rungs were answered before.
        before = max((t.questions for t in earlier), default=0)
        trial.nominal_calls = round(trial.calls_per_query * (len(questions) - before))
        trial.real_calls -= sum(t.real_calls for t in earlier)
        trial.real_requests -= sum(t.real_requests for t in earlier)
        trial.vs_baseline = versus(run_dir, baseline)
        self.folder.record_trial(trial)
        return trial

    async def _final(self, best: list[Trial], feasible: FeasibleSpace, test: list[Question]) -> list[Trial]:
        """The top architectures on the held-out test split."""
        self.on_stage(f"final: top {len(best)} on the test split ({len(test)} questions)")
        finals = []
        for trial in best:
            assert trial.point is not None
            point = Point(**trial.point)
            architecture = feasible.architecture(point).model_copy(update={"name": trial.arch_id})
            run_dir = self.folder.final_dir(trial.arch_id)
            summary = await self._evaluate(
                architecture, test, run_dir, "test", {"stage": "final", "point": trial.point}
            )
            final = self._trial(trial.trial, trial.arch_id, point, "final", summary, run_dir)
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
            "workers": self.executor.workers if self.executor else 1,
            "executor": self.executor.name if self.executor else "local",
        }
