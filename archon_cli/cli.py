"""The ``archon`` command line: parse the options, call the command (``archon_cli.commands``), exit
with its code. No logic lives here.

Commands are imported inside each function, so ``--help`` imports neither them nor the heavy
libraries they use (LiteLLM, llama.cpp, numpy).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional, get_type_hints

import typer

from archon_cli.commands.options import EngineOptions, EvaluationOptions
from archon_cli.errors import EXIT_USAGE
from archon_cli.search.choices import ALGORITHMS

app = typer.Typer(
    name="archon",
    help="Build LLM systems from inference-time techniques and search for the best one under a call budget.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from archon_cli import __version__

        print(f"archon {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Build LLM systems from inference-time techniques and search for the best one under a call budget.

    Exit codes: 0 success, 1 the run failed, 2 bad input, 3 a budget limit stopped the run.
    """


ArchOption = Annotated[Path, typer.Argument(help="Architecture file (YAML, JSON, or original Archon JSON).")]
_JSON = typer.Option("--json", help="Print machine-readable JSON on stdout.")
JsonOption = Annotated[bool, _JSON]

# The shared option groups, each option declared once: its flag and help here, its name, type and
# default on the group's dataclass (commands/options.py). ``@_group`` adds them to a command.
ENGINE_OPTIONS: dict[str, Any] = {
    "budget": typer.Option("--budget", help="Calls per query (an integer) or a budget file (budgets/NAME.yaml)."),
    "cache_dir": typer.Option("--cache-dir", help="Response cache directory."),
    "no_cache": typer.Option("--no-cache", help="Do not read or write the response cache."),
    "cache_url": typer.Option(
        "--cache-url", help="Response cache in Redis (redis://HOST:PORT/DB) instead of --cache-dir (extra: redis)."
    ),
    "router": typer.Option("--router", help="LiteLLM Router file: model names spread over replicas (see README)."),
    "concurrency": typer.Option("--concurrency", min=0, help="Queries in flight at once (0 = unbounded)."),
    "model_limit": typer.Option(
        "--model-limit",
        help="MODEL=N: at most N requests in flight to MODEL (repeatable; one request may carry a generator's n samples).",
    ),
    "max_attempts": typer.Option(
        "--max-attempts", min=1, help="Sends per model call, retries included (429, 5xx, timeouts)."
    ),
    "retry_wait": typer.Option(
        "--retry-wait", min=0.0, help="First retry wait in seconds, doubling each time (Retry-After wins)."
    ),
}
EVALUATION_OPTIONS: dict[str, Any] = {
    "split": typer.Option("--split", help="dev (20%, for search), test (80% held out) or all."),
    "limit": typer.Option("--limit", "-n", help="Evaluate only the first N questions of the split."),
    "seed": typer.Option("--seed", help="Seed of the dev/test split."),
    "judge": typer.Option("--judge", help="Judge model for judge-based benchmarks."),
    "data_dir": typer.Option("--data-dir", help="Benchmark data directory (or ARCHON_DATA_DIR)."),
    "results_dir": typer.Option("--results-dir", help="Where run folders are written."),
    "allow_unsandboxed": typer.Option(
        "--allow-unsandboxed",
        help="Run model-written code (humaneval, mbpp, code-contests) even where it cannot be isolated.",
    ),
    "wait_lock": typer.Option("--wait-lock", help="If another process is evaluating into the same run folder, wait for it."),
    "no_trace": typer.Option("--no-trace", help="Do not write traces.jsonl (what every layer did for each question)."),
    "no_report": typer.Option("--no-report", help="Do not write the HTML report (see `archon view`)."),
    "json_out": _JSON,
}
_GROUPS: dict[type, dict[str, Any]] = {EngineOptions: ENGINE_OPTIONS, EvaluationOptions: EVALUATION_OPTIONS}


