"""``make bench``: run every figure's script, print the table and write it to bench/RESULTS.md.

Each figure runs in its own process (``python bench/<script>.py ... --json``); the table gives the
command that reproduces it and the 1-minute load average around it, since timings on a shared
2-core machine move with the load (ratios are measured within one run for that reason).

    python bench/run_all.py                 # everything (about 10-15 minutes on 2 cores)
    python bench/run_all.py --only embedded    # re-measure one figure; the other rows are kept
    python bench/run_all.py --skip demo        # without the demo search (the longest figure)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, load_average, machine
from search_reuse import stage_text

RESULTS = ROOT / "bench" / "RESULTS.md"


@dataclass
class Row:
    figure: str
    value: str
    target: str
    met: bool | None  # None: not measured
    command: str
    load: str
    note: str = ""
    seconds: float = 0.0


@dataclass
class Figure:
    name: str
    prefix: str  # how its rows in the table begin (to replace them when only some figures are re-run)
    args: list[str]
    rows: Callable[[dict[str, Any], str, str], list[Row]]

    @property
    def command(self) -> str:
        return "python bench/" + " ".join(self.args)


def _concurrency(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    rows = []
    for row in r["rows"]:
        main = row["questions"] == 64
        rows.append(
            Row(
                f"1. concurrency overhead, {row['questions']} questions ({row['calls']} calls, "
                f"{row.get('requests', row['calls'])} requests)",
                f"{row['median']:.3f} s = {row['ratio']:.2f}x ideal ({r['ideal_s']:.1f} s); "
                f"client CPU {row.get('cpu_ms_per_request', row['cpu_ms_per_call']):.1f} ms/request",
                "<= 2x" if main else "(reported)",
                row["ratio"] <= 2.0 if main else None,
                cmd,
                load,
            )
        )
    extra = r.get("extra_32_over_1")
    if extra is not None:
        rows.append(
            Row(
                "1. concurrency overhead, 32 questions minus 1 question (same run)",
                f"+{extra['median']:.3f} s (per repeat: {', '.join(f'{d:+.3f}' for d in extra['per_repeat'])})",
                "<= 0.4 s",
                extra["median"] <= 0.4,
                cmd,
                load,
            )
        )
    return rows


def _reuse(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    out = []
    for row in r["rows"]:
        out.append(
            Row(
                f"2. search reuse, {row['search']} ({row['command']})",
                f"{row['real_calls']}/{row['nominal_calls']} = {row['ratio']:.3f} ({stage_text(row['stages'])}); "
                f"{row.get('real_requests', '?')} requests",
                "<= 0.35",
                row["ratio"] <= 0.35,
                cmd,
                load,
            )
        )
    return out


def _efficiency(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    m, fewer, top = r["median"], r["fewer_than"], r["top"]
    tm = top["median"]
    synthetic = r["source"] == "synthetic"
    return [
        Row(
            f"3. search efficiency, {r['source']} table ({r['architectures']} architectures, {r['seeds']} seeds)",
            f"median trials to the best ({r['best_points']} tie): gp {m['gp']:g}, random {m['random']:g}, greedy "
            f"{m['greedy']:g}: gp/random {r['gp_over_random']:.2f}; gp needs {_fewer(fewer['greedy'])} than greedy, "
            f"{_fewer(fewer['random'])} than random (paper: 88.5% and 90.4% fewer). To the top "
            f"{top['fraction']:.0%} ({top['points']} architectures): gp {tm['gp']:g}, random {tm['random']:g}, "
            f"greedy {tm['greedy']:g}" + _noise(r) + _fidelity(r),
            "gp <= 0.5x random",
            None if synthetic else r["gp_over_random"] <= 0.5,
            cmd,
            load,
            "synthetic table: a check of the script, not a result" if synthetic else "",
        )
    ]


def _noise(r: dict[str, Any]) -> str:
    n = r.get("noise") or {}
    if not n:
        return ""
    return (
        f". Scores {n['worst']:.3f}-{n['best']:.3f} on {n['questions']:.0f} questions (one score's 95% interval "
        f"+-{n['half_width']:.3f}); best - median {n['best_minus_median']:+.3f}, paired 95% CI "
        f"{n['ci_low']:+.3f} to {n['ci_high']:+.3f}"
    )


def _fidelity(r: dict[str, Any]) -> str:
    f = r.get("multi_fidelity") or {}
    if not f:
        return ""
    m = f["median"]
    return (
        f". Multi-fidelity (rungs {'/'.join(map(str, f['rungs']))}), full evaluations until the best is measured "
        f"on every question: gp {m['gp']:.1f}, random {m['random']:.1f}"
    )


def _fewer(share: float) -> str:
    return f"{share:.0%} fewer trials" if share >= 0 else f"{-share:.0%} more trials"


def _task(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    rows = f"{r['rows']:,}-row JSONL task ({r['file_mb']} MB)"
    return [
        Row(
            f"9. task, load and split a {rows}",
            f"median {r['load_s']:.2f} s (runs {', '.join(f'{x:.2f}' for x in r['load_runs_s'])}), "
            f"+{r['extra_mb']:.0f} MB; dev {r['dev']:,}, test {r['test']:,}",
            "< 3 s, <= 300 MB",
            r["load_s"] < 3 and r["extra_mb"] <= 300,
            cmd,
            load,
        ),
        Row(
            f"9. task, `archon check` on the {rows}",
            f"median {r['check_s']:.2f} s (runs {', '.join(f'{x:.2f}' for x in r['check_runs_s'])})",
            "< 3 s",
            r["check_s"] < 3,
            cmd,
            load,
        ),
    ]


def _startup(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    return [
        Row(
            "4. startup, `archon --help`",
            f"median {r['median_s']:.3f} s (min {r['min_s']:.3f} s; bare python {r['python_floor_s']:.3f} s)",
            "< 0.5 s",
            r["median_s"] < 0.5,
            cmd,
            load,
        )
    ]


def _embedded(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    return [
        Row(
            "5. embedded model, engine / direct llama-cpp-python tokens/s",
            f"{r['engine_tokens_per_s']:.1f} / {r['direct_tokens_per_s']:.1f} tok/s; median of round ratios "
            f"{r['ratio']:.2f} ({', '.join(f'{x:.2f}' for x in r['round_ratios'])})",
            ">= 0.9",
            r["ratio"] >= 0.9,
            cmd,
            load,
        )
    ]


def _memory(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    rows = r["rows"]
    peaks = [row["peak_rss_mb"] for row in rows]
    growth = peaks[-1] - peaks[0]
    return [
        Row(
            f"6. memory, peak RSS of `archon run --input`, {row['questions']:,} questions",
            f"{row['peak_rss_mb']:.0f} MB"
            + (f" (+{growth:.0f} MB over {rows[0]['questions']:,})" if i and i == len(rows) - 1 else ""),
            "< 400 MB, flat",
            row["peak_rss_mb"] < 400 and (i == 0 or growth < 0.1 * peaks[0]),
            cmd,
            load,
        )
        for i, row in enumerate(rows)
    ]


def _scale_row(row: dict[str, Any], label: str, target: str, met: bool | None, cmd: str, load: str) -> Row:
    """One worker count's row of figure 7: its wall time, ratio, scores and requests."""
    return Row(
        label,
        f"{row['wall_seconds']:.1f} s = {row['ratio']:.2f}x one worker; same per-trial scores: "
        f"{'yes' if row['same_scores'] else 'NO'}; {row['requests']} requests",
        target,
        met,
        cmd,
        load,
    )


