"""Sandbox start cost: one program in a fresh sandbox (``Sandbox.run``: control group, child program,
namespaces, new root, a fresh interpreter) against one in a reused sandbox (``SandboxPool``: a fresh
fork of the sandbox's init), and what the program style adds to a question: a 10-candidate program
vote's 10 programs, run as the generator runs them (at once, through the pool of 2 sandboxes).

python bench/sandbox_start.py --runs 30 --questions 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

from archon_cli.execution.pool import SandboxPool
from archon_cli.execution.programs import PROGRAM_LIMITS
from archon_cli.execution.sandbox import Sandbox

PROGRAM = "a = 7\nb = 5\nprint(a + b)\n"


async def measure(runs: int, questions: int, size: int) -> dict[str, object]:
    sandbox = Sandbox(PROGRAM_LIMITS)
    pool = SandboxPool(PROGRAM_LIMITS, size=size)
    caps = sandbox.capabilities()
    await sandbox.run(PROGRAM)  # probe and runtime layout, once per process
    fresh = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await sandbox.run(PROGRAM)
        fresh.append(time.perf_counter() - started)
        assert result.stdout == "12\n", result
    started = time.perf_counter()
    await pool.run(PROGRAM)
    first_pool = time.perf_counter() - started  # starts one sandbox
    reused = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await pool.run(PROGRAM)
        reused.append(time.perf_counter() - started)
        assert result.stdout == "12\n", result
    per_question_pool, per_question_fresh = [], []
    for _ in range(questions):
        started = time.perf_counter()
        results = await asyncio.gather(*(pool.run(PROGRAM) for _ in range(10)))
        per_question_pool.append(time.perf_counter() - started)
        assert all(r.stdout == "12\n" for r in results)
    for _ in range(max(3, questions // 4)):
        started = time.perf_counter()
        await asyncio.gather(*(sandbox.run(PROGRAM) for _ in range(10)))
        per_question_fresh.append(time.perf_counter() - started)
    pool.close()
    return {
        "sandbox": caps.describe()["mode"],
        "memory_cap": caps.memory_cap,
        "fresh_sandbox_median_s": statistics.median(fresh),
        "reused_sandbox_median_s": statistics.median(reused),
        "pool_first_program_s": first_pool,
        "vote10_pool_median_s": statistics.median(per_question_pool),
        "vote10_pool_max_s": max(per_question_pool),
        "vote10_fresh_median_s": statistics.median(per_question_fresh),
        "pool_size": size,
        "runs": runs,
        "questions": questions,
        "load": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--questions", type=int, default=20)
    p.add_argument("--size", type=int, default=2, help="sandboxes in the pool (the generator uses one per CPU, >= 2)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    r = asyncio.run(measure(args.runs, args.questions, args.size))
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"one program: fresh sandbox {r['fresh_sandbox_median_s'] * 1000:.0f} ms, reused sandbox "
            f"{r['reused_sandbox_median_s'] * 1000:.1f} ms (medians of {r['runs']}; a pool's first program "
            f"{r['pool_first_program_s'] * 1000:.0f} ms); 10-program vote per question: pool of {r['pool_size']} "
            f"{r['vote10_pool_median_s'] * 1000:.0f} ms median, {r['vote10_pool_max_s'] * 1000:.0f} ms max "
            f"(fresh sandboxes {r['vote10_fresh_median_s'] * 1000:.0f} ms); {r['sandbox']}, {r['memory_cap']}; "
            f"load {r['load']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