def _group(
    name: str,
    group: type,
    *,
    only: tuple[str, ...] | None = None,
    helps: dict[str, str] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give the command the options of ``group`` (those in ``only``, else all), and call it with one
    ``group`` object as keyword ``name``; options left out keep the dataclass's default. ``helps``
    and ``defaults`` change an option's help or default for this command alone."""
    declared, hints = _GROUPS[group], get_type_hints(group)
    fields = [f for f in dataclasses.fields(group) if only is None or f.name in only]

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != name]
        added = []
        for f in fields:
            option = declared[f.name]
            if helps and f.name in helps:
                option = copy.copy(option)
                option.help = helps[f.name]
            default = (defaults or {}).get(f.name, f.default)
            added.append(
                inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[hints[f.name], option]
                )
            )

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            values = {f.name: kwargs.pop(f.name) for f in fields}
            command(**kwargs, **{name: group(**values)})

        wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
        return wrapper

    return decorate


def _stderr():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def _error_line(message: str) -> None:
    """One error line on stderr; the message is text, not Rich markup (a "[x]" in it stays)."""
    from rich.markup import escape

    _stderr().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


@app.command()
@_group("engine", EngineOptions)
def run(
    architecture: ArchOption,
    engine: EngineOptions,
    prompt: Annotated[Optional[str], typer.Option("--prompt", "-p", help="The query to answer.")] = None,
    prompt_file: Annotated[
        Optional[Path], typer.Option("--prompt-file", help="Read the query from a text file.")
    ] = None,
    input: Annotated[
        Optional[Path],
        typer.Option("--input", "-i", help='JSONL file, one query per line: {"id", "prompt"} or {"id", "messages"}.'),
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where --input answers go (JSONL).")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every layer's candidates.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Run an architecture on one query (--prompt / --prompt-file) or a JSONL file of queries (--input)."""
    from archon_cli.commands.run import RunCommand, run_command

    command = RunCommand(
        architecture=architecture, prompt=prompt, prompt_file=prompt_file, input=input, output=output,
        trace=trace, json_out=json_out, engine=engine,
    )  # fmt: skip
    raise typer.Exit(run_command(command, _stderr()))


@app.command("eval")
@_group("evaluation", EvaluationOptions)
@_group("engine", EngineOptions)
def eval_(
    architecture: ArchOption,
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="Benchmark name (see `archon benchmarks`), or a task file / data file.")],
    evaluation: EvaluationOptions,
    engine: EngineOptions,
    run_id: Annotated[
        Optional[str],
        typer.Option("--run-id", help="Run folder name (default: derived from the command, so a re-run resumes)."),
    ] = None,
    judge_max_tokens: Annotated[
        Optional[int],
        typer.Option("--judge-max-tokens", min=1, help="Longest judgment the judge may write (default: official)."),
    ] = None,
) -> None:
    """Evaluate an architecture on a benchmark; results go to results/<run-id>/ and a re-run resumes."""
    from archon_cli.commands.eval import EvalCommand, run_eval

    command = EvalCommand(
        architecture=architecture, benchmark=benchmark, run_id=run_id, judge_max_tokens=judge_max_tokens,
        evaluation=evaluation, engine=engine,
    )  # fmt: skip
    raise typer.Exit(run_eval(command, _stderr()))


