"""Stage 2 of the search: the one loop that proposes architectures, promotes them up the rungs
(search/fidelity.py), runs up to ``--workers N`` evaluations at once on an executor
(search/executor.py: ``local`` in this process, or ``ray``) and hears the results in proposal order.

Proposals. An evaluation is a step: an architecture at a rung. The next step is a promotion when
one is due (among the results heard so far), else a new architecture from the algorithm (rung 0),
else, once nothing is in flight, a top-up (the best below the top rung, one rung up). With one
worker one step is in flight; with N, up to ``LOOKAHEAD * N`` are proposed ahead (at most N run at
once), the algorithm proposing with the pending points in mind (``ask_batch``: for the GP, skopt's
constant liar). The step proposed first is heard first, whatever finishes first, and steps are
proposed only right after a result is heard: so the steps depend on the seed, N and the scores,
never on timing. The same seed and N give the same search; a re-run replays what ``trials.jsonl``
recorded (each evaluation is recorded as soon as it finishes, so a kill loses no finished one)
and proposes the same rest.

Budget. With the local executor every trial goes through the driver's gateway, whose accountant
holds the whole-run limits. With Ray each trial gets a grant (``Grants``) reserved from what the
whole-run limits have left (calls: what the step needs, with room for retries; tokens and
dollars: a fair share among the free workers), which the worker's own accountant enforces. A
worker that runs out returns what it did and the step is sent again with a fresh grant (finished
questions are not run again), until the whole-run budget itself is spent; a lost worker's grant
counts as spent in full. A budget stop lets the steps in flight finish, then stops the search
(exit 3) with every finished evaluation recorded.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archon_cli.benchmarks.base import Question
from archon_cli.errors import BudgetExceeded, ProviderError
from archon_cli.evaluation.run_folder import QUESTIONS, TRACES, RunResult, write_run_files
from archon_cli.llm.accountant import Budget, BudgetAccountant, CallStats, Reservation, Spend
from archon_cli.search.algorithms import SearchAlgorithm, make_algorithm
from archon_cli.search.baseline import versus
from archon_cli.search.evaluator import Evaluator
from archon_cli.search.executor import TrialExecutor, TrialJob, TrialReturn, WorkerLost
from archon_cli.search.fidelity import RungScheduler
from archon_cli.search.folder import SearchFolder
from archon_cli.search.space import FeasibleSpace, Point, architecture_id
from archon_cli.search.trials import Trial

# Steps proposed and not yet heard, per worker (with 2 or more): results are heard in proposal
# order, so with only N proposed a long step would leave the other workers idle until it is heard.
LOOKAHEAD = 4
# Asks in a row that only repeat evaluated points before one worker's loop calls the space exhausted.
MAX_REPEATS = 200
# Times one step may lose its Ray worker before the search gives up (exit 1).
MAX_LOST_WORKERS = 3


@dataclass(frozen=True)
class Step:
    arch_id: str
    point: Point
    rung: int
    number: int  # the architecture's trial number: the order in which it was first proposed
    earlier: tuple[Trial, ...]  # its evaluations at the lower rungs


@dataclass
class Stage2Result:
    trials: list[Trial]  # each architecture once, at the highest rung it reached
    evaluations: list[Trial]  # every step, in proposal order
    exhausted: bool


@dataclass(frozen=True)
class Stage2Plan:
    feasible: FeasibleSpace
    dev: list[Question]
    sizes: tuple[int, ...]  # the rungs (search/fidelity.py): the last is the whole dev split
    algorithm: str
    seed: int
    trials: int
    final_k: int
    judge_model: str | None = None
    judge_max_tokens: int | None = None


def _as_spent(worst: Spend) -> CallStats:
    """A lost worker's grant, counted as spent in full."""
    return CallStats(calls=worst.calls, prompt_tokens=worst.tokens, cost=worst.dollars)


class Grants:
    """Grants for trials that run under accountants of their own (Ray workers), reserved from the
    whole-run accountant so that all workers together never exceed the budget."""

    def __init__(self, accountant: BudgetAccountant, workers: int) -> None:
        self.accountant = accountant
        self.workers = workers
        self._out = 0  # grants out with workers now

    async def take(self, need_calls: int) -> tuple[Budget, Reservation]:
        """A grant from what the whole-run limits have left (waiting while other workers hold it)."""
        b = self.accountant.budget
        while True:
            spent, held = self.accountant.spent, self.accountant.held
            free = max(1, self.workers - self._out)
            calls = tokens = dollars = None
            short = ""
            if b.total_calls is not None:
                calls = min(need_calls, b.total_calls - spent.calls - held.calls)
                if calls < 1:
                    short = f"budget reached: {spent.calls} of {b.total_calls} total calls sent"
            if b.total_tokens is not None:
                tokens = (b.total_tokens - spent.tokens - held.tokens) // free
                if tokens < 1:
                    short = f"budget reached: {spent.tokens:,} of {b.total_tokens:,} tokens used"
            if b.dollars is not None:
                dollars = (b.dollars - spent.dollars - held.dollars) / free
                if not (math.isfinite(dollars) and dollars > 0):
                    short = f"budget reached: ${spent.dollars:.6f} of ${b.dollars} spent"
            if short:
                if self._out == 0:
                    raise BudgetExceeded(short)
                await self.accountant.changed()
                continue
            reservation = self.accountant.try_reserve("search-workers", Spend(calls or 0, tokens or 0, dollars or 0.0))
            if reservation is None:
                await self.accountant.changed()
                continue
            self._out += 1
            grant = Budget(
                name="grant", calls_per_query=b.calls_per_query, total_calls=calls, total_tokens=tokens, dollars=dollars
            )
            return grant, reservation

    def settle(self, reservation: Reservation, spent: CallStats) -> None:
        # The grant is given back before it is settled: settling wakes the steps waiting for a
        # grant, and they must see it gone.
        self._out -= 1
        self.accountant.settle_stats(reservation, spent)


