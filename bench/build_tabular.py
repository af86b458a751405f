"""Build the tabular benchmark: evaluate every architecture of spaces/tabular.yaml once with the
embedded models on the dev split of tiny-arith (36 questions), and write the score table.

    python bench/build_tabular.py            # writes tests/data/tabular_tiny_arith.csv

The 108 architectures x 36 questions cost 25,884 calls on paper; through the shared response cache
the build sent 2,316 (0.09 of nominal), about 50 minutes on a quiet 2-core machine.

Runs through the response cache (--cache-dir), so an interrupted build resumes where it stopped.
The table is test data: search algorithms are compared on it without calling a model.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from archon_cli.benchmarks.tiny_arith import TinyArith
from archon_cli.commands.settings import local_settings
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.run_folder import plan_questions
from archon_cli.evaluation.summary import summarize
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.local_models import LocalModelPool
from archon_cli.search.space import FeasibleSpace, load_space
from archon_cli.search.tabular import write_table

MODELS = ["local/smollm2-135m", "local/gemma-3-270m"]


async def build(limit: int | None, seed: int, space_file: Path, out: Path, cache_dir: Path, concurrency: int) -> None:
    space = load_space(space_file)
    feasible = FeasibleSpace(space, MODELS, None)
    points = feasible.all_points()
    benchmark = TinyArith()
    questions = plan_questions(benchmark, "dev", seed, limit)
    # The embedded models run as `archon` runs them (ARCHON_LOCAL_THREADS, ARCHON_MODEL_DIR).
    gateway = LLMGateway(
        cache=ResponseCache(cache_dir / "responses.sqlite"), local_models=LocalModelPool(local_settings())
    )
    rows = []
    started = time.perf_counter()
    for i, point in enumerate(points, start=1):
        outcome = await evaluate(
            ArchitectureRunner(feasible.architecture(point), gateway), benchmark, questions, concurrency=concurrency
        )
        summary = summarize(outcome.records)
        rows.append(
            {
                **point.to_dict(),
                "score": f"{summary['score']:.6f}",
                "calls_per_query": f"{summary['calls_per_query']:.3f}",
            }
        )
        print(
            f"{i}/{len(points)} {point.label():20} score {summary['score']:.3f}  "
            f"sent {gateway.stats.calls} calls, {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    write_table(out, rows)
    print(f"{len(rows)} architectures -> {out} ({gateway.stats.calls} calls sent)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="dev questions per architecture (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", type=Path, default=Path("spaces/tabular.yaml"))
    parser.add_argument("--out", type=Path, default=Path("tests/data/tabular_tiny_arith.csv"))
    parser.add_argument("--cache-dir", type=Path, default=Path("results/tabular-cache"))
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(build(args.limit, args.seed, args.space, args.out, args.cache_dir, args.concurrency))


if __name__ == "__main__":
    main()
