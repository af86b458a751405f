"""Figure 8: the HTML report at scale, measured in headless chromium.

A run of ``--questions`` distinct arithmetic questions (10,000) through the 4-layer architecture
(3 generator samples -> critic -> ranker top 2 -> fuser) on the loopback fault server, traces on,
and a search of ``--trials`` trials (30) on the same server; then ``archon view``'s report of each:
the file's size, the seconds to write it, and the time chromium takes from navigation to the
first frame with the question table drawn (median of ``--loads``). Also the time a filter and a
drill-down take in the 10,000-question page.

    python bench/view_report.py --questions 10000 --trials 30
    python bench/view_report.py --questions 10000 --trials 30 --json   # for run_all.py

The evaluation of 10,000 questions takes several minutes on 2 busy cores; it resumes, so it can be
done in chunks first, each its own command, and the figure then measured on the finished folder:

    for n in 3500 7000 10000; do python bench/view_report.py --questions $n --eval-only --keep results/bench-view; done
    python bench/view_report.py --questions 10000 --trials 30 --keep results/bench-view
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, ROOT, fault_server, load_average

from archon_cli.benchmarks.base import Question
from archon_cli.benchmarks.tiny_arith import INSTRUCTION, TinyArith
from archon_cli.config.architecture import Architecture
from archon_cli.evaluation.run_folder import RunPlan, evaluate_into_folder, load_result
from archon_cli.llm.gateway import LLMGateway
from archon_cli.report.view import run_data, write_run_report, write_search_report

BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
FIRST_FRAME = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def architecture(api_base: str) -> Architecture:
    llm = {"model": "openai/fake-model", "api_base": api_base, "max_tokens": 16}
    return Architecture.model_validate(
        {
            "name": "bench-four-layer",
            "layers": [
                [{"type": "generator", "samples": 3, **llm}],
                [{"type": "critic", **llm, "max_tokens": 64}],
                [{"type": "ranker", "top_k": 2, **llm}],
                [{"type": "fuser", **llm}],
            ],
        }
    )


def questions(n: int) -> list[Question]:
    """``n`` distinct questions in tiny-arith's form (so tiny-arith scores them)."""
    out = []
    for i in range(n):
        a, b = 10 + i // 10, i % 10
        q = f"What is {a} + {b}?"
        out.append(Question(id=f"q{i:05d}", turns=(q,), reference=str(a + b), category="addition", instruction=INSTRUCTION))
    return out


async def evaluate_run(folder: Path, api_base: str, n: int) -> tuple[Path, float]:
    plan = RunPlan(
        run_dir=folder / "run-10k",
        architecture=architecture(api_base),
        benchmark=TinyArith(),
        questions=questions(n),
        split="dev",
        seed=0,
    )
    started = time.perf_counter()
    await evaluate_into_folder(plan, LLMGateway(cache=None), concurrency=64)
    return plan.run_dir, time.perf_counter() - started


def search(folder: Path, api_base: str, trials: int) -> Path:
    pool = folder / "pool.yaml"
    pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {api_base}\n", encoding="utf-8")
    cmd = [
        PYTHON, "-m", "archon_cli", "search", "-b", "tiny-arith", "--budget", "12", "--pool", str(pool),
        "--algorithm", "random", "--trials", str(trials), "--limit", "30", "--test-limit", "30", "--final-k", "1",
        "--rungs", "off", "--results-dir", str(folder / "results"), "--search-id", "bench-search",
        "--no-cache", "--no-report",
    ]  # fmt: skip
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return folder / "results" / "bench-search"


def browser_times(report: Path, loads: int, interact: bool) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (scripts/ensure_chromium.sh)")
    out: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        times, errors = [], []
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.resolve().as_uri(), wait_until="domcontentloaded", timeout=60_000)
            if interact:
                page.wait_for_selector("body[data-ready]", timeout=60_000)
            times.append(page.evaluate(FIRST_FRAME) / 1000)
            if interact and not out.get("filter_s"):
                started = time.perf_counter()
                page.click("button[data-filter=wrong]")
                page.evaluate(FIRST_FRAME)
                out["filter_s"] = time.perf_counter() - started
                started = time.perf_counter()
                page.click("#rows tbody tr")
                page.wait_for_selector("#detail .layer")
                page.evaluate(FIRST_FRAME)
                out["drill_down_s"] = time.perf_counter() - started
            page.close()
        browser.close()
    out.update(load_s=statistics.median(times), loads=[round(t, 3) for t in times], errors=errors)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the run and search folders here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--eval-only",
        action="store_true",
        help="only evaluate and search (into --keep, resuming): a long run in chunks, each its own command",
    )
    args = parser.parse_args(argv)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="archon-view-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    with fault_server(0.0) as api_base:
        run_dir, eval_s = asyncio.run(evaluate_run(folder, api_base, args.questions))
        search_dir = folder / "results" / "bench-search"
        if not (search_dir / "best.yaml").is_file():
            search_dir = search(folder, api_base, args.trials)
        if args.eval_only:
            print(f"evaluated into {run_dir} in {eval_s:.0f} s; search in {search_dir}")
            return 0
    started = time.perf_counter()
    (run,) = load_result(run_dir)
    run_report = write_run_report(run)
    run_write_s = time.perf_counter() - started
    started = time.perf_counter()
    search_report = write_search_report(search_dir)
    search_write_s = time.perf_counter() - started
    trials = sum(1 for line in (search_dir / "trials.jsonl").read_text().splitlines() if '"stage": "search"' in line)
    result = {
        "questions": len(run.records),
        "eval_seconds_last_chunk": round(eval_s, 1),
        "run_report_mb": run_report.stat().st_size / 1e6,
        "traces_mb": (run_dir / "traces.jsonl").stat().st_size / 1e6,
        # The page's data before it is gzipped: what the file would weigh with plain inline JSON.
        "data_json_mb": len(json.dumps(run_data(run), ensure_ascii=False, separators=(",", ":")).encode()) / 1e6,
        "run_write_s": run_write_s,
        "run": browser_times(run_report, args.loads, interact=True),
        "trials": trials,
        "search_report_kb": search_report.stat().st_size / 1e3,
        "search_write_s": search_write_s,
        "search": browser_times(search_report, args.loads, interact=False),
        "load": f"{load_before:.1f}-{load_average():.1f}",
    }
    if args.json:
        print(json.dumps(result))
    else:
        r, s = result["run"], result["search"]
        print(
            f"run report, {result['questions']:,} questions: {result['run_report_mb']:.1f} MB "
            f"(its data {result['data_json_mb']:.1f} MB as plain JSON; traces.jsonl {result['traces_mb']:.1f} MB), written in {run_write_s:.1f} s, "
            f"first frame in chromium {r['load_s']:.2f} s (loads {r['loads']}), filter {r['filter_s']:.2f} s, "
            f"drill-down {r['drill_down_s']:.2f} s"
        )
        print(
            f"search report, {trials} trials: {result['search_report_kb']:.0f} kB, written in {search_write_s:.1f} s "
            f"(with each trial's run report), first frame {s['load_s']:.2f} s (loads {s['loads']})"
        )
        print(f"last evaluation chunk took {eval_s:.0f} s; load {result['load']}; folders in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
