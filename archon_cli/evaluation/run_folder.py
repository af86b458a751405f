"""The run folder, ``results/<run-id>/``: the one owner of its files, written and read here.

    architecture.yaml   the architecture evaluated
    run.json            what is evaluated: kind, architecture, benchmark, metric, scale, split,
                        seed, limit, judge, question ids (and extras: the file, a search stage)
    questions.jsonl     one record per finished question, appended as it finishes
    traces.jsonl        what every layer did for each question (``engine.trace``), appended just
                        before its record (absent with --no-trace)
    summary.json        figures over the final record of each question, written at the end
    .lock               held (fcntl.flock) by the process evaluating into the folder; it names that
                        process (pid, host, since) for a second one, which stops or waits

``plan_questions`` picks a run's questions; ``evaluate_into_folder`` is the one way an
architecture is evaluated into a folder (by ``eval``,
by ``search`` for every trial, by ``compare`` for architecture files); the same plan again
resumes, skipping finished questions (damaged records are set aside, said in one line, and their
questions run again). ``load_result`` reads folders back: a run folder, or a
folder of run folders (a search keeps its evaluations under ``final/`` and ``trials/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.config.architecture import Architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.engine.trace import is_trace
from archon_cli.errors import UserError
from archon_cli.evaluation.evaluate import evaluate
from archon_cli.evaluation.judge import GatewayJudge
from archon_cli.evaluation.scope import EvalScope
from archon_cli.evaluation.search_layout import SEARCH_INFO, SearchLayout
from archon_cli.evaluation.summary import is_finished, is_well_formed, latest_by_id, summarize
from archon_cli.llm.gateway import LLMGateway
from archon_cli.records import JsonlLog, write_json

ARCHITECTURE, RUN_INFO, QUESTIONS, SUMMARY = "architecture.yaml", "run.json", "questions.jsonl", "summary.json"
TRACES = "traces.jsonl"
LOCK = ".lock"
# A folder of run folders (a search's) is marked by SEARCH_INFO with "kind": "search"; its layout
# is evaluation/search_layout.py's.


@dataclass(frozen=True)
class EvalOptions(EvalScope):
    """What to evaluate an architecture on, and where the run folder goes (``eval``, and
    ``compare`` for architecture files): the scope (evaluation/scope.py), keyword-only, and these."""

    benchmark: str
    run_id: str | None = None
    judge_max_tokens: int | None = None  # None: the judge's official setting
    trace: bool = True  # write each question's trace to traces.jsonl


MAX_NAME = 200


def check_folder_name(name: str, option: str = "--run-id") -> str:
    """A run or search folder name given on the command line: one plain name inside the results
    folder (no path separator, no '..', no control character, at most MAX_NAME characters)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or ".." in name:
        raise UserError(f"{option} {name!r}: must be a plain folder name (no '/', '\\' or '..')")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UserError(f"{option} {name!r}: contains a control character")
    if len(name) > MAX_NAME:
        raise UserError(f"{option}: {len(name)} characters, over the limit of {MAX_NAME}")
    return name


def architecture_digest(architecture: Architecture) -> str:
    return hashlib.sha256(json.dumps(architecture.model_dump(), sort_keys=True).encode()).hexdigest()[:8]


def default_run_id(
    architecture: Architecture, options: EvalOptions, judge_model: str | None, benchmark: Benchmark | None = None
) -> str:
    """Same command, same id: that is what makes a re-run resume. A task's run is named by the
    task and its digest covers the task's files, so a changed file starts a new run."""
    identity = benchmark.identity() if benchmark is not None else {}
    name = benchmark.name if identity and benchmark is not None else options.benchmark
    parts = [f"eval-{architecture.name}", name, options.split, f"s{options.seed}"]
    if options.limit is not None:
        parts.append(f"n{options.limit}")
    key = f"{architecture_digest(architecture)}:{judge_model}"
    if identity:
        key += ":" + json.dumps(identity, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:6]
    return "-".join([*parts, digest]).replace("/", "_")


