"""Build the tabular benchmark: evaluate every architecture of spaces/tabular.yaml once with the
embedded model on the tiny-arith dev split (300 questions), and write the score table with each
architecture's right and wrong answer per question.

    flock /tmp/archon-model.lock timeout 600 python bench/build_tabular.py --warm   # model calls, in slices
    python bench/build_tabular.py --cached-only                                     # writes the table

The table's architectures are ensembles of greedy generators, one per prompt style of a set, with
or without a majority vote. Every one of them sends the same requests per question: each style's
greedy answer (identical greedy requests are one call). So ``--warm`` first sends exactly those,
through the real generators, one style at a time into the response cache (an architecture of one
style each; categories together, so consecutive few-shot prompts share their prefix); it can be
stopped at any time and run again (the cache keeps every reply). The build then evaluates all 126
architectures through the real runner, every reply a cache hit (``--cached-only`` stops at a miss
rather than call a model), so each score is what ``archon eval`` of that architecture computes,
not a re-implementation of it. 126 x 300 x 3.3 calls on paper cost 1,212 sent calls (202
distinct dev prompts x 6 styles).
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
from archon_cli.errors import UserError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.run_folder import plan_questions
from archon_cli.evaluation.summary import summarize
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.local_models import LocalModelPool
from archon_cli.llm.types import CompletionRequest, Usage
from archon_cli.search.space import FeasibleSpace, Point, load_space
from archon_cli.search.tabular import QUESTION_PREFIX, table_row, write_table

MODELS = ["local/smollm2-135m"]


class NotCached:
    """A backend for ``--cached-only``: every reply must come from the cache; a miss stops the build."""

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        return None

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        raise UserError(f"{request.model}: a reply is not in the cache (run --warm to the end first)")


def warm_points(feasible: FeasibleSpace) -> list[Point]:
    """The architectures whose requests every other one reuses: each style alone, greedy first
    (the styles' greedy answers are most of what the table measures), then with the most samples."""
    s = feasible.space
    return [
        feasible.canonical(Point(s.top_models[0], s.samples[1] if t > 0 else 1, 0, 1, False, "none", (style,), t))
        for t in sorted(s.temperatures)
        for style in s.styles
    ]


async def build(args: argparse.Namespace) -> None:
    space = load_space(args.space)
    feasible = FeasibleSpace(space, MODELS, None)
    benchmark = TinyArith()
    questions = plan_questions(benchmark, "dev", args.seed, args.limit)
    # The embedded model runs as `archon` runs it (ARCHON_LOCAL_THREADS, ARCHON_MODEL_DIR).
    cache = ResponseCache(args.cache_dir / "responses.sqlite")
    backend = NotCached() if args.cached_only else None
    gateway = LLMGateway(backend=backend, cache=cache, local_models=LocalModelPool(local_settings()))
    started = time.perf_counter()
    if args.warm:
        # One prompt style at a time, one question at a time, a category's questions together:
        # consecutive prompts then share their long few-shot prefix, which llama.cpp reuses.
        ordered = sorted(questions, key=lambda q: q.category)
        for point in warm_points(feasible):
            runner = ArchitectureRunner(feasible.architecture(point), gateway)
            for i in range(0, len(ordered), 20):
                await evaluate(runner, benchmark, ordered[i : i + 20], concurrency=1)
                print(
                    f"warm {point.label()}: {min(i + 20, len(questions))}/{len(questions)} questions, "
                    f"sent {gateway.stats.calls} calls, {time.perf_counter() - started:.0f}s",
                    flush=True,
                )
        print(f"warm: {len(cache)} replies cached, {gateway.stats.calls} calls sent")
        return
    points = feasible.all_points()
    rows = []
    for n, point in enumerate(points, start=1):
        outcome = await evaluate(
            ArchitectureRunner(feasible.architecture(point), gateway),
            benchmark,
            questions,
            concurrency=args.concurrency,
        )
        summary = summarize(outcome.records)
        by_id = {r["id"]: r for r in outcome.records}
        row = table_row(point, float(summary["score"]), float(summary["calls_per_query"]))
        for q in questions:
            row[QUESTION_PREFIX + q.id] = int((by_id[q.id].get("score") or 0.0) >= 1.0)
        rows.append(row)
        print(
            f"{n}/{len(points)} {point.label():32} score {summary['score']:.3f}  "
            f"sent {gateway.stats.calls} calls, {time.perf_counter() - started:.0f}s",
            flush=True,
        )
    write_table(args.out, rows)
    print(f"{len(rows)} architectures x {len(questions)} questions -> {args.out} ({gateway.stats.calls} calls sent)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", action="store_true", help="only send the requests every architecture reuses")
    parser.add_argument("--cached-only", action="store_true", help="call no model: every reply from the cache")
    parser.add_argument("--limit", type=int, default=None, help="dev questions per architecture (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--space", type=Path, default=Path("spaces/tabular.yaml"))
    parser.add_argument("--out", type=Path, default=Path("tests/data/tabular_tiny_arith.csv"))
    parser.add_argument("--cache-dir", type=Path, default=Path("results/tabular-cache"))
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    try:
        asyncio.run(build(args))
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
