"""The ``archon`` command line: parse the options, call the command (``archon_cli.commands``), exit
with its code. No logic lives here.

Commands are imported inside each function, so ``--help`` imports neither them nor the heavy
libraries they use (LiteLLM, llama.cpp, numpy).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from archon_cli.errors import EXIT_USAGE, UserError

# A serve key shorter than this is guessable by anyone who can reach the port.
MIN_SERVE_KEY = 16

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
BudgetOption = Annotated[
    Optional[str], typer.Option("--budget", help="Calls per query (an integer) or a budget file (budgets/NAME.yaml).")
]
CacheDirOption = Annotated[Path, typer.Option("--cache-dir", help="Response cache directory.")]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the response cache.")]
CacheUrlOption = Annotated[
    Optional[str], typer.Option("--cache-url", help="Response cache in Redis (redis://HOST:PORT/DB) instead of --cache-dir (extra: redis).")
]
RouterOption = Annotated[
    Optional[Path], typer.Option("--router", help="LiteLLM Router file: model names spread over replicas (see README).")
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", min=0, help="Queries in flight at once (0 = unbounded).")
]
ModelLimitOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--model-limit",
        help="MODEL=N: at most N requests in flight to MODEL (repeatable; one request may carry a generator's n samples).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
MaxAttemptsOption = Annotated[
    int, typer.Option("--max-attempts", min=1, help="Sends per model call, retries included (429, 5xx, timeouts).")
]
AllowUnsandboxedOption = Annotated[
    bool,
    typer.Option(
        "--allow-unsandboxed",
        help="Run model-written code (humaneval, mbpp, code-contests) even where it cannot be isolated.",
    ),
]
WaitLockOption = Annotated[
    bool,
    typer.Option("--wait-lock", help="If another process is evaluating into the same run folder, wait for it."),
]
NoTraceOption = Annotated[
    bool, typer.Option("--no-trace", help="Do not write traces.jsonl (what every layer did for each question).")
]
NoReportOption = Annotated[bool, typer.Option("--no-report", help="Do not write the HTML report (see `archon view`).")]
RetryWaitOption = Annotated[
    float,
    typer.Option("--retry-wait", min=0.0, help="First retry wait in seconds, doubling each time (Retry-After wins)."),
]


def _stderr():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def _error_line(message: str) -> None:
    """One error line on stderr; the message is text, not Rich markup (a "[x]" in it stays)."""
    from rich.markup import escape

    _stderr().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    _error_line(message)
    raise typer.Exit(code)


@app.command()
def run(
    architecture: ArchOption,
    prompt: Annotated[Optional[str], typer.Option("--prompt", "-p", help="The query to answer.")] = None,
    prompt_file: Annotated[
        Optional[Path], typer.Option("--prompt-file", help="Read the query from a text file.")
    ] = None,
    input: Annotated[
        Optional[Path],
        typer.Option("--input", "-i", help='JSONL file, one query per line: {"id", "prompt"} or {"id", "messages"}.'),
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where --input answers go (JSONL).")] = None,
    budget: BudgetOption = None,
    cache_dir: CacheDirOption = Path("results/cache"),
    no_cache: NoCacheOption = False,
    cache_url: CacheUrlOption = None,
    router: RouterOption = None,
    concurrency: ConcurrencyOption = 8,
    model_limit: ModelLimitOption = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every layer's candidates.")] = False,
    json_out: JsonOption = False,
    max_attempts: MaxAttemptsOption = 6,
    retry_wait: RetryWaitOption = 0.5,
) -> None:
    """Run an architecture on one query (--prompt / --prompt-file) or a JSONL file of queries (--input)."""
    from archon_cli.commands.run import run_file, run_prompt
    from archon_cli.commands.settings import engine_settings

    given = [x for x in (prompt, prompt_file, input) if x is not None]
    if len(given) != 1:
        _fail("give exactly one of --prompt, --prompt-file or --input", EXIT_USAGE)
    settings = engine_settings(
        budget, cache_dir, no_cache, concurrency, model_limit, max_attempts, retry_wait,
        cache_url=cache_url, router_file=router,
    )  # fmt: skip
    console = _stderr()
    if input is not None:
        code = run_file(architecture, input, output, settings, console, json_out)
    else:
        code = run_prompt(architecture, prompt, prompt_file, settings, console, trace, json_out)
    raise typer.Exit(code)


@app.command("eval")
def eval_(
    architecture: ArchOption,
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="Benchmark name (see `archon benchmarks`), or a task file / data file.")],
    split: Annotated[str, typer.Option("--split", help="dev (20%, for search), test (80% held out) or all.")] = "dev",
    limit: Annotated[
        Optional[int], typer.Option("--limit", "-n", help="Evaluate only the first N questions of the split.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the dev/test split.")] = 0,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Judge model for judge-based benchmarks.")] = None,
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Benchmark data directory (or ARCHON_DATA_DIR).")
    ] = None,
    results_dir: Annotated[Path, typer.Option("--results-dir", help="Where run folders are written.")] = Path(
        "results"
    ),
    run_id: Annotated[
        Optional[str],
        typer.Option("--run-id", help="Run folder name (default: derived from the command, so a re-run resumes)."),
    ] = None,
    budget: BudgetOption = None,
    cache_dir: CacheDirOption = Path("results/cache"),
    no_cache: NoCacheOption = False,
    cache_url: CacheUrlOption = None,
    router: RouterOption = None,
    concurrency: ConcurrencyOption = 8,
    model_limit: ModelLimitOption = None,
    json_out: JsonOption = False,
    max_attempts: MaxAttemptsOption = 6,
    retry_wait: RetryWaitOption = 0.5,
    judge_max_tokens: Annotated[
        Optional[int],
        typer.Option("--judge-max-tokens", min=1, help="Longest judgment the judge may write (default: official)."),
    ] = None,
    allow_unsandboxed: AllowUnsandboxedOption = False,
    wait_lock: WaitLockOption = False,
    no_trace: NoTraceOption = False,
    no_report: NoReportOption = False,
) -> None:
    """Evaluate an architecture on a benchmark; results go to results/<run-id>/ and a re-run resumes."""
    from archon_cli.commands.eval import run_eval
    from archon_cli.commands.settings import data_dir_from_env, engine_settings
    from archon_cli.evaluation.run_folder import EvalOptions

    options = EvalOptions(
        benchmark, split, limit, seed, judge, data_dir_from_env(data_dir), results_dir, run_id, judge_max_tokens,
        allow_unsandboxed, wait_lock, trace=not no_trace,
    )  # fmt: skip
    settings = engine_settings(
        budget, cache_dir, no_cache, concurrency, model_limit, max_attempts, retry_wait,
        cache_url=cache_url, router_file=router,
    )  # fmt: skip
    raise typer.Exit(run_eval(architecture, options, settings, _stderr(), json_out, report=not no_report))


@app.command()
def search(
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="Benchmark to search on (its dev split), or a task file / data file.")],
    budget: Annotated[str, typer.Option("--budget", help="Calls per query (an integer) or a budget file.")],
    models: Annotated[Optional[str], typer.Option("--models", help="Comma-separated model pool (default: the embedded models).")] = None,
    pool: Annotated[Optional[Path], typer.Option("--pool", help="Model pool file (YAML list of models).")] = None,
    space: Annotated[Optional[Path], typer.Option("--space", help="Search-space file overriding the defaults.")] = None,
    algorithm: Annotated[str, typer.Option("--algorithm", help="gp, random or greedy.")] = "gp",
    trials: Annotated[int, typer.Option("--trials", help="Architectures to evaluate in stage 2.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and the algorithm.")] = 0,
    cost_weight: Annotated[float, typer.Option("--cost-weight", help="Objective = score - weight x calls per query.")] = 0.0,
    final_k: Annotated[int, typer.Option("--final-k", help="Top architectures evaluated on the test split.")] = 3,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="Use only the first N dev questions.")] = None,
    test_limit: Annotated[Optional[int], typer.Option("--test-limit", help="Use only the first N test questions.")] = None,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Judge model for judge-based benchmarks.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Benchmark data directory (or ARCHON_DATA_DIR).")] = None,
    results_dir: Annotated[Path, typer.Option("--results-dir", help="Where the search folder is written.")] = Path("results"),
    search_id: Annotated[Optional[str], typer.Option("--search-id", help="Search folder name (default: derived from the settings, so a re-run resumes).")] = None,
    cache_dir: CacheDirOption = Path("results/cache"),
    no_cache: NoCacheOption = False,
    concurrency: ConcurrencyOption = 8,
    model_limit: ModelLimitOption = None,
    json_out: JsonOption = False,
    allow_unsandboxed: AllowUnsandboxedOption = False,
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
    cache_url: CacheUrlOption = None,
    router: RouterOption = None,
    no_report: NoReportOption = False,
) -> None:
    """Search for the best architecture on a benchmark under a budget of calls per query."""
    from archon_cli.commands.search import build_settings, run_search
    from archon_cli.commands.settings import data_dir_from_env, engine_settings

    engine = engine_settings(None, cache_dir, no_cache, concurrency, model_limit, cache_url=cache_url, router_file=router)
    settings = build_settings(
        benchmark, budget, models, pool, space, algorithm, trials, seed, cost_weight, final_k, limit, test_limit,
        judge, data_dir_from_env(data_dir), concurrency, allow_unsandboxed, allow_weak_judge, engine.provider_keys,
        rungs, search_calls,
    )  # fmt: skip
    code = run_search(
        settings, engine, results_dir, search_id, _stderr(), json_out, workers=workers, executor=executor,
        ray_address=ray_address, report=not no_report,
    )  # fmt: skip
    raise typer.Exit(code)


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
def serve(
    architectures: Annotated[
        list[str], typer.Argument(help="Architecture files to serve, each under its name (or NAME=PATH).")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: a free one).")] = 8000,
    budget: Annotated[
        Optional[str],
        typer.Option("--budget", help="Calls per request (an integer) or a budget file (its totals: 429 once spent)."),
    ] = None,
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
    cache_dir: CacheDirOption = Path("results/cache"),
    no_cache: NoCacheOption = False,
    cache_url: CacheUrlOption = None,
    router: RouterOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=0, help="Requests running at once; others wait (0 = unbounded).")
    ] = 32,
    model_limit: ModelLimitOption = None,
    max_attempts: MaxAttemptsOption = 6,
    retry_wait: RetryWaitOption = 0.5,
) -> None:
    """Serve architectures behind an OpenAI-compatible endpoint (/v1/chat/completions, /v1/models, /health)."""
    from archon_cli.commands.serve import run_serve
    from archon_cli.commands.settings import engine_settings, secret_from_env
    from archon_cli.server import ServeOptions

    settings = engine_settings(
        budget, cache_dir, no_cache, concurrency, model_limit, max_attempts, retry_wait,
        cache_url=cache_url, router_file=router,
    )  # fmt: skip
    key = secret_from_env(api_key_env, "--api-key-env") if api_key_env is not None else None
    if key is not None and len(key) < MIN_SERVE_KEY:
        raise UserError(
            f"--api-key-env {api_key_env}: the key has {len(key)} characters; use at least {MIN_SERVE_KEY} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    options = ServeOptions(api_key=key, concurrency=concurrency, grace=grace, request_log=request_log)
    raise typer.Exit(run_serve(architectures, host, port, settings, options, _stderr()))


@app.command()
def benchmarks() -> None:
    """List the benchmarks `eval` and `search` accept."""
    from archon_cli.commands.benchmarks import list_benchmarks

    raise typer.Exit(list_benchmarks())


@app.command()
def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Result folders of `eval` or `search`, or architecture files (with --benchmark)."),
    ],
    benchmark: Annotated[
        Optional[str], typer.Option("--benchmark", "-b", help="Evaluate architecture files on this benchmark (or task file) first.")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="Split for architecture files: dev, test or all.")] = "dev",
    limit: Annotated[
        Optional[int], typer.Option("--limit", "-n", help="Architecture files: only the first N questions.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Architecture files: seed of the dev/test split.")] = 0,
    judge: Annotated[Optional[str], typer.Option("--judge", help="Judge model for judge-based benchmarks.")] = None,
    data_dir: Annotated[
        Optional[Path], typer.Option("--data-dir", help="Benchmark data directory (or ARCHON_DATA_DIR).")
    ] = None,
    results_dir: Annotated[
        Path, typer.Option("--results-dir", help="Where evaluations and the compare-<id> folder go.")
    ] = Path("results"),
    budget: BudgetOption = None,
    cache_dir: CacheDirOption = Path("results/cache"),
    concurrency: ConcurrencyOption = 8,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Folder for plots and report (default results/compare-<id>).")
    ] = None,
    allow_mixed: Annotated[
        bool, typer.Option("--allow-mixed", help="Allow runs of different benchmarks or splits.")
    ] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Also write report.md (table and plots).")] = False,
    json_out: JsonOption = False,
    allow_unsandboxed: AllowUnsandboxedOption = False,
    wait_lock: WaitLockOption = False,
    no_trace: NoTraceOption = False,
    no_report: NoReportOption = False,
) -> None:
    """Compare runs: score with 95% CI, calls, tokens, cost, latency; paired bootstrap verdicts; plots."""
    from rich.console import Console

    from archon_cli.commands.compare import CompareOptions, run_compare
    from archon_cli.commands.settings import data_dir_from_env, engine_settings
    from archon_cli.evaluation.run_folder import EvalOptions

    evaluation = (
        EvalOptions(
            benchmark,
            split,
            limit,
            seed,
            judge,
            data_dir_from_env(data_dir),
            results_dir,
            allow_unsandboxed=allow_unsandboxed,
            wait_lock=wait_lock,
            trace=not no_trace,
        )
        if benchmark
        else None
    )
    options = CompareOptions(results_dir, out, allow_mixed, json_out, markdown, evaluation, report=not no_report)
    settings = engine_settings(budget, cache_dir, False, concurrency, None)
    raise typer.Exit(run_compare(runs, options, settings, Console(), _stderr()))


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
