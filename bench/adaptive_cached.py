"""A fixed vote and its adaptive twin, through the real runner, on the tiny-arith test questions the
replay table holds, every reply from the response cache (bench/record_samples.py filled it): no
model is loaded, and a reply missing from the cache stops the script instead of calling one.

    python bench/adaptive_cached.py            # after bench/record_samples.py has run to the end

What ``archon compare architectures/sampled-vote.yaml architectures/sampled-vote-stop.yaml -b
tiny-arith --split test`` measures, without the model lock: each architecture's accuracy (95%
bootstrap CI), its measured calls per query beside its static count, and the paired difference
(95% percentile bootstrap over the same questions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from archon_cli.benchmarks.tiny_arith import TinyArith
from archon_cli.config.architecture import load_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import UserError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.run_folder import plan_questions
from archon_cli.evaluation.summary import summarize
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest, Usage
from archon_cli.report.stats import paired_bootstrap

ROOT = Path(__file__).resolve().parent.parent


class NotCached:
    """Every reply must come from the cache; a miss stops the script."""

    def check_route(self, model: str, api_base: str | None = None, api_key_env: str | None = None) -> None:
        return None

    async def complete(self, request: CompletionRequest) -> tuple[str, Usage]:
        raise UserError(f"{request.model}: a reply is not in the cache (run bench/record_samples.py to the end)")


async def measure(args: argparse.Namespace) -> dict[str, object]:
    recorded = {json.loads(line)["id"] for line in args.table.read_text().splitlines() if line.strip()}
    questions = [q for q in plan_questions(TinyArith(), "test", 0, None) if q.id in recorded]
    gateway = LLMGateway(backend=NotCached(), cache=ResponseCache(args.cache_dir / "responses.sqlite"))
    out: dict[str, object] = {"questions": len(questions)}
    scores = {}
    for path in (args.fixed, args.adaptive):
        arch, _ = load_architecture(path)
        outcome = await evaluate(ArchitectureRunner(arch, gateway), TinyArith(), questions, concurrency=8)
        failed = [r["error"] for r in outcome.records if r["error"]]
        if failed:
            raise UserError(failed[0])
        summary = summarize(outcome.records)
        scores[arch.name] = {r["id"]: float(r["score"] or 0.0) for r in outcome.records}
        out[arch.name] = {
            "accuracy": summary["score"],
            "ci95": summary["ci95"],
            "calls_per_query": summary["calls_per_query"],
            "static_calls_per_query": arch.static_calls(),
        }
    fixed, adaptive = (load_architecture(p)[0].name for p in (args.fixed, args.adaptive))
    ids = sorted(scores[fixed])
    paired = paired_bootstrap([scores[adaptive][i] for i in ids], [scores[fixed][i] for i in ids])
    out["difference_points"] = [round(100 * v, 2) for v in (paired.diff, paired.low, paired.high)]
    fixed_calls = out[fixed]["calls_per_query"]  # type: ignore[index]
    out["calls_fall"] = 1 - out[adaptive]["calls_per_query"] / fixed_calls  # type: ignore[index]
    out["sent_by_this_script"] = gateway.stats.calls
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fixed", type=Path, default=ROOT / "architectures/sampled-vote.yaml")
    parser.add_argument("--adaptive", type=Path, default=ROOT / "architectures/sampled-vote-stop.yaml")
    parser.add_argument("--table", type=Path, default=ROOT / "bench/data/replay_tiny_arith_test.jsonl")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "results/cache")
    args = parser.parse_args()
    try:
        print(json.dumps(asyncio.run(measure(args)), indent=2))
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None


if __name__ == "__main__":
    main()
