"""Figure 1: concurrency overhead of the engine against a loopback server with a fixed latency.

generator (10 samples) -> ranker (top 5) -> fuser, ``openai/fake-model`` at a loopback
OpenAI-compatible server (a child process) that answers every request after ``--latency``
seconds; every question in flight at once (concurrency 0), no cache. The critical path is three
calls, so the ideal wall time is 3 x latency whatever the number of questions.

    python bench/concurrency.py --questions 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fault_server, load_average, server_stats

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.tiny_arith import TinyArith
from archon_cli.config.architecture import Architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.llm.gateway import LLMGateway

SAMPLES, TOP_K = 10, 5


def architecture(api_base: str) -> Architecture:
    """generator (10 samples) -> ranker (top 5) -> fuser, all on the loopback server."""
    common = {"model": "openai/fake-model", "api_base": api_base, "max_tokens": 16}
    return Architecture.model_validate(
        {
            "name": "bench-gen10-rank5-fuse",
            "layers": [
                [{"type": "generator", "samples": SAMPLES, "temperature": 0.7, **common}],
                [{"type": "ranker", "top_k": TOP_K, **common}],
                [{"type": "fuser", **common}],
            ],
        }
    )


def questions(n: int, tag: str) -> list[Question]:
    """``n`` distinct addition questions (distinct, so no request is shared in flight)."""
    out = []
    for i in range(n):
        a, b = 100 + i, 7 + i % 13
        text = f"What is {a} + {b}? Answer with just the number. ({tag})"
        out.append(Question(id=f"{tag}-{i}", turns=(text,), reference=str(a + b)))
    return out


async def one_run(arch: Architecture, n: int, tag: str) -> tuple[float, float, int, int, int]:
    """Wall and CPU seconds of one evaluation of ``n`` questions, calls (samples) and requests sent,
    questions with an error."""
    gateway = LLMGateway(cache=None)
    runner = ArchitectureRunner(arch, gateway)
    qs = questions(n, tag)
    cpu, started = time.process_time(), time.perf_counter()
    outcome = await evaluate(runner, TinyArith(), qs, concurrency=0)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    errors = sum(1 for r in outcome.records if r["error"])
    return wall, cpu, gateway.stats.calls, gateway.stats.requests, errors


async def measure(api_base: str, sizes: list[int], repeats: int, profile: Any = None) -> list[dict[str, object]]:
    arch = architecture(api_base)
    await one_run(arch, 4, "warmup")  # imports LiteLLM, opens the client: not part of the figure
    if profile is not None:  # the steady state only, without the imports
        profile.enable()
    rows = []
    for n in sizes:
        walls, cpus, calls, requests, errors = [], [], 0, 0, 0
        for r in range(repeats):
            wall, cpu, calls, requests, errors = await one_run(arch, n, f"n{n}r{r}")
            walls.append(wall)
            cpus.append(cpu)
        rows.append(
            {
                "questions": n,
                "calls": calls,
                "requests": requests,
                "errors": errors,
                "walls": walls,
                "median": statistics.median(walls),
                "cpu_ms_per_call": 1000 * statistics.median(cpus) / max(calls, 1),
                "cpu_ms_per_request": 1000 * statistics.median(cpus) / max(requests, 1),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, nargs="+", default=[1, 16, 64, 256])
    p.add_argument("--latency", type=float, default=0.1, help="server latency per request (seconds)")
    p.add_argument("--repeats", type=int, default=3, help="runs per size; the median is reported")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--profile", type=Path, help="write a cProfile of the measured runs (after the warm-up) here")
    args = p.parse_args(argv)
    ideal = 3 * args.latency
    with fault_server(args.latency) as api_base:
        prof = None
        if args.profile:
            import cProfile

            prof = cProfile.Profile(time.process_time)
        rows = asyncio.run(measure(api_base, args.questions, args.repeats, prof))
        if prof is not None:
            prof.disable()
            prof.dump_stats(str(args.profile))
        served = server_stats(api_base)["requests"]
    for row in rows:
        row["ratio"] = float(row["median"]) / ideal  # type: ignore[arg-type]
    result: dict[str, Any] = {"ideal_s": ideal, "rows": rows, "served": served, "load": load_average()}
    by_size = {int(row["questions"]): row for row in rows}  # type: ignore[call-overload]
    if 1 in by_size and 32 in by_size:
        # What 31 more questions cost: the 32-question run's wall time over the 1-question run's,
        # repeat by repeat (runs of one repeat are back to back, so they share the load).
        deltas = [w32 - w1 for w32, w1 in zip(by_size[32]["walls"], by_size[1]["walls"], strict=True)]
        result["extra_32_over_1"] = {"median": statistics.median(deltas), "per_repeat": deltas}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"ideal (3 x {args.latency * 1000:.0f} ms) = {ideal:.3f} s; load {result['load']:.2f}")
        for row in rows:
            walls = ", ".join(f"{w:.3f}" for w in row["walls"])  # type: ignore[attr-defined]
            print(
                f"{row['questions']:>5} questions, {row['calls']:>5} calls in {row['requests']:>4} requests: "
                f"median {row['median']:.3f} s = {row['ratio']:.2f}x ideal  (runs {walls}; client CPU "
                f"{row['cpu_ms_per_request']:.2f} ms/request; errors {row['errors']})"
            )
        if "extra_32_over_1" in result:
            extra = result["extra_32_over_1"]
            print(
                f"32 questions minus 1 question: +{extra['median']:.3f} s "
                f"(per repeat {', '.join(f'{d:+.3f}' for d in extra['per_repeat'])}; target <= 0.4 s)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
