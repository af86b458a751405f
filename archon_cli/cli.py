"""The ``archon`` command line: parse options, call the engine, print. No logic lives here.

Heavy modules (LiteLLM, llama.cpp, pandas) are imported inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

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
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", min=0, help="Queries in flight at once (0 = unbounded).")
]
ModelLimitOption = Annotated[
    Optional[list[str]], typer.Option("--model-limit", help="MODEL=N: at most N calls in flight to MODEL (repeatable).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _stderr():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def _fail(message: str, code: int) -> NoReturn:
    _stderr().print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _engine_settings(
    budget: str | None, cache_dir: Path, no_cache: bool, concurrency: int, model_limit: list[str] | None
):  # type: ignore[no-untyped-def]
    from archon_cli.config.budget import Budget, load_budget
    from archon_cli.settings import EngineSettings, parse_model_limits

    return EngineSettings(
        cache_dir=None if no_cache else cache_dir,
        budget=load_budget(budget) if budget else Budget(),
        concurrency=concurrency,
        model_limits=parse_model_limits(model_limit or []),
    )


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
    concurrency: ConcurrencyOption = 8,
    model_limit: ModelLimitOption = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show every layer's candidates.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Run an architecture on one query (--prompt / --prompt-file) or a JSONL file of queries (--input)."""
    from archon_cli import run_command

    given = [x for x in (prompt, prompt_file, input) if x is not None]
    if len(given) != 1:
        _fail("give exactly one of --prompt, --prompt-file or --input", 2)
    settings = _engine_settings(budget, cache_dir, no_cache, concurrency, model_limit)
    console = _stderr()
    if input is not None:
        code = run_command.run_file(architecture, input, output, settings, console, json_out)
    else:
        code = run_command.run_prompt(architecture, prompt, prompt_file, settings, console, trace, json_out)
    raise typer.Exit(code)


@app.command("eval")
def eval_(
    architecture: ArchOption,
    benchmark: Annotated[str, typer.Option("--benchmark", "-b", help="Benchmark name (see `archon benchmarks`).")],
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
    concurrency: ConcurrencyOption = 8,
    model_limit: ModelLimitOption = None,
    json_out: JsonOption = False,
) -> None:
    """Evaluate an architecture on a benchmark; results go to results/<run-id>/ and a re-run resumes."""
    from archon_cli.evaluation.command import EvalOptions, run_eval

    options = EvalOptions(benchmark, split, limit, seed, judge, data_dir, results_dir, run_id)
    settings = _engine_settings(budget, cache_dir, no_cache, concurrency, model_limit)
    raise typer.Exit(run_eval(architecture, options, settings, _stderr(), json_out))


@app.command()
def benchmarks() -> None:
    """List the benchmarks `eval` and `search` accept."""
    from archon_cli.benchmarks import benchmark_names, get_benchmark

    for name in benchmark_names():
        print(f"{name:16} {get_benchmark(name).description}")


def main() -> None:
    """Console entry point: user errors become one line on stderr and exit code 2."""
    from archon_cli.errors import ArchonError

    try:
        app()
    except ArchonError as exc:
        _stderr().print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _stderr().print("interrupted: finished results are saved")
        sys.exit(130)


if __name__ == "__main__":
    main()
