"""The engine: layers run in order, calls within a layer run together, counts match the static cost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archon_cli.config import Architecture, load_architecture, parse_architecture
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.llm.cache import ResponseCache
from archon_cli.llm.gateway import LLMGateway
from archon_cli.llm.types import CompletionRequest
from archon_cli.state import Query
from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import ROOT
from tests.fakes import FakeBackend

ARCH_DIR = ROOT / "architectures"


def smart_reply(request: CompletionRequest) -> str:
    """Plausible replies for every component (told by the request's purpose), so the fallbacks are
    not what is tested here."""
    # a few-shot completion (prompt style) sends a plain prompt, not messages
    prompt = request.prompt if request.prompt is not None else request.messages[-1]["content"]
    n = len(re.findall(r"^\[\d+\]", prompt, flags=re.M)) or 1
    kind = request.purpose.partition(":")[0]
    if kind == "verifier":
        return "Verdict: correct"
    if kind == "unit_test_evaluator":
        return "\n".join(f"{k}: PASS" for k in range(1, 6))
    if kind == "ranker":
        return " > ".join(f"[{k}]" for k in range(n, 0, -1))
    if kind == "critic":
        return "\n".join(f"[{k}] Strengths: clear. Weaknesses: short." for k in range(1, n + 1))
    if kind == "unit_test_generator":
        return "1. mentions Paris\n2. is one word\n3. is a city"
    if request.prompt is not None and request.prompt.endswith("```python\n"):  # the program style
        return f"print('answer {request.model} #{request.sample_index}')"
    return f"answer {request.model} #{request.sample_index} t={request.temperature}"


def gateway(delay: float = 0.0) -> tuple[LLMGateway, FakeBackend]:
    backend = FakeBackend(reply=smart_reply, delay=delay)
    return LLMGateway(backend=backend), backend


@pytest.mark.parametrize("name", sorted(p.name for p in ARCH_DIR.glob("*.yaml")))
async def test_counted_calls_never_exceed_static_count(name: str) -> None:
    arch, _ = load_architecture(ARCH_DIR / name)
    gw, backend = gateway()
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("What is the capital of France?"))
    assert result.ok and result.answer
    assert len(backend.sent) == result.stats.calls <= arch.static_calls()
    assert sum(layer.calls for layer in result.layers) == result.stats.calls


async def test_every_request_names_the_component_that_asks() -> None:
    arch, _ = load_architecture(ARCH_DIR / "verifier.yaml")
    gw, backend = gateway()
    await ArchitectureRunner(arch, gw).run(Query.from_prompt("What is the capital of France?"))
    kinds = [c.type for layer in arch.layers for c in layer]
    purposes = {r.purpose for r in backend.sent}
    assert purposes == {k for k in kinds if k != "verifier"} | {"verifier:reasoning", "verifier:verdict"}


async def test_generator_ranker_fuser_counts_equal_static_count() -> None:
    arch, _ = load_architecture(ARCH_DIR / "gen-ranker-fuser.yaml")
    gw, _backend = gateway()
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("Name a colour."))
    assert result.stats.calls == arch.static_calls() == 6
    assert [layer.calls for layer in result.layers] == arch.layer_calls() == [4, 1, 1]
    assert [len(layer.candidates) for layer in result.layers] == [4, 2, 1]


async def test_samples_and_components_of_a_layer_are_in_flight_together() -> None:
    arch, _ = parse_architecture(
        {
            "name": "overlap",
            "layers": [
                [
                    {"type": "generator", "model": "openai/a", "samples": 3},
                    {"type": "generator", "model": "openai/b", "samples": 2},
                ],
                [
                    {"type": "fuser", "model": "openai/a", "samples": 2},
                    {"type": "fuser", "model": "openai/b", "samples": 2},
                ],
            ],
        }
    )
    gw, backend = gateway(delay=0.05)
    runner = ArchitectureRunner(arch, gw)
    result = await runner.run(Query.from_prompt("q"))
    # All 5 generator calls (two components) overlap, then all 4 fuser calls do.
    assert backend.max_in_flight == 5
    assert result.layers[0].seconds < 0.05 * 2
    assert result.layers[1].seconds < 0.05 * 2
    assert len(backend.sent) == 9


async def test_queries_run_concurrently_up_to_the_limit() -> None:
    arch, _ = load_architecture(ARCH_DIR / "single-call.yaml")
    gw, backend = gateway(delay=0.05)
    runner = ArchitectureRunner(arch, gw)
    queries = [Query.from_prompt(f"q{i}", id=str(i)) for i in range(12)]
    results = [r async for r in runner.run_many(queries, concurrency=4)]
    assert sorted(r.query.id for r in results) == sorted(q.id for q in queries)
    assert backend.max_in_flight == 4


async def test_final_answer_is_first_candidate_of_last_layer_and_deterministic() -> None:
    arch, _ = load_architecture(ARCH_DIR / "best-of-n-ranker.yaml")
    answers = set()
    for _ in range(3):
        gw, _b = gateway()
        result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("q"))
        assert result.answer == result.layers[-1].candidates[0].text
        answers.add(result.answer)
    assert len(answers) == 1
    # smart_reply ranks the last candidate first: the ranker's choice decides the answer.
    assert answers == {"answer local/smollm2-135m #3 t=0.7"}


async def test_critiques_stay_with_their_candidates_through_ranking() -> None:
    arch, _ = load_architecture(ARCH_DIR / "critic-ranker-fuser.yaml")
    gw, _b = gateway()
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("q"))
    critic_layer, ranker_layer = result.layers[1], result.layers[2]
    critique_of = {c.text: c.critique for c in critic_layer.candidates}
    assert all(c.critique for c in ranker_layer.candidates)
    for c in ranker_layer.candidates:
        assert c.critique == critique_of[c.text]
    # The fuser makes new candidates: the old critiques are dropped.
    assert result.layers[3].candidates[0].critique is None


async def test_caller_messages_are_not_mutated() -> None:
    messages = ({"role": "user", "content": "What is 2+2?"},)
    snapshot = [dict(m) for m in messages]
    for name in ("unit-tests.yaml", "verifier.yaml", "critic-ranker-fuser.yaml"):
        arch, _ = load_architecture(ARCH_DIR / name)
        gw, _b = gateway()
        await ArchitectureRunner(arch, gw).run(Query(messages=messages))
        assert [dict(m) for m in messages] == snapshot


async def test_failed_query_is_recorded_not_raised() -> None:
    from archon_cli.errors import ProviderError

    arch, _ = load_architecture(ARCH_DIR / "single-call.yaml")
    backend = FakeBackend(errors=[ProviderError("openai/x: BadRequestError 400: nope")])
    runner = ArchitectureRunner(arch, LLMGateway(backend=backend))
    result = await runner.run_safely(Query.from_prompt("q"))
    assert not result.ok and "400" in (result.error or "")
    assert result.answer == "" and result.stats.calls == 1 and result.stats.failures == 1


# -- sample identity: every component instance draws its own samples ---------------------------


def ensemble(temperature: float, model: str = "openai/same", **extra: object) -> dict[str, object]:
    """Five generators of one model with 2 samples each, three identical fusers, a final fuser."""
    settings = {"model": model, "temperature": temperature, "max_tokens": 64, **extra}
    return {
        "name": "same-model-ensemble",
        "layers": [
            [{"type": "generator", "samples": 2, **settings}] * 5,
            [{"type": "fuser", **settings}] * 3,
            [{"type": "fuser", **settings}],
        ],
    }


async def test_repeated_generators_and_fusers_draw_their_own_samples() -> None:
    arch, _ = parse_architecture(ensemble(0.7))
    gw, backend = gateway()
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("Name a colour."))
    assert len(backend.sent) == result.stats.calls == arch.static_calls() == 14
    assert result.stats.cache_hits == 0
    assert len({r.cache_key() for r in backend.sent}) == 14
    generated, fused = result.layers[0].candidates, result.layers[1].candidates
    assert len({c.text for c in generated}) == 10
    assert len(fused) == 3 and len({r.sample_index for r in backend.sent if r.purpose == "fuser"}) == 3
    # The slots follow the architecture: generator k, sample i is slot 2k + i.
    assert [r.sample_index for r in backend.sent if r.purpose == "generator"] == list(range(10))


async def test_identical_requests_at_temperature_zero_are_one_draw_and_counted_as_shared() -> None:
    arch, _ = parse_architecture(ensemble(0.0))
    gw, backend = gateway(delay=0.01)
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("Name a colour."))
    # Greedy decoding gives one answer per prompt: 1 generator, 1 fuser and 1 final fuser call.
    assert len(backend.sent) == result.stats.calls == 3
    assert result.stats.calls + result.stats.cache_hits == arch.static_calls() == 14
    assert [(layer.calls, layer.cache_hits) for layer in result.layers] == [(1, 9), (1, 2), (1, 0)]


async def test_the_same_shape_reuses_the_cache_across_architectures(tmp_path: Path) -> None:
    """As in a search: the same (model, prompt, sample slot) is the same cached reply in every
    trial, so 3 samples reuse the first 3 of 5, and two generators of 3 add only slot 5."""

    def one_model(*samples: int) -> Architecture:
        layer = [{"type": "generator", "model": "openai/m", "samples": s, "temperature": 0.7} for s in samples]
        return parse_architecture({"name": f"g{samples}", "layers": [layer]})[0]

    backend = FakeBackend(reply=smart_reply)
    gw = LLMGateway(backend=backend, cache=ResponseCache(tmp_path / "cache.sqlite"))
    query = Query.from_prompt("Name a colour.")
    first = await ArchitectureRunner(one_model(5), gw).run(query)
    assert (first.stats.calls, first.stats.cache_hits) == (5, 0)
    fewer = await ArchitectureRunner(one_model(3), gw).run(query)
    assert (fewer.stats.calls, fewer.stats.cache_hits) == (0, 3)
    assert [c.text for c in fewer.layers[0].candidates] == [c.text for c in first.layers[0].candidates][:3]
    two = await ArchitectureRunner(one_model(3, 3), gw).run(query)
    assert (two.stats.calls, two.stats.cache_hits) == (1, 5)
    assert len({c.text for c in two.layers[0].candidates}) == 6


# -- the original Archon's shapes --------------------------------------------------------------


async def test_unit_tests_first_reach_the_generators_and_later_layers() -> None:
    arch, _ = parse_architecture(
        {
            "name": "tests-first",
            "layers": [
                [{"type": "unit_test_generator", "model": "openai/t", "num_tests": 3}],
                [{"type": "generator", "model": "openai/g", "samples": 3}],
                [{"type": "unit_test_evaluator", "model": "openai/t", "top_k": 2}],
                [{"type": "fuser", "model": "openai/f"}],
            ],
        }
    )
    gw, backend = gateway()
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("What is the capital of France?"))
    assert result.stats.calls == arch.static_calls() == 1 + 3 + 3 + 1
    assert result.layers[0].candidates == () and result.layers[0].unit_tests == (
        "mentions Paris",
        "is one word",
        "is a city",
    )
    by_purpose = {r.purpose: r.messages[-1]["content"] for r in backend.sent}
    # The tests are written from the query alone; generators and fusers see them with the query.
    assert "passes these tests" not in by_purpose["unit_test_generator"]
    assert by_purpose["generator"] == (
        "What is the capital of France?\n\nA correct answer passes these tests:\n"
        "- mentions Paris\n- is one word\n- is a city"
    )
    assert "- is a city" in by_purpose["fuser"]
    # The evaluator gets the question as asked and the tests once, numbered.
    evaluator = by_purpose["unit_test_evaluator"]
    assert "passes these tests" not in evaluator and "3. is a city" in evaluator
    assert len(result.layers[2].candidates) == 2 and result.answer


async def test_a_mixed_first_layer_runs_its_generators_and_its_fusers_idle() -> None:
    arch, warnings = parse_architecture(
        {
            "name": "mixed",
            "layers": [
                [{"type": "generator", "model": "openai/g", "samples": 2}, {"type": "fuser", "model": "openai/f"}],
                [{"type": "generator", "model": "openai/g2"}, {"type": "fuser", "model": "openai/f"}],
            ],
        }
    )
    assert any("layers[0][1]" in w and "no candidates reach it" in w for w in warnings)
    gw, backend = gateway()
    result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("Name a colour."))
    assert result.stats.calls == arch.static_calls() == 2 + 2
    assert [layer.kind for layer in result.layers] == ["generator+fuser"] * 2
    # Layer 1: a fresh sample and a fusion of layer 0's two candidates.
    assert [c.origin.split(":")[0] for c in result.layers[1].candidates] == ["generator", "fuser"]
    assert "[2] answer openai/g #1" in next(r for r in backend.sent if r.purpose == "fuser").messages[-1]["content"]


# -- against a loopback OpenAI-compatible server -----------------------------------------------


@pytest.mark.parametrize("no_cache", [True, False])
async def test_same_model_ensemble_over_http_sends_the_static_count(tmp_path: Path, no_cache: bool) -> None:
    """Five generators x 2 samples of one model, three identical fusers and a final fuser, through
    LiteLLM to a real server: 14 samples (calls) arrive in 9 requests (each generator's two
    samples in one request with ``n = 2``), and every sample is a different reply."""
    with FaultServer(FaultPlan()) as server:
        arch, _ = parse_architecture(ensemble(0.7, model="openai/fake-model", api_base=server.api_base))
        cache = None if no_cache else ResponseCache(tmp_path / "cache.sqlite")
        gw = LLMGateway(cache=cache)
        result = await ArchitectureRunner(arch, gw).run(Query.from_prompt("Name a colour."))
        assert result.ok, result.error
        assert server.stats()["choices"] == result.stats.calls == arch.static_calls() == 14
        assert server.stats()["requests"] == result.stats.requests == 5 + 3 + 1
        assert len({c.text for c in result.layers[0].candidates}) == 10
        assert len({c.text for c in result.layers[1].candidates}) == 3
        if cache is not None:  # the same query again: every reply from the cache, none sent
            again = await ArchitectureRunner(arch, gw).run(Query.from_prompt("Name a colour."))
            assert (again.stats.calls, again.stats.requests, again.stats.cache_hits) == (0, 0, 14)
            assert server.stats()["requests"] == 9
