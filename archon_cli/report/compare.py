"""What `archon compare` does: load result folders (eval runs, search trials), evaluate architecture
files first if asked, then build the table rows, the paired comparisons, the plots and the report.

A run is compared on the questions it has: records are read from questions.jsonl (the last
record per id wins) and summarised again, so an incomplete run is usable and the table agrees
with the paired comparison. Errored questions score 0, as in `archon eval`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archon_cli.errors import UserError
from archon_cli.evaluation.summary import summarize
from archon_cli.records import JsonlLog
from archon_cli.report.stats import paired_bootstrap, pareto_front, points_factor, verdict

if TYPE_CHECKING:
    from rich.console import Console

    from archon_cli.settings import EngineSettings

ARCHITECTURE_SUFFIXES = (".yaml", ".yml", ".json")
BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 10000
# Every pair is compared when a group has at most this many runs; above it, the best against each other.
ALL_PAIRS_MAX = 4


@dataclass(frozen=True)
class CompareOptions:
    """Options of `archon compare`; the evaluation ones apply only to architecture files."""

    benchmark: str | None = None
    split: str = "dev"
    limit: int | None = None
    seed: int = 0
    judge: str | None = None
    data_dir: Path | None = None
    results_dir: Path = Path("results")
    out: Path | None = None
    allow_mixed: bool = False
    json_out: bool = False
    markdown: bool = False


@dataclass
class RunResult:
    """One evaluated run: its run.json, its final record per question, and their summary."""

    path: Path
    kind: str  # "eval", "trial" (a search's dev trial) or "final" (a search's test evaluation)
    info: dict[str, Any]
    records: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    expected: int
    complete: bool
    search: str | None = None
    label: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def benchmark(self) -> str:
        return str(self.info.get("benchmark"))

    @property
    def split(self) -> str:
        return str(self.info.get("split") or "?")

    @property
    def metric(self) -> str:
        return str(self.info.get("metric") or "score")

    @property
    def scale(self) -> float:
        return float(self.info.get("scale") or 1.0)

    @property
    def architecture(self) -> str:
        return str(self.info.get("architecture") or self.path.name)

    @property
    def group(self) -> tuple[str, str]:
        return (self.benchmark, self.split)

    def score_of(self, question_id: str) -> float:
        """A question's score; errors and missing scores count as 0, as in the run's own summary."""
        record = self.records[question_id]
        if record.get("error") or record.get("score") is None:
            return 0.0
        return float(record["score"])


# -- loading ------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def load_run(path: Path, info: dict[str, Any], kind: str = "eval", search: str | None = None) -> RunResult:
    """Read one run folder (an eval run or a search trial: run.json, questions.jsonl, summary.json)."""
    if not info.get("benchmark"):
        raise UserError(f"{path / 'run.json'}: names no benchmark; is this a folder made by `archon eval`?")
    question_ids = [str(q) for q in info.get("question_ids") or []]
    latest: dict[str, dict[str, Any]] = {}
    for record in JsonlLog(path / "questions.jsonl").read():
        if "id" in record:
            latest[str(record["id"])] = record
    if question_ids:
        wanted = set(question_ids)
        latest = {k: v for k, v in latest.items() if k in wanted}
    saved = _read_json(path / "summary.json") if (path / "summary.json").exists() else None
    expected = len(question_ids) or len(latest)
    complete = saved is not None and saved.get("complete") is not False and len(latest) >= expected
    return RunResult(
        path=path,
        kind=kind,
        info=info,
        records=latest,
        summary=summarize(list(latest.values())),
        expected=expected,
        complete=complete,
        search=search,
    )


def _run_folders(parent: Path) -> list[Path]:
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if p.is_dir() and (p / "run.json").exists())


def _expand_search(path: Path) -> list[RunResult]:
    """A search's test evaluations (final/) if it has them, else its dev trials (trials/)."""
    finals = _run_folders(path / "final")
    folders, kind = (finals, "final") if finals else (_run_folders(path / "trials"), "trial")
    runs = [load_run(p, _read_json(p / "run.json"), kind, search=path.name) for p in folders]
    evaluated = [r for r in runs if r.records]
    if not evaluated:
        raise UserError(f"{path}: the search has no evaluated trials yet (nothing under trials/ or final/)")
    return evaluated