@app.command()
@_group(
    "evaluation",
    EvaluationOptions,
    only=("limit", "seed", "judge", "data_dir", "results_dir", "allow_unsandboxed", "no_report", "json_out"),
    helps={
        "limit": "Use only the first N dev questions.",
        "seed": "Seed of the split and the algorithm.",
        "results_dir": "Where the search folder is written.",
    },
)
@_group("engine", EngineOptions, only=("cache_dir", "no_cache", "cache_url", "router", "concurrency", "model_limit"))
def search(
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="Benchmark to search on (its dev split), or a task file / data file.")],
    budget: Annotated[str, typer.Option("--budget", help="Calls per query (an integer) or a budget file.")],
    evaluation: EvaluationOptions,
    engine: EngineOptions,
    models: Annotated[Optional[str], typer.Option("--models", help="Comma-separated model pool (default: the embedded models).")] = None,
    pool: Annotated[Optional[Path], typer.Option("--pool", help="Model pool file (YAML list of models).")] = None,
    space: Annotated[Optional[Path], typer.Option("--space", help="Search-space file overriding the defaults.")] = None,
    algorithm: Annotated[str, typer.Option("--algorithm", help=f"{ALGORITHMS.choices()}.")] = "gp",
    trials: Annotated[int, typer.Option("--trials", help="Architectures to evaluate in stage 2.")] = 20,
    cost_weight: Annotated[float, typer.Option("--cost-weight", help="Objective = score - weight x calls per query.")] = 0.0,
    final_k: Annotated[int, typer.Option("--final-k", help="Top architectures evaluated on the test split.")] = 3,
    test_limit: Annotated[Optional[int], typer.Option("--test-limit", help="Use only the first N test questions.")] = None,
    search_id: Annotated[Optional[str], typer.Option("--search-id", help="Search folder name (default: derived from the settings, so a re-run resumes).")] = None,
    allow_weak_judge: Annotated[
        bool, typer.Option("--allow-weak-judge", help="Search even with a judge whose verdicts are mostly unreadable.")
    ] = False,
    rungs: Annotated[
        Optional[str],
        typer.Option(
            "--rungs",
            help="Dev questions per rung of the multi-fidelity search, e.g. 25,100,400 (the default); "
            "off: every trial on the whole dev split.",
        ),
    ] = None,
    search_calls: Annotated[
        Optional[int],
        typer.Option("--search-calls", min=1, help="Hard cap on the calls this search sends (exit 3 when reached)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="Trials evaluated at once (rungs included), with either executor.")] = 1,
    executor: Annotated[Optional[str], typer.Option("--executor", help="Where trials run: local (this process, the default) or ray (Ray tasks; extra: ray).")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Run the trials on this Ray cluster (implies --executor ray; else RAY_ADDRESS, else a local Ray).")] = None,
) -> None:
    """Search for the best architecture on a benchmark under a budget of calls per query."""
    from archon_cli.commands.search import SearchCommand, run_search

    command = SearchCommand(
        benchmark=benchmark, budget=budget, models=models, pool=pool, space=space, algorithm=algorithm,
        trials=trials, cost_weight=cost_weight, final_k=final_k, test_limit=test_limit,
        allow_weak_judge=allow_weak_judge, rungs=rungs, search_calls=search_calls, search_id=search_id,
        workers=workers, executor=executor, ray_address=ray_address, evaluation=evaluation, engine=engine,
    )  # fmt: skip
    raise typer.Exit(run_search(command, _stderr()))


@app.command()
def check(
    files: Annotated[
        list[Path],
        typer.Argument(help="Architecture files (YAML, JSON, or original Archon JSON), or task files / data files."),
    ],
    json_out: JsonOption = False,
) -> None:
    """Validate architecture files without calling any model: static calls per query, models, warnings.
    A task file or data file: rows, columns, split sizes, first input and scorer, or each problem.

    Exit code 0 when every file is valid, 2 otherwise."""
    from archon_cli.commands.check import run_check

    raise typer.Exit(run_check(files, json_out))


@app.command()
@_group(
    "engine",
    EngineOptions,
    helps={
        "budget": "Calls per request (an integer) or a budget file (its totals: 429 once spent).",
        "concurrency": "Requests running at once; others wait (0 = unbounded).",
    },
    defaults={"concurrency": 32},
)
def serve(
    architectures: Annotated[
        list[str], typer.Argument(help="Architecture files to serve, each under its name (or NAME=PATH).")
    ],
    engine: EngineOptions,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: a free one).")] = 8000,
    api_key_env: Annotated[
        Optional[str],
        typer.Option("--api-key-env", help="Requests must carry this variable's value as a bearer token."),
    ] = None,
    request_log: Annotated[Path, typer.Option("--request-log", help="JSONL log, one line per request.")] = Path(
        "results/serve/requests.jsonl"
    ),
    grace: Annotated[
        float, typer.Option("--grace", min=0.0, help="Seconds requests in flight get after SIGTERM, then 503.")
    ] = 30.0,
) -> None:
    """Serve architectures behind an OpenAI-compatible endpoint (/v1/chat/completions, /v1/models, /health)."""
    from archon_cli.commands.serve import ServeCommand, run_serve

    command = ServeCommand(
        architectures=architectures, host=host, port=port, api_key_env=api_key_env, request_log=request_log,
        grace=grace, engine=engine,
    )  # fmt: skip
    raise typer.Exit(run_serve(command, _stderr()))


@app.command()
def benchmarks() -> None:
    """List the benchmarks `eval` and `search` accept."""
    from archon_cli.commands.benchmarks import list_benchmarks

    raise typer.Exit(list_benchmarks())


@app.command()
@_group(
    "evaluation",
    EvaluationOptions,
    helps={
        "split": "Split for architecture files: dev, test or all.",
        "limit": "Architecture files: only the first N questions.",
        "seed": "Architecture files: seed of the dev/test split.",
        "results_dir": "Where evaluations and the compare-<id> folder go.",
    },
)
@_group("engine", EngineOptions, only=("budget", "cache_dir", "concurrency"))
def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Result folders of `eval` or `search`, or architecture files (with --benchmark)."),
    ],
    evaluation: EvaluationOptions,
    engine: EngineOptions,
    benchmark: Annotated[
        Optional[str], typer.Option("--benchmark", "-b", help="Evaluate architecture files on this benchmark (or task file) first.")
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for plots and report (default results/compare-<id>).")
    ] = None,
    allow_mixed: Annotated[
        bool, typer.Option("--allow-mixed", help="Allow runs of different benchmarks or splits.")
    ] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Also write report.md (table and plots).")] = False,
) -> None:
    """Compare runs: score with 95% CI, calls, tokens, cost, latency; paired bootstrap verdicts; plots."""
    from rich.console import Console

    from archon_cli.commands.compare import CompareCommand, run_compare

    command = CompareCommand(
        runs=runs, benchmark=benchmark, out=out, allow_mixed=allow_mixed, markdown=markdown,
        evaluation=evaluation, engine=engine,
    )  # fmt: skip
    raise typer.Exit(run_compare(command, Console(), _stderr()))


