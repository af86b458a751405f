"""Stage 2 with several workers (``archon search --workers N``): up to N trials running at once,
and up to 4N proposed ahead of the results (so one long trial does not leave the others idle).

The algorithm proposes batches (``ask_batch``: for the GP, skopt's constant liar) and hears the
results in the order the trials were proposed: the trial proposed first is told first, whatever
finishes first. So the proposals depend only on the seed, N and the scores, never on timing: the
same seed and N give the same trials, and a re-run replays what was recorded and proposes the
same rest. A trial is written (its run folder, then its line in trials.jsonl) by the driver as soon
as it returns, so a kill loses no finished trial.

Budget: the driver's accountant is the only one. Each trial is dispatched with a grant reserved
from what the whole-run limits have left (calls: what the trial needs, with room for retries;
tokens and dollars: a fair share among the free workers), enforced by the worker as hard limits.
A worker that runs out returns what it did; the trial is sent again with a fresh grant (the cache
answers what it already did) until the whole-run budget itself is spent, which stops the search
(exit 3) once the trials in flight have finished within their grants.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from archon_cli.benchmarks.base import Question
from archon_cli.config.architecture import Architecture
from archon_cli.errors import BudgetExceeded, ProviderError, UserError
from archon_cli.evaluation.run_folder import QUESTIONS, TRACES, RunResult, write_run_files
from archon_cli.llm.accountant import Budget, CallStats, Reservation, Spend
from archon_cli.search.algorithms import make_algorithm
from archon_cli.search.baseline import versus
from archon_cli.search.executor import TrialExecutor, TrialJob, TrialReturn, WorkerLost
from archon_cli.search.space import FeasibleSpace, Point, architecture_id
from archon_cli.search.trials import Trial

if TYPE_CHECKING:
    from archon_cli.search.driver import SearchDriver

# Times one trial may lose its worker before the search gives up (exit 1).
MAX_LOST_WORKERS = 3
# Trials proposed and not yet told, per worker. Results are told in proposal order, so with only
# N proposed a long trial would leave the other workers idle until it is told; with 4N they work
# on the next proposals meanwhile (at most N run at once). The GP then proposes with more lies.
LOOKAHEAD = 4


def _as_spent(worst: Spend) -> CallStats:
    """A lost worker's grant, counted as spent in full."""
    return CallStats(calls=worst.calls, prompt_tokens=worst.tokens, cost=worst.dollars)


