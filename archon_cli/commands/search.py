"""What `archon search` does: build the settings, run the driver with a live table, print the leaderboard."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from archon_cli.benchmarks import get_benchmark
from archon_cli.commands.common import preload_report, print_table, warner
from archon_cli.commands.options import EngineOptions, EvaluationOptions
from archon_cli.commands.settings import check_folder_option, data_dir_from_env, engine_settings, open_gateway
from archon_cli.config.budget import load_budget
from archon_cli.errors import EXIT_BUDGET, EXIT_OK, BudgetExceeded, UserError
from archon_cli.evaluation.judge import choose_judge
from archon_cli.evaluation.run_folder import check_folder_name
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.ledger import LEDGER
from archon_cli.search.driver import SearchDriver, SearchSettings
from archon_cli.search.executor import check_executor, make_executor
from archon_cli.search.fidelity import parse_rungs
from archon_cli.search.folder import SearchFolder
from archon_cli.search.pool import parse_pool
from archon_cli.search.space import SearchSpace, load_space
from archon_cli.search.trials import SearchResult, Trial, rank_trials


@dataclass(frozen=True)
class SearchCommand:
    """What `archon search` was given. ``rungs``: ``--rungs`` as given (None: the default rungs;
    "off": none). The engine options carry no budget: ``budget`` is the search's own."""

    benchmark: str
    budget: str
    models: str | None = None
    pool: Path | None = None
    space: Path | None = None
    algorithm: str = "gp"
    trials: int = 20
    cost_weight: float = 0.0
    final_k: int = 3
    test_limit: int | None = None
    allow_weak_judge: bool = False
    rungs: str | None = None
    search_calls: int | None = None
    search_id: str | None = None
    workers: int = 1
    executor: str | None = None
    ray_address: str | None = None
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)


def build_settings(command: SearchCommand, provider_keys: frozenset[str] = frozenset()) -> SearchSettings:
    """The search's settings, checked: the benchmark, its judge, the pool, the space, the rungs."""
    c, e = command, command.evaluation
    dev_limit, allow_weak_judge = e.limit, c.allow_weak_judge
    if dev_limit is not None and dev_limit < 1:
        raise UserError(f"--limit {dev_limit}: must be at least 1")
    parsed_budget = load_budget(c.budget)
    bench = get_benchmark(c.benchmark, data_dir_from_env(e.data_dir))
    bench.preflight(e.allow_unsandboxed)
    choice = choose_judge(bench, e.judge, provider_keys)
    if choice is not None and choice.weak and not allow_weak_judge:
        official = bench.official_judge()
        how = f"set {official.key_env} for the official judge ({official.model}), " if official else ""
        raise UserError(
            f"{bench.name}: the judge {choice.model} rarely writes a readable verdict, so a search would rank "
            f"noise; {how}pass a stronger --judge, or --allow-weak-judge to search anyway"
        )
    settings = SearchSettings(
        benchmark=bench,
        pool=parse_pool(c.models, c.pool),
        budget=parsed_budget,
        space=load_space(c.space) if c.space else SearchSpace(),
        algorithm=c.algorithm,
        trials=c.trials,
        seed=e.seed,
        cost_weight=c.cost_weight,
        final_k=c.final_k,
        dev_limit=dev_limit,
        test_limit=c.test_limit,
        concurrency=c.engine.concurrency,
        judge_model=choice.model if choice else None,
        judge_max_tokens=choice.max_tokens if choice else None,
        allow_weak_judge=allow_weak_judge,
        rungs=parse_rungs(c.rungs),
        search_calls=c.search_calls,
    )
    settings.validate()
    return settings


def _versus(t: Trial) -> str:
    v = t.vs_baseline
    if not v:
        return "-"
    return f"{v['difference']:+.1f} [{v['ci_low']:+.1f}, {v['ci_high']:+.1f}]"


def _table(trials: list[Trial], metric: str, title: str, limit: int = 10) -> Table:
    table = Table(title=title)
    columns = (
        "rank", "architecture", "questions", f"dev {metric}", "95% CI", "vs one call [95% CI]", "test",
        "calls/query", "static", "objective",
    )  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "architecture" else "right")
    for rank, t in enumerate(rank_trials(trials)[:limit], start=1):
        ci = f"{t.ci95[0]:.3f}-{t.ci95[1]:.3f}" if t.ci95 else "-"
        score = f"{t.dev_score:.4f}" if t.dev_score is not None else "-"
        table.add_row(
            str(rank),
            t.arch_id,
            str(t.questions or "-"),
            score if t.reliable else f"{score} UNRELIABLE",
            ci,
            _versus(t),
            f"{t.test_score:.4f}" if t.test_score is not None else "",
            f"{t.calls_per_query:.1f}",
            f"{t.static_calls_per_query:g}" if t.static_calls_per_query else "-",
            f"{t.objective:.4f}",
            style="bold green" if rank == 1 else None,
        )
    return table