@app.command()
def view(
    paths: Annotated[
        list[Path], typer.Argument(help="A run folder, a search folder, or several run folders (a comparison).")
    ],
    out: Annotated[
        Optional[Path], typer.Option("--out", "-o", help="Where the HTML file goes (default: report.html in the folder).")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve", help="Also serve the report on 127.0.0.1 until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port for --serve (0: a free one).")] = 8765,
    allow_mixed: Annotated[
        bool, typer.Option("--allow-mixed", help="Allow runs of different benchmarks or splits.")
    ] = False,
) -> None:
    """Write one self-contained HTML report (no network needed) of runs, a search or a comparison; print its path."""
    from archon_cli.commands.view import run_view

    raise typer.Exit(run_view(paths, out, serve, port, _stderr(), allow_mixed))


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    try:
        from typer._click.exceptions import ClickException  # Typer 0.2x vendors click
    except ImportError:  # older Typer uses click itself
        from click.exceptions import ClickException  # type: ignore[assignment]

    import warnings

    from archon_cli.errors import EXIT_FAILED, EXIT_OK, ArchonError

    # Requests cut short (a stop, a failure) leave LiteLLM's coroutines unawaited: not the user's concern.
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    try:
        # Not standalone, so option errors come here and are printed as one line like all others.
        code = app(standalone_mode=False)
    except ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help was already shown
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _error_line(f"{exc.format_message()}{hint}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        _stderr().print("aborted")
        sys.exit(EXIT_FAILED)
    except ArchonError as exc:
        _error_line(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _stderr().print("interrupted: finished results are saved")
        sys.exit(130)
    except OSError as exc:
        full = _disk_full(exc)
        if full is None:
            raise
        where = f"{full.filename}: " if full.filename else ""
        _error_line(f"{where}{full.strerror or full}: the disk is full; what finished is saved, free space and re-run")
        sys.exit(EXIT_USAGE)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _disk_full(exc: BaseException | None) -> OSError | None:
    """The OSError in ``exc``'s chain that says a file could not grow (no space, quota, file size
    limit), or None. Writing a record failed, and closing its file failed again: a chain."""
    import errno

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


if __name__ == "__main__":
    main()
