"""Figure 9: a user's task of 100,000 rows (JSONL): loading and splitting it, and `archon check` on it.

The task: a generated JSONL file (id, question, answer, topic) and a task file with an input
template, a category, the ``number`` scorer and a 20% dev split. "load" is ``get_benchmark`` (the
task file and the data read, every row made a question and checked) plus the dev and test splits,
timed in a fresh process from just before the call (pandas' import included), with the memory it
took: the process's peak RSS after, minus its RSS before. "check" is `archon check TASK` as a
user runs it, a fresh process each time (interpreter start included). Medians of ``--runs``.

    python bench/task_load.py --rows 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import archon_cli.benchmarks as benchmarks

def rss_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
before = rss_mb()
started = time.perf_counter()
bench = benchmarks.get_benchmark(sys.argv[1])
questions = bench.load()
dev, test = bench.split(questions, "dev", 0), bench.split(questions, "test", 0)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "extra_mb": peak - before, "rss_before_mb": before, "peak_mb": peak,
                  "questions": len(questions), "dev": len(dev), "test": len(test)}))
"""


def write_task(folder: Path, rows: int) -> Path:
    rng = random.Random(0)
    topics = ("addition", "subtraction", "multiplication")
    with (folder / "data.jsonl").open("w", encoding="utf-8") as f:
        for i in range(rows):
            a, b = rng.randint(1, 999), rng.randint(1, 999)
            topic = topics[i % 3]
            answer = a + b if topic == "addition" else a - b if topic == "subtraction" else a * b
            sign = {"addition": "+", "subtraction": "-", "multiplication": "*"}[topic]
            f.write(json.dumps({"id": f"r{i:06d}", "question": f"What is {a} {sign} {b}?", "answer": answer, "topic": topic}) + "\n")
    task = folder / "task.yaml"
    task.write_text(
        "name: big-arith\ndata: data.jsonl\ninput: 'Q: {question}'\ninstruction: ' Answer with the number.'\n"
        "target: answer\nid: id\ncategory: topic\nscorer: number\nsplit: {dev: 0.2, seed: 0}\n",
        encoding="utf-8",
    )
    return task


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    with tempfile.TemporaryDirectory() as tmp:
        task = write_task(Path(tmp), args.rows)
        size_mb = (Path(tmp) / "data.jsonl").stat().st_size / 1e6
        loads = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, "-c", _CHILD, str(task)], capture_output=True, text=True, env=env, check=True)
            loads.append(json.loads(out.stdout.strip().splitlines()[-1]))
        checks = []
        for _ in range(args.runs):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "archon_cli", "check", str(task)], capture_output=True, text=True, env=env)
            checks.append(time.perf_counter() - started)
            if proc.returncode != 0:
                print(proc.stdout + proc.stderr, file=sys.stderr)
                return 1
    result = {
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "load_s": statistics.median(r["seconds"] for r in loads),
        "load_runs_s": [round(r["seconds"], 3) for r in loads],
        "extra_mb": statistics.median(r["extra_mb"] for r in loads),
        "dev": loads[0]["dev"],
        "test": loads[0]["test"],
        "check_s": statistics.median(checks),
        "check_runs_s": [round(c, 3) for c in checks],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.rows:,} rows ({result['file_mb']} MB JSONL): load + split {result['load_s']:.2f} s "
            f"(runs {result['load_runs_s']}), +{result['extra_mb']:.0f} MB; dev {result['dev']}, test {result['test']}; "
            f"archon check {result['check_s']:.2f} s (runs {result['check_runs_s']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
