"""The HTML report (``archon view``): one self-contained file per run, search or comparison.

Scripts, styles and data are inline, nothing is fetched, so the file opens from disk and can be
mailed. The figures that do not change (summary, charts, leaderboard) are HTML and SVG written
here; the question table and a question's drill-down are drawn in the page by ``view.js`` from one
inline JSON object (rows drawn a page at a time, so 10,000 questions stay fast).

    run         summary with CI, per category, calls/tokens/cost/latency; the questions (filters:
                correct, wrong, errors, text); a question: its prompt, every layer's components
                with the candidates they received and what they decided, the answer, the score
    search      leaderboard, score by trial, score against calls per query (Pareto front), rungs,
                the baseline and its verdict; each trial links to its own run report
    comparison  the runs side by side, paired differences with CI, a "different" filter with both
                answers and both traces
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from archon_cli.engine.trace import is_trace
from archon_cli.errors import UserError
from archon_cli.evaluation.run_folder import TRACES, RunResult, load_result
from archon_cli.evaluation.search_layout import SEARCH_INFO
from archon_cli.records import JsonlLog
from archon_cli.report.compare import Comparison, check_mixed, compare_runs
from archon_cli.report.stats import pareto_front, points_factor
from archon_cli.report.svg import Point, bars, scatter

REPORT = "report.html"
_ASSETS = Path(__file__).with_name("view_assets")
ANSWER_SNIPPET = 160
COMPRESS_FROM = 1_000_000  # bytes of JSON from which the page's data is gzipped


# -- reading ------------------------------------------------------------------------------------


def read_traces(run_dir: Path, ids: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """The latest well-formed trace of each question in ``run_dir`` (damaged lines skipped)."""
    traces: dict[str, dict[str, Any]] = {}
    for record in JsonlLog(run_dir / TRACES).read():
        if is_trace(record) and (ids is None or record["id"] in ids):
            traces[record["id"]] = record
    return traces


def _num(value: Any, spec: str = ".4f", empty: str = "–") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return empty
    return format(value, spec)


def pass_mark(scale: float) -> float:
    """A question counts as correct when it scores at least half the scale (1 of 1 for accuracy)."""
    return 0.5 * scale if scale > 1 else 0.5


def _verdict(record: dict[str, Any], mark: float) -> str:
    if record.get("error"):
        return "error"
    if record.get("score") is None:
        return "unscored"
    return "correct" if float(record["score"]) >= mark else "wrong"


# -- pieces of HTML -----------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    """Rows of cells already escaped (they may hold links)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figures(pairs: Sequence[tuple[str, str]]) -> str:
    return '<dl class="figures">' + "".join(f"<div><dt>{escape(k)}</dt><dd>{v}</dd></div>" for k, v in pairs) + "</dl>"


def _run_summary(run: RunResult) -> str:
    s = run.summary
    ci = s.get("ci95") or [None, None]
    records = list(run.records.values())
    latencies = [float(r.get("latency") or 0.0) for r in records]
    score = f"<b>{_num(s['score'])}</b> <span class=ci>(95% CI {_num(ci[0])}–{_num(ci[1])})</span>"
    if not s.get("reliable", True):
        score += f' <span class="bad">UNRELIABLE: {escape(str(s.get("unreliable_reason")))}</span>'
    figures = [
        (run.metric, score),
        ("questions", f"{s['questions']} of {run.expected}" + ("" if run.complete else " (incomplete)")),
        ("answered / errors", f"{s['answered']} / {s['errors']}" + (f", {s['unscored']} unscored" if s["unscored"] else "")),
        ("calls per query", _num(s["calls_per_query"], ".2f")),
        ("tokens per query", _num(s["tokens_per_query"], ".0f")),
        ("cost", f"${s['cost']:.4f} (${s['cost_per_query']:.6f} per query)"),
        (
            "latency per query",
            f"mean {_num(sum(latencies) / len(latencies) if latencies else None, '.2f')}s, "
            f"p50 {_num(s.get('latency_p50'), '.2f')}s, p95 {_num(s.get('latency_p95'), '.2f')}s",
        ),
        ("cache hits", str(s["cache_hits"])),
    ]
    parts = [_figures(figures)]
    cats = s.get("per_category") or {}
    if len(cats) > 1:
        items = [(f"{name} (n={c['n']})", float(c["score"] or 0.0), None, None) for name, c in cats.items()]
        parts.append(bars(items, "score per category", run.metric))
    if s.get("error_reasons"):
        parts.append(
            "<details open><summary>errors</summary><ul>"
            + "".join(f"<li>{escape(e)}</li>" for e in s["error_reasons"])
            + "</ul></details>"
        )
    return "".join(parts)


