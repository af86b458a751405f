"""`archon search --workers N --executor ray` on Ray (a local Ray instance started by the CLI), against
the fault server: the budget across workers, determinism, and kills (a Ray worker, the driver)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archon_cli.llm.cache_redis import RedisResponseCache
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import assert_user_error, free_port, run_cli
from tests.reliability import cli_command, cli_env, only_run_dir, read_jsonl

COLUMNS = ("rank", "arch_id", "dev_score", "test_score", "objective", "calls_per_query", "errors")


def _pool(tmp: Path, server: FaultServer) -> Path:
    pool = tmp / "pool.yaml"
    pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {server.api_base}\n", encoding="utf-8")
    return pool


def _search(tmp: Path, pool: Path, results: str, workers: int, trials: int = 6, *extra: str) -> list[str]:
    return [
        *("search", "-b", "tiny-arith", "--budget", "4", "--pool", str(pool), "--algorithm", "random"),
        *("--trials", str(trials), "--limit", "12", "--test-limit", "8", "--final-k", "1", "--seed", "1"),
        *("--concurrency", "3", "--results-dir", str(tmp / results), "--cache-dir", str(tmp / f"{results}-cache")),
        *("--workers", str(workers), "--json", *extra),
        *(("--executor", "ray") if workers > 1 else ()),
    ]


def _leaderboard(search_dir: Path) -> list[dict[str, str]]:
    with (search_dir / "leaderboard.csv").open(encoding="utf-8") as f:
        return [{k: row[k] for k in COLUMNS} for row in csv.DictReader(f)]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_all(pids: list[int]) -> None:
    """Kill what is left of the Ray processes this test's search started (by id, and only while the
    id still names a Ray process: an id freed and reused by now is left alone)."""
    for pid in pids:
        if "ray" in _cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_workers_without_ray_is_one_line_and_one_worker_never_imports_it(tmp_path: Path) -> None:
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('ray is not installed here')\n", encoding="utf-8")
    env = {"PYTHONPATH": str(fake.parent)}
    with FaultServer(FaultPlan(seed=1)) as server:
        pool = _pool(tmp_path, server)
        result = run_cli(*_search(tmp_path, pool, "two", 2, 2), env=env)
        assert_user_error(result, "not installed: pip install ray")
        one = run_cli(*_search(tmp_path, pool, "one", 1, 2), env=env, timeout=240)
    assert one.code == 0, one.stderr
    meta = json.loads(one.stdout.splitlines()[-1])
    assert meta["workers"] == 1 and meta["executor"] == "local"
    assert_user_error(run_cli(*_search(tmp_path, pool, "x", 0, 2)), "--workers 0")
    assert_user_error(
        run_cli(*_search(tmp_path, pool, "x", 1, 2, "--executor", "local", "--ray-address", "auto")),
        "--ray-address runs the trials on Ray",
    )
    assert_user_error(run_cli(*_search(tmp_path, pool, "x", 1, 2, "--executor", "dask")), "--executor dask")


def test_three_workers_hold_the_total_calls_limit(tmp_path: Path) -> None:
    limit = 90
    budget = tmp_path / "budget.yaml"
    budget.write_text(f"calls_per_query: 4\ntotal_calls: {limit}\n", encoding="utf-8")
    plan = FaultPlan(latency=0.05, error_500=0.15, error_429=0.05, retry_after=0.02, seed=5)
    with FaultServer(plan) as server:
        pool = _pool(tmp_path, server)
        args = _search(tmp_path, pool, "budget", 3, 12)
        args[args.index("--budget") + 1] = str(budget)
        result = run_cli(*args, timeout=300)
        seen = server.stats()
    assert result.code == 3, result.stderr
    assert "budget reached" in result.stderr and "Traceback" not in result.stderr
    assert 0 < seen["requests"] <= limit, seen
    assert seen["by_kind"]["error_500"] + seen["by_kind"]["error_429"] > 0  # retries were paid from it too
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["this_run"]["calls"] >= seen["requests"]  # the one accountant counted at least as much
    search_dir = only_run_dir(tmp_path / "budget")
    for trial in read_jsonl(search_dir / "trials.jsonl"):  # finished trials saved whole
        assert json.loads((search_dir / trial["run_dir"] / "summary.json").read_text())["complete"]


def test_ray_workers_same_leaderboard_as_one_worker_and_deterministic(tmp_path: Path, redis_url: str) -> None:
    with FaultServer(FaultPlan(latency=0.05, seed=3)) as server:
        pool = _pool(tmp_path, server)
        with ThreadPoolExecutor(max_workers=2) as runner:
            one_f = runner.submit(run_cli, *_search(tmp_path, pool, "one", 1), timeout=300)
            three_f = runner.submit(run_cli, *_search(tmp_path, pool, "three", 3), timeout=300)
            one, three = one_f.result(), three_f.result()
        # Again with 3 workers, their cache in Redis this time: the same search.
        again = run_cli(*_search(tmp_path, pool, "again", 3, 6, "--cache-url", redis_url), timeout=300)
    for r in (one, three, again):
        assert r.code == 0, r.stderr
    meta = json.loads(three.stdout.splitlines()[-1])
    assert meta["workers"] == 3 and meta["executor"] == "ray" and meta["status"] == "complete"
    dirs = {name: only_run_dir(tmp_path / name) for name in ("one", "three", "again")}
    assert _leaderboard(dirs["one"]) == _leaderboard(dirs["three"]) == _leaderboard(dirs["again"])

    def by_trial(d: Path) -> list[str]:
        rows = [r for r in read_jsonl(d / "trials.jsonl") if r["stage"] == "search"]
        return [r["arch_id"] for r in sorted(rows, key=lambda r: r["trial"])]

    assert by_trial(dirs["three"]) == by_trial(dirs["again"]) == by_trial(dirs["one"])
    assert len(RedisResponseCache(redis_url)) > 0 and not (tmp_path / "again-cache").exists()


def _wait(predicate, proc: subprocess.Popen[bytes], timeout: float = 200) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the search ended before it could be killed"
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the search")


def test_killing_a_ray_worker_mid_trial_loses_nothing(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(latency=0.25, seed=3)) as server:
        pool = _pool(tmp_path, server)
        reference = run_cli(*_search(tmp_path, pool, "reference", 1), timeout=300)
        assert reference.code == 0, reference.stderr
        log = tmp_path / "killed.err"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                # Without --json, so the stage lines (a lost worker's among them) are printed.
                cli_command(*[a for a in _search(tmp_path, pool, "killed", 2) if a != "--json"]),
                env=cli_env(),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        spawned: list[int] = []
        try:

            def trial_running() -> bool:
                spawned[:] = _descendants(proc.pid)
                return any("run_trial_sync" in _cmdline(p) for p in spawned)

            _wait(trial_running, proc)
            victim = next(p for p in spawned if "run_trial_sync" in _cmdline(p))
            os.kill(victim, signal.SIGKILL)
            proc.wait(timeout=300)
        finally:
            proc.kill()
            _kill_all(spawned)
    assert proc.returncode == 0, log.read_text()
    assert "lost" in log.read_text()
    search_dir = only_run_dir(tmp_path / "killed")
    assert _leaderboard(search_dir) == _leaderboard(only_run_dir(tmp_path / "reference"))
    assert json.loads((search_dir / "search.json").read_text())["status"] == "complete"


def test_kill_9_of_the_driver_during_a_parallel_search_then_resume(tmp_path: Path) -> None:
    trials = 8
    with FaultServer(FaultPlan(latency=0.25, seed=3)) as server:
        pool = _pool(tmp_path, server)
        with ThreadPoolExecutor(max_workers=1) as runner:
            reference_future = runner.submit(run_cli, *_search(tmp_path, pool, "reference", 1, trials), timeout=300)
            proc = subprocess.Popen(
                cli_command(*_search(tmp_path, pool, "killed", 3, trials)),
                env=cli_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            spawned: list[int] = []
            try:

                def recorded() -> bool:
                    spawned[:] = sorted(set(spawned) | set(_descendants(proc.pid)))
                    logs = list((tmp_path / "killed").glob("*/trials.jsonl"))
                    return bool(logs) and any(r["stage"] == "search" for r in read_jsonl(logs[0]))

                _wait(recorded, proc)
                os.kill(proc.pid, signal.SIGKILL)
            finally:
                proc.kill()
                proc.wait()
                _kill_all(spawned)  # a local Ray instance dies with its driver; make sure
            reference = reference_future.result()
        assert reference.code == 0, reference.stderr
        search_dir = only_run_dir(tmp_path / "killed")
        assert json.loads((search_dir / "search.json").read_text())["status"] == "running"
        before = [r["arch_id"] for r in read_jsonl(search_dir / "trials.jsonl") if r["stage"] == "search"]
        assert 1 <= len(before) < trials
        for arch_id in before:  # every recorded trial's folder is whole
            assert json.loads((search_dir / "trials" / arch_id / "summary.json").read_text())["complete"]
        resumed = run_cli(*_search(tmp_path, pool, "killed", 3, trials), timeout=300)
    assert resumed.code == 0, resumed.stderr
    after = [r["arch_id"] for r in read_jsonl(search_dir / "trials.jsonl") if r["stage"] == "search"]
    assert after[: len(before)] == before and len(after) == len(set(after)) == trials
    assert _leaderboard(search_dir) == _leaderboard(only_run_dir(tmp_path / "reference"))


def _ray_processes_under(folder: Path) -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and str(folder) in _cmdline(int(entry.name))
    ]


def test_joining_a_cluster_started_with_ray_start_that_wants_a_token(tmp_path: Path) -> None:
    """`--ray-address` joins a cluster of `ray start`. A token where Ray keeps it (here
    RAY_AUTH_TOKEN_PATH) turns on token authentication for `ray start`, but not for a joining
    ray.init: archon turns it on as `ray start` does, and the search runs on the cluster."""
    import sys

    token = tmp_path / "auth_token"
    token.write_text("archon-test-token-" + "0" * 40, encoding="utf-8")
    port = free_port()
    temp_dir = Path(tempfile.mkdtemp(prefix="rj-", dir="/tmp"))  # Ray's socket paths must stay under 108 bytes
    env = {
        **cli_env(),
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("RAY_AUTH_MODE", None)
    env.pop("RAY_ADDRESS", None)
    ray_cli = str(Path(sys.executable).with_name("ray"))
    started = subprocess.run(
        [ray_cli, "start", "--head", "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", str(temp_dir)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr[-800:]
        with FaultServer(FaultPlan(latency=0.01, seed=1)) as server:
            pool = _pool(tmp_path, server)
            args = [*_search(tmp_path, pool, "joined", 2, 4), "--ray-address", f"127.0.0.1:{port}"]
            joined = subprocess.run(cli_command(*args), env=env, capture_output=True, text=True, timeout=300)
        assert joined.returncode == 0, joined.stderr[-800:]
        summary = json.loads(joined.stdout.splitlines()[-1])
        search = json.loads((Path(summary["search_dir"]) / "search.json").read_text(encoding="utf-8"))
        assert (search["executor"], search["workers"]) == ("ray", 2)
        assert len(read_jsonl(Path(summary["search_dir"]) / "trials.jsonl")) >= 4
        assert _ray_processes_under(temp_dir), "the search must leave a cluster it joined running"
    finally:
        _kill_all(_ray_processes_under(temp_dir))
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_an_address_where_nothing_answers_is_one_line_at_once() -> None:
    """Ray itself waits minutes on such an address, logging a line a second."""
    port = free_port()
    started = time.monotonic()
    result = run_cli("search", "-b", "tiny-arith", "--budget", "4", "--workers", "2", "--ray-address", f"127.0.0.1:{port}")
    assert_user_error(result, f"cannot join Ray at 127.0.0.1:{port}: nothing answers there")
    assert time.monotonic() - started < 30
