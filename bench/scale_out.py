"""Figure 7: scale-out. The same search (random order, so every worker count evaluates the same
trials) run by the CLI with ``--workers 1, 2, 3, 4`` against a loopback OpenAI-compatible server with
300 ms latency, each with a fresh cache; wall time of the whole command (an executor's start
included), the ratio to one worker, and whether every trial's score matches. First a small search
(6 trials on 8 gsm8k dev questions, the default concurrency) with ``--workers 1`` and ``3``, where a
start cost would show; then the 16-trial one. Also what the README's paper estimate for a cluster
needs: one GP fit (ask + tell) at 1,000 trials, and a Redis get/set round trip.

    python bench/scale_out.py --workers 1 2 3 4     (defaults: 16 trials, budget 6, --limit 60 (60 of the 300 dev questions), --concurrency 2, --rungs off, --executor local)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, ROOT, fault_server, server_stats


def run_search(api_base: str, workers: int, args: argparse.Namespace, tmp: Path, size: dict[str, Any]) -> dict[str, Any]:
    """``size``: the benchmark, trials, --limit and --concurrency of the search."""
    tmp = tmp / size["name"]
    tmp.mkdir(parents=True, exist_ok=True)
    pool = tmp / "pool.yaml"
    pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {api_base}\n", encoding="utf-8")
    before = server_stats(api_base)["requests"]
    cmd = [
        PYTHON, "-m", "archon_cli", "search", "-b", size["benchmark"], "--budget", str(args.budget), "--pool", str(pool),
        "--algorithm", "random", "--trials", str(size["trials"]), "--limit", str(size["limit"]), "--final-k", "0",
        "--seed", "0", "--concurrency", str(size["concurrency"]), "--workers", str(workers),
        *(("--executor", args.executor) if workers > 1 else ()),
        "--rungs", "off",  # plain trials on the whole dev split (parallel trials run so), so scores compare
        "--results-dir", str(tmp / f"w{workers}"), "--cache-dir", str(tmp / f"cache-w{workers}"), "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"--workers {workers} failed: {proc.stderr.strip()[-500:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    search_dir = Path(summary["search_dir"])
    trials = [json.loads(line) for line in (search_dir / "trials.jsonl").read_text().splitlines()]
    scores = {t["arch_id"]: t["dev_score"] for t in trials if t["stage"] == "search"}
    return {
        "workers": workers,
        "executor": summary["executor"],
        "wall_seconds": round(wall, 2),
        "search_seconds": summary["wall_seconds"],
        "trials": len(scores),
        "scores": scores,
        "requests": server_stats(api_base)["requests"] - before,
    }


def gp_fit_seconds(trials: int, repeats: int = 1) -> dict[str, float]:
    """One ask + tell of the search's GP (``GPSearch``, as ``--algorithm gp`` runs it) holding
    ``trials`` points of the default space over four models."""
    import random

    from archon_cli.search.algorithms import GPSearch
    from archon_cli.search.space import FeasibleSpace, SearchSpace

    feasible = FeasibleSpace(SearchSpace(), ["m1", "m2", "m3", "m4"], None)
    gp = GPSearch(feasible, seed=0)
    points = random.Random(1).sample(feasible.all_points(), trials)
    for i, p in enumerate(points[:-1]):
        gp._values[p] = float(i % 17) / 17  # told without a refit each: one fit below, as resuming does
    gp._model = gp._fit(gp._values)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        x = gp.ask()
        gp.tell(x, 0.5)  # refits the GP on one more point, as every trial of a search does
        timings.append(time.perf_counter() - started)
    return {"trials": trials, "median_seconds": round(statistics.median(timings), 3)}


def redis_round_trip(samples: int = 2000) -> dict[str, Any]:
    """Median get and set of a 600-byte reply on a loopback redis-server, through redis-py."""
    sys.path.insert(0, str(ROOT))
    import redis

    from tests.redis_server import redis_server

    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as (url, _proc):
        db = redis.Redis.from_url(url)
        value = "x" * 600
        sets, gets = [], []
        for i in range(samples):
            t = time.perf_counter()
            db.set(f"archon:response:{i}", value)
            sets.append(time.perf_counter() - t)
            t = time.perf_counter()
            db.get(f"archon:response:{i}")
            gets.append(time.perf_counter() - t)
    return {"set_ms": round(statistics.median(sets) * 1000, 3), "get_ms": round(statistics.median(gets) * 1000, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2, 3, 4])
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--budget", type=int, default=6)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--latency", type=float, default=0.3)
    p.add_argument("--executor", default="local", choices=["local", "ray"], help="where the trials run with 2+ workers")
    p.add_argument("--small-workers", type=int, nargs="*", default=[1, 3], help="the small search's worker counts")
    # Seven: a 5-6 s command moves by 0.5 s from one round to the next on this machine, and the
    # median of three moved the ratio by 0.08 between runs of the script (bench/RESULTS.md, figure 7).
    p.add_argument("--small-rounds", type=int, default=7, help="rounds of the small search (the median is reported)")
    p.add_argument("--gp-trials", type=int, default=1000, help="0: skip the GP fit measurement")
    p.add_argument("--no-redis", action="store_true", help="skip the Redis round trip")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    small = {"name": "small", "benchmark": "gsm8k", "trials": 6, "limit": 8, "concurrency": 8}
    large = {"name": "large", "benchmark": "tiny-arith", "trials": args.trials, "limit": args.limit,
             "concurrency": args.concurrency}  # fmt: skip
    small_rows, rows = [], []
    with fault_server(args.latency, ["--seed", "3"]) as api_base, tempfile.TemporaryDirectory() as tmp:
        # The small search is short, so a change of load between its runs would move its ratio:
        # its worker counts run in rounds (the order alternating), each row the median of its rounds.
        rounds: dict[int, list[dict[str, Any]]] = {w: [] for w in args.small_workers}
        for i in range(args.small_rounds):
            for workers in args.small_workers if i % 2 == 0 else list(reversed(args.small_workers)):
                rounds[workers].append(run_search(api_base, workers, args, Path(tmp) / f"round{i}", small))
        for runs in rounds.values():
            row = sorted(runs, key=lambda r: r["wall_seconds"])[len(runs) // 2]
            small_rows.append(row | {"rounds": [r["wall_seconds"] for r in runs]})
        for workers in args.workers:
            rows.append(run_search(api_base, workers, args, Path(tmp), large))
    for group in (small_rows, rows):
        base = next((r for r in group if r["workers"] == 1), group[0] if group else {})
        for r in group:
            r["ratio"] = round(r["wall_seconds"] / base["wall_seconds"], 3)
            r["same_scores"] = r["scores"] == base["scores"]
    result = {
        "settings": {k: getattr(args, k) for k in ("trials", "limit", "budget", "concurrency", "latency", "executor")},
        "small": small,
        "small_rows": [{k: v for k, v in r.items() if k != "scores"} for r in small_rows],
        "rows": [{k: v for k, v in r.items() if k != "scores"} for r in rows],
        "gp_fit": gp_fit_seconds(args.gp_trials) if args.gp_trials else None,
        "redis": None if args.no_redis else redis_round_trip(),
    }
    if args.json:
        print(json.dumps(result))
        return
    for r in result["small_rows"]:
        print(
            f"small search (6 trials, 8 gsm8k questions) --workers {r['workers']} ({r['executor']}): "
            f"{r['wall_seconds']:.1f} s (median of {r['rounds']}) = {r['ratio']:.2f}x one worker, "
            f"same scores: {r['same_scores']}, "
            f"{r['requests']} requests"
        )
    for r in result["rows"]:
        print(
            f"--workers {r['workers']} ({r['executor']}): {r['wall_seconds']:.1f} s = {r['ratio']:.2f}x one worker "
            f"(search {r['search_seconds']:.1f} s), {r['trials']} trials, same scores: {r['same_scores']}, "
            f"{r['requests']} requests"
        )
    if result["gp_fit"]:
        print(f"GP ask+tell at {result['gp_fit']['trials']} trials: {result['gp_fit']['median_seconds']} s")
    if result["redis"]:
        print(f"Redis round trip: get {result['redis']['get_ms']} ms, set {result['redis']['set_ms']} ms")


if __name__ == "__main__":
    main()