# -- writing -------------------------------------------------------------------------------------


def plan_questions(benchmark: Benchmark, split: str, seed: int, limit: int | None) -> list[Question]:
    """The questions an evaluation runs: the split, then the first ``limit`` of it."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit {limit}: must be at least 1")
    try:
        questions = benchmark.load()
    except UserError:
        raise
    except (OSError, ValueError, LookupError, TypeError, AttributeError, RecursionError) as exc:
        # A loader meeting data it cannot read (random bytes, a truncated or reshaped file).
        where = f" in {benchmark.data_dir}" if benchmark.data_dir else ""
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(f"{benchmark.name}: the data{where} cannot be read ({type(exc).__name__}: {reason})") from None
    if not questions:
        raise UserError(f"{benchmark.name}: the data has no questions")
    chosen = benchmark.split(questions, split, seed)
    return chosen[:limit] if limit is not None else chosen


@dataclass
class RunPlan:
    """An evaluation, checked before any call: the architecture, the questions, and the folder."""

    run_dir: Path
    architecture: Architecture
    benchmark: Benchmark
    questions: list[Question]
    split: str
    seed: int
    limit: int | None = None
    judge: GatewayJudge | None = None
    kind: str = "eval"  # "eval" or "search-trial"
    extra: dict[str, Any] = field(default_factory=dict)
    wait_lock: bool = False
    trace: bool = True  # write traces.jsonl (``--no-trace``: not)

    def finished(self) -> int:
        """Questions of the plan already finished in the folder (a re-run skips them)."""
        wanted = {q.id for q in self.questions}
        records = latest_by_id([r for r in JsonlLog(self.run_dir / QUESTIONS).read() if is_well_formed(r)])
        return sum(1 for k, r in records.items() if k in wanted and is_finished(r))


@dataclass
class RunOutcome:
    """The folder's summary, and whether a budget limit stopped the evaluation short."""

    run_dir: Path
    summary: dict[str, Any]
    budget_stopped: bool = False
    budget_message: str = ""


def check_not_elsewhere(folder: Path) -> None:
    """A UserError when ``folder`` is a symbolic link that leads out of the folder holding it: a
    run would write into (and overwrite) whatever it points to."""
    if not folder.is_symlink():
        return
    parent = folder.parent.resolve()
    target = folder.resolve()
    if parent != target and parent not in target.parents:
        raise UserError(
            f"{folder}: is a symbolic link to {target}, outside {folder.parent}; "
            "remove the link or give another --run-id"
        )


def _make_folder(run_dir: Path) -> None:
    check_not_elsewhere(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{run_dir}: cannot create the run folder ({exc.strerror or exc})") from None


def _clear_damage(plan: RunPlan) -> list[str]:
    """Make the folder's files usable again (under its lock), saying what was done: a folder where
    one of its files belongs is moved aside; damaged lines and records of questions.jsonl are moved
    to questions.jsonl.damaged, and their questions run again."""
    notes = []
    for name in (ARCHITECTURE, RUN_INFO, QUESTIONS, SUMMARY, TRACES):
        path = plan.run_dir / name
        if path.is_dir():
            aside = path.with_name(f"{name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
            path.rename(aside)
            notes.append(f"{path} was a folder, not a file; moved to {aside}")
    log = JsonlLog(plan.run_dir / QUESTIONS)
    moved = log.set_aside(is_well_formed)
    if moved:
        notes.append(
            f"{log.path}: set aside {moved} damaged record(s) (torn, not UTF-8, not JSON or missing fields) "
            f"in {log.path.name}.damaged; their questions run again"
        )
    traces = JsonlLog(plan.run_dir / TRACES)
    moved = traces.set_aside(is_trace)
    if moved:
        notes.append(f"{traces.path}: set aside {moved} damaged trace(s) in {traces.path.name}.damaged")
    return notes


def _holder(lock: Path) -> str:
    try:
        info = json.loads(lock.read_text(encoding="utf-8"))
        return f"pid {info['pid']} on {info['host']} since {info['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


@contextlib.asynccontextmanager
async def _locked(run_dir: Path, wait: bool) -> AsyncIterator[None]:
    """Hold the run folder's lock (an OS lock: a holder killed with -9 leaves nothing held). Another
    holder is a one-line UserError naming it, unless ``wait``."""
    lock = run_dir / LOCK
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise UserError(
                        f"{run_dir} is in use by {_holder(lock)}: wait for it to finish, or pass --wait-lock"
                    ) from None
                await asyncio.sleep(0.2)
        os.ftruncate(fd, 0)
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}).encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def check_identity(run_dir: Path, benchmark: Benchmark) -> None:
    """Refuse to resume into a folder whose run.json records other benchmark files (a task or
    data file changed since): its finished questions were scored against other data. Checked
    when an evaluation is planned (before any call) and again under the folder's lock."""
    identity = benchmark.identity()
    path = run_dir / RUN_INFO
    if not identity or not path.is_file():
        return
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a damaged run.json is written afresh by _start
    if not isinstance(info, dict):
        return
    for key, value in identity.items():
        if key in info and info[key] != value:
            raise UserError(
                f"{run_dir} was made with other files of {benchmark.name} ({key} changed): "
                "it is not resumed; give another --run-id or remove the folder"
            )


