"""Figure 6: peak RSS of ``archon run --input`` over N short questions against a loopback server.

One generator call per question to ``openai/fake-model`` at the loopback fault server (a child
process, so its memory is not counted); the peak RSS is that of the ``archon`` process alone
(``os.wait4``), for each N, so growth with the number of questions shows.

    python bench/memory.py --questions 1000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, fault_server, load_average


def write_inputs(folder: Path, n: int, api_base: str) -> tuple[Path, Path]:
    arch = folder / "arch.yaml"
    generator = {
        "type": "generator",
        "model": "openai/fake-model",
        "api_base": api_base,
        "samples": 1,
        "temperature": 0.0,
        "max_tokens": 16,
    }
    arch.write_text(yaml.safe_dump({"name": "bench-memory", "layers": [[generator]]}), encoding="utf-8")
    queries = folder / f"questions-{n}.jsonl"
    with queries.open("w", encoding="utf-8") as f:
        for i in range(n):
            a, b = i % 97, i % 89
            f.write(
                json.dumps({"id": f"q{i}", "prompt": f"What is {a} + {b}? Answer with just the number. (#{i})"}) + "\n"
            )
    return arch, queries


def peak_rss(n: int, api_base: str, concurrency: int, folder: Path) -> dict[str, float]:
    """Peak RSS (MB) and wall seconds of one ``archon run --input`` over ``n`` questions."""
    arch, queries = write_inputs(folder, n, api_base)
    command = [
        str(Path(sys.executable).with_name("archon")),
        "run",
        str(arch),
        "--input",
        str(queries),
        "--output",
        str(folder / f"answers-{n}.jsonl"),
        "--no-cache",
        "--concurrency",
        str(concurrency),
        "--json",
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"archon run failed with exit code {proc.returncode}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    if report["answered"] != n:
        raise SystemExit(f"only {report['answered']} of {n} questions answered")
    return {"questions": n, "peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": wall, "calls": report["calls"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--questions", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--concurrency", type=int, default=32, help="questions in flight (archon run --concurrency)")
    p.add_argument("--latency", type=float, default=0.01, help="server latency per request (seconds)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    rows = []
    with fault_server(args.latency) as api_base, tempfile.TemporaryDirectory(prefix="archon-bench-mem-") as tmp:
        for n in args.questions:
            rows.append(peak_rss(n, api_base, args.concurrency, Path(tmp)))
    result = {"rows": rows, "concurrency": args.concurrency, "load": load_average()}
    if args.json:
        print(json.dumps(result))
    else:
        for row in rows:
            print(
                f"{row['questions']:>6} questions: peak RSS {row['peak_rss_mb']:.0f} MB "
                f"({row['wall_s']:.0f} s, {row['calls']} calls; target < 400 MB)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
