"""The whole search on a simulated provider whose best architecture is known on paper.

Two models: `sim/good` (60% of samples right) and `sim/bad` (35%); other components add nothing
(see archon_cli/testing/simulated.py). Within 7 calls per query the best architecture is majority
vote over 7 samples of `sim/good` (g1x7-mv): no other feasible point has as many good samples.
"""

from __future__ import annotations

import asyncio
import csv
import json
import random
from pathlib import Path

import pytest
import yaml

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.tiny_arith import TinyArith
from archon_cli.config import load_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.run_folder import plan_questions
from archon_cli.evaluation.summary import summarize
from archon_cli.llm.accountant import Budget, BudgetAccountant
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.search.driver import SearchDriver, SearchSettings
from archon_cli.search.pool import PoolModel
from archon_cli.search.space import FeasibleSpace, Point, SearchSpace, architecture_id
from archon_cli.search.trials import Trial, rank_trials
from archon_cli.testing.simulated import SimulatedBackend

ACCURACY = {"sim/good": 0.6, "sim/bad": 0.35}
SPACE = SearchSpace(
    top_models=(1, 2), samples=(1, 7), fusion_layers=(0, 1), fusers_per_layer=(1, 1),
    critic_ranker=(False,), final=("none", "majority_vote"),
)  # fmt: skip
TRIALS_NEEDED = 20  # of 38 feasible architectures


def settings(seed: int, algorithm: str = "gp", trials: int = TRIALS_NEEDED, final_k: int = 0) -> SearchSettings:
    return SearchSettings(
        benchmark=TinyArith(),
        pool=[PoolModel(model="sim/bad"), PoolModel(model="sim/good")],
        budget=Budget(calls_per_query=7),
        space=SPACE,
        algorithm=algorithm,
        trials=trials,
        seed=seed,
        final_k=final_k,
    )


def run(tmp: Path, s: SearchSettings, cache: bool = True):  # type: ignore[no-untyped-def]
    backend = SimulatedBackend(ACCURACY)
    gateway = LLMGateway(backend=backend, cache=ResponseCache(tmp / "cache.sqlite") if cache else None)
    return asyncio.run(SearchDriver(s, gateway, tmp).run()), backend