def load_result(path: Path) -> list[RunResult]:
    """The runs in a result folder: one for an eval run, its evaluated trials for a search."""
    if path.name in ("run.json", "search.json") and path.is_file():
        path = path.parent
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise UserError(f"{path} is not a result folder (nor an architecture file: .yaml, .yml or .json)")
    for name in ("run.json", "search.json"):
        if (path / name).exists():
            info = _read_json(path / name)
            break
    else:
        raise UserError(
            f"{path} is not a result folder (no run.json or search.json): "
            "give folders made by `archon eval` or `archon search`"
        )
    if info.get("kind") == "search":
        return _expand_search(path)
    return [load_run(path, info)]


def is_architecture_file(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in ARCHITECTURE_SUFFIXES and path.name not in ("run.json", "search.json")
    )


def check_mixed(groups: list[tuple[str, str, str]], allow_mixed: bool) -> None:
    """Refuse runs of different benchmarks or splits (their scores do not compare) unless allowed.
    ``groups`` holds (name, benchmark, split) per run."""
    by_group: dict[tuple[str, str], list[str]] = {}
    for name, benchmark, split in groups:
        by_group.setdefault((benchmark, split), []).append(name)
    if len(by_group) <= 1 or allow_mixed:
        return
    what = "benchmarks" if len({b for b, _ in by_group}) > 1 else "splits"
    parts = []
    for (benchmark, split), names in by_group.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        parts.append(f"{benchmark} ({split}): {shown}")
    raise UserError(
        f"the runs are on different {what}, so their scores do not compare ({'; '.join(parts)}); "
        "compare one benchmark and split at a time, or pass --allow-mixed"
    )


def assign_labels(runs: list[RunResult]) -> None:
    """Short unique names: the architecture name, else the folder name, else more of the path."""

    def candidates(run: RunResult) -> list[str]:
        parent = run.search or run.path.parent.name
        return [run.architecture, run.path.name, f"{parent}/{run.path.name}", str(run.path)]

    levels = [0] * len(runs)
    for _ in range(4):
        labels = [candidates(r)[lvl] for r, lvl in zip(runs, levels, strict=True)]
        counts = Counter(labels)
        clashing = [i for i, label in enumerate(labels) if counts[label] > 1 and levels[i] < 3]
        if not clashing:
            break
        for i in clashing:
            levels[i] += 1
    seen: Counter[str] = Counter()
    for run, lvl in zip(runs, levels, strict=True):
        label = candidates(run)[lvl]
        seen[label] += 1
        run.label = label if seen[label] == 1 else f"{label}#{seen[label]}"


# -- evaluating architecture files ---------------------------------------------------------------


def evaluate_architecture(path: Path, options: CompareOptions, settings: EngineSettings, console: Console) -> Path:
    """Evaluate an architecture file the way `archon eval` would (same run id, so it resumes)."""
    from archon_cli.benchmarks import get_benchmark
    from archon_cli.config.architecture import load_architecture
    from archon_cli.evaluation.command import EvalOptions, default_run_id, resolve_data_dir, run_eval
    from archon_cli.evaluation.judge import DEFAULT_JUDGE

    assert options.benchmark is not None
    eval_options = EvalOptions(
        options.benchmark,
        options.split,
        options.limit,
        options.seed,
        options.judge,
        options.data_dir,
        options.results_dir,
    )
    architecture, _ = load_architecture(path)
    benchmark = get_benchmark(options.benchmark, resolve_data_dir(options.data_dir))
    judge_model = (options.judge or DEFAULT_JUDGE) if benchmark.needs_judge else None
    run_id = default_run_id(architecture, eval_options, judge_model)
    code = run_eval(path, replace(eval_options, run_id=run_id), settings, console, json_out=False)
    if code != 0:
        console.print(f"[yellow]warning:[/] evaluating {path} ended with exit code {code}", highlight=False)
    return options.results_dir / run_id


# -- table, comparisons ---------------------------------------------------------------------------


def rank_runs(runs: list[RunResult]) -> list[RunResult]:
    """Grouped by benchmark and split (in first-seen order), then by score (best first), then fewer calls."""
    order = {g: i for i, g in reversed(list(enumerate(r.group for r in runs)))}

    def key(run: RunResult) -> tuple[int, int, float, float]:
        score = run.summary["score"]
        return (order[run.group], score is None, -(score or 0.0), run.summary["calls_per_query"])

    return sorted(runs, key=key)


