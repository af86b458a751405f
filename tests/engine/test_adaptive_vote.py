"""A majority vote with ``stop``: the generators before it draw in rounds until the vote is decided,
against a loopback OpenAI-compatible server (requests counted on both sides)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from archon_cli.components.majority_vote import BetaStop, WindowStop, beta_confidence
from archon_cli.config import parse_architecture
from archon_cli.engine.rounds import interleaved, rounds
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import ConfigError
from archon_cli.llm.accountant import Budget, BudgetAccountant
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.state import Query
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import ROOT, assert_user_error, run_cli
from tests.fakes import FakeBackend

QUESTION = "What is 3 + 4?"
REPLAY_TABLES = [
    ROOT / "bench" / "data" / "replay_tiny_arith_test.jsonl",  # calculator-style samples
    ROOT / "bench" / "data" / "replay_tiny_arith_program_test.jsonl",  # sampled programs' printed answers
]


def vote(api_base: str, stop: dict[str, Any] | None, samples: int = 20, generators: int = 1) -> dict[str, Any]:
    generator = {
        "type": "generator",
        "model": "openai/fake-model",
        "api_base": api_base,
        "samples": samples,
        "temperature": 0.7,
        "max_tokens": 8,
    }
    styles = [dict(generator, system_prompt=f"Style {i}.") if i else generator for i in range(generators)]
    return {"name": "v", "layers": [styles, [{"type": "majority_vote", **({"stop": stop} if stop else {})}]]}


async def run(data: dict[str, Any], cache: ResponseCache | None = None, budget: Budget | None = None) -> Any:
    arch, _ = parse_architecture(data)
    gateway = LLMGateway(cache=cache, accountant=BudgetAccountant(budget))
    result = await ArchitectureRunner(arch, gateway).run(Query.from_prompt(QUESTION))
    assert result.ok, result.error
    return arch, gateway, result


# -- the rules -----------------------------------------------------------------------------------


def test_beta_confidence_is_adaptive_consistency_probability() -> None:
    # P(X > 1/2), X ~ Beta(v1 + 1, v2 + 1): four agreeing answers pass 0.95, three do not.
    assert beta_confidence(["7"] * 4) == pytest.approx(31 / 32)
    assert beta_confidence(["7"] * 3) == pytest.approx(15 / 16)
    assert beta_confidence(["7", "7", "8", "8"]) == pytest.approx(0.5)
    assert beta_confidence(["7"] * 6 + ["8", None, None]) == pytest.approx(0.96484375)
    assert beta_confidence([None, None]) == 0.0
    assert not BetaStop().decided(["7"] * 3, 1) and BetaStop().decided(["7"] * 4, 1)
    assert BetaStop(confidence=0.9).decided(["7"] * 3, 1)
    assert not BetaStop(min=6).decided(["7"] * 5, 1)


def test_window_rule_needs_one_whole_window_that_agrees() -> None:
    rule = WindowStop(size=3)
    assert rule.decided(["1", "2", "5", "5", "5"], 3)
    assert not rule.decided(["5", "5", "5", "5", "2"], 3)  # the last window disagrees
    assert not rule.decided(["5", "5"], 2)  # a short last window decides nothing
    assert not rule.decided([None, None, None], 3)


def test_rounds_are_interleaved_and_add_up_to_the_static_count() -> None:
    assert interleaved([2, 3, 1]) == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (1, 2)]
    assert rounds([20], BetaStop()) == [[2]] + [[1]] * 18
    assert rounds([5, 5, 5], BetaStop(round=2)) == [[2, 2, 2], [2, 2, 2], [1, 1, 1]]
    assert rounds([20], WindowStop(size=4)) == [[4]] * 5
    assert rounds([5, 5, 5], WindowStop(size=4)) == [[2, 1, 1], [1, 2, 1], [1, 1, 2], [1, 1, 1]]
    for samples in ([1], [3, 1, 2], [7, 7]):
        for rule in (BetaStop(), BetaStop(min=5, round=3), WindowStop(size=3)):
            plan = rounds(samples, rule)
            assert [sum(c) for c in zip(*plan, strict=True)] == samples


# -- against the loopback server -------------------------------------------------------------------


async def test_agreeing_replies_stop_early_and_the_server_sees_fewer_requests() -> None:
    """The server answers every sample of the question alike: beta 0.95 stops after four samples,
    drawn as one request with n = 2 (min) and two of n = 1; the window rule after one of n = 4."""
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        arch, gateway, result = await run(vote(server.api_base, {"rule": "beta", "confidence": 0.95}))
        seen = server.stats()
        assert result.answer == "7"
        assert result.stats.calls == seen["choices"] == 4 < arch.static_calls() == 20
        assert seen["requests"] == 3 <= result.stats.requests == gateway.stats.requests
        server.reset()
        _, gateway, result = await run(vote(server.api_base, {"rule": "window", "size": 4}))
        assert (result.stats.calls, server.stats()["choices"], server.stats()["requests"]) == (4, 4, 1)
        assert server.stats()["requests"] <= gateway.stats.requests


async def test_disagreeing_replies_draw_the_full_static_count() -> None:
    """Every draw answers another number: no rule is ever sure, so all 20 samples are drawn, and the
    answer is the fixed vote's."""
    with FaultServer(FaultPlan(wrong_rate=0.0, spread=True)) as server:
        _, _, fixed = await run(vote(server.api_base, None))
        for stop in ({"rule": "beta"}, {"rule": "window", "size": 4}):
            server.reset()
            arch, gateway, result = await run(vote(server.api_base, stop))
            seen = server.stats()
            assert result.stats.calls == seen["choices"] == arch.static_calls() == 20
            assert seen["requests"] <= result.stats.requests == gateway.stats.requests
            assert result.answer == fixed.answer
            assert [c.text for c in result.layers[0].candidates] == [c.text for c in fixed.layers[0].candidates]