def _run_rows(run: RunResult, traces: dict[str, dict[str, Any]]) -> tuple[list[list[Any]], dict[str, Any]]:
    """The table rows (id, category, score, verdict, answer snippet, calls, tokens, latency) and each
    question's details for its drill-down."""
    mark = pass_mark(run.scale)
    rows: list[list[Any]] = []
    details: dict[str, Any] = {}
    for qid, r in run.records.items():
        answer = str(r.get("answer") or "")
        rows.append(
            [
                qid,
                str(r.get("category") or ""),
                r.get("score"),
                _verdict(r, mark),
                answer[:ANSWER_SNIPPET],
                int(r.get("calls") or 0) + int(r.get("cache_hits") or 0),
                int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0),
                round(float(r.get("latency") or 0.0), 3),
                str(r.get("error") or ""),
            ]
        )
        details[qid] = {
            "answers": r.get("answers") or ([answer] if answer else []),
            "score_details": r.get("score_details") or {},
            "error": r.get("error"),
            "trace": traces.get(qid),
        }
    return rows, details


def run_data(run: RunResult) -> dict[str, Any]:
    traces = read_traces(run.path, set(run.records))
    rows, details = _run_rows(run, traces)
    return {"kind": "run", "metric": run.metric, "rows": rows, "details": details, "traced": len(traces)}


def _page(title: str, subtitle: str, body: str, data: dict[str, Any]) -> str:
    css = (_ASSETS / "view.css").read_text(encoding="utf-8")
    js = (_ASSETS / "view.js").read_text(encoding="utf-8")
    blob, encoding = _data_blob(data)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{css}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p class=sub>{subtitle}</p></header><main>{body}</main>"
        f'<script type="application/json" id="data" data-encoding="{encoding}">{blob}</script><script>{js}</script></body></html>\n'
    )


def _data_blob(data: dict[str, Any]) -> tuple[str, str]:
    """The page's data as JSON text, or, past ``COMPRESS_FROM`` bytes, gzipped and in base64 (the
    browser's own DecompressionStream opens it: a 10,000-question run is a tenth of the size)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    raw = text.encode("utf-8")
    if len(raw) >= COMPRESS_FROM:
        return base64.b64encode(gzip.compress(raw, compresslevel=6, mtime=0)).decode("ascii"), "gzip+base64"
    # Inside <script>, "</" could end the element early: escaped, as JSON allows.
    return text.replace("</", "<\\/").replace("<!--", "<\\!--"), "json"


_QUESTIONS_SECTION = """
<section id="questions"><h2>Questions</h2>
<div class="filters" role="toolbar">
  <button data-filter="all" class="on">all</button><button data-filter="correct">correct</button>
  <button data-filter="wrong">wrong</button><button data-filter="error">errors</button>{extra}
  <input id="search" type="search" placeholder="search id, answer, error…" aria-label="search">
  <span id="count"></span>