def table_rows(ranked: list[RunResult]) -> list[dict[str, Any]]:
    """One row per run, in ranked order, with the best of each group and the score/calls Pareto front marked."""
    rows = []
    fronts: dict[tuple[str, str], set[int]] = {}
    for group in dict.fromkeys(r.group for r in ranked):
        members = [i for i, r in enumerate(ranked) if r.group == group]
        points = [(ranked[i].summary["calls_per_query"], ranked[i].summary["score"]) for i in members]
        fronts[group] = {members[j] for j in pareto_front(points)}
    best_seen: set[tuple[str, str]] = set()
    for i, run in enumerate(ranked):
        s = run.summary
        best = run.group not in best_seen and s["score"] is not None
        if best:
            best_seen.add(run.group)
        rows.append(
            {
                "label": run.label,
                "path": str(run.path),
                "kind": run.kind,
                "architecture": run.architecture,
                "run_id": run.info.get("run_id") or run.path.name,
                "search": run.search,
                "benchmark": run.benchmark,
                "split": run.split,
                "metric": run.metric,
                "scale": run.scale,
                "questions": len(run.records),
                "expected": run.expected,
                "complete": run.complete,
                "score": s["score"],
                "ci95": s["ci95"],
                "calls_per_query": s["calls_per_query"],
                "tokens_per_query": s["tokens_per_query"],
                "cost_per_query": s["cost_per_query"],
                "latency_p50": s["latency_p50"],
                "latency_p95": s["latency_p95"],
                "errors": s["errors"],
                "per_category": s["per_category"],
                "best": best,
                "pareto": i in fronts[run.group],
            }
        )
    return rows


