"""Figure 4: wall time of ``archon --help`` (a fresh process each run), median of several runs.

python bench/startup.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def archon_command() -> list[str]:
    """The installed ``archon`` entry point next to this interpreter, else ``python -m archon_cli``."""
    script = Path(sys.executable).with_name("archon")
    return [str(script)] if script.exists() else [sys.executable, "-m", "archon_cli"]


def time_once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def baseline() -> float:
    """The interpreter alone (``python -c pass``): the floor no CLI can go under."""
    return time_once([sys.executable, "-c", "pass"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=9)
    p.add_argument("--json", action="store_true", help="print one JSON line")
    args = p.parse_args(argv)
    command = [*archon_command(), "--help"]
    time_once(command)  # warm the file cache: the figure is a warm start
    runs = [time_once(command) for _ in range(args.runs)]
    floor = statistics.median(baseline() for _ in range(args.runs))
    result = {
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command)),
        "median_s": statistics.median(runs),
        "min_s": min(runs),
        "runs": runs,
        "python_floor_s": floor,
        "load": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"archon --help: median {result['median_s']:.3f} s, min {result['min_s']:.3f} s over {args.runs} runs "
            f"(python -c pass: {floor:.3f} s; load {result['load']:.2f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