class Stage2:
    def __init__(
        self,
        plan: Stage2Plan,
        evaluator: Evaluator,
        folder: SearchFolder,
        executor: TrialExecutor,
        baseline: asyncio.Future[RunResult],
        on_trial: Callable[[Trial, list[Trial]], None] | None = None,
        on_stage: Callable[[str], None] | None = None,
        running: asyncio.Semaphore | None = None,
    ) -> None:
        """``baseline``: the baseline's dev run, awaited where a trial needs it (stage 1 may still be
        answering it beside stage 2: search/driver.py). ``running``: the ``--workers`` slots, shared
        with stage 1 when it runs beside."""
        self.plan = plan
        self.evaluator = evaluator
        self.folder = folder
        self.executor = executor
        self.baseline = baseline
        self.on_trial = on_trial or (lambda _t, _all: None)
        self.on_stage = on_stage or (lambda _m: None)
        self._warned: set[str] = set()  # the workers' warnings said so far
        self.grants = Grants(evaluator.gateway.accountant, executor.workers) if executor.granted else None
        # Steps running at once (first come, first served).
        self._running = running or asyncio.Semaphore(executor.workers)
        self._stopped = ""  # the budget stop's message, once a step met it

    async def run(self) -> Stage2Result:
        plan = self.plan
        space_size = len(plan.feasible.all_points())
        self._recorded = self.folder.recorded_trials(len(plan.dev))
        algorithm = make_algorithm(plan.algorithm, plan.feasible, plan.seed)
        scheduler = RungScheduler(plan.sizes)
        target = min(plan.trials, space_size)
        ahead = 1 if self.executor.workers == 1 else LOOKAHEAD * self.executor.workers
        latest: dict[str, Trial] = {}
        evaluations: list[Trial] = []
        points: dict[str, Point] = {}  # every architecture proposed, in proposal order
        values: dict[Point, float] = {}
        window: list[tuple[Step, asyncio.Future[Trial]]] = []
        exhausted = False

        def next_step() -> Step | None:
            nonlocal exhausted
            if self._stopped:
                return None  # a budget stop: the steps in flight finish, no new one starts
            busy = {s.arch_id for s, _ in window}
            due = scheduler.promotion(busy)
            if due is None and not exhausted and len(points) < target:
                pending = [s.point for s, _ in window if s.rung == 0]
                point = self._propose(algorithm, values, pending, ahead)
                if point is None:
                    exhausted = not window  # an algorithm that must hear a pending point first waits
                    if not exhausted:
                        return None
                else:
                    arch_id = architecture_id(point, plan.feasible.models)
                    points[arch_id] = point
                    due = (arch_id, 0)
            if due is None and not window:
                due = scheduler.top_up(max(plan.final_k, 1))
            if due is None:
                return None
            arch_id, rung = due
            earlier = tuple(t for t in evaluations if t.arch_id == arch_id)
            return Step(arch_id, points[arch_id], rung, list(points).index(arch_id) + 1, earlier)

        await self.executor.ready()
        try:
            while True:
                while len(window) < ahead and (step := next_step()) is not None:
                    window.append((step, asyncio.ensure_future(self._step(step))))
                if not window:
                    break
                step, future = window[0]
                trial = await future
                window.pop(0)
                evaluations.append(trial)
                latest[step.arch_id] = trial
                scheduler.record(step.arch_id, step.rung, trial.objective, trial.calls_per_query, step.number)
                values[step.point] = trial.objective
                if step.earlier:
                    algorithm.update(step.point, trial.objective)
                else:
                    algorithm.tell(step.point, trial.objective)
                self.on_trial(trial, list(latest.values()))
        except BudgetExceeded:
            # The steps in flight finish within the budget and are recorded; then the stop.
            await asyncio.gather(*(f for _, f in window), return_exceptions=True)
            raise
        except BaseException:
            for _, f in window:
                f.cancel()
            await asyncio.gather(*(f for _, f in window), return_exceptions=True)
            raise
        return Stage2Result(list(latest.values()), evaluations, exhausted or len(latest) >= space_size)

    def _propose(
        self, algorithm: SearchAlgorithm, values: dict[Point, float], pending: list[Point], ahead: int
    ) -> Point | None:
        """The algorithm's next unevaluated point, not pending; None when there is none now."""
        feasible = self.plan.feasible
        if ahead > 1:
            for point in algorithm.ask_batch(1, pending):
                point = feasible.canonical(point)
                if point not in pending and point not in values:
                    return point
            return None
        for _ in range(MAX_REPEATS + 1):  # one at a time: skip (and re-tell) the repeats
            point = feasible.canonical(algorithm.ask())
            if point not in values:
                return point
            algorithm.tell(point, values[point])
        return None

    async def _step(self, step: Step) -> Trial:
        """One architecture on one rung's questions: recorded by an earlier run, or evaluated now in
        the architecture's run folder (where a promotion only adds the new questions)."""
        questions = self.plan.dev[: self.plan.sizes[step.rung]]
        run_dir = self.folder.trial_dir(step.arch_id)
        if (step.arch_id, len(questions)) in self._recorded:
            trial = Trial(**self._recorded[(step.arch_id, len(questions))])
            trial.trial = step.number
            if trial.vs_baseline is None:
                trial.vs_baseline = versus(self.folder.path / trial.run_dir, await self.baseline)
            return trial
        architecture = self.plan.feasible.architecture(step.point).model_copy(update={"name": step.arch_id})
        job = TrialJob(
            arch_id=step.arch_id,
            architecture=architecture,
            benchmark=self.evaluator.benchmark,
            questions=questions,
            seed=self.evaluator.seed,
            grant=Budget(name="grant"),
            extra={"stage": "search", "point": step.point.to_dict(), "rung": step.rung},
            judge_model=self.plan.judge_model,
            judge_max_tokens=self.plan.judge_max_tokens,
            concurrency=self.evaluator.concurrency,
        )
        async with self._running:  # steps start in proposal order
            if self._stopped:
                raise BudgetExceeded(self._stopped)
            try:
                summary = await (self._granted(job, run_dir) if self.grants else self._local(job, run_dir))
            except BudgetExceeded as exc:
                self._stopped = str(exc) or "budget reached"
                raise
        self.evaluator.check_reliable(summary, run_dir)
        trial = self.evaluator.trial(step.number, step.arch_id, step.point, "search", summary, run_dir)
        trial.rung, trial.questions = step.rung, len(questions)
        # What this evaluation added: the questions of the lower rungs were answered before.
        before = max((t.questions for t in step.earlier), default=0)
        trial.nominal_calls = round(trial.calls_per_query * (len(questions) - before))
        trial.real_calls -= sum(t.real_calls for t in step.earlier)
        trial.real_requests -= sum(t.real_requests for t in step.earlier)
        trial.vs_baseline = versus(run_dir, await self.baseline)
        self.folder.record_trial(trial)
        return trial

    async def _local(self, job: TrialJob, run_dir: Path) -> dict[str, Any]:
        returned = await self.executor.run(job, run_dir)
        if returned.budget_stopped:
            raise BudgetExceeded(returned.budget_message or "budget reached")
        return returned.summary

    async def _granted(self, job: TrialJob, run_dir: Path) -> dict[str, Any]:
        """The step on a worker of its own, under grants, until it finishes (its files written here)."""
        assert self.grants is not None
        per_query = job.architecture.static_calls() + (1 if job.judge_model else 0)
        need = per_query * len(job.questions)
        need += max(2, need // 4)  # room for retries; a step that needs more asks again
        prior = (run_dir / QUESTIONS).read_bytes() if (run_dir / QUESTIONS).is_file() else b""
        lost = 0
        while True:
            grant, reservation = await self.grants.take(need)
            job = TrialJob(**{**job.__dict__, "grant": grant, "prior_records": prior})
            returned = await self._send(job, run_dir, reservation)
            if returned is None:
                lost += 1
                if lost > MAX_LOST_WORKERS:
                    raise ProviderError(f"trial {job.arch_id}: its worker was lost {lost} times; giving up")
                self.on_stage(f"  the worker of {job.arch_id} was lost; running the trial again")
                continue
            for warning in returned.warnings:  # each said once
                if warning not in self._warned:
                    self._warned.add(warning)
                    self.on_stage(f"warning: {warning}")
            if returned.error is not None:
                raise returned.error
            prior = returned.files.get(QUESTIONS, prior)
            if returned.budget_stopped:
                write_run_files(run_dir, {TRACES: returned.files.get(TRACES, b"")})  # its questions' traces
                if returned.spent.calls == 0:
                    raise BudgetExceeded(returned.budget_message or "budget reached")
                continue  # its grant ran out: a fresh grant, from what the whole run has left
            self.evaluator.check_reliable(returned.summary, run_dir)
            write_run_files(run_dir, returned.files)
            return returned.summary

    async def _send(self, job: TrialJob, run_dir: Path, reservation: Reservation) -> TrialReturn | None:
        """Run the job; settle its grant with what it spent (in full when its worker is lost: None)."""
        assert self.grants is not None
        try:
            returned = await self.executor.run(job, run_dir)
        except WorkerLost:
            self.grants.settle(reservation, _as_spent(reservation.worst))
            return None
        except BaseException:
            self.grants.settle(reservation, _as_spent(reservation.worst))
            raise
        self.grants.settle(reservation, returned.spent)
        return returned