def compare_pair(a: RunResult, b: RunResult, resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """Paired bootstrap of A - B on the questions both runs have, with its verdict."""
    shared = sorted(set(a.records) & set(b.records))
    base: dict[str, Any] = {"a": a.label, "b": b.label, "shared_questions": len(shared)}
    if not shared:
        return {
            **base,
            "diff": None,
            "ci95": None,
            "points": None,
            "points_ci95": None,
            "significant": False,
            "winner": None,
            "verdict": f"{a.label} and {b.label} share no questions",
        }
    result = paired_bootstrap(
        [a.score_of(q) for q in shared], [b.score_of(q) for q in shared], resamples=resamples, seed=BOOTSTRAP_SEED
    )
    f = points_factor(a.scale)
    winner = None
    if result.significant:
        winner = a.label if result.diff > 0 else b.label
    return {
        **base,
        "diff": result.diff,
        "ci95": [result.low, result.high],
        "points": result.diff * f,
        "points_ci95": [result.low * f, result.high * f],
        "significant": result.significant,
        "winner": winner,
        "verdict": verdict(a.label, b.label, result, a.scale),
    }


def comparisons(ranked: list[RunResult], resamples: int = BOOTSTRAP_RESAMPLES) -> list[dict[str, Any]]:
    """Every pair when a group has 2-4 runs; otherwise the best against each other run. Never across groups."""
    out: list[dict[str, Any]] = []
    for group in dict.fromkeys(r.group for r in ranked):
        members = [r for r in ranked if r.group == group]
        if len(members) <= ALL_PAIRS_MAX:
            pairs = list(combinations(members, 2))
        else:
            pairs = [(members[0], other) for other in members[1:]]
        out.extend(compare_pair(a, b, resamples) for a, b in pairs)
    return out


def compare_id(runs: list[RunResult]) -> str:
    """Derived from the run names (order does not matter), with a digest of their paths."""
    digest = hashlib.sha256("\n".join(sorted(str(r.path.resolve()) for r in runs)).encode()).hexdigest()[:6]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", "-vs-".join(sorted(r.label for r in runs)))
    if len(slug) > 60:
        slug = f"{len(runs)}-runs"
    return f"{slug}-{digest}"


# -- formatting -------------------------------------------------------------------------------------

TABLE_HEADER = ["", "run", "score [95% CI]", "questions", "calls/q", "tokens/q", "cost/q", "p50", "p95", "errors"]


def _num(value: float | None, spec: str, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{spec}}{suffix}"


def format_row(row: dict[str, Any]) -> list[str]:
    """The table cells of one row (shared by the terminal table and the Markdown report)."""
    ci = row["ci95"] or [None, None]
    digits = ".3f" if row["scale"] <= 1 else ".2f"
    score = _num(row["score"], digits)
    if row["score"] is not None:
        score += f" [{_num(ci[0], digits)}-{_num(ci[1], digits)}]"
    questions = str(row["questions"]) if row["complete"] else f"{row['questions']}/{row['expected']} (incomplete)"
    marks = " ".join(m for m, on in (("★ best", row["best"]), ("◆", row["pareto"] and not row["best"])) if on)
    return [
        marks,
        row["label"],
        score,
        questions,
        _num(row["calls_per_query"], ".2f"),
        _num(row["tokens_per_query"], ".0f"),
        "$" + _num(row["cost_per_query"], ".4g"),
        _num(row["latency_p50"], ".2f", "s"),
        _num(row["latency_p95"], ".2f", "s"),
        str(row["errors"]),
    ]


def table_title(rows: list[dict[str, Any]]) -> str:
    groups = dict.fromkeys((r["benchmark"], r["split"], r["metric"]) for r in rows)
    if len(groups) == 1:
        benchmark, split, metric = next(iter(groups))
        return f"{benchmark} ({split}), {metric}: {len(rows)} runs"
    return f"{len(rows)} runs on {len(groups)} benchmark/split groups (--allow-mixed)"


def _clean(value: Any) -> Any:
    """JSON has no NaN: replace it with null, recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


# -- the command ------------------------------------------------------------------------------------


def run_compare(
    inputs: list[Path], options: CompareOptions, settings: EngineSettings, out: Console, err: Console
) -> int:
    """Load (or evaluate) the runs, print the table and comparisons, write plots (and report.md)."""
    from archon_cli.report import markdown, plots

    if not inputs:
        raise UserError("give at least one result folder or architecture file")
    folders: list[Path] = []
    architectures: list[Path] = []
    for path in dict.fromkeys(inputs):
        if is_architecture_file(path):
            architectures.append(path)
        else:
            folders.append(path)
    if architectures and not options.benchmark:
        raise UserError(f"{architectures[0]} is an architecture file: pass --benchmark NAME to evaluate it first")

    runs = [run for folder in folders for run in load_result(folder)]
    pending = [(str(p), str(options.benchmark), options.split) for p in architectures]
    check_mixed([(r.architecture, r.benchmark, r.split) for r in runs] + pending, options.allow_mixed)
    for path in architectures:
        runs.extend(load_result(evaluate_architecture(path, options, settings, err)))

    unique: dict[Path, RunResult] = {}
    for run in runs:
        unique.setdefault(run.path.resolve(), run)
    runs = list(unique.values())
    warnings: list[str] = []
    for run in runs:
        if not run.records:
            warnings.append(f"{run.path} has no finished questions yet ({run.expected} planned); left out")
        elif not run.complete:
            warnings.append(
                f"{run.path} is incomplete: {len(run.records)} of {run.expected} questions; compared on those"
            )
    runs = [r for r in runs if r.records]
    for warning in warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if not runs:
        raise UserError("nothing to compare: no run has finished questions")

    assign_labels(runs)
    ranked = rank_runs(runs)
    rows = table_rows(ranked)
    pairs = comparisons(ranked)
    out_dir = options.out or options.results_dir / f"compare-{compare_id(ranked)}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out_dir}: {exc.strerror}") from None
    plot_paths = plots.make_plots(rows, out_dir)
    title = table_title(rows)
    report_path = None
    if options.markdown:
        report_path = markdown.write_report(
            out_dir / "report.md", title, TABLE_HEADER, [format_row(r) for r in rows], pairs, plot_paths, warnings
        )

    if options.json_out:
        data = {
            "compare_dir": str(out_dir),
            "runs": rows,
            "comparisons": pairs,
            "plots": [str(p) for p in plot_paths],
            "report": str(report_path) if report_path else None,
            "warnings": warnings,
        }
        print(json.dumps(_clean(data), indent=2))
        return 0
    _print_text(rows, pairs, plot_paths, report_path, title, out)
    return 0


def _print_text(
    rows: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    plot_paths: list[Path],
    report_path: Path | None,
    title: str,
    out: Console,
) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), caption="★ best (highest score)   ◆ on the score/calls Pareto front")
    for i, name in enumerate(TABLE_HEADER):
        table.add_column(name, justify="left" if i < 2 else "right", no_wrap=i == 1)
    for row in rows:
        cells = format_row(row)
        table.add_row(*(escape(c) for c in cells), style="bold" if row["best"] else None)
    out.print(table)
    if pairs:
        out.print("paired comparisons on shared questions (95% bootstrap CI):")
        for pair in pairs:
            out.print(f"  {escape(pair['verdict'])}  [dim](n={pair['shared_questions']})[/]", highlight=False)
    for path in plot_paths:
        out.print(f"plot: {path}", highlight=False, soft_wrap=True)
    if report_path:
        out.print(f"report: {report_path}", highlight=False, soft_wrap=True)
