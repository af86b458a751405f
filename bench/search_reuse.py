"""Figure 2: calls a search really sends over the calls its trials cost on paper (real / nominal).

Trials share work through the response cache (the same generator samples, the same stage-1
answers), so a search sends far fewer calls than the sum of its evaluations. Two searches:

- ``--simulated``: a 30-trial gp search in-process on the simulated provider (two models,
  archon_cli/testing/simulated.py), the default search space, a budget of 30 calls per query;
- ``--demo``: the README's demo search (``DEMO_SEARCH`` in the Makefile) on the embedded
  model, with a fresh cache and results folder (minutes on 2 cores).

    python bench/search_reuse.py --simulated --trials 30
    python bench/search_reuse.py --demo
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FALLBACK_DEMO = (
    "--benchmark tiny-arith --budget 8 --trials 8 --space spaces/tiny-arith.yaml --limit 24 --test-limit 40 --final-k 2"
)


def demo_arguments(makefile: Path = ROOT / "Makefile") -> list[str]:
    """The ``archon search`` arguments of the Makefile's ``DEMO_SEARCH`` (without ``--search-id``)."""
    text = makefile.read_text(encoding="utf-8").replace("\\\n", " ")
    m = re.search(r"^DEMO_SEARCH\s*:?=\s*(.*)$", text, re.M)
    args = shlex.split(m.group(1) if m else FALLBACK_DEMO)
    if "--search-id" in args:
        i = args.index("--search-id")
        del args[i : i + 2]
    return args


def reuse(search_dir: Path) -> dict[str, Any]:
    """real / nominal calls of a finished search folder, in all and by stage (stage 1, baseline,
    search with every rung's evaluations, final), and the requests that carried the real calls
    (``n`` samples in one request where the route takes it)."""
    meta = json.loads((search_dir / "search.json").read_text(encoding="utf-8"))
    nominal, real = int(meta["nominal_calls"]), int(meta["real_calls"])
    requests = int(meta.get("real_requests", 0))
    trials = [
        json.loads(line) for line in (search_dir / "trials.jsonl").read_text(encoding="utf-8").splitlines() if line
    ]
    search = [t for t in trials if t.get("stage") == "search"]
    finals = meta.get("finals") or []
    base = meta.get("baseline") or {}
    baseline = [t for t in (base.get("dev"), base.get("test")) if t]
    stages = {
        "search": [sum(t["real_calls"] for t in search), sum(t["nominal_calls"] for t in search)],
        "final": [sum(t["real_calls"] for t in finals), sum(t["nominal_calls"] for t in finals)],
        "baseline": [sum(t["real_calls"] for t in baseline), sum(t["nominal_calls"] for t in baseline)],
    }
    rest = [sum(stages[k][i] for k in ("search", "final", "baseline")) for i in (0, 1)]
    stages["stage1"] = [real - rest[0], nominal - rest[1]]
    return {
        "nominal_calls": nominal,
        "real_calls": real,
        "real_requests": requests,
        "ratio": real / nominal if nominal else None,
        "stages": stages,
    }


def run_demo(keep: Path | None) -> dict[str, Any]:
    """The demo search through the real CLI, in a fresh folder (no cache carried over)."""
    with tempfile.TemporaryDirectory(prefix="archon-bench-demo-") as tmp:
        out = keep or Path(tmp)
        args = demo_arguments()
        command = [
            str(Path(sys.executable).with_name("archon")),
            "search",
            *args,
            "--results-dir",
            str(out / "results"),
            "--cache-dir",
            str(out / "cache"),
            "--search-id",
            "bench-demo",
            "--json",
        ]
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"demo search failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return {
            "search": "demo",
            "command": "archon search " + " ".join(args),
            "wall_s": wall,
            **reuse(out / "results" / "bench-demo"),
        }


def run_simulated(trials: int, budget: int, seed: int) -> dict[str, Any]:
    """A gp search on the simulated provider, in-process (like tests/search/test_search_simulated.py)."""
    from archon_cli.benchmarks.tiny_arith import TinyArith
    from archon_cli.llm.accountant import Budget
    from archon_cli.llm.cache import ResponseCache
    from archon_cli.llm.gateway import LLMGateway
    from archon_cli.search.driver import SearchDriver, SearchSettings
    from archon_cli.search.pool import PoolModel
    from archon_cli.search.space import SearchSpace
    from archon_cli.testing.simulated import SimulatedBackend

    accuracy = {"sim/good": 0.6, "sim/bad": 0.35}
    settings = SearchSettings(
        benchmark=TinyArith(),
        pool=[PoolModel(model="sim/bad"), PoolModel(model="sim/good")],
        budget=Budget(calls_per_query=budget),
        space=SearchSpace(),
        algorithm="gp",
        trials=trials,
        seed=seed,
        final_k=3,
    )
    with tempfile.TemporaryDirectory(prefix="archon-bench-sim-") as tmp:
        backend = SimulatedBackend(accuracy)
        gateway = LLMGateway(backend=backend, cache=ResponseCache(Path(tmp) / "cache.sqlite"))
        started = time.perf_counter()
        asyncio.run(SearchDriver(settings, gateway, Path(tmp)).run())
        wall = time.perf_counter() - started
        figures = reuse(next(Path(tmp).glob("search-*/")))
        assert figures["real_requests"] == backend.sent, (figures["real_requests"], backend.sent)
        return {
            "search": "simulated",
            "command": f"gp, {trials} trials, default space, budget {budget}, 2 simulated models",
            "wall_s": wall,
            **figures,
        }


def stage_text(stages: dict[str, list[int]]) -> str:
    """'stage 1 40/48, search 492/1176 = 0.42, final 288/560 = 0.51'."""
    parts = []
    for name in ("stage1", "baseline", "search", "final"):
        real, nominal = stages.get(name, [0, 0])
        if nominal:
            parts.append(f"{'stage 1' if name == 'stage1' else name} {real}/{nominal} = {real / nominal:.2f}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--simulated", action="store_true", help="the 30-trial gp search on the simulated provider")
    p.add_argument("--demo", action="store_true", help="the Makefile's demo search on the embedded model")
    p.add_argument("--trials", type=int, default=30, help="trials of the simulated search")
    p.add_argument("--budget", type=int, default=30, help="calls per query of the simulated search")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=Path, help="keep the demo search's folder here (a folder already there is resumed)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    if not (args.simulated or args.demo):
        args.simulated = args.demo = True
    rows = []
    if args.simulated:
        rows.append(run_simulated(args.trials, args.budget, args.seed))
    if args.demo:
        rows.append(run_demo(args.keep))
    if args.json:
        print(json.dumps({"rows": rows}))
    else:
        for row in rows:
            print(
                f"{row['search']:9} real/nominal = {row['real_calls']}/{row['nominal_calls']} = {row['ratio']:.3f} "
                f"in {row['real_requests']} requests (target <= 0.35; {row['wall_s']:.0f} s; "
                f"{stage_text(row['stages'])})  [{row['command']}]"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
