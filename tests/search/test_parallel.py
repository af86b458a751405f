"""Stage 2 with several trials at once (search/loop.py), on the simulated provider: the local
executor (trials as tasks of the driver's event loop, one gateway), and workers with grants of their
own run in this process (``InProcessWorkers``: the protocol of Ray, grants, returned files and the
driver as the single writer, without Ray)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks.base import Question
from archon_cli.errors import BudgetExceeded
from archon_cli.llm.accountant import Budget
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.factory import GatewaySettings
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest, Usage
from archon_cli.search.algorithms import make_algorithm
from archon_cli.search.driver import SearchDriver, SearchSettings
from archon_cli.search.executor import TrialJob, TrialReturn, WorkerLost, run_trial
from archon_cli.search.pool import PoolModel
from archon_cli.search.space import FeasibleSpace, Point
from archon_cli.search.trials import SearchResult, Trial, rank_trials
from archon_cli.testing.simulated import SimulatedBackend
from tests.search.test_driver import ACCURACY, SPACE, mf_settings, score_table, settings


class InProcessWorkers:
    """Workers with gateways and grants of their own, as on Ray, run in this process."""

    name = "in-process"
    granted = True

    def __init__(self, cache_dir: Path, backend: SimulatedBackend, workers: int) -> None:
        self.settings = GatewaySettings(cache_dir=cache_dir)
        self.backend = backend
        self.workers = workers
        self.jobs: list[TrialJob] = []

    async def ready(self) -> None:
        pass

    async def run(self, job: TrialJob, run_dir: Path) -> TrialReturn:
        self.jobs.append(job)
        return await run_trial(self.settings, job, self.backend)

    def close(self) -> None:
        pass


def small(*args: Any, **kwargs: Any) -> SearchSettings:
    """The driver tests' settings on 36 dev questions (tiny-arith's dev split holds 300): parallel
    trials each run on the whole dev split."""
    return SearchSettings(**{**settings(*args, **kwargs).__dict__, "dev_limit": 36})


def run(
    tmp: Path, s: SearchSettings, workers: int, backend: SimulatedBackend | None = None, executor: Any = None
) -> tuple[SearchResult, SimulatedBackend]:
    """The search with ``workers`` trials at once: on the local executor, or on ``executor``
    ("granted": in-process workers with grants, sharing the cache folder)."""
    backend = backend or SimulatedBackend(ACCURACY)
    gateway = LLMGateway(backend=backend, cache=ResponseCache(tmp / "cache" / "responses.sqlite"), accountant=None)
    gateway.accountant.budget = s.gateway_budget()  # as `archon search` sets it (--search-calls)
    if executor == "granted":
        executor = InProcessWorkers(tmp / "cache", backend, workers)
    return asyncio.run(SearchDriver(s, gateway, tmp, executor=executor, workers=workers).run()), backend


def ids(result: SearchResult) -> list[str]:
    return [t.arch_id for t in result.trials]


def test_same_seed_and_workers_same_search_and_records(tmp_path: Path) -> None:
    first, _ = run(tmp_path / "a", small(4, trials=10), workers=3)
    second, _ = run(tmp_path / "b", small(4, trials=10), workers=3)
    assert ids(first) == ids(second) and len(set(ids(first))) == 10
    assert [t.trial for t in first.trials] == list(range(1, 11))
    meta = json.loads((first.search_dir / "search.json").read_text())
    assert meta["workers"] == 3 and meta["executor"] == "local" and meta["status"] == "complete"
    # The driver wrote every trial's run folder from what the worker returned.
    for t in first.trials:
        run_dir = first.search_dir / t.run_dir
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["score"] == t.dev_score and summary["questions"] == 36
        assert len((run_dir / "questions.jsonl").read_text().splitlines()) == 36
    serial = json.loads(
        (run(tmp_path / "c", small(4, trials=10), workers=1)[0].search_dir / "search.json").read_text()
    )
    assert serial["workers"] == 1 and serial["executor"] == "local"


def test_gp_batches_still_find_the_known_best(tmp_path: Path) -> None:
    table = score_table(0)
    result, _ = run(tmp_path, settings(0), workers=4)
    assert result.best is not None and result.best.dev_score == max(table.values())


def test_random_search_same_trials_and_scores_as_one_worker(tmp_path: Path) -> None:
    one, _ = run(tmp_path / "one", small(2, algorithm="random", trials=9), workers=1)
    three, _ = run(tmp_path / "three", small(2, algorithm="random", trials=9), workers=3)
    assert ids(one) == ids(three)
    assert [t.dev_score for t in one.trials] == [t.dev_score for t in three.trials]


def test_resume_replays_and_continues(tmp_path: Path) -> None:
    first, _ = run(tmp_path, small(5, trials=6), workers=3)
    again, backend = run(tmp_path, small(5, trials=6), workers=3)
    assert backend.sent == 0 and ids(again) == ids(first)
    more, _ = run(tmp_path, small(5, trials=9), workers=3)
    assert ids(more)[:6] == ids(first) and len(ids(more)) == 9


@pytest.mark.parametrize("algorithm", ["gp", "random", "greedy"])
def test_batches_are_distinct_and_never_pending(algorithm: str) -> None:
    feasible = FeasibleSpace(SPACE, ["sim/good", "sim/bad"], 7)
    algo = make_algorithm(algorithm, feasible, 0)
    told: set[Point] = set()
    pending: list[Point] = []
    for step in range(12):
        batch = algo.ask_batch(3 - len(pending), pending)
        assert len(batch) == len(set(batch)) and not (set(batch) & (told | set(pending)))
        pending += batch
        if pending:
            point = pending.pop(0)
            algo.tell(point, float(step))
            told.add(point)


class FlakyExecutor(InProcessWorkers):
    """Loses the worker of the first attempt at the third trial dispatched."""

    async def run(self, job: TrialJob, run_dir: Path) -> TrialReturn:
        if len(self.jobs) == 2:
            self.jobs.append(job)
            await asyncio.sleep(0.01)
            raise WorkerLost("killed")
        return await super().run(job, run_dir)


def test_a_lost_worker_trial_runs_again_and_the_search_is_the_same(tmp_path: Path) -> None:
    reference, _ = run(tmp_path / "ref", small(3, trials=8), workers=3)
    backend = SimulatedBackend(ACCURACY)
    flaky = FlakyExecutor(tmp_path / "flaky" / "cache", backend, 3)
    result, _ = run(tmp_path / "flaky", small(3, trials=8), workers=3, backend=backend, executor=flaky)
    assert ids(result) == ids(reference)
    assert [t.dev_score for t in result.trials] == [t.dev_score for t in reference.trials]
    assert flaky.jobs[2].arch_id in [j.arch_id for j in flaky.jobs[3:]]  # sent again


@pytest.mark.parametrize("executor", [None, "granted"])
def test_total_calls_hold_across_workers(tmp_path: Path, executor: str | None) -> None:
    limit = 300
    s = small(1, trials=12)
    s = SearchSettings(**{**s.__dict__, "budget": Budget(calls_per_query=7, total_calls=limit)})
    backend = SimulatedBackend(ACCURACY)
    with pytest.raises(BudgetExceeded):
        run(tmp_path, s, workers=3, backend=backend, executor=executor)
    assert 0 < backend.sent <= limit
    recorded = (tmp_path / s.search_id() / "trials.jsonl").read_text().splitlines()
    for line in recorded:  # what finished is saved, whole
        trial = json.loads(line)
        if trial["stage"] == "search":
            assert (tmp_path / s.search_id() / trial["run_dir"] / "summary.json").is_file()


def test_search_calls_hold_across_workers(tmp_path: Path) -> None:
    limit = 250
    s = small(1, trials=12)
    s = SearchSettings(**{**s.__dict__, "budget": Budget(calls_per_query=7), "search_calls": limit})
    backend = SimulatedBackend(ACCURACY)
    with pytest.raises(BudgetExceeded):
        run(tmp_path, s, workers=3, backend=backend)
    assert 0 < backend.sent <= limit


@pytest.mark.timeout(180)
def test_a_lost_worker_counts_its_whole_grant_and_the_budget_stop_still_comes(tmp_path: Path) -> None:
    limit = 300
    s = small(1, trials=12)
    s = SearchSettings(**{**s.__dict__, "budget": Budget(calls_per_query=7, total_calls=limit)})
    backend = SimulatedBackend(ACCURACY)
    flaky = FlakyExecutor(tmp_path / "cache", backend, 3)
    with pytest.raises(BudgetExceeded):
        run(tmp_path, s, workers=3, backend=backend, executor=flaky)
    assert 0 < backend.sent <= limit


def evaluations(result: SearchResult) -> list[tuple[str, int, float | None]]:
    return [(t.arch_id, t.rung, t.dev_score) for t in result.evaluations]


@pytest.mark.parametrize("executor", [None, "granted"])
def test_rungs_with_three_workers_same_search_records_and_resume(tmp_path: Path, executor: str | None) -> None:
    first, backend = run(tmp_path / "a", mf_settings(), workers=3, executor=executor)
    assert backend.sent > 0
    recorded = [json.loads(line) for line in (first.search_dir / "trials.jsonl").read_text().splitlines()]
    assert {e["questions"] for e in recorded if e["stage"] == "search"} == {10, 40, 100}
    assert len(first.trials) == 12 and len(first.evaluations) > 12
    # Each promotion is heard after the evaluation below it, and adds questions to the same folder.
    for i, t in enumerate(first.evaluations):
        if t.rung > 0:
            assert any(e.arch_id == t.arch_id and e.rung == t.rung - 1 for e in first.evaluations[:i])
    for t in first.trials:
        assert len((first.search_dir / t.run_dir / "questions.jsonl").read_text().splitlines()) == t.questions
    assert first.best is not None and first.best.questions == 100
    assert [f.arch_id for f in first.finals] == [t.arch_id for t in rank_trials(first.trials)[:2]]
    assert first.real_calls == backend.sent or executor == "granted"
    # A re-run replays every evaluation without a call.
    again, backend = run(tmp_path / "a", mf_settings(), workers=3, executor=executor)
    assert backend.sent == 0 and evaluations(again) == evaluations(first)
    if executor == "granted":
        return  # the rest as on the local executor
    # The same seed and workers: the same evaluations, whatever finished first.
    second, _ = run(tmp_path / "b", mf_settings(), workers=3, executor=executor)
    assert evaluations(second) == evaluations(first)
    # More trials carry on from the recorded ones.
    more, _ = run(tmp_path / "a", mf_settings(trials=16), workers=3, executor=executor)
    assert ids(more)[:12] == ids(first) and len(ids(more)) == 16


def test_three_local_workers_share_the_cache_and_in_flight_samples(tmp_path: Path) -> None:
    """One gateway for all trials: no more calls sent than one worker sends for the same trials."""
    one, one_backend = run(tmp_path / "one", small(2, algorithm="random", trials=9), workers=1)
    three, three_backend = run(tmp_path / "three", small(2, algorithm="random", trials=9), workers=3)
    assert ids(one) == ids(three)
    assert three_backend.sent <= one_backend.sent


class SlowBackend(SimulatedBackend):
    """The simulated provider with a pause before each reply, so that evaluations overlap in time."""

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        await asyncio.sleep(0.002)
        return await super().complete(request)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_lone_model_is_ranked_beside_stage_2_with_the_same_results(tmp_path: Path, workers: int) -> None:
    """With one model in the pool there is nothing to rank: with 2+ workers its stage-1 run (the
    baseline on dev) takes one of the slots and the first trials start in the others; with one
    worker it runs first, alone. The trials, their scores and their differences from the
    baseline are the same either way."""
    lone = SearchSettings(**{**small(5, algorithm="random", trials=6).__dict__, "pool": [PoolModel(model="sim/good")]})
    events: list[str] = []

    class Watched(SearchDriver):
        async def _rank_models(self, dev: list[Question]) -> tuple[list[tuple[str, float]], list[Trial]]:
            events.append("stage 1 starts")
            ranked = await super()._rank_models(dev)
            events.append("stage 1 ends")
            return ranked

    def search(folder: Path, n: int) -> SearchResult:
        backend = SlowBackend(ACCURACY)
        gateway = LLMGateway(backend=backend, cache=ResponseCache(folder / "cache.sqlite"), accountant=None)
        driver = Watched(lone, gateway, folder, workers=n)
        run_trial = driver.executor.run

        async def watched_run(job: TrialJob, run_dir: Path) -> TrialReturn:
            events.append(f"trial {job.arch_id} starts")
            return await run_trial(job, run_dir)

        driver.executor.run = watched_run  # type: ignore[method-assign]
        return asyncio.run(driver.run())

    alone = search(tmp_path / "one", 1)
    events.clear()
    result = search(tmp_path / "n", workers)
    # Stage 1 holds one of the slots: with 3, two trials start before it ends; with 1, none does.
    during = events[: events.index("stage 1 ends")]
    assert len([e for e in during if e.startswith("trial")]) == (2 if workers > 1 else 0), events
    assert [(t.arch_id, t.dev_score, t.vs_baseline) for t in result.trials] == [
        (t.arch_id, t.dev_score, t.vs_baseline) for t in alone.trials
    ]
    assert result.ranking == alone.ranking and result.baseline["dev"]["dev_score"] == alone.baseline["dev"]["dev_score"]
