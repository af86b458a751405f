"""Figure 3: trials gp, random and greedy need to reach the best architecture of the tabular benchmark.

The table (tests/data/tabular_tiny_arith.csv, built by bench/build_tabular.py) holds the score of
every architecture of spaces/tabular.yaml, so an algorithm is run against it without any model
call: ``trials_to_reach_best`` counts the distinct architectures it evaluates until it evaluates
one with the best score. Medians over ``--seeds`` seeds.

    python bench/search_efficiency.py --seeds 20
    python bench/search_efficiency.py --synthetic   # a made-up table, to check the script itself
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

from archon_cli.search.space import FeasibleSpace, Point, load_space
from archon_cli.search.tabular import read_table, top_fraction_threshold, trials_per_algorithm

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "tabular_tiny_arith.csv"
SPACE = ROOT / "spaces" / "tabular.yaml"
MODELS = ["local/smollm2-135m", "local/gemma-3-270m"]
ALGORITHMS = ("gp", "random", "greedy")
# The paper (Archon, arXiv 2409.15254): ITAS's Bayesian optimisation needs 88.5% fewer evaluations
# than greedy search and 90.4% fewer than random search to find the best architecture.
PAPER_FEWER = {"greedy": 0.885, "random": 0.904}


def synthetic_table(feasible: FeasibleSpace, seed: int = 0) -> dict[Point, float]:
    """A made-up table with structure (votes over more samples help, the second model and fusion
    hurt) and ties broken by a little noise: only to check this script end to end."""
    return {
        p: 0.4
        + 0.05 * p.samples * (p.final == "majority_vote")
        + 0.02 * (p.final == "verifier")
        - 0.04 * p.fusion_layers
        - 0.05 * (p.top_models - 1)
        + random.Random(f"{seed}:{p}").uniform(-0.01, 0.01)
        for p in feasible.all_points()
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", type=Path, default=TABLE)
    p.add_argument("--space", type=Path, default=SPACE)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--budget", type=int, default=None, help="calls per query: only architectures within it count")
    p.add_argument("--synthetic", action="store_true", help="use a made-up table on the space (checks the script)")
    p.add_argument(
        "--top", type=float, default=0.1, help="also count trials to reach this best fraction of the architectures"
    )
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    feasible = FeasibleSpace(load_space(args.space), MODELS, args.budget)
    if args.synthetic:
        table, source = synthetic_table(feasible), "synthetic"
    elif args.table.exists():
        table, source = (
            read_table(args.table),
            str(args.table.relative_to(ROOT) if args.table.is_relative_to(ROOT) else args.table),
        )
        if args.budget is not None:
            table = {pt: v for pt, v in table.items() if feasible.contains(pt)}
    else:
        print(f"{args.table} does not exist yet (bench/build_tabular.py builds it); use --synthetic", file=sys.stderr)
        return 2
    started = time.perf_counter()
    trials = trials_per_algorithm(table, feasible, range(args.seeds), ALGORITHMS)
    medians = {name: statistics.median(v) for name, v in trials.items()}
    threshold = top_fraction_threshold(table, args.top)
    top_trials = trials_per_algorithm(table, feasible, range(args.seeds), ALGORITHMS, target=threshold)
    top_medians = {name: statistics.median(v) for name, v in top_trials.items()}
    best = max(table.values())
    result = {
        "source": source,
        "architectures": len(table),
        "best_points": sum(1 for v in table.values() if v >= best),
        "seeds": args.seeds,
        "trials": trials,
        "median": medians,
        "gp_over_random": medians["gp"] / medians["random"],
        "fewer_than": {k: 1 - medians["gp"] / medians[k] for k in ("greedy", "random")},
        "paper_fewer_than": PAPER_FEWER,
        "top": {
            "fraction": args.top,
            "threshold": threshold,
            "points": sum(1 for v in table.values() if v >= threshold),
            "trials": top_trials,
            "median": top_medians,
        },
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{source}: {len(table)} architectures ({result['best_points']} share the best score), {args.seeds} seeds"
        )
        for name in ALGORITHMS:
            print(f"  {name:7} median {medians[name]:5.1f} trials  {trials[name]}")
        fewer = result["fewer_than"]
        print(
            f"  gp / random = {result['gp_over_random']:.2f} (target <= 0.5); gp needs {1 - fewer['greedy']:.2f}x "
            f"greedy's trials and {1 - fewer['random']:.2f}x random's (paper: 0.115x and 0.096x)"
        )
        top = result["top"]
        print(f"  to reach the top {args.top:.0%} ({top['points']} architectures scoring >= {threshold:.3f}):")
        for name in ALGORITHMS:
            print(f"  {name:7} median {top_medians[name]:5.1f} trials  {top_trials[name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
