"""A search on a task file (simulated provider): its folder is named by the task and its hashes, the
dev and test questions are the task's split, and it ends with the paired verdict on the test part."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from archon_cli.benchmarks.task.benchmark import TaskBenchmark
from archon_cli.llm.accountant import Budget
from archon_cli.llm.gateway import LLMGateway
from archon_cli.search.driver import SearchDriver, SearchSettings
from archon_cli.search.pool import PoolModel
from archon_cli.search.space import SearchSpace
from archon_cli.testing.simulated import SimulatedBackend
from tests.benchmarks.task.helpers import write_task


def test_search_on_a_task_ends_with_the_verdict_on_its_test_part(tmp_path: Path) -> None:
    rng = random.Random(4)
    rows = []
    for i in range(60):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        rows.append({"q": f"What is {a} + {b}?", "sum": a + b, "part": "dev" if i % 3 == 0 else "test"})
    bench = TaskBenchmark(write_task(tmp_path, rows, input="q", target="sum", scorer="number", split={"column": "part"}, name="sums.yaml"))
    settings = SearchSettings(
        benchmark=bench,
        pool=[PoolModel(model="sim/good")],
        budget=Budget(calls_per_query=5),
        space=SearchSpace(top_models=(1, 1), samples=(1, 5), fusion_layers=(0, 0), fusers_per_layer=(1, 1), critic_ranker=(False,), final=("none", "majority_vote")),
        algorithm="random",
        trials=3,
        seed=0,
        final_k=1,
    )
    search_id = settings.search_id()
    assert search_id.startswith("search-sums-random-b5-s0-")
    result = asyncio.run(SearchDriver(settings, LLMGateway(backend=SimulatedBackend({"sim/good": 0.6})), tmp_path).run())
    info = json.loads((tmp_path / search_id / "search.json").read_text())
    assert info["status"] == "complete" and info["dev_questions"] == 20 and info["test_questions"] == 40
    assert info["versus_baseline"]["split"] == "test" and info["versus_baseline"]["questions"] == 40
    assert result.verdict and "one call" in result.verdict
    test_run = json.loads((tmp_path / search_id / "baseline" / "test" / "run.json").read_text())
    assert sorted(test_run["question_ids"], key=int) == [str(i + 1) for i in range(60) if i % 3]  # the task's test rows
    assert test_run["task"]["data_sha256"] == bench.task.data_sha256
