"""Killed runs and shared caches: ``kill -9`` mid-eval loses and duplicates nothing, a re-run ends
with the numbers of an uninterrupted run, and the SQLite cache survives kills and two writers."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from archon_cli.benchmarks.tiny_arith import generate
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import run_cli
from tests.reliability import (
    cli_command,
    cli_env,
    eval_args,
    integrity,
    only_run_dir,
    read_jsonl,
    read_records,
    run_parallel,
    summary_json,
    write_architecture,
)

# What an interrupted-then-resumed run must reproduce exactly. (Tokens may differ: replies that
# were cached but not yet recorded at the kill are cache hits on the re-run, which cost none.)
SAME_NUMBERS = ("questions", "answered", "errors", "score", "ci95", "score_answered", "per_category", "calls_per_query")


def _wait_for_records(results: Path, proc: subprocess.Popen[bytes], at_least: int, timeout: float = 150) -> int:
    """Poll the run's questions.jsonl until it holds ``at_least`` lines; return the count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        files = list(results.glob("*/questions.jsonl"))
        if files:
            lines = files[0].read_bytes().count(b"\n")
            if lines >= at_least:
                return lines
        time.sleep(0.01)
    raise AssertionError("the run wrote no records in time")


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    plan = FaultPlan(latency=0.2, wrong_rate=0.3, seed=11)
    with FaultServer(plan) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base, timeout=10)
        args = eval_args(arch, tmp_path / "killed", tmp_path / "cache", 50, "--concurrency", "2")
        reference_args = eval_args(arch, tmp_path / "reference", tmp_path / "reference-cache", 50, "--concurrency", "2")
        with ThreadPoolExecutor(max_workers=1) as pool:
            reference_future = pool.submit(run_cli, *reference_args, timeout=180)
            proc = subprocess.Popen(
                cli_command(*args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                _wait_for_records(tmp_path / "killed", proc, at_least=5)
                os.kill(proc.pid, signal.SIGKILL)
            finally:
                proc.kill()
                proc.wait()
            assert proc.returncode == -signal.SIGKILL
            reference = reference_future.result()
        run_dir = only_run_dir(tmp_path / "killed")
        before = read_records(run_dir)
        assert 5 <= len(before) < 50, f"the kill should land mid-run, {len(before)} records"

        # The cache survived the kill.
        check, rows = integrity(tmp_path / "cache")
        assert check == "ok" and rows >= len(before)

        resumed = run_cli(*args, timeout=180)
        assert resumed.code == 0, resumed.stderr
        assert reference.code == 0, reference.stderr
        summary = summary_json(resumed.stdout)
        assert summary["resumed"] == len({r["id"] for r in before}) and summary["complete"]

        after = read_records(run_dir)
        ids = [r["id"] for r in after]
        assert len(ids) == len(set(ids)) == 50, "a question was lost or recorded twice"
        by_id = {r["id"]: r for r in after}
        assert all(by_id[r["id"]] == r for r in before), "a record finished before the kill changed"

        expected = summary_json(reference.stdout)
        assert {k: summary[k] for k in SAME_NUMBERS} == {k: expected[k] for k in SAME_NUMBERS}
        reference_answers = {
            r["id"]: (r["answer"], r["score"]) for r in read_records(only_run_dir(tmp_path / "reference"))
        }
        assert {r["id"]: (r["answer"], r["score"]) for r in after} == reference_answers

        # The cache still serves: the same evaluation into a new folder sends nothing.
        sent = server.stats()["requests"]
        third = run_cli(*eval_args(arch, tmp_path / "third", tmp_path / "cache", 50), timeout=180)
        assert third.code == 0, third.stderr
        again = summary_json(third.stdout)
        assert again["this_run"]["calls"] == 0 and again["this_run"]["cache_hits"] == 50
        assert server.stats()["requests"] == sent
        assert again["score"] == expected["score"]
    assert integrity(tmp_path / "cache")[0] == "ok"


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    """Two evals write one cache directory at the same moment (the server holds the first
    requests until both processes are sending); the cache stays consistent and complete."""
    plan = FaultPlan(latency=0.05, seed=5, barrier=6, hang_seconds=60)
    cache = tmp_path / "cache"
    with FaultServer(plan) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base, timeout=60)
        first, second = run_parallel(
            eval_args(arch, tmp_path / "a", cache, 50, "--concurrency", "4"),
            eval_args(arch, tmp_path / "b", cache, 50, "--concurrency", "4"),
        )
        stats = server.stats()
        assert first.code == 0 and second.code == 0, (first.stderr, second.stderr)
        # One process has at most 4 requests in flight: more means both were sending at once.
        assert stats["max_in_flight"] > 4, stats
        check, rows = integrity(cache)
        assert check == "ok"
        a, b = summary_json(first.stdout), summary_json(second.stdout)
        assert a["score"] == b["score"] and a["answered"] == b["answered"] == 50
        # One row per distinct prompt (tiny-arith repeats a few), whichever process wrote it first.
        assert rows == len({q.turns for q in generate()[:50]}) <= stats["requests"]

        third = run_cli(*eval_args(arch, tmp_path / "c", cache, 50), timeout=180)
        assert third.code == 0, third.stderr
        summary = summary_json(third.stdout)
        assert summary["this_run"]["calls"] == 0 and summary["this_run"]["cache_hits"] == 50
        assert summary["score"] == a["score"]
        assert server.stats()["requests"] == stats["requests"]


# What a resumed search must reproduce (tokens aside, as above).
LEADERBOARD_COLUMNS = ("rank", "arch_id", "dev_score", "test_score", "objective", "calls_per_query", "errors")


def _wait_for_trials(results: Path, proc: subprocess.Popen[bytes], timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the search ended before it could be killed"
        logs = list(results.glob("*/trials.jsonl"))
        if logs and logs[0].read_bytes().count(b"\n") >= 1:
            return
        time.sleep(0.01)
    raise AssertionError("the search recorded no trial in time")


def _leaderboard(search_dir: Path) -> list[dict[str, str]]:
    with (search_dir / "leaderboard.csv").open(encoding="utf-8") as f:
        return [{k: row[k] for k in LEADERBOARD_COLUMNS} for row in csv.DictReader(f)]


@pytest.mark.parametrize("extra", [(), ("--workers", "3", "--rungs", "4,8")], ids=["one-worker", "three-workers-rungs"])
def test_kill_9_during_search_then_resume(tmp_path: Path, extra: tuple[str, ...]) -> None:
    trials = 6
    with FaultServer(FaultPlan(latency=0.25, seed=3)) as server:
        pool = tmp_path / "pool.yaml"
        pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {server.api_base}\n", encoding="utf-8")

        def search(results: str, cache: str) -> list[str]:
            return [
                *("search", "-b", "tiny-arith", "--budget", "4", "--pool", str(pool), "--algorithm", "random"),
                *("--trials", str(trials), "--limit", "12", "--test-limit", "8", "--final-k", "1", "--seed", "1"),
                *("--concurrency", "3", "--results-dir", str(tmp_path / results), "--cache-dir", str(tmp_path / cache)),
                "--json",
                *extra,
            ]

        with ThreadPoolExecutor(max_workers=1) as pool_runner:
            reference_future = pool_runner.submit(run_cli, *search("reference", "reference-cache"), timeout=240)
            proc = subprocess.Popen(
                cli_command(*search("killed", "cache")),
                env=cli_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for_trials(tmp_path / "killed", proc)
                os.kill(proc.pid, signal.SIGKILL)
            finally:
                proc.kill()
                proc.wait()
            reference = reference_future.result()
        assert reference.code == 0, reference.stderr
        search_dir = only_run_dir(tmp_path / "killed")
        assert json.loads((search_dir / "search.json").read_text())["status"] == "running"
        before = [
            (r["arch_id"], r["questions"]) for r in read_jsonl(search_dir / "trials.jsonl") if r.get("stage") == "search"
        ]
        assert 1 <= len({arch for arch, _ in before}) < trials
        assert integrity(tmp_path / "cache")[0] == "ok"

        resumed = run_cli(*search("killed", "cache"), timeout=240)
    assert resumed.code == 0, resumed.stderr
    after = [(r["arch_id"], r["questions"]) for r in read_jsonl(search_dir / "trials.jsonl") if r.get("stage") == "search"]
    # Nothing recorded twice, nothing lost; each architecture evaluated once per rung it reached.
    assert after[: len(before)] == before and len(after) == len(set(after))
    assert len({arch for arch, _ in after}) == trials
    for questions in search_dir.glob("*/*/questions.jsonl"):
        ids = [r["id"] for r in read_jsonl(questions)]
        assert len(ids) == len(set(ids)), f"{questions}: a question was recorded twice"
    assert _leaderboard(search_dir) == _leaderboard(only_run_dir(tmp_path / "reference"))
    result, expected = summary_json(resumed.stdout), summary_json(reference.stdout)
    assert result["status"] == "complete" and result["best"]["arch_id"] == expected["best"]["arch_id"]
    assert integrity(tmp_path / "cache")[0] == "ok"
