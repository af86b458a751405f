"""A search does not optimise on a judge whose verdicts cannot be read, unless told to
(--allow-weak-judge): the embedded judge is refused before any call, a judge whose verdicts turn
out unreadable is refused after its first evaluation, and an allowed one is marked on the
leaderboard."""

from __future__ import annotations

import asyncio
import csv
from dataclasses import replace
from pathlib import Path

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.commands.options import EngineOptions, EvaluationOptions
from archon_cli.commands.search import SearchCommand, build_settings
from archon_cli.errors import UserError
from archon_cli.llm.accountant import Budget
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from archon_cli.search.driver import SearchDriver, SearchSettings
from archon_cli.search.pool import PoolModel
from archon_cli.search.space import SearchSpace
from tests.conftest import SHARED_DATA
from tests.fakes import FakeBackend


def settings_for(judge: str | None, keys: frozenset[str] = frozenset(), allow: bool = False) -> SearchSettings:
    command = SearchCommand(
        benchmark="mt-bench", budget="4", models="openai/m", algorithm="random", trials=1, final_k=0,
        allow_weak_judge=allow, evaluation=EvaluationOptions(limit=2, judge=judge, data_dir=SHARED_DATA),
        engine=EngineOptions(concurrency=2),
    )  # fmt: skip
    return build_settings(command, provider_keys=keys)


def test_the_embedded_judge_is_refused_before_any_call() -> None:
    with pytest.raises(UserError, match="--allow-weak-judge") as caught:
        settings_for(None)
    assert "OPENAI_API_KEY" in str(caught.value) and "openai/gpt-4" in str(caught.value)
    assert settings_for(None, allow=True).judge_model == "local/smollm2-135m"
    official = settings_for(None, frozenset({"OPENAI_API_KEY"}))
    assert (official.judge_model, official.judge_max_tokens) == ("openai/gpt-4", 2048)


def test_a_judge_whose_verdicts_are_unreadable_stops_the_search(tmp_path: Path) -> None:
    def reply(request: CompletionRequest) -> str:
        return "I would rather not say." if request.model == "openai/judge" else "an answer"

    s = SearchSettings(
        benchmark=get_benchmark("mt-bench", SHARED_DATA),
        pool=[PoolModel(model="openai/m")],
        budget=Budget(calls_per_query=1),
        space=SearchSpace(samples=(1, 1), fusion_layers=(0, 0), critic_ranker=(False,), final=("none",)),
        algorithm="random",
        trials=1,
        final_k=0,
        dev_limit=2,
        judge_model="openai/judge",
        judge_max_tokens=64,
    )
    backend = FakeBackend(reply)
    with pytest.raises(UserError, match=r"0 of 4 judgments.*--allow-weak-judge"):
        asyncio.run(SearchDriver(s, LLMGateway(backend=backend), tmp_path / "refused").run())
    assert len(backend.sent) == 4 + 4  # the first evaluation (stage 1) only: 2 questions x 2 turns, answered and judged
    result = asyncio.run(SearchDriver(replace(s, allow_weak_judge=True), LLMGateway(backend=backend), tmp_path).run())
    assert result.trials and all(not t.reliable for t in result.trials)
    rows = list(csv.DictReader((result.search_dir / "leaderboard.csv").open()))
    assert rows and all(row["reliable"].startswith("no") for row in rows)
