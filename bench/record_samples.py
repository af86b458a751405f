"""Record a replay table of sampled answers: N samples per question from the embedded model, each
sample's answer as the majority vote extracts it, and whether it is right.

    flock /tmp/archon-model.lock python bench/record_samples.py --seconds 420   # one chunk; run again to go on
    python bench/replay_stop.py                                                  # the replay figure

The samples are drawn through the real runner (one generator of ``--samples`` samples at
``--temperature`` in the calculator style, ``architectures/sampled-vote.yaml``'s generator), into
the response cache under ``--cache-dir``: sample k of a question is that prompt's sample slot k, so
``archon eval architectures/sampled-vote.yaml`` (with or without ``stop``) on the same questions and
cache reads these samples back instead of drawing them again.

The table (JSONL, one line per question, appended as each finishes, so a chunk cut short loses
nothing and the next one resumes): ``id``, ``category``, ``gold``, ``answers`` (each sample's vote
key, the vote's own extraction; null when the sample states none) and ``right`` (1 when that
sample's text scores correct). Raw texts are left out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from archon_cli.benchmarks.tiny_arith import TinyArith, is_correct
from archon_cli.commands.settings import local_settings
from archon_cli.components.majority_vote import vote_key
from archon_cli.config.architecture import load_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.evaluation.run_folder import plan_questions
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.local_models import LocalModelPool

ROOT = Path(__file__).resolve().parent.parent


def generator_only(path: Path, samples: int) -> object:
    """The architecture file's first layer (its generator) with ``samples`` samples and no stop."""
    arch, _ = load_architecture(path)
    generator = arch.layers[0][0].model_copy(update={"samples": samples})
    return arch.model_copy(update={"layers": [[generator]]})


async def record(args: argparse.Namespace) -> None:
    benchmark = TinyArith()
    questions = plan_questions(benchmark, args.split, args.seed, args.limit)
    done: set[str] = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            try:
                done.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError):
                continue  # a line cut short: its question runs again
    todo = [q for q in questions if q.id not in done]
    # Categories together: consecutive prompts share their prefix, which llama.cpp reuses.
    todo.sort(key=lambda q: (q.category, q.id))
    architecture = generator_only(args.architecture, args.samples)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    gateway = LLMGateway(
        cache=ResponseCache(args.cache_dir / "responses.sqlite"), local_models=LocalModelPool(local_settings())
    )
    runner = ArchitectureRunner(architecture, gateway)  # type: ignore[arg-type]
    started = time.perf_counter()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with args.out.open("a") as out:
        for question in todo:
            if time.perf_counter() - started > args.seconds:
                break
            examples = benchmark.few_shot(question)
            result = await runner.run(question.query((), examples))
            texts = [c.text for c in result.layers[0].candidates]
            row = {
                "id": question.id,
                "category": question.category,
                "gold": str(question.reference),
                "answers": [vote_key(t) for t in texts],
                "right": [int(is_correct(t, str(question.reference))[0]) for t in texts],
            }
            out.write(json.dumps(row) + "\n")
            out.flush()
            written += 1
    total = len(done) + written
    print(
        f"recorded {written} questions in {time.perf_counter() - started:.0f}s "
        f"({gateway.stats.calls} calls sent, {gateway.stats.cache_hits} cached); "
        f"{total}/{len(questions)} in {args.out}" + ("" if total >= len(questions) else ": run again to go on"),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", type=Path, default=ROOT / "architectures/sampled-vote.yaml")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=420.0, help="stop starting questions after this long")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/data/replay_tiny_arith_test.jsonl")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "results/cache")
    args = parser.parse_args()
    asyncio.run(record(args))


if __name__ == "__main__":
    main()
