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
import csv
import json
import random
import statistics
import sys
import time
from pathlib import Path

from archon_cli.search.algorithms import make_algorithm, trials_to_reach_best
from archon_cli.search.space import DIMENSIONS, FeasibleSpace, Point, load_space

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "tabular_tiny_arith.csv"
SPACE = ROOT / "spaces" / "tabular.yaml"
MODELS = ["local/smollm2-135m", "local/gemma-3-270m"]
ALGORITHMS = ("gp", "random", "greedy")
# The paper (Archon, arXiv 2409.15254): ITAS's Bayesian optimisation needs 88.5% fewer evaluations
# than greedy search and 90.4% fewer than random search to find the best architecture.
PAPER_FEWER = {"greedy": 0.885, "random": 0.904}


class TableSpace(FeasibleSpace):
    """The feasible space restricted to the points of a score table (so no algorithm can ask for
    an architecture the table has no score for)."""

    def __init__(self, feasible: FeasibleSpace, points: set[Point]) -> None:
        super().__init__(feasible.space, feasible.models, feasible.calls_per_query, feasible.endpoints)
        self._points = points

    def contains(self, point: Point) -> bool:
        return point in self._points and super().contains(point)

    def all_points(self) -> list[Point]:
        within = super().contains
        return sorted(p for p in self._points if within(p))


def read_table(path: Path) -> dict[Point, float]:
    """``{point: score}`` from a CSV with the point's dimensions and ``score``."""
    table: dict[Point, float] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            values = [row[d] for d in DIMENSIONS]
            values[4] = str(values[4]).strip().lower() in ("1", "true", "yes")  # critic_ranker
            table[Point.from_list(values)] = float(row["score"])
    if not table:
        raise SystemExit(f"{path}: no rows")
    return table


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


def measure(table: dict[Point, float], feasible: FeasibleSpace, seeds: int) -> dict[str, list[int]]:
    space = TableSpace(feasible, set(table))
    missing = [p for p in space.all_points() if p not in table]
    if missing or len(space.all_points()) != len(table):
        raise SystemExit(f"the table and the space disagree: {len(table)} rows, {len(space.all_points())} feasible points")
    return {name: [trials_to_reach_best(make_algorithm(name, space, s), table) for s in range(seeds)] for name in ALGORITHMS}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", type=Path, default=TABLE)
    p.add_argument("--space", type=Path, default=SPACE)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--budget", type=int, default=None, help="calls per query: only architectures within it count")
    p.add_argument("--synthetic", action="store_true", help="use a made-up table on the space (checks the script)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    feasible = FeasibleSpace(load_space(args.space), MODELS, args.budget)
    if args.synthetic:
        table, source = synthetic_table(feasible), "synthetic"
    elif args.table.exists():
        table, source = read_table(args.table), str(args.table.relative_to(ROOT) if args.table.is_relative_to(ROOT) else args.table)
        if args.budget is not None:
            table = {pt: v for pt, v in table.items() if feasible.contains(pt)}
    else:
        print(f"{args.table} does not exist yet (bench/build_tabular.py builds it); use --synthetic", file=sys.stderr)
        return 2
    started = time.perf_counter()
    trials = measure(table, feasible, args.seeds)
    medians = {name: statistics.median(v) for name, v in trials.items()}
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
