"""Client CPU per request through the LLM door's LiteLLM backend, with each saving undone in turn.

Figure 1 (bench/concurrency.py) is bound by the client's CPU per request. This script measures
that CPU alone: ``LiteLLMBackend`` sending requests to a loopback OpenAI-compatible server (a
child process, so its work is not counted), ``openai/fake-model`` (a model LiteLLM has no price
for, like any self-hosted one), 32 requests in flight, CPU time of this process per request. Each
round runs every variant once, in a rotated order, and the figure is the median over the rounds;
the variants are the current backend ("now") and the backend with one saving undone, and all of
them undone ("before"):

- ``sdk``: the OpenAI SDK under LiteLLM's openai/ route (EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER=false);
- ``cost``: archon asks ``completion_cost`` again instead of reading LiteLLM's ``response_cost``;
- ``env_key``: ``validate_environment`` on every request instead of once per model;
- ``price_map``: the self-hosted model left out of LiteLLM's price map (LiteLLM searches the map for
  it on every reply; the variant sends ``openai/fake-model-unpriced``, never registered);
- ``cost_none``: archon asks ``completion_cost`` again when LiteLLM's ``response_cost`` is None;
- ``gc_freeze``: the objects LiteLLM's import leaves not frozen (``gc.unfreeze()``), so Python's
  full collections walk them all.

It also compares a generator's 10 samples sent as one request with ``n = 10`` against 10 requests.

    python bench/client_cpu.py --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fault_server, load_average

import archon_cli.llm.litellm_backend as lb
from archon_cli.llm.litellm_backend import LiteLLMBackend
from archon_cli.llm.types import CompletionRequest

SAVINGS = ("sdk", "cost", "env_key", "price_map", "cost_none", "gc_freeze")
IN_FLIGHT = 32
MODEL = "openai/fake-model"  # the model requests name (the price_map variant switches it)


def _cost_none(lib: Any, response: Any) -> float:
    # Before: LiteLLM's response_cost read when set, asked again when it is None.
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    return float(cost) if cost is not None else _old_cost(lib, response)


def _old_cost(lib: Any, response: Any) -> float:
    # What the backend did before: its own completion_cost on top of LiteLLM's.
    try:
        return float(lib.completion_cost(completion_response=response) or 0.0)
    except Exception:
        return 0.0


class Variants:
    """Switches each saving of ``backend`` off and on again, in this process."""

    def __init__(self, backend: LiteLLMBackend) -> None:
        self.backend = backend
        self.lib = lb._lib()
        self.cost = lb._cost
        self.env_key = backend._env_key
        self.price_self_hosted = backend._price_self_hosted

    def set(self, undone: set[str]) -> None:
        os.environ["EXPERIMENTAL_OPENAI_BASE_LLM_HTTP_HANDLER"] = "false" if "sdk" in undone else "true"
        cost = _old_cost if "cost" in undone else _cost_none if "cost_none" in undone else self.cost
        lb._cost = cost  # type: ignore[assignment]
        b: Any = self.backend
        b._env_key = self._uncached_env_key if "env_key" in undone else self.env_key
        b._price_self_hosted = (lambda lib, model: None) if "price_map" in undone else self.price_self_hosted
        global MODEL
        MODEL = "openai/fake-model-unpriced" if "price_map" in undone else "openai/fake-model"
        gc.unfreeze() if "gc_freeze" in undone else gc.freeze()

    def _uncached_env_key(self, model: str) -> bool:
        try:
            env = self.lib.validate_environment(model=model)
        except Exception:
            return False
        return bool(env.get("keys_in_environment"))


def request(api_base: str, i: int, tag: str) -> CompletionRequest:
    return CompletionRequest(
        model=MODEL,
        messages=({"role": "user", "content": f"What is {100 + i} + 7? Answer with just the number. ({tag})"},),
        temperature=0.7,
        max_tokens=16,
        api_base=api_base,
        purpose="generator",
    )


async def batch(backend: LiteLLMBackend, api_base: str, count: int, tag: str, n: int = 1) -> float:
    """CPU ms per request of ``count`` requests (``IN_FLIGHT`` at a time), background work included."""
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with sem:
            if n > 1:
                await backend.complete_samples(request(api_base, i, tag), n)
            else:
                await backend.complete(request(api_base, i, tag))

    cpu = time.process_time()
    await asyncio.gather(*(one(i) for i in range(count)))
    await asyncio.sleep(0.1)  # let background logging tasks run inside the window
    return 1000 * (time.process_time() - cpu) / count


async def measure(api_base: str, rounds: int, count: int) -> dict[str, Any]:
    backend = LiteLLMBackend()
    variants = Variants(backend)
    names = ["now", *SAVINGS, "before"]
    undo = {"now": set(), "before": set(SAVINGS), **{s: {s} for s in SAVINGS}}
    variants.set(set())
    await batch(backend, api_base, 64, "warmup")
    for saving in SAVINGS:  # each path warmed once (its imports, its client)
        variants.set({saving})
        await batch(backend, api_base, 16, f"warmup-{saving}")
    cpu: dict[str, list[float]] = {name: [] for name in names}
    samples: dict[str, list[float]] = {"n=10, one request": [], "10 requests": []}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            variants.set(undo[name])
            cpu[name].append(await batch(backend, api_base, count, f"r{r}-{name}"))
        variants.set(set())
        # CPU per sample: 10 samples in one request against 10 requests of one sample.
        samples["n=10, one request"].append(await batch(backend, api_base, count // 10, f"r{r}-n", n=10) / 10)
        samples["10 requests"].append(await batch(backend, api_base, count, f"r{r}-single"))
    now = statistics.median(cpu["now"])
    rows = [
        {
            "variant": name,
            "undone": sorted(undo[name]),
            "cpu_ms_per_request": statistics.median(cpu[name]),
            "saving_ms": statistics.median(cpu[name]) - now,
            "rounds": cpu[name],
        }
        for name in names
    ]
    per_sample = {k: statistics.median(v) for k, v in samples.items()}
    return {"rows": rows, "cpu_ms_per_sample": per_sample, "requests_per_variant": count}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=160, help="requests per variant per round")
    p.add_argument("--latency", type=float, default=0.02, help="server latency per request (seconds)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    load_before = load_average()
    with fault_server(args.latency) as api_base:
        result = asyncio.run(measure(api_base, args.rounds, args.requests))
    result["load"] = [load_before, load_average()]
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"client CPU per request, median of {args.rounds} rounds; load {load_before:.1f}-{load_average():.1f}")
    for row in result["rows"]:
        undone = ", ".join(row["undone"]) or "nothing"
        print(
            f"  {row['variant']:8} (undone: {undone:38}) {row['cpu_ms_per_request']:.2f} ms"
            f"  ({row['saving_ms']:+.2f} ms vs now; rounds {', '.join(f'{c:.2f}' for c in row['rounds'])})"
        )
    for name, ms in result["cpu_ms_per_sample"].items():
        print(f"  per sample, {name}: {ms:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