def _scale(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    st = r["settings"]
    latency = f"{st['latency'] * 1000:.0f} ms latency"
    rows = []
    for row in r.get("small_rows", []):
        three = row["workers"] == 3
        label = (
            f"7. scale-out, small search, `--workers {row['workers']}` ({row['executor']}), {row['trials']} trials "
            f"on 8 gsm8k dev questions, budget {st['budget']}, {latency}"
        )
        met = (row["ratio"] <= 0.6 and row["same_scores"]) if three else None
        rows.append(_scale_row(row, label, "<= 0.6x" if three else "(reported)", met, cmd, load))
    for row in r["rows"]:
        three = row["workers"] == 3
        label = (
            f"7. scale-out, `--workers {row['workers']}` ({row['executor']}), {row['trials']} trials, "
            f"budget {st['budget']}, --concurrency {st['concurrency']}, {latency}"
        )
        met = (row["ratio"] < 0.45 and row["same_scores"]) if three else None
        rows.append(_scale_row(row, label, "< 0.45x" if three else "(reported)", met, cmd, load))
    gp, redis = (
        r["gp_fit"] or {"trials": 0, "median_seconds": float("nan")},
        r["redis"] or {"get_ms": "-", "set_ms": "-"},
    )
    rows.append(
        Row(
            f"7. scale-out, GP ask + tell at {gp['trials']:,} trials",
            f"{gp['median_seconds']:.1f} s",
            "(reported)",
            None,
            cmd,
            load,
        )
    )
    rows.append(
        Row(
            "7. scale-out, Redis round trip (loopback)",
            f"get {redis['get_ms']} ms, set {redis['set_ms']} ms",
            "(reported)",
            None,
            cmd,
            load,
        )
    )
    return rows


def _view(r: dict[str, Any], cmd: str, load: str) -> list[Row]:
    run, search = r["run"], r["search"]
    return [
        Row(
            f"8. HTML report, run of {r['questions']:,} questions (4 layers, loopback), first frame in chromium",
            f"{run['load_s']:.2f} s (loads {', '.join(f'{t:.2f}' for t in run['loads'])}); filter {run['filter_s']:.2f} s, "
            f"drill-down {run['drill_down_s']:.2f} s; written in {r['run_write_s']:.1f} s",
            "< 2 s",
            run["load_s"] < 2 and not run["errors"],
            cmd,
            load,
        ),
        Row(
            f"8. HTML report, run of {r['questions']:,} questions, file size",
            f"{r['run_report_mb']:.1f} MB, data gzipped ({r.get('data_json_mb', 0):.1f} MB as plain JSON; "
            f"traces.jsonl {r['traces_mb']:.1f} MB)",
            "< 25 MB",
            r["run_report_mb"] < 25,
            cmd,
            load,
        ),
        Row(
            f"8. HTML report, search of {r['trials']} trials, first frame in chromium",
            f"{search['load_s']:.2f} s (loads {', '.join(f'{t:.2f}' for t in search['loads'])}); "
            f"{r['search_report_kb']:.0f} kB, written with each trial's run report in {r['search_write_s']:.1f} s",
            "< 2 s",
            search["load_s"] < 2 and not search["errors"],
            cmd,
            load,
        ),
    ]


FIGURES = [
    Figure("startup", "4. startup", ["startup.py", "--runs", "9"], _startup),
    Figure(
        "concurrency",
        "1. concurrency",
        ["concurrency.py", "--questions", "1", "16", "32", "64", "256", "--repeats", "3"],
        _concurrency,
    ),
    Figure("efficiency", "3. search efficiency", ["search_efficiency.py", "--seeds", "20"], _efficiency),
    Figure("reuse", "2. search reuse, simulated", ["search_reuse.py", "--simulated", "--trials", "30"], _reuse),
    Figure("embedded", "5. embedded", ["embedded.py", "--prompts", "8", "--rounds", "4"], _embedded),
    Figure("memory", "6. memory", ["memory.py", "--questions", "1000", "10000"], _memory),
    Figure("scale", "7. scale-out", ["scale_out.py", "--workers", "1", "2", "3", "4"], _scale),
    # --keep: a re-run reuses the 10,000-question run (evaluated in chunks: see view_report.py).
    Figure(
        "view",
        "8. HTML report",
        ["view_report.py", "--questions", "10000", "--trials", "30", "--keep", "results/bench-view"],
        _view,
    ),
    Figure("task", "9. task", ["task_load.py", "--rows", "100000", "--runs", "3"], _task),
    # Last: the demo search on the embedded model is the longest figure (about 10-13 minutes here).
    Figure("demo", "2. search reuse, demo", ["search_reuse.py", "--demo"], _reuse),
]


def run_figure(figure: Figure) -> list[Row]:
    before = load_average()
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "bench/" + figure.args[0], *figure.args[1:], "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
    )
    load = f"{before:.1f}-{load_average():.1f}"
    seconds = time.perf_counter() - started
    if proc.returncode != 0 and figure.name == "efficiency" and proc.returncode == 2:
        # The tabular benchmark is not built yet: check the script on a synthetic table instead.
        figure = Figure(figure.name, figure.prefix, [*figure.args, "--synthetic"], figure.rows)
        return run_figure(figure)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return [Row(f"{figure.name}", "failed", "", None, figure.command, load, tail[0][:200])]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = figure.rows(result, figure.command, load)
    for row in rows:
        row.seconds = seconds
    print(f"  {figure.name}: {seconds:.0f} s", file=sys.stderr)
    return rows