</div>
<table id="rows"><thead></thead><tbody></tbody></table>
<div class="pager"><button id="prev">‹ prev</button><span id="page"></span><button id="next">next ›</button></div>
</section>
<section id="detail" hidden></section>
"""


def _subtitle(run: RunResult) -> str:
    return escape(
        f"{run.benchmark} ({run.split}) · {run.path} · judge {run.info.get('judge') or 'none'}"
    )


def render_run(run: RunResult) -> str:
    data = run_data(run)
    body = f'<section id="summary"><h2>Summary</h2>{_run_summary(run)}</section>' + _QUESTIONS_SECTION.format(extra="")
    if not data["traced"]:
        body = '<p class="note">This run has no traces (run with traces on to see each layer).</p>' + body
    data["pass_mark"] = pass_mark(run.scale)
    return _page(f"{run.architecture} on {run.benchmark}", _subtitle(run), body, data)


# -- comparison ---------------------------------------------------------------------------------


def compare_data(runs: list[RunResult]) -> dict[str, Any]:
    ids = list(dict.fromkeys(q for run in runs for q in run.records))
    mark = pass_mark(runs[0].scale)
    rows: list[list[Any]] = []
    for qid in ids:
        scores = [run.score_of(qid) if qid in run.records else None for run in runs]
        verdicts = [_verdict(run.records[qid], mark) if qid in run.records else "missing" for run in runs]
        answers = [str(run.records[qid].get("answer") or "")[:ANSWER_SNIPPET] if qid in run.records else "" for run in runs]
        category = next((str(run.records[qid].get("category") or "") for run in runs if qid in run.records), "")
        shared = all(qid in run.records for run in runs)
        different = shared and (len(set(scores)) > 1 or len(set(verdicts)) > 1)
        rows.append([qid, category, scores, verdicts, answers, different])
    details = []
    for run in runs:
        traces = read_traces(run.path, set(run.records))
        details.append(_run_rows(run, traces)[1])
    return {"kind": "compare", "labels": [run.label for run in runs], "rows": rows, "details": details}


def render_compare(runs: list[RunResult], comparison: Comparison | None = None) -> str:
    comparison = comparison or compare_runs(runs)
    by_label = {run.label: run for run in runs}
    ordered = [by_label[row["label"]] for row in comparison.rows]
    table = _table(
        ["run", "score (95% CI)", "questions", "calls/query", "tokens/query", "cost/query", "errors", "report"],
        [
            [
                escape(row["label"]) + (" ★" if row["best"] else ""),
                f"{_num(row['score'])} ({_num((row.get('ci95') or [None])[0])}–{_num((row.get('ci95') or [None, None])[1])})",
                str(row["questions"]),
                _num(row["calls_per_query"], ".2f"),
                _num(row["tokens_per_query"], ".0f"),
                _num(row["cost_per_query"], ".6f"),
                str(row["errors"]),
                f'<a href="{escape(_rel(Path(row["path"]) / REPORT))}">run report</a>',
            ]
            for row in comparison.rows
        ],
        "board",
    )
    pairs = comparison.pairs
    pair_html = "".join(f"<li>{escape(p['verdict'])} <span class=ci>(n={p['shared_questions']})</span></li>" for p in pairs)
    factor = points_factor(ordered[0].scale)
    items = [
        (f"{p['a']} − {p['b']}", float(p["points"]), p["points_ci95"][0], p["points_ci95"][1])
        for p in pairs
        if p.get("points") is not None
    ]
    chart = bars(items, "paired difference on shared questions (95% bootstrap CI)", "points" if factor != 1 else "score")
    body = (
        f'<section id="summary"><h2>Runs</h2>{table}<h3>Paired comparisons</h3><ul class="verdicts">{pair_html}</ul>'
        f"{chart}</section>" + _QUESTIONS_SECTION.format(extra='<button data-filter="different">different</button>')
    )
    data = compare_data(ordered)
    data["pass_mark"] = pass_mark(ordered[0].scale)
    title = f"Comparison of {len(ordered)} runs on {ordered[0].benchmark}"
    return _page(title, escape(f"{ordered[0].benchmark} ({ordered[0].split})"), body, data)


def _rel(path: Path) -> str:
    """A link to ``path`` as given (relative paths stay relative to where the report is written)."""
    return path.as_posix()


# -- search -------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return JsonlLog(path).read() if path.is_file() else []


def render_search(path: Path, info: dict[str, Any], trial_reports: dict[str, str]) -> str:
    """The search's page; ``trial_reports`` maps a run folder (as trials.jsonl names it) to the
    relative link of its run report."""
    evaluations = [r for r in _read_jsonl(path / "trials.jsonl") if isinstance(r, dict) and r.get("arch_id")]
    search_evals = [r for r in evaluations if r.get("stage") == "search"]
    # Each architecture at the highest rung it reached, as the leaderboard ranks them.
    best_of: dict[str, dict[str, Any]] = {}
    for r in search_evals:
        prev = best_of.get(r["arch_id"])
        if prev is None or (r.get("rung", 0), r.get("questions", 0)) >= (prev.get("rung", 0), prev.get("questions", 0)):
            best_of[r["arch_id"]] = r
    trials = sorted(
        best_of.values(), key=lambda t: (-int(t.get("rung") or 0), -float(t.get("objective") or 0), float(t.get("calls_per_query") or 0), int(t.get("trial") or 0))
    )
    finals = {t["arch_id"]: t for t in info.get("finals") or [] if isinstance(t, dict) and t.get("arch_id")}

    def link(record: dict[str, Any], text: str | None = None) -> str:
        href = trial_reports.get(str(record.get("run_dir") or ""))
        name = escape(text or str(record.get("arch_id")))
        return f'<a href="{escape(href)}">{name}</a>' if href else name

    def ci(record: dict[str, Any], key: str = "ci95") -> str:
        c = record.get(key) or [None, None]
        return f"{_num(c[0])}–{_num(c[1])}"

    board = _table(
        ["rank", "architecture", "dev score", "95% CI", "questions", "rung", "vs baseline (points, CI)", "test score",
         "calls/query", "tokens/query", "errors", "trial"],
        [
            [
                str(i),
                link(t),
                _num(t.get("dev_score")),
                ci(t),
                str(t.get("questions") or ""),
                str(t.get("rung") or 0),
                _versus(t.get("vs_baseline")),
                _num((finals.get(t["arch_id"]) or {}).get("test_score")),
                _num(t.get("calls_per_query"), ".2f"),
                _num(t.get("tokens_per_query"), ".0f"),
                str(t.get("errors") or 0),
                str(t.get("trial")),
            ]
            for i, t in enumerate(trials, start=1)
        ],
        "board",
    )
    by_trial = scatter(
        [
            Point(
                float(t.get("trial") or 0),
                float(t["dev_score"]),
                (t.get("ci95") or [None, None])[0],
                (t.get("ci95") or [None, None])[1],
                label=str(t["arch_id"]),
                strong=i == 0,
            )
            for i, t in enumerate(trials)
            if t.get("dev_score") is not None
        ],
        "dev score by trial (best in blue; bars: 95% CI)",
        "trial",
        "dev score",
    )
    scored = [t for t in trials if t.get("dev_score") is not None]
    front = set(pareto_front([(float(t.get("calls_per_query") or 0), float(t["dev_score"])) for t in scored]))
    pareto = scatter(
        [
            Point(float(t.get("calls_per_query") or 0), float(t["dev_score"]), label=str(t["arch_id"]), strong=i in front)
            for i, t in enumerate(scored)
        ],
        "dev score against calls per query (red: the Pareto front)",
        "calls per query",
        "dev score",
        line_through_strong=True,
    )
    rungs: dict[int, list[dict[str, Any]]] = {}
    for r in search_evals:
        rungs.setdefault(int(r.get("rung") or 0), []).append(r)
    rung_rows = [
        [
            str(rung),
            str(max(int(r.get("questions") or 0) for r in rs)),
            str(len(rs)),
            ", ".join(escape(str(r["arch_id"])) for r in sorted(rs, key=lambda r: -(r.get("dev_score") or 0))[:8])
            + (" …" if len(rs) > 8 else ""),
        ]
        for rung, rs in sorted(rungs.items())
    ]
    rung_table = _table(["rung", "questions", "architectures", "best first"], rung_rows, "rungs")
    baseline: dict[str, Any] = info["baseline"] if isinstance(info.get("baseline"), dict) else {}
    versus = info.get("versus_baseline")
    verdict = escape(str(info.get("verdict") or "no verdict yet (the search has not finished)"))
    figures = [
        ("verdict", f"<b>{verdict}</b>"),
        ("best − baseline on test (points, 95% CI)", _versus(versus)),
        ("baseline", "one greedy call of " + escape(str(baseline.get("model") or "–"))),
    ]
    for split in ("dev", "test"):
        b = baseline.get(split)
        if isinstance(b, dict):
            score = b.get("test_score") if split == "test" else b.get("dev_score")
            c = (b.get("test_ci95") if split == "test" else b.get("ci95")) or [None, None]
            figures.append((f"baseline {split} score", f"{link(b, split + ' run')}: {_num(score)} ({_num(c[0])}–{_num(c[1])})"))
    best = info.get("best") if isinstance(info.get("best"), dict) else None
    if best:
        final = finals.get(best.get("arch_id")) or best
        c = final.get("test_ci95") or [None, None]
        figures.append(("best on test", f"{link(final)}: {_num(final.get('test_score'))} ({_num(c[0])}–{_num(c[1])})"))
    base_html = _figures(figures)
    stage1 = [r for r in evaluations if r.get("stage") == "stage1"]
    stage1_table = _table(
        ["model", "dev score", "95% CI", "calls/query"],
        [[link(r), _num(r.get("dev_score")), ci(r), _num(r.get("calls_per_query"), ".2f")] for r in stage1],
        "board",
    )
    status = escape(str(info.get("status") or "?"))
    body = (
        f'<section id="baseline"><h2>Against the baseline</h2>{base_html}</section>'
        f'<section id="leaderboard"><h2>Leaderboard</h2>{board}</section>'
        f'<section id="charts"><h2>Charts</h2><div class="charts">{by_trial}{pareto}</div></section>'
        f'<section id="rungs"><h2>Rungs</h2>{rung_table}</section>'
        + (f'<section id="stage1"><h2>Stage 1: models</h2>{stage1_table}</section>' if stage1 else "")
    )
    metric = str(info.get("metric") or "score")
    subtitle = escape(f"{info.get('benchmark')} ({metric}) · {len(trials)} architectures · {len(evaluations)} evaluations · status {status} · {path}")
    return _page(f"Search {path.name}", subtitle, body, {"kind": "search"})


def _versus(v: Any) -> str:
    if not isinstance(v, dict) or v.get("difference") is None:
        return "–"
    mark = " ✔" if v.get("significant") else ""
    return f"{float(v['difference']):+.1f} ({float(v['ci_low']):+.1f} to {float(v['ci_high']):+.1f}){mark}"


# -- writing ------------------------------------------------------------------------------------


def _write(path: Path, html: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    return path


def write_run_report(run: RunResult, out: Path | None = None) -> Path:
    return _write(out or run.path / REPORT, render_run(run))


def write_search_report(path: Path, out: Path | None = None) -> Path:
    """The search's report, and a run report in each evaluation's folder (each trial links to it)."""
    info = json.loads((path / SEARCH_INFO).read_text(encoding="utf-8"))
    target = out or path / REPORT
    reports: dict[str, str] = {}
    baseline: dict[str, Any] = info["baseline"] if isinstance(info.get("baseline"), dict) else {}
    extra = [baseline.get("dev"), baseline.get("test"), *(info.get("finals") or [])]
    for record in [*_read_jsonl(path / "trials.jsonl"), *(r for r in extra if isinstance(r, dict))]:
        name = str(record.get("run_dir") or "")
        run_dir = path / name  # trials.jsonl names it inside the search folder (an absolute path stays)
        if not name or name in reports or not (run_dir / "run.json").is_file():
            continue
        for run in load_result(run_dir):
            if run.records:
                written = write_run_report(run)
                reports[name] = _relative_to(written, target.parent)
    return _write(target, render_search(path, info, reports))


def _relative_to(path: Path, base: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def write_compare_report(runs: list[RunResult], out: Path, comparison: Comparison | None = None) -> Path:
    for run in runs:
        write_run_report(run)
    html = render_compare(runs, comparison)
    # The run links are written relative to the report's folder.
    for run in runs:
        html = html.replace(
            f'href="{escape((run.path / REPORT).as_posix())}"', f'href="{escape(_relative_to(run.path / REPORT, out.parent))}"'
        )
    return _write(out, html)


def write_view(paths: list[Path], out: Path | None = None, allow_mixed: bool = False) -> Path:
    """The report for ``paths``: a run folder, a search folder, or several run folders (a comparison)."""
    if not paths:
        raise UserError("give a run folder, a search folder, or several run folders")
    if len(paths) == 1:
        path = paths[0]
        if path.name in ("run.json", SEARCH_INFO) and path.is_file():
            path = path.parent
        if (path / SEARCH_INFO).is_file() and _is_search(path):
            return write_search_report(path, out)
        runs = load_result(path)
        if len(runs) == 1:
            if not runs[0].records:
                raise UserError(f"{path}: no finished questions yet")
            return write_run_report(runs[0], out)
        return write_compare_report(runs, out or path / REPORT)
    runs = [run for p in paths for run in load_result(p)]
    runs = [r for r in runs if r.records]
    if not runs:
        raise UserError("nothing to view: no run has finished questions")
    check_mixed([(r.architecture, r.benchmark, r.split) for r in runs], allow_mixed)
    comparison = compare_runs(runs)
    target = out or Path("results") / f"compare-{comparison.compare_id}" / REPORT
    return write_compare_report(runs, target, comparison)


def _is_search(path: Path) -> bool:
    try:
        return json.loads((path / SEARCH_INFO).read_text(encoding="utf-8")).get("kind") == "search"
    except (OSError, ValueError, AttributeError):
        raise UserError(f"{path / SEARCH_INFO}: not valid JSON") from None
