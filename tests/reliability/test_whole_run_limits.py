"""Whole-run limits (``total_calls`` in a budget file) across search workers and across ``kill -9``
and resume, against the fault server as the witness of what was sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import CliResult, run_cli
from tests.reliability import (
    cli_command,
    cli_env,
    eval_args,
    only_run_dir,
    read_jsonl,
    summary_json,
    write_architecture,
)


def _pool(tmp: Path, server: FaultServer) -> Path:
    pool = tmp / "pool.yaml"
    pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {server.api_base}\n", encoding="utf-8")
    return pool


def _budget(tmp: Path, total_calls: int, calls_per_query: int | None = 4) -> Path:
    path = tmp / f"budget-{total_calls}.yaml"
    per_query = f"calls_per_query: {calls_per_query}\n" if calls_per_query else ""
    path.write_text(f"{per_query}total_calls: {total_calls}\n", encoding="utf-8")
    return path


def _search(tmp: Path, pool: Path, budget: Path, results: str, workers: int, trials: int = 6, *extra: str) -> list[str]:
    return [
        *("search", "-b", "tiny-arith", "--budget", str(budget), "--pool", str(pool), "--algorithm", "random"),
        *("--trials", str(trials), "--limit", "10", "--test-limit", "6", "--final-k", "1", "--seed", "1"),
        *("--concurrency", "4", "--rungs", "off", "--results-dir", str(tmp / results)),
        *("--cache-dir", str(tmp / f"{results}-cache"), "--workers", str(workers), "--json", *extra),
    ]


def _search_trials(search_dir: Path) -> list[str]:
    rows = [r for r in read_jsonl(search_dir / "trials.jsonl") if r.get("stage") == "search"]
    return sorted(r["arch_id"] for r in rows)


def test_workers_spend_the_whole_budget_and_finish_the_same_trials(tmp_path: Path) -> None:
    """1, 2 and 3 workers, a total_calls the search fits in with room to spare (one worker sends
    about 60 calls): each finishes every trial and the final stage (two workers stopped at "97 of
    200 total calls sent": each settled grant of ~50 calls went on holding its room)."""
    limit = 200
    budget = _budget(tmp_path, limit)
    with FaultServer(FaultPlan(latency=0.02, seed=3)) as server:
        pool = _pool(tmp_path, server)
        outcomes = {}
        for workers in (1, 2, 3):
            server.reset()
            outcomes[workers] = run_cli(*_search(tmp_path, pool, budget, f"w{workers}", workers), timeout=300)
            assert server.stats()["requests"] <= limit
    for workers, result in outcomes.items():
        assert result.code == 0, (workers, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
    trials = {w: _search_trials(only_run_dir(tmp_path / f"w{w}")) for w in outcomes}
    assert len(trials[1]) == 6 and trials[1] == trials[2] == trials[3]


# -- resume ----------------------------------------------------------------------------------


def _run_and_kill(args: list[str], server: FaultServer, requests: int, timeout: float = 150) -> None:
    """Start the CLI with ``args`` and ``kill -9`` it once the server has had ``requests`` more
    requests (or let it be, if it ends first: a limit spent stops it)."""
    target = server.stats()["requests"] + requests
    proc = subprocess.Popen(cli_command(*args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while server.stats()["requests"] < target and proc.poll() is None:
            assert time.monotonic() < deadline, "the run made no progress in time"
            time.sleep(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()


def _killed_three_times_then_resumed(args: list[str], server: FaultServer, limit: int) -> CliResult:
    """``kill -9`` the command three times, each once it has sent a third of ``limit`` (so each
    resume that forgot the spend before it sent more than the limit in all), then let it run: the
    server must have seen at most ``limit`` requests."""
    for _ in range(3):
        _run_and_kill(args, server, max(1, limit // 3))
    result = run_cli(*args, timeout=240)
    assert server.stats()["requests"] <= limit, (server.stats()["requests"], limit)
    return result


def test_total_calls_hold_over_kills_and_resumes_of_eval(tmp_path: Path) -> None:
    """Without the cache (with it, the resumes sent 330 requests for a limit of 150; without, 362)."""
    limit = 40
    budget = _budget(tmp_path, limit, None)
    with FaultServer(FaultPlan(latency=0.15, seed=11)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base, timeout=10, samples=2)
        results = tmp_path / "results"
        args = eval_args(arch, results, tmp_path / "cache", 60, "--budget", str(budget), "--concurrency", "2")
        args = [a for a in args if a != str(tmp_path / "cache")]
        args[args.index("--cache-dir")] = "--no-cache"
        result = _killed_three_times_then_resumed(args, server, limit)
        assert result.code == 3 and "budget reached" in result.stderr, result.stderr
        assert "before this resume" in result.stderr
        # A resume that has nothing left to spend sends nothing and says so again.
        sent = server.stats()["requests"]
        again = run_cli(*args, timeout=240)
        assert again.code == 3 and server.stats()["requests"] == sent, again.stderr


def test_total_calls_hold_over_kills_and_resumes_of_compare(tmp_path: Path) -> None:
    limit = 40
    budget = _budget(tmp_path, limit, None)
    with FaultServer(FaultPlan(latency=0.15, seed=12)) as server:
        one = write_architecture(tmp_path / "one.yaml", server.api_base, timeout=10, name="one")
        sampled = {
            "type": "generator", "model": "openai/fake-model", "api_base": server.api_base, "samples": 3,
            "temperature": 0.7, "max_tokens": 16, "timeout": 10,
        }  # fmt: skip
        two = write_architecture(tmp_path / "two.yaml", server.api_base, name="two", layers=[[sampled]])
        results = tmp_path / "results"
        args = [
            "compare", str(one), str(two), "-b", "tiny-arith", "--split", "all", "--limit", "30",
            "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"), "--budget", str(budget),
            "--concurrency", "2", "--json",
        ]  # fmt: skip
        result = _killed_three_times_then_resumed(args, server, limit)
    assert result.code == 3, result.stderr


def test_total_calls_hold_over_kills_and_resumes_of_search(tmp_path: Path) -> None:
    """A search that needs more than its limit (about 75 calls for 8 trials): killed three times,
    then resumed, it stops at the limit in all (the resumes sent 330 requests for a limit of 150)."""
    limit = 45
    with FaultServer(FaultPlan(latency=0.1, seed=3)) as server:
        pool = _pool(tmp_path, server)
        budget = _budget(tmp_path, limit)
        args = _search(tmp_path, pool, budget, "killed", 1, 8)
        result = _killed_three_times_then_resumed(args, server, limit)
    assert result.code == 3, result.stderr
    assert "budget reached" in summary_json(result.stdout)["budget_stopped"]
    info = json.loads((only_run_dir(tmp_path / "killed") / "search.json").read_text())
    assert info["status"] == "running"


def test_a_raised_limit_resumes_the_same_search_and_counts_what_was_spent(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(seed=3)) as server:
        pool = _pool(tmp_path, server)
        low = run_cli(*_search(tmp_path, pool, _budget(tmp_path, 30), "results", 1, 8), timeout=240)
        assert low.code == 3, low.stderr
        spent = server.stats()["requests"]
        high = run_cli(*_search(tmp_path, pool, _budget(tmp_path, 60), "results", 1, 8), timeout=240)
        assert high.code in (0, 3), high.stderr
    assert len([p for p in (tmp_path / "results").iterdir() if p.is_dir()]) == 1  # the same folder
    assert server.stats()["requests"] <= 60 and spent <= 30


def test_redis_dying_mid_search_with_workers_warns_and_goes_on(tmp_path: Path) -> None:
    """As with one worker: the cache is lost, not the search (two workers aborted with exit 2)."""
    from tests.redis_server import redis_server

    with FaultServer(FaultPlan(latency=0.05, seed=3)) as server, redis_server(tmp_path / "redis") as (url, redis):
        pool = _pool(tmp_path, server)
        args = [a for a in _search(tmp_path, pool, _budget(tmp_path, 400), "results", 2, 6) if a != "--json"]
        args += ["--cache-url", url]
        log = tmp_path / "search.err"
        with log.open("wb") as err:
            proc = subprocess.Popen(cli_command(*args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 200
            while not list((tmp_path / "results").glob("*/trials.jsonl")):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.05)
            redis.kill()
            redis.wait()
            proc.wait(timeout=300)
        finally:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text and "without" in text, text[-3000:]
    assert len(_search_trials(only_run_dir(tmp_path / "results"))) == 6


def test_a_ray_warm_up_worker_killed_is_started_again(tmp_path: Path) -> None:
    """Killing a worker while it warms up (imports LiteLLM) gave exit 2 "the Ray workers could not
    start archon"; a lost trial was already run again, and so is a lost warm-up now."""
    from tests.search.test_ray import _cmdline, _descendants, _kill_all

    with FaultServer(FaultPlan(latency=0.05, seed=3)) as server:
        pool = _pool(tmp_path, server)
        args = _search(tmp_path, pool, _budget(tmp_path, 400), "results", 2, 4, "--executor", "ray")
        log = tmp_path / "search.err"
        with log.open("wb") as err:
            proc = subprocess.Popen(cli_command(*args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=err)
        spawned: list[int] = []
        try:
            deadline = time.monotonic() + 200
            victim = None
            while victim is None:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                spawned[:] = sorted(set(spawned) | set(_descendants(proc.pid)))
                victim = next((p for p in spawned if "warm_worker" in _cmdline(p)), None)
                time.sleep(0.02)
            os.kill(victim, signal.SIGKILL)
            proc.wait(timeout=300)
        finally:
            proc.kill()
            proc.wait()
            _kill_all(spawned)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert len(_search_trials(only_run_dir(tmp_path / "results"))) == 4