def run_search(command: SearchCommand, console: Console) -> int:
    from rich.live import Live

    engine = engine_settings(command.engine)
    settings = build_settings(command, engine.provider_keys)
    results_dir, search_id, json_out = command.evaluation.results_dir, command.search_id, command.evaluation.json_out
    workers, executor, ray_address = command.workers, command.executor, command.ray_address
    report = not command.evaluation.no_report

    if search_id is not None:
        check_folder_name(search_id, "--search-id")
    check_folder_option(results_dir, "--results-dir")
    check_executor(executor, workers, ray_address)
    # The budget file's whole-run limits (total calls, tokens, dollars) bind the whole search.
    # ``--search-calls`` caps the budget's total calls (search/driver.py: gateway_budget).
    gateway = open_gateway(engine.model_copy(update={"budget": settings.gateway_budget()}), on_warning=warner(console))
    gateway.check_routes([(p.model, p.api_base, p.api_key_env) for p in settings.pool])
    if settings.judge_model is not None:
        gateway.check_routes([(settings.judge_model, None, None)])
    metric = settings.benchmark.metric
    # Off a terminal the live table draws nothing; the leaderboard is printed whole at the end.
    live = Live(console=console, transient=json_out or not console.is_terminal, refresh_per_second=4)

    def on_trial(trial: Trial, trials: list[Trial]) -> None:
        live.update(_table(trials, metric, f"best so far: {len(trials)}/{settings.trials} trials"))

    def on_stage(message: str) -> None:
        if not json_out:
            console.print(message, highlight=False, soft_wrap=True)

    # None: the trials run in this process (search/executor.py's local executor, made by the driver).
    remote = make_executor(executor, workers, engine, ray_address) if executor == "ray" or ray_address else None
    driver = SearchDriver(
        settings, gateway, results_dir, search_id, on_trial=on_trial, on_stage=on_stage, executor=remote, workers=workers
    )
    keep_search_spend(settings, gateway, driver.dir)
    preload_report()  # the Pareto plot and the report, imported while the search waits on its models
    try:
        with live:
            try:
                result = asyncio.run(driver.run())
            except BudgetExceeded as exc:
                code = _budget_stop(str(exc), driver, gateway, console, json_out)
                if report:
                    from archon_cli.commands.view import report_last

                    report_last([driver.dir], console)
                return code
            live.update(_table(result.trials, metric, "leaderboard"))
    finally:
        driver.executor.close()
    if not json_out and not console.is_terminal:
        print_table(console, _table(result.trials, metric, "leaderboard"))
    if json_out:
        print(json.dumps(_json_summary(result)))
    else:
        _print_result(result, console)
    if report:
        from archon_cli.commands.view import report_last

        report_last([result.search_dir], console)
    return EXIT_OK


def keep_search_spend(settings: SearchSettings, gateway: LLMGateway, search_dir: Path) -> None:
    """The budget's whole-run limits bind the search over every resume: what earlier runs of this
    search folder sent counts against them, and this run's sends are kept for the next (llm/ledger.py).
    ``--search-calls`` caps what this run sends, on top of what earlier runs sent."""
    accountant = gateway.accountant
    if not accountant.whole_run_limited:
        return
    earlier = accountant.count_earlier(search_dir / LEDGER)
    if settings.search_calls is not None:
        total = settings.search_calls + earlier.calls
        if settings.budget.total_calls is not None:
            total = min(total, settings.budget.total_calls)
        accountant.budget = accountant.budget.model_copy(update={"total_calls": total})
    accountant.keep_spend(search_dir / LEDGER)


def _budget_stop(message: str, driver: SearchDriver, gateway: LLMGateway, console: Console, json_out: bool) -> int:
    """A whole-run limit stopped the search: finished trials are saved (a re-run with a larger
    budget starts a new search folder, and the cache answers what was already evaluated)."""
    if json_out:
        print(json.dumps({"budget_stopped": message, "search_dir": str(driver.dir), "this_run": gateway.stats.as_dict()}))
    console.print(f"[yellow]{message}[/]: finished trials are saved in {driver.dir}", highlight=False, soft_wrap=True)
    return EXIT_BUDGET


def _json_summary(result: SearchResult) -> dict[str, Any]:
    folder = SearchFolder(result.search_dir)
    return folder.info() | {
        "search_dir": str(result.search_dir),
        "leaderboard": str(folder.leaderboard),
        "best_yaml": str(folder.best),
    }


def _print_result(result: SearchResult, console: Console) -> None:
    ratio = result.real_calls / result.nominal_calls if result.nominal_calls else 0.0
    console.print(
        f"{len(result.trials)} trials{' (space exhausted)' if result.exhausted else ''}; "
        f"calls: {result.nominal_calls} nominal, {result.real_calls} sent ({ratio:.2f}) in {result.real_requests} requests; "
        f"{result.wall_seconds:.0f}s"
    )
    console.print(
        f"results: {result.search_dir}  (leaderboard.csv, best.yaml, pareto.csv, pareto.png, search.json)",
        soft_wrap=True,
    )
    if result.best:
        console.print(f"best: {SearchFolder(result.search_dir).best}", soft_wrap=True)
    if result.baseline:
        dev, test = result.baseline["dev"], result.baseline["test"]
        scores = f"dev {dev['dev_score']:.4f}" if dev["dev_score"] is not None else "dev -"
        if test and test["test_score"] is not None:
            scores += f", test {test['test_score']:.4f}"
        console.print(f"baseline: one greedy call of {result.baseline['model']} ({scores})", soft_wrap=True)
    console.print(result.verdict, style="bold", highlight=False, soft_wrap=True)
