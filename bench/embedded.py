"""Figure 5: completion tokens per second of the embedded model through the engine, over the
same model called directly with llama-cpp-python (same GGUF, prompts and settings), in one run.

The engine path is the real one: ArchitectureRunner -> gateway -> backend -> the gateway's pool
of embedded models (the model's worker thread). The direct path is ``Llama.create_chat_completion`` with
the settings archon_cli/llm/local_models.py uses (n_ctx, n_threads, seed, temperature,
max_tokens). Rounds alternate between the two paths so load changes hit both alike.

    python bench/embedded.py --prompts 8 --rounds 4 --max-tokens 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from archon_cli.commands.settings import local_settings
from archon_cli.config.architecture import Architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.local_models import LOCAL_MODELS, LocalModelPool
from archon_cli.state import Query

MODEL = "smollm2-135m"
TOPICS = (
    "the sea", "a library", "winter", "bicycles", "the moon", "bread", "rivers", "a market",
    "mountains", "trains", "gardens", "clocks", "rain", "bridges", "owls", "maps",
)  # fmt: skip


def prompts(n: int) -> list[str]:
    return [f"Write three sentences about {TOPICS[i % len(TOPICS)]} (note {i})." for i in range(n)]


def engine_round(
    pool: LocalModelPool, texts: list[str], max_tokens: int, temperature: float, concurrency: int
) -> tuple[float, int]:
    """Seconds and completion tokens of one generator call per prompt through the engine."""
    arch = Architecture.model_validate(
        {
            "name": "bench-embedded",
            "layers": [
                [
                    {
                        "type": "generator",
                        "model": f"local/{MODEL}",
                        "samples": 1,
                        "temperature": temperature,
                        "max_tokens": max_tokens,
                    }
                ]
            ],
        }
    )
    # One pool for every round, as one command has: the model is loaded once.
    runner = ArchitectureRunner(arch, LLMGateway(cache=None, local_models=pool))
    queries = [Query(messages=({"role": "user", "content": t},), id=str(i)) for i, t in enumerate(texts)]

    async def go() -> int:
        tokens = 0
        async for result in runner.run_many(queries, concurrency):
            if result.error:
                raise RuntimeError(result.error)
            tokens += result.stats.completion_tokens
        return tokens

    started = time.perf_counter()
    tokens = asyncio.run(go())
    return time.perf_counter() - started, tokens


def direct_round(llama: Any, texts: list[str], max_tokens: int, temperature: float) -> tuple[float, int]:
    """Seconds and completion tokens of the same calls made on a Llama instance directly."""
    tokens = 0
    started = time.perf_counter()
    for text in texts:
        result = llama.create_chat_completion(
            messages=[{"role": "user", "content": text}], temperature=temperature, max_tokens=max_tokens, seed=1000
        )
        tokens += int(result["usage"]["completion_tokens"])
    return time.perf_counter() - started, tokens


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--concurrency", type=int, default=8, help="queries in flight in the engine (its default)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    from llama_cpp import Llama

    spec = LOCAL_MODELS[MODEL]
    pool = LocalModelPool(local_settings())
    threads = pool.settings.threads
    llama = Llama(model_path=str(pool.get(MODEL).path()), n_ctx=spec.n_ctx, n_threads=threads, verbose=False)
    texts = prompts(args.prompts)
    # Warm both paths (model loads) outside the figure.
    direct_round(llama, texts[:1], 8, args.temperature)
    engine_round(pool, texts[:1], 8, args.temperature, 1)
    totals = {"engine": [0.0, 0], "direct": [0.0, 0]}
    ratios = []
    for r in range(args.rounds):
        order = ("direct", "engine") if r % 2 == 0 else ("engine", "direct")
        rates = {}
        for path in order:
            if path == "engine":
                seconds, tokens = engine_round(pool, texts, args.max_tokens, args.temperature, args.concurrency)
            else:
                seconds, tokens = direct_round(llama, texts, args.max_tokens, args.temperature)
            totals[path][0] += seconds
            totals[path][1] += tokens
            rates[path] = tokens / seconds
        ratios.append(rates["engine"] / rates["direct"])
    rate = {k: v[1] / v[0] for k, v in totals.items()}
    result = {
        "engine_tokens_per_s": rate["engine"],
        "direct_tokens_per_s": rate["direct"],
        # Median of the rounds' ratios: each round pairs the two paths back to back, so a change in
        # the machine's load between rounds does not count as a difference between the paths.
        "ratio": statistics.median(ratios),
        "round_ratios": ratios,
        "tokens": {k: v[1] for k, v in totals.items()},
        "seconds": {k: v[0] for k, v in totals.items()},
        "n_threads": threads,
        "n_ctx": spec.n_ctx,
        "load": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"engine {rate['engine']:.1f} tok/s, direct {rate['direct']:.1f} tok/s: median ratio of "
            f"{args.rounds} rounds {result['ratio']:.2f} ({', '.join(f'{x:.2f}' for x in ratios)}) "
            f"(target >= 0.9; {totals['engine'][1]} vs {totals['direct'][1]} tokens; n_threads {threads}, "
            f"load {result['load']:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