class ParallelSearch:
    def __init__(self, driver: SearchDriver, executor: TrialExecutor) -> None:
        self.d = driver
        self.executor = executor
        self.accountant = driver.gateway.accountant
        self._granted = 0  # grants out with workers now
        self._running = asyncio.Semaphore(executor.workers)  # trials on workers at once
        self._warned: set[str] = set()

    async def run(
        self, feasible: FeasibleSpace, dev: list[Question], space_size: int, baseline: RunResult
    ) -> tuple[list[Trial], bool]:
        """Every trial on the whole ``dev`` split (rungs run in one process, see the driver)."""
        s = self.d.s
        self._baseline = baseline
        recorded = {arch: r for (arch, count), r in self.d.folder.recorded_trials(len(dev)).items() if count == len(dev)}
        algorithm = make_algorithm(s.algorithm, feasible, s.seed)
        target = min(s.trials, space_size)
        workers = self.executor.workers
        ahead = LOOKAHEAD * workers
        window: list[tuple[Point, asyncio.Future[Trial]]] = []
        trials: list[Trial] = []
        exhausted = False
        await self.executor.ready()
        try:
            while len(trials) < target:
                while not exhausted and len(window) < ahead and len(trials) + len(window) < target:
                    pending = [p for p, _ in window]
                    want = min(ahead - len(window), target - len(trials) - len(window))
                    batch: list[Point] = []
                    for point in algorithm.ask_batch(want, pending):
                        point = feasible.canonical(point)
                        if point not in pending and point not in batch:
                            batch.append(point)
                    if not batch:
                        exhausted = not window
                        break
                    for point in batch:
                        index = len(trials) + len(window)
                        task = asyncio.ensure_future(self._trial(index, point, recorded, feasible, dev))
                        window.append((point, task))
                if not window:
                    break
                trial = await window[0][1]
                point = window[0][0]
                window.pop(0)
                trials.append(trial)
                algorithm.tell(point, trial.objective)
                self.d.on_trial(trial, trials)
        except BudgetExceeded:
            # The trials in flight finish within their grants and are recorded; then the stop.
            await asyncio.gather(*(t for _, t in window), return_exceptions=True)
            raise
        except BaseException:
            for _, t in window:
                t.cancel()
            await asyncio.gather(*(t for _, t in window), return_exceptions=True)
            raise
        return trials, exhausted or len(trials) >= space_size

    async def _trial(
        self,
        index: int,
        point: Point,
        recorded: dict[str, dict[str, Any]],
        feasible: FeasibleSpace,
        dev: list[Question],
    ) -> Trial:
        arch_id = architecture_id(point, feasible.models)
        if arch_id in recorded:
            trial = Trial(**recorded[arch_id])
            trial.trial = index + 1
            if trial.vs_baseline is None:
                trial.vs_baseline = versus(self.d.dir / trial.run_dir, self._baseline)
            return trial
        architecture = feasible.architecture(point).model_copy(update={"name": arch_id})
        async with self._running:  # trials start in proposal order (the semaphore is first come, first served)
            return await self._evaluate(index, point, arch_id, architecture, dev)

    async def _evaluate(
        self, index: int, point: Point, arch_id: str, architecture: Architecture, dev: list[Question]
    ) -> Trial:
        run_dir = self.d.folder.trial_dir(arch_id)
        per_query = architecture.static_calls() + (1 if self.d.judge else 0)
        need = per_query * len(dev)
        need += max(2, need // 4)  # room for retries; a trial that needs more asks again
        prior = (run_dir / QUESTIONS).read_bytes() if (run_dir / QUESTIONS).is_file() else b""
        lost = 0
        while True:
            grant, reservation = await self._grant(need)
            job = TrialJob(
                arch_id=arch_id,
                architecture=architecture,
                benchmark=self.d.s.benchmark,
                questions=dev,
                seed=self.d.s.seed,
                grant=grant,
                extra={"stage": "search", "point": point.to_dict()},
                judge_model=self.d.judge.model if self.d.judge else None,
                judge_max_tokens=self.d.s.judge_max_tokens,
                concurrency=self.d.s.concurrency,
                prior_records=prior,
            )
            returned = await self._send(job, reservation)
            if returned is None:
                lost += 1
                if lost > MAX_LOST_WORKERS:
                    raise ProviderError(f"trial {arch_id}: its worker was lost {lost} times; giving up")
                self.d.on_stage(f"  the worker of {arch_id} was lost; running the trial again")
                continue
            for warning in returned.warnings:  # each said once
                if warning not in self._warned:
                    self._warned.add(warning)
                    self.d.on_stage(f"warning: {warning}")
            if returned.error is not None:
                raise returned.error
            prior = returned.files.get(QUESTIONS, prior)
            if returned.budget_stopped:
                write_run_files(run_dir, {TRACES: returned.files.get(TRACES, b"")})  # its questions' traces
                if returned.spent.calls == 0:
                    raise BudgetExceeded(returned.budget_message or "budget reached")
                continue  # its grant ran out: a fresh grant, from what the whole run has left
            summary = returned.summary
            if not summary.get("reliable", True) and not self.d.s.allow_weak_judge:
                judge = self.d.judge.model if self.d.judge else "?"
                raise UserError(
                    f"{self.d.s.benchmark.name}: {summary.get('unreliable_reason')} (judge {judge}, run {run_dir}); "
                    "a search would rank noise: use a stronger --judge, or pass --allow-weak-judge"
                )
            write_run_files(run_dir, returned.files)
            trial = self.d._trial(index + 1, arch_id, point, "search", summary, run_dir)
            trial.questions = len(dev)
            trial.vs_baseline = versus(run_dir, self._baseline)
            self.d.folder.record_trial(trial)
            return trial

    async def _send(self, job: TrialJob, reservation: Reservation) -> TrialReturn | None:
        """Run the job; settle its grant with what it spent (in full when its worker is lost: None)."""
        handle = self.executor.submit(job)
        # The grant is given back (``_granted``) before it is settled: settling wakes the trials
        # waiting for a grant, and they must see it gone.
        try:
            returned = await self.executor.result(handle)
        except WorkerLost:
            self._granted -= 1
            self.accountant.settle_stats(reservation, _as_spent(reservation.worst))
            return None
        except BaseException:
            self.executor.cancel(handle)
            self._granted -= 1
            self.accountant.settle_stats(reservation, _as_spent(reservation.worst))
            raise
        self._granted -= 1
        self.accountant.settle_stats(reservation, returned.spent)
        return returned

    async def _grant(self, need_calls: int) -> tuple[Budget, Reservation]:
        """A grant from what the whole-run limits have left (waiting while other workers hold it)."""
        b = self.accountant.budget
        while True:
            spent, held = self.accountant.spent, self.accountant.held
            free = max(1, self.executor.workers - self._granted)
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
                if self._granted == 0:
                    raise BudgetExceeded(short)
                await self.accountant.changed()
                continue
            reservation = self.accountant.try_reserve("search-workers", Spend(calls or 0, tokens or 0, dollars or 0.0))
            if reservation is None:
                await self.accountant.changed()
                continue
            self._granted += 1
            grant = Budget(
                name="grant",
                calls_per_query=b.calls_per_query,
                total_calls=calls,
                total_tokens=tokens,
                dollars=dollars,
            )
            return grant, reservation
