"""What ``archon run`` does: load, check, run one query or a file of queries, print the answer."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from archon_cli.commands.common import load_checked, warner
from archon_cli.commands.options import EngineOptions
from archon_cli.commands.progress import progress_bar
from archon_cli.commands.settings import EngineSettings, engine_settings, open_gateway
from archon_cli.engine.batch import answer_to_file, result_record
from archon_cli.engine.runner import ArchitectureRunner, QueryResult
from archon_cli.engine.trace import trace_record
from archon_cli.errors import EXIT_BUDGET, EXIT_FAILED, EXIT_OK, UserError
from archon_cli.inputs import prompt_from_file, queries_from_jsonl
from archon_cli.state import Query


@dataclass(frozen=True)
class RunCommand:
    """What `archon run` was given: one of prompt, prompt_file or input (with output)."""

    architecture: Path
    prompt: str | None = None
    prompt_file: Path | None = None
    input: Path | None = None
    output: Path | None = None
    trace: bool = False
    json_out: bool = False
    engine: EngineOptions = field(default_factory=EngineOptions)


def run_command(command: RunCommand, console: Console) -> int:
    """One query (--prompt, --prompt-file) or a JSONL file of them (--input)."""
    given = [x for x in (command.prompt, command.prompt_file, command.input) if x is not None]
    if len(given) != 1:
        raise UserError("give exactly one of --prompt, --prompt-file or --input")
    settings = engine_settings(command.engine)
    if command.input is not None:
        return run_file(command, settings, console)
    return run_prompt(command, settings, console)


def prepare(architecture_path: Path, settings: EngineSettings, console: Console) -> ArchitectureRunner:
    """Load and validate the architecture, check the budget, routes and keys: all before any call."""
    architecture = load_checked(architecture_path, settings, console)
    gateway = open_gateway(settings, on_warning=warner(console))
    runner = ArchitectureRunner(architecture, gateway, settings.budget.calls_per_query)
    runner.check_routes()
    return runner


def run_prompt(command: RunCommand, settings: EngineSettings, console: Console) -> int:
    prompt, prompt_file, json_out = command.prompt, command.prompt_file, command.json_out
    if prompt_file is not None:
        query = prompt_from_file(prompt_file)
    else:
        if not prompt or not prompt.strip():
            raise UserError("--prompt is empty")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError:
            raise UserError("--prompt is not valid UTF-8 text") from None
        query = Query.from_prompt(prompt, id="prompt")
    runner = prepare(command.architecture, settings, console)
    with console.status(f"running {runner.architecture.name} ({runner.architecture.static_calls()} calls)"):
        result = asyncio.run(runner.run_safely(query))
    if command.trace:
        print_trace(result, console)
    if json_out:
        record = result_record(result)
        record["architecture"] = runner.architecture.name
        record["static_calls"] = runner.architecture.static_calls()
        record["trace"] = trace_record(query.id, [result])
        print(json.dumps(record, ensure_ascii=False))
    elif result.error is None:
        print(result.answer)
    if result.error is not None:
        console.print(f"[bold red]error:[/] {escape(str(result.error))}", highlight=False, soft_wrap=True)
        return EXIT_BUDGET if result.budget_stop else EXIT_FAILED
    if not json_out:
        s = result.stats
        console.print(
            f"[dim]{s.calls} calls ({s.requests} requests), {s.cache_hits} cache hits, {s.tokens} tokens, "
            f"${s.cost:.4f}, {result.seconds:.2f}s[/]"
        )
    return EXIT_OK


def print_trace(result: QueryResult, console: Console) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    for layer in result.layers:
        title = (
            f"layer {layer.index}: {layer.kind}  ({layer.calls} calls, {layer.cache_hits} cached, {layer.seconds:.2f}s)"
        )
        body = []
        for i, c in enumerate(layer.candidates, start=1):
            body.append(f"[bold][{i}][/] {c.text}")
            if c.critique:
                body.append(f"    [italic dim]critique: {c.critique}[/]")
            if c.error:
                body.append(f"    [italic dim]program failed: {escape(c.error)}[/]")
        if layer.unit_tests and layer.kind == "unit_test_generator":
            body.append("[bold]unit tests:[/] " + " | ".join(layer.unit_tests))
        console.print(Panel("\n".join(body) or "(no candidates)", title=title, title_align="left"), highlight=False)


def check_output(output: Path, input_path: Path) -> None:
    """Before any call: the answers file can be written, and is not the queries file."""
    if output.resolve() == input_path.resolve() or (output.exists() and os.path.samefile(output, input_path)):
        raise UserError(f"--output {output} is the --input file: give another file for the answers")
    if output.is_dir():
        raise UserError(f"--output {output}: is a folder, expected a file")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UserError(f"--output {output}: cannot be written ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _answers_lock(output: Path) -> Iterator[None]:
    """One process at a time writes an answers file (two interleaved their lines and both resumed
    the same queries): an OS lock on ``<output>.lock``, released when the process ends, even by
    ``kill -9``. A second process is a one-line error naming the holder."""
    lock = output.with_name(output.name + ".lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"{lock}: cannot create the lock of the answers file ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = f"pid {int(json.loads(os.pread(fd, 512, 0))['pid'])}"
            except (ValueError, KeyError, TypeError):
                holder = "another process"
            raise UserError(f"--output {output} is being written by {holder}: wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid()}).encode())
        yield
    finally:
        os.close(fd)


def run_file(command: RunCommand, settings: EngineSettings, console: Console) -> int:
    assert command.input is not None
    input_path, output = command.input, command.output
    queries = queries_from_jsonl(input_path)
    if not queries:
        raise UserError(f"{input_path}: no queries in the file")
    if output is not None:
        check_output(output, input_path)
    runner = prepare(command.architecture, settings, console)
    if output is None:
        output = Path("results") / f"run-{runner.architecture.name}-{input_path.stem}" / "answers.jsonl"
        check_output(output, input_path)
    with _answers_lock(output):
        return _answer_all(runner, queries, output, settings, console, command.json_out)


def _answer_all(
    runner: ArchitectureRunner,
    queries: list[Query],
    output: Path,
    settings: EngineSettings,
    console: Console,
    json_out: bool,
) -> int:
    started = time.perf_counter()
    progress = progress_bar(console, json_out)
    with progress:
        task = progress.add_task(runner.architecture.name, total=len(queries))

        def advance(_: QueryResult) -> None:
            progress.advance(task)

        summary = asyncio.run(
            answer_to_file(runner, queries, output, settings.concurrency, advance, on_warning=warner(console))
        )
        progress.update(task, completed=len(queries))
    stats = runner.gateway.stats
    report = {
        "output": str(output),
        "queries": summary.total,
        "answered": summary.answered,
        "skipped_already_done": summary.skipped,
        "failed": summary.failed,
        "not_run_budget": summary.budget_stopped,
        "seconds": round(time.perf_counter() - started, 3),
        **stats.as_dict(),
    }
    if json_out:
        print(json.dumps(report))
    else:
        console.print(
            f"{summary.answered} answered, {summary.skipped} already done, {summary.failed} failed"
            f"{f', {summary.budget_stopped} stopped by the budget' if summary.budget_stopped else ''}"
            f" -> {output}\n[dim]{stats.calls} calls ({stats.requests} requests), {stats.cache_hits} cache hits, "
            f"{stats.tokens} tokens, ${stats.cost:.4f}[/]"
        )
    if summary.budget_stopped:
        console.print("[yellow]budget reached:[/] finished answers are saved; raise the budget and re-run to resume")
        return EXIT_BUDGET
    return EXIT_FAILED if summary.failed else EXIT_OK