def score_table(seed: int) -> dict[Point, float]:
    """Every feasible architecture's dev score, by brute force (what the search should find)."""
    s = settings(seed)
    dev = plan_questions(s.benchmark, "dev", seed, None)
    feasible = FeasibleSpace(SPACE, ["sim/good", "sim/bad"], 7)
    gateway = LLMGateway(backend=SimulatedBackend(ACCURACY))

    async def score(point: Point) -> float:
        outcome = await evaluate(ArchitectureRunner(feasible.architecture(point), gateway), s.benchmark, dev)
        return float(summarize(outcome.records)["score"])

    return {p: asyncio.run(score(p)) for p in feasible.all_points()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gp_finds_the_known_best_within_20_trials(tmp_path: Path, seed: int) -> None:
    table = score_table(seed)
    best_score = max(table.values())
    # On paper the best is majority vote over 7 samples of the good model; on a 36-question dev
    # split another architecture may tie it, never beat it.
    assert table[Point(1, 7, 0, 1, False, "majority_vote")] == best_score
    result, _ = run(tmp_path, settings(seed))
    assert [m for m, _ in result.ranking] == ["sim/good", "sim/bad"]  # stage 1 ranks the pool
    assert result.best is not None and result.best.dev_score == best_score


def test_outputs_and_cache_reuse(tmp_path: Path) -> None:
    result, backend = run(tmp_path, settings(0, trials=12, final_k=2))
    out = result.search_dir
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert len(rows) == 12 and rows[0]["rank"] == "1"
    assert [float(r["objective"]) for r in rows] == sorted((float(r["objective"]) for r in rows), reverse=True)
    assert rows[0]["test_score"] and rows[1]["test_score"] and not rows[2]["test_score"]
    for row in rows:  # each trial's architecture file is kept
        assert (out / "trials" / row["arch_id"] / "architecture.yaml").exists()
    best, _ = load_architecture(out / "best.yaml")  # best.yaml loads like any architecture file
    assert best.name == rows[0]["arch_id"]
    meta = json.loads((out / "search.json").read_text())
    assert meta["status"] == "complete" and meta["seed"] == 0 and meta["algorithm"] == "gp"
    # Shared first layers are generated once: far fewer calls are sent than the trials cost alone.
    assert meta["real_calls"] == backend.sent
    assert meta["real_calls"] <= 0.35 * meta["nominal_calls"], meta
    assert (out / "pareto.csv").exists() and (out / "pareto.png").stat().st_size > 0


def test_same_seed_same_search_and_resume_replays(tmp_path: Path) -> None:
    first, _ = run(tmp_path / "a", settings(4, trials=8))
    second, _ = run(tmp_path / "b", settings(4, trials=8))
    assert [t.arch_id for t in first.trials] == [t.arch_id for t in second.trials]
    # Resume: a finished search re-run sends no call and keeps the same trials.
    again, backend = run(tmp_path / "a", settings(4, trials=8))
    assert backend.sent == 0
    assert [t.arch_id for t in again.trials] == [t.arch_id for t in first.trials]
    # Asking for more trials continues where it stopped.
    more, _ = run(tmp_path / "a", settings(4, trials=11))
    assert [t.arch_id for t in more.trials][:8] == [t.arch_id for t in first.trials]
    assert len(more.trials) == 11


def test_budget_too_small_for_the_space(tmp_path: Path) -> None:
    from archon_cli.errors import UserError

    s = settings(0)
    tight = SearchSettings(
        **{**s.__dict__, "space": SPACE.model_copy(update={"samples": (3, 7)}), "budget": Budget(calls_per_query=2)}
    )
    with pytest.raises(UserError, match="too small for any architecture"):
        run(tmp_path, tight)


def test_trial_architecture_files_match_their_points(tmp_path: Path) -> None:
    result, _ = run(tmp_path, settings(1, trials=6))
    for trial in result.trials:
        data = yaml.safe_load((result.search_dir / trial.run_dir / "architecture.yaml").read_text())
        samples = data["layers"][0][0]["samples"]
        assert trial.point is not None and samples == trial.point["samples"]


# -- multi-fidelity and the baseline -------------------------------------------------------------


class ManyArith(TinyArith):
    """tiny-arith's questions in the same words, 500 of them (100 dev), so rungs have room."""

    name = "many-arith"
    dev_fraction = 0.2  # 100 dev, 400 test

    def load(self) -> list[Question]:
        rng = random.Random(7)
        questions = []
        for i in range(500):
            a, b = rng.randint(1, 9), rng.randint(1, 9)
            kind = ("add", "sub", "cmp")[i % 3]
            if kind == "add":
                text, answer = f"What is {a} + {b}?", a + b
            elif kind == "sub":
                a, b = max(a, b), min(a, b)
                text, answer = f"What is {a} - {b}?", a - b
            else:
                a, b = rng.sample(range(10, 100), 2)
                text, answer = f"Which is larger, {a} or {b}?", max(a, b)
            questions.append(Question(id=f"{kind}-{i:03d}", turns=(f"{text} Answer with just the number.",),
                                      reference=str(answer), category=kind))  # fmt: skip
        return questions


BEST = architecture_id(Point(1, 7, 0, 1, False, "majority_vote"), ["sim/good", "sim/bad"])


class _Reached(Exception):
    pass


def calls_to_reach_best(tmp: Path, seed: int, rungs: tuple[int, ...] | None) -> int:
    """Calls sent (stage 1 and the baseline included) until the leaderboard's leader, measured on
    the whole dev split, is the known best (majority vote over 7 samples of sim/good)."""
    s = SearchSettings(**{**settings(seed, trials=38).__dict__, "benchmark": ManyArith(), "rungs": rungs})
    backend = SimulatedBackend(ACCURACY)
    gateway = LLMGateway(backend=backend, cache=ResponseCache(tmp / "cache.sqlite"))

    def on_trial(_trial: Trial, trials: list[Trial]) -> None:
        lead = rank_trials(trials)[0]
        if lead.arch_id == BEST and lead.questions == 100:
            raise _Reached

    with pytest.raises(_Reached):
        asyncio.run(SearchDriver(s, gateway, tmp, on_trial=on_trial).run())
    return backend.sent


def test_multi_fidelity_reaches_the_known_best_with_fewer_calls_than_plain_gp(tmp_path: Path) -> None:
    """Over five seeds the rung search reaches the known best (measured on the whole dev split)
    with fewer calls than plain gp in all but at most one seed, and with fewer calls in all. (A
    seed where plain gp proposes the best among its first trials leaves nothing to save: the rung
    search must still screen before it promotes.)"""
    outcomes = {}
    for seed in range(5):
        plain = calls_to_reach_best(tmp_path / f"plain-{seed}", seed, None)
        rungs = calls_to_reach_best(tmp_path / f"rungs-{seed}", seed, (10, 40, 100))
        outcomes[seed] = (plain, rungs)
    wins = sum(rungs < plain for plain, rungs in outcomes.values())
    total_plain = sum(plain for plain, _ in outcomes.values())
    total_rungs = sum(rungs for _, rungs in outcomes.values())
    assert wins >= 4 and total_rungs < 0.85 * total_plain, outcomes


def mf_settings(seed: int = 0, **changes: object) -> SearchSettings:
    base = {**settings(seed, trials=12, final_k=2).__dict__, "benchmark": ManyArith(), "rungs": (10, 40, 100)}
    return SearchSettings(**{**base, **changes})


def test_rung_search_records_rungs_and_resumes(tmp_path: Path) -> None:
    first, backend = run(tmp_path, mf_settings())
    evaluations = [json.loads(line) for line in (first.search_dir / "trials.jsonl").read_text().splitlines()]
    assert {e["questions"] for e in evaluations} == {10, 40, 100}
    assert len(evaluations) == len(first.evaluations) > len(first.trials) == 12
    assert all(e["rung"] == [10, 40, 100].index(e["questions"]) for e in evaluations)
    # Promotions add questions to the architecture's run folder: each counts only what it added.
    promoted = [e for e in evaluations if e["rung"] > 0]
    assert promoted and all(e["nominal_calls"] <= e["calls_per_query"] * (e["questions"] * 3 / 4) + 1 for e in promoted)
    assert first.real_calls == backend.sent
    # The finalists were measured on the whole dev split, and the best is one of them.
    assert first.best is not None and first.best.questions == 100
    assert [f.arch_id for f in first.finals] == [t.arch_id for t in rank_trials(first.trials)[:2]]
    assert all(t.questions == 100 for t in rank_trials(first.trials)[:2])
    # A re-run replays every evaluation without a call; more trials carry on from there.
    again, backend = run(tmp_path, mf_settings())
    assert backend.sent == 0
    assert [(t.arch_id, t.rung) for t in again.evaluations] == [(t.arch_id, t.rung) for t in first.evaluations]
    more, _ = run(tmp_path, mf_settings(trials=16))
    assert [t.arch_id for t in more.trials][:12] == [t.arch_id for t in first.trials] and len(more.trials) == 16


def test_baseline_and_versus_baseline(tmp_path: Path) -> None:
    result, _ = run(tmp_path, mf_settings())
    meta = json.loads((result.search_dir / "search.json").read_text())
    base = meta["baseline"]
    assert base["model"] == "sim/good" and base["dev"]["questions"] == 100 and base["test"]["questions"] == 400
    assert base["dev"]["real_calls"] == 0  # stage 1 asked the same greedy calls: the cache answers them
    arch = yaml.safe_load((result.search_dir / "baseline" / "test" / "architecture.yaml").read_text())
    generator = arch["layers"][0][0]
    assert (generator["model"], generator["samples"], generator["temperature"]) == ("sim/good", 1, 0.0)
    versus = meta["versus_baseline"]
    assert set(versus) >= {"best", "baseline", "split", "questions", "difference", "ci_low", "ci_high"}
    assert versus["best"] == result.finals[0].arch_id and versus["split"] == "test" and versus["questions"] == 400
    assert versus["ci_low"] <= versus["difference"] <= versus["ci_high"]
    # The difference is the paired one on the test questions, in points.
    best = read_scores(result.search_dir / result.finals[0].run_dir)
    one = read_scores(result.search_dir / "baseline" / "test")
    assert versus["difference"] == pytest.approx(100 * sum(best[q] - one[q] for q in one) / len(one), abs=0.01)
    # Majority vote over 7 samples of a 60% model beats one greedy call of it by far.
    assert versus["significant"] and versus["ci_low"] > 0
    assert meta["verdict"].startswith(f"best beats one call by +{versus['difference']:.1f} points (95% CI +")
    assert meta["verdict"].endswith("on 400 held-out questions")
    # Every leaderboard row carries its paired difference on its own dev questions.
    rows = list(csv.DictReader((result.search_dir / "leaderboard.csv").open()))
    assert all(r["vs_baseline"] != "" and r["dev_questions"] in ("10", "40", "100") for r in rows)


def read_scores(run_dir: Path) -> dict[str, float]:
    records = [json.loads(line) for line in (run_dir / "questions.jsonl").read_text().splitlines()]
    return {r["id"]: float(r["score"]) for r in records}


def test_search_calls_cap_stops_with_nothing_lost_and_the_estimate_comes_first(tmp_path: Path) -> None:
    from archon_cli.errors import BudgetExceeded

    s = mf_settings(search_calls=600)
    backend = SimulatedBackend(ACCURACY)
    gateway = LLMGateway(
        backend=backend, cache=ResponseCache(tmp_path / "cache.sqlite"), accountant=BudgetAccountant(s.gateway_budget())
    )
    said: list[tuple[str, int]] = []
    driver = SearchDriver(s, gateway, tmp_path, on_stage=lambda m: said.append((m, backend.sent)))
    with pytest.raises(BudgetExceeded, match="600 total calls"):
        asyncio.run(driver.run())
    assert backend.sent <= 600
    assert said[0][0].startswith("estimated calls (before cache reuse): about ") and said[0][1] == 0
    assert "--search-calls 600 is below it" in said[0][0]
    kept = (driver.dir / "trials.jsonl").read_text().splitlines()
    assert kept  # finished evaluations are saved
    # The same search with a larger cap resumes in the same folder: what was sent is not sent again.
    resumed, backend2 = run(tmp_path, mf_settings(search_calls=100_000))
    assert resumed.search_dir == driver.dir
    fresh, backend3 = run(tmp_path / "fresh", mf_settings())
    assert backend.sent + backend2.sent == backend3.sent
    assert [t.arch_id for t in resumed.trials] == [t.arch_id for t in fresh.trials]