async def test_an_ensemble_draws_sample_one_of_each_generator_first() -> None:
    """Three prompt styles of five samples each: a round is one sample of each; six agreeing
    answers decide beta 0.95 (three do not), so two rounds are drawn, each style's two samples."""
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        arch, _, result = await run(vote(server.api_base, {"rule": "beta"}, samples=5, generators=3))
        assert arch.static_calls() == 15
        assert result.stats.calls == server.stats()["choices"] == 6
        origins = [c.origin.rsplit("#", 1)[1] for c in result.layers[0].candidates]
        assert origins == ["0", "1"] * 3  # each generator's samples together, as a fixed layer passes them on


async def test_an_adaptive_vote_reuses_the_cached_samples_of_its_fixed_twin(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        cache = ResponseCache(tmp_path / "cache.sqlite")
        _, _, fixed = await run(vote(server.api_base, None), cache=cache)
        sent = server.stats()["requests"]
        _, _, adaptive = await run(vote(server.api_base, {"rule": "beta"}), cache=cache)
        assert server.stats()["requests"] == sent  # nothing sent: slots 0-3 are the fixed run's
        assert (adaptive.stats.calls, adaptive.stats.cache_hits) == (0, 4)
        assert [c.text for c in adaptive.layers[0].candidates] == [c.text for c in fixed.layers[0].candidates][:4]


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "fragment"),
    [
        ({"rule": "beta", "confidence": 1.5}, "stop.beta.confidence"),
        ({"rule": "window", "size": 1}, "stop.window.size"),
        ({"rule": "sometimes"}, "stop"),
        ({"rule": "beta", "window": 3}, "stop.beta.window"),
    ],
)
def test_a_bad_stop_rule_is_an_error_naming_the_field(stop: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        parse_architecture(vote("http://127.0.0.1:9/v1", stop), "arch.yaml")


def test_stop_needs_generators_right_before_the_vote() -> None:
    data = vote("http://127.0.0.1:9/v1", {"rule": "beta"})
    data["layers"].insert(1, [{"type": "fuser", "samples": 3}])
    with pytest.raises(ConfigError, match=r"layers\[2\]\[0\]\.stop: the layer before a majority_vote with stop"):
        parse_architecture(data, "arch.yaml")


def test_check_shows_the_static_cap_and_refuses_a_bad_rule_with_exit_2(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "name: g\nlayers:\n  - - {type: generator, samples: 20}\n  - - {type: majority_vote, stop: {rule: beta}}\n"
    )
    result = run_cli("check", str(good))
    assert result.code == 0, result.stderr
    assert "20 calls per query" in result.stdout and "at most" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: b\nlayers:\n  - - {type: generator}\n  - - {type: majority_vote, stop: {rule: beta, min: 0}}\n"
    )
    checked = run_cli("check", str(bad))
    assert checked.code == 2 and "stop.beta.min" in checked.stdout
    assert_user_error(run_cli("run", str(bad), "--prompt", "What is 2 + 2?"), "stop.beta.min")


# -- the replay figure draws what the engine draws ---------------------------------------------------


def _replay_module() -> Any:
    spec = importlib.util.spec_from_file_location("replay_stop", ROOT / "bench" / "replay_stop.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("table", REPLAY_TABLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("stop", [{"rule": "beta", "confidence": 0.95}, {"rule": "window", "size": 4}])
async def test_the_replay_draws_as_many_samples_as_the_engine(stop: dict[str, Any], table: Path) -> None:
    """bench/replay_stop.py's figure is the engine's: on recorded questions, the engine (replies
    replayed by sample slot) draws exactly the samples the replay counts, and votes alike."""
    replay = _replay_module()
    rows = [json.loads(line) for line in table.read_text().splitlines()[::8]]  # every category
    assert len(rows) == 38 and all(len(r["answers"]) == 20 for r in rows)
    arch, _ = parse_architecture(vote("http://127.0.0.1:9/v1", stop))
    rule = arch.layers[1][0].stop  # type: ignore[attr-defined]
    for row in rows:
        answers = row["answers"]
        backend = FakeBackend(reply=lambda r, a=answers: a[r.sample_index] or "no idea")
        result = await ArchitectureRunner(arch, LLMGateway(backend=backend)).run(Query.from_prompt(QUESTION))
        drawn = replay.drawn(answers, rule)
        assert result.stats.calls == drawn, row["id"]
        winner = result.answer if result.answer != "no idea" else None
        counts = Counter(a for a in answers[:drawn] if a is not None)
        assert winner == (max(counts, key=lambda k: counts[k]) if counts else None)
