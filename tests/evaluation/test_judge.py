"""Which judge a benchmark gets: the official one when its provider key is set (no network: the
route check, and a loopback server standing in for the provider), else the embedded model with a
warning; the official settings; and the closing line of a run whose judge could not be read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.evaluation.judge import DEFAULT_JUDGE, EMBEDDED_MAX_TOKENS, choose_judge, make_judge
from archon_cli.llm.gateway import LLMGateway
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import SHARED_DATA, run_cli
from tests.fakes import FakeBackend
from tests.reliability import write_architecture

KEY = frozenset({"OPENAI_API_KEY"})


@pytest.mark.parametrize(
    ("benchmark", "model", "max_tokens"),
    [
        ("mt-bench", "openai/gpt-4", 2048),  # FastChat gen_judgment.py / run_judge_single
        ("arena-hard", "openai/gpt-4-1106-preview", 4096),  # arena_hard/judge/arena-hard-v0.1.yaml
        ("arena-hard-v2", "openai/gpt-4.1", 16000),  # arena_hard/judge/arena-hard-v2.0.yaml
        ("alpaca-eval", "openai/gpt-4-1106-preview", 512),  # weighted_alpaca_eval_gpt4_turbo
        ("alpaca-eval-1", "openai/gpt-4", 512),  # alpaca_eval_gpt4
    ],
)
def test_the_official_judge_is_the_default_when_its_key_is_set(benchmark: str, model: str, max_tokens: int) -> None:
    bench = get_benchmark(benchmark, SHARED_DATA)
    choice = choose_judge(bench, None, KEY)
    assert choice is not None
    assert (choice.model, choice.origin, choice.max_tokens, choice.warning) == (model, "official", max_tokens, None)
    # Without the key: the embedded model, held to a short judgment, with a warning naming the key.
    fallback = choose_judge(bench, None, frozenset({"ANTHROPIC_API_KEY"}))
    assert fallback is not None and (fallback.model, fallback.origin) == (DEFAULT_JUDGE, "embedded")
    assert fallback.max_tokens == EMBEDDED_MAX_TOKENS and fallback.weak
    assert fallback.warning and "OPENAI_API_KEY" in fallback.warning and model in fallback.warning
    assert "plumbing" in fallback.warning
    # Asked for by name: that one, with the official settings.
    asked = choose_judge(bench, "anthropic/claude-3-5-sonnet-20240620", frozenset())
    assert asked is not None and asked.origin == "requested" and asked.max_tokens == max_tokens
    assert choose_judge(bench, None, KEY, max_tokens=100).max_tokens == 100  # type: ignore[union-attr]


def test_benchmarks_without_a_judge_get_none_and_mixeval_only_when_asked() -> None:
    assert choose_judge(get_benchmark("gsm8k", SHARED_DATA), "openai/gpt-4o", KEY) is None
    mixeval = get_benchmark("mixeval", SHARED_DATA)
    assert choose_judge(mixeval, None, KEY) is None  # offline rule parser
    choice = choose_judge(mixeval, "openai/gpt-3.5-turbo-0125", KEY)
    assert choice is not None and choice.max_tokens == 999


def test_the_judge_sends_the_official_settings() -> None:
    backend = FakeBackend("[[7]]")
    choice = choose_judge(get_benchmark("mt-bench", SHARED_DATA), None, KEY)
    judge = make_judge(LLMGateway(backend=backend), choice)
    assert judge is not None
    asyncio.run(judge.ask([{"role": "user", "content": "rate"}]))
    assert backend.routes_checked == ["openai/gpt-4"]
    (request,) = backend.sent
    assert (request.model, request.max_tokens, request.temperature) == ("openai/gpt-4", 2048, 0.0)


def test_with_a_key_eval_uses_the_official_judge_and_says_when_its_verdicts_are_unreadable(tmp_path: Path) -> None:
    """`archon eval -b mt-bench` with OPENAI_API_KEY set and OpenAI's address pointed at a loopback
    server: the judge is openai/gpt-4, with no warning; the server's replies carry no rating, so
    the run closes with the score marked unreliable (in the table, the closing line and
    summary.json)."""
    with FaultServer(FaultPlan()) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        env = {"OPENAI_API_KEY": "sk-test-not-real", "OPENAI_BASE_URL": server.api_base}
        result = run_cli(
            "eval", str(arch), "-b", "mt-bench", "--split", "all", "--limit", "2", "--data-dir", str(SHARED_DATA),
            "--results-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache"), "--retry-wait", "0.01",
            env=env,
        )  # fmt: skip
        stats = server.stats()
    assert result.code == 0, result.stderr
    assert "embedded" not in result.stderr
    (run_dir,) = (tmp_path / "results").iterdir()
    run_info = json.loads((run_dir / "run.json").read_text())
    assert run_info["judge"] == "openai/gpt-4" and run_info["judge_origin"] == "official"
    assert stats["requests"] >= 2 + 4  # two questions x two turns, answered and judged
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reliable"] is False and summary["judge_verdicts"]["parsed"] == 0
    assert summary["score"] is None and summary["unscored"] == 2
    *_, closing, report = result.stderr.strip().splitlines()  # the report's path comes last
    assert report.startswith("report: ")
    assert "UNRELIABLE" in closing and "0 of 4 judgments" in closing
