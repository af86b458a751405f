"""Figure 3: trials gp, random and greedy need to reach the best architecture of the tabular benchmark.

The table (tests/data/tabular_tiny_arith.csv, built by bench/build_tabular.py) holds the score of
every architecture of spaces/tabular.yaml on the 300 tiny-arith dev questions, with each
question's result, so an algorithm is run against it without any model call:
``trials_to_reach_best`` counts the distinct architectures it evaluates until it evaluates one
with the best score. Medians over ``--seeds`` seeds. It also says whether the table's differences
exceed its noise: the spread of the scores against one score's 95% interval, and the paired 95% CI
(bootstrap over the questions) of the best architecture against the median one.

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
from archon_cli.search.tabular import ScoreTable, load_table, rung_cost, top_fraction_threshold, trials_per_algorithm

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "tests" / "data" / "tabular_tiny_arith.csv"
SPACE = ROOT / "spaces" / "tabular.yaml"
MODELS = ["local/smollm2-135m"]
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


def table_noise(loaded: ScoreTable, resamples: int = 2000) -> dict[str, float]:
    """The table's spread against its noise: best, worst, one score's 95% half-width (normal
    approximation at the median score) and the paired bootstrap CI of best minus median."""
    if not loaded.questions:
        return {}
    ranked = sorted(loaded.scores, key=lambda p: loaded.scores[p])
    best, median = ranked[-1], ranked[len(ranked) // 2]
    n = len(loaded.questions)
    diffs = [a - b for a, b in zip(loaded.correct[best], loaded.correct[median], strict=True)]
    rng = random.Random(0)
    means = sorted(sum(rng.choice(diffs) for _ in range(n)) / n for _ in range(resamples))
    m = loaded.scores[median]
    return {
        "questions": float(n),
        "best": loaded.scores[best],
        "worst": loaded.scores[ranked[0]],
        "half_width": 1.96 * (m * (1 - m) / n) ** 0.5,
        "best_minus_median": sum(diffs) / n,
        "ci_low": means[int(0.025 * resamples)],
        "ci_high": means[int(0.975 * resamples) - 1],
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
    p.add_argument("--rungs", default="25,100,400", help="question rungs of the multi-fidelity replay")
    args = p.parse_args(argv)
    feasible = FeasibleSpace(load_space(args.space), MODELS, args.budget)
    noise: dict[str, float] = {}
    loaded = ScoreTable({}, {}, (), {})
    if args.synthetic:
        table, source = synthetic_table(feasible), "synthetic"
    elif args.table.exists():
        loaded = load_table(args.table)
        table, source = (
            loaded.scores,
            str(args.table.relative_to(ROOT) if args.table.is_relative_to(ROOT) else args.table),
        )
        noise = table_noise(loaded)
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
    fidelity: dict[str, object] = {}
    if not args.synthetic and args.budget is None and loaded.questions:
        rungs = tuple(int(r) for r in args.rungs.split(","))
        costs = {
            name: [rung_cost(loaded, feasible, seed, name, rungs) for seed in range(args.seeds)]
            for name in ("gp", "random")
        }
        fidelity = {
            "rungs": list(rungs),
            "full_evaluations": costs,
            "median": {name: statistics.median(v) for name, v in costs.items()},
        }
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
        "noise": noise,
        "multi_fidelity": fidelity,
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{source}: {len(table)} architectures ({result['best_points']} share the best score), {args.seeds} seeds"
        )
        if noise:
            print(
                f"  scores {noise['worst']:.3f}-{noise['best']:.3f} on {noise['questions']:.0f} questions; one score's "
                f"95% interval is about +-{noise['half_width']:.3f}; best - median {noise['best_minus_median']:+.3f} "
                f"(paired 95% CI {noise['ci_low']:+.3f} to {noise['ci_high']:+.3f})"
            )
        for name in ALGORITHMS:
            print(f"  {name:7} median {medians[name]:5.1f} trials  {trials[name]}")
        fewer = result["fewer_than"]
        print(
            f"  gp / random = {result['gp_over_random']:.2f} (target <= 0.5); gp needs {1 - fewer['greedy']:.2f}x "
            f"greedy's trials and {1 - fewer['random']:.2f}x random's (paper: 0.115x and 0.096x)"
        )
        if fidelity:
            fm = fidelity["median"]
            print(
                f"  multi-fidelity (rungs {args.rungs}), in full evaluations of {len(loaded.questions)} questions "
                f"until the best is measured on all: gp {fm['gp']:.1f}, random {fm['random']:.1f}"  # type: ignore[index]
            )
        top = result["top"]
        print(f"  to reach the top {args.top:.0%} ({top['points']} architectures scoring >= {threshold:.3f}):")
        for name in ALGORITHMS:
            print(f"  {name:7} median {top_medians[name]:5.1f} trials  {top_trials[name]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