def _start(plan: RunPlan) -> dict[str, Any]:
    """Write architecture.yaml and run.json (what ``load_run`` reads)."""
    (plan.run_dir / ARCHITECTURE).write_text(
        yaml.safe_dump(plan.architecture.model_dump(), sort_keys=False), encoding="utf-8"
    )
    run_info = {
        "kind": plan.kind,
        "run_id": plan.run_dir.name,
        "architecture": plan.architecture.name,
        "static_calls": plan.architecture.static_calls(),
        "benchmark": plan.benchmark.name,
        "metric": plan.benchmark.metric,
        "scale": plan.benchmark.scale,
        "split": plan.split,
        "seed": plan.seed,
        "limit": plan.limit,
        "judge": plan.judge.model if plan.judge else None,
        "question_ids": [q.id for q in plan.questions],
        **plan.benchmark.identity(),
        **plan.extra,
    }
    write_json(plan.run_dir / RUN_INFO, run_info)
    return run_info


async def evaluate_into_folder(
    plan: RunPlan,
    gateway: LLMGateway,
    *,
    concurrency: int = 8,
    calls_limit: int | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Evaluate the plan into its folder and write the summary, holding the folder's lock.
    Finished questions are skipped; ``this_run`` in the summary is what the gateway did while this
    evaluation ran. ``on_warning`` hears, in one line each, of damage found in the folder."""
    _make_folder(plan.run_dir)
    async with _locked(plan.run_dir, plan.wait_lock):
        check_identity(plan.run_dir, plan.benchmark)
        for note in _clear_damage(plan):
            (on_warning or (lambda _n: None))(note)
        return await _evaluate_locked(plan, gateway, concurrency, calls_limit, on_record)


async def _evaluate_locked(
    plan: RunPlan,
    gateway: LLMGateway,
    concurrency: int,
    calls_limit: int | None,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> RunOutcome:
    run_info = _start(plan)
    runner = ArchitectureRunner(plan.architecture, gateway, calls_limit)
    before = gateway.stats.copy()
    bad_before = _bad_cache_entries(gateway)
    started = time.perf_counter()
    outcome = await evaluate(
        runner,
        plan.benchmark,
        plan.questions,
        log=JsonlLog(plan.run_dir / QUESTIONS),
        judge=plan.judge,
        concurrency=concurrency,
        on_record=on_record,
        traces=JsonlLog(plan.run_dir / TRACES) if plan.trace else None,
    )
    summary = {
        "run_id": run_info["run_id"],
        "architecture": run_info["architecture"],
        "benchmark": plan.benchmark.name,
        "metric": plan.benchmark.metric,
        "split": plan.split,
        "seed": plan.seed,
        "judge": plan.judge.model if plan.judge else None,
        "complete": not outcome.budget_stopped and len(outcome.records) == len(plan.questions),
        **summarize(outcome.records),
        # The architecture's static count (its cap per query), beside the measured calls_per_query
        # (an adaptive vote spends less).
        "static_calls_per_query": plan.architecture.static_calls(),
        "resumed": outcome.resumed,
        "wall_seconds": round(time.perf_counter() - started, 3),
        "this_run": gateway.stats.since(before).as_dict()
        | {"bad_cache_entries": _bad_cache_entries(gateway) - bad_before},
    }
    summary.update(plan.benchmark.aggregate(outcome.records))
    write_json(plan.run_dir / SUMMARY, summary)
    return RunOutcome(plan.run_dir, summary, outcome.budget_stopped, outcome.budget_message)


def _bad_cache_entries(gateway: LLMGateway) -> int:
    """Cache entries found unfit to be replies so far (misses, replaced once answered)."""
    return int(getattr(gateway.cache, "bad_entries", 0))


# -- reading -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """One evaluated run read back: its run.json, its final record per question, and their summary
    (made again from the records, so an incomplete run is usable)."""

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

    def score_of(self, question_id: str) -> float | None:
        """A question's score; a failed question counts as 0, as in the run's own summary; None
        for a question left out of it (no verdict, or its scoring failed)."""
        record = self.records[question_id]
        if record.get("scoring_failed") or (not record.get("error") and record.get("score") is None):
            return None
        if record.get("error"):
            return 0.0
        return float(record["score"])


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
        raise UserError(f"{path / RUN_INFO}: names no benchmark; is this a folder made by `archon eval`?")
    question_ids = [str(q) for q in info.get("question_ids") or []]
    log = JsonlLog(path / QUESTIONS)
    records = log.read()
    usable = [r for r in records if is_well_formed(r)]
    damaged = log.damaged + len(records) - len(usable)
    latest = latest_by_id(usable)
    if question_ids:
        wanted = set(question_ids)
        latest = {k: v for k, v in latest.items() if k in wanted}
    saved = _read_json(path / SUMMARY) if (path / SUMMARY).is_file() else None
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
        notes=[f"{log.path}: skipped {damaged} damaged record(s)"] if damaged else [],
    )


def _expand_search(path: Path) -> list[RunResult]:
    """A search's test evaluations (final/) if it has them, else its dev trials (trials/)."""
    folders, kind = SearchLayout(path).result_folders(RUN_INFO)
    runs = [load_run(p, _read_json(p / RUN_INFO), kind, search=path.name) for p in folders]
    evaluated = [r for r in runs if r.records]
    if not evaluated:
        raise UserError(f"{path}: the search has no evaluated trials yet (nothing under trials/ or final/)")
    return evaluated


def load_result(path: Path) -> list[RunResult]:
    """The runs in a result folder: one for an eval run, its evaluated trials for a search."""
    if path.name in (RUN_INFO, SEARCH_INFO) and path.is_file():
        path = path.parent
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if not path.is_dir():
        raise UserError(f"{path} is not a result folder (nor an architecture file: .yaml, .yml or .json)")
    for name in (RUN_INFO, SEARCH_INFO):
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


def write_run_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run folder evaluated elsewhere (a search worker's scratch folder, returned as bytes),
    each file atomically, the summary last: a folder with a summary is whole."""
    _make_folder(run_dir)
    if files.get(TRACES):  # the worker's traces are of the questions it ran: added to the folder's
        JsonlLog(run_dir / TRACES).append_raw(files[TRACES])
    allowed = (QUESTIONS, ARCHITECTURE, RUN_INFO, SUMMARY)
    for name in allowed:
        if name in files:
            tmp = run_dir / f".{name}.tmp"
            tmp.write_bytes(files[name])
            os.replace(tmp, run_dir / name)