def row_line(r: Row) -> str:
    mark = {True: "yes", False: "**no**", None: "-"}
    value = r.value + (f" ({r.note})" if r.note else "")
    return f"| {r.figure} | {value} | {r.target} | {mark[r.met]} | {r.load} | {r.seconds:.0f} s | `{r.command}` |"


def _figure_number(line: str) -> int:
    head = line.removeprefix("| ").split(".", 1)[0]
    return int(head) if head.isdigit() else 99


def render(rows: list[Row], facts: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {facts['date']} on {facts['cpu']}, {facts['cores']} cores, Python {facts['python']}; "
        f"load average at the start {facts['load']} (1, 5, 15 min). Produced by `make bench` "
        "(`python bench/run_all.py`); each figure's command reproduces it alone. The load column is the "
        "1-minute load average before-after the figure: above ~3 on this 2-core machine other work shares "
        "the CPU, so timings are inflated; ratios are measured within one run.",
        "",
        "| figure | measured | target | met | load | took | command |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += sorted((row_line(r) for r in rows), key=_figure_number)  # stable: sizes stay in order
    lines += ["", f"All figures together took {facts['total_s'] / 60:.1f} minutes."]
    return "\n".join(lines) + "\n"


def merge(old_table: str, rows: list[Row], rerun: list[Figure], facts: dict[str, Any]) -> str:
    """``old_table`` with the rows of the ``rerun`` figures replaced by ``rows``, and a line saying
    when they were measured again (a figure re-run because the load was high during ``make bench``)."""
    prefixes = tuple("| " + f.prefix for f in rerun)
    lines = old_table.rstrip("\n").split("\n")
    table = [i for i, line in enumerate(lines) if line.startswith("| ") and _figure_number(line) < 99]
    if not table:
        return render(rows, facts)
    kept = [lines[i] for i in table if not lines[i].startswith(prefixes)]
    body = sorted(kept + [row_line(r) for r in rows], key=_figure_number)
    names = ", ".join(f.prefix for f in rerun)
    note = f"Re-measured {facts['date']} (load average at the start {facts['load']}): {names}."
    return "\n".join([*lines[: table[0]], *body, *lines[table[-1] + 1 :], note]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [f.name for f in FIGURES]
    p.add_argument("--only", nargs="+", choices=names, help="run only these figures")
    p.add_argument("--skip", nargs="+", choices=names, default=[], help="leave these figures out")
    p.add_argument("--out", type=Path, default=RESULTS, help="where the table goes (with the notes kept below it)")
    args = p.parse_args(argv)
    facts = machine()
    started = time.perf_counter()
    rows: list[Row] = []
    chosen = [f for f in FIGURES if (not args.only or f.name in args.only) and f.name not in args.skip]
    for figure in chosen:
        print(f"running {figure.command}", file=sys.stderr)
        rows.extend(run_figure(figure))
    facts["total_s"] = time.perf_counter() - started
    old_table, notes = "", ""
    if args.out.exists():  # keep the hand-written analysis below the generated table
        old = args.out.read_text(encoding="utf-8")
        marker = "\n## Notes"
        old_table, notes = (old[: old.index(marker)], old[old.index(marker) :]) if marker in old else (old, "")
    partial = len(chosen) < len(FIGURES)
    table = merge(old_table, rows, chosen, facts) if partial and old_table else render(rows, facts)
    print(table)
    args.out.write_text(table + notes, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
