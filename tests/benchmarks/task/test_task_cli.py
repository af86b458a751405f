"""A task through the CLI against the loopback fault server (it answers "What is a + b?" right
but for a seeded share): eval writes a run folder named by the task with its hashes, compare pairs
two architectures on it, and a changed data file is never resumed into an old run."""

from __future__ import annotations

import json
import random
from pathlib import Path

from archon_cli.testing import FaultPlan, FaultServer
from tests.benchmarks.task.helpers import write_jsonl, write_task
from tests.conftest import assert_user_error, run_cli
from tests.reliability import write_architecture


def arith_rows(count: int = 40) -> list[dict[str, object]]:
    rng = random.Random(1)
    rows = []
    for i in range(count):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        rows.append({"q": f"What is {a} + {b}?", "sum": a + b, "kind": "small" if a + b < 10 else "large", "n": i})
    return rows


def test_eval_and_compare_on_a_task_file(tmp_path: Path) -> None:
    task = write_task(tmp_path, arith_rows(), input="q", target="sum", id="n", category="kind", scorer="number", name="arith.yaml")
    results, cache = tmp_path / "results", tmp_path / "cache"
    with FaultServer(FaultPlan(wrong_rate=0.3, seed=2)) as server:
        one = write_architecture(tmp_path / "one.yaml", server.api_base, name="one")
        vote = write_architecture(
            tmp_path / "vote.yaml",
            server.api_base,
            name="vote",
            layers=[
                [{"type": "generator", "model": "openai/fake-model", "api_base": server.api_base, "samples": 3, "temperature": 0.7}],
                [{"type": "majority_vote"}],
            ],
        )
        common = ["-b", str(task), "--split", "test", "--results-dir", str(results), "--cache-dir", str(cache)]
        result = run_cli("eval", str(one), *common, "--json")
        assert result.code == 0, result.stderr
        run_dirs = list(results.glob("eval-one-arith-test-s0-*"))
        assert len(run_dirs) == 1
        summary = json.loads((run_dirs[0] / "summary.json").read_text())
        assert summary["benchmark"] == "arith" and summary["questions"] == 32  # 80% test
        assert 0.4 < summary["score"] < 0.95 and set(summary["per_category"]) == {"small", "large"}
        info = json.loads((run_dirs[0] / "run.json").read_text())
        assert len(info["task"]["data_sha256"]) == 64 and info["task_file"] == str(task)

        compared = run_cli("compare", str(one), str(vote), *common, "--json")
        assert compared.code == 0, compared.stderr
        data = json.loads(compared.stdout)
        assert {r["benchmark"] for r in data["runs"]} == {"arith"} and len(data["comparisons"]) == 1
        assert data["comparisons"][0]["shared_questions"] == 32

        # A changed data file: the default run id changes, and the old folder is not resumed into.
        write_jsonl(tmp_path / "data.jsonl", [dict(r, sum=0) if r["n"] == 0 else r for r in arith_rows()])
        refused = run_cli("eval", str(one), *common, "--run-id", run_dirs[0].name)
        assert_user_error(refused, "was made with other files of arith (task changed): it is not resumed")
        fresh = run_cli("eval", str(one), *common, "--json")
        assert fresh.code == 0, fresh.stderr
        assert len(list(results.glob("eval-one-arith-test-s0-*"))) == 2
