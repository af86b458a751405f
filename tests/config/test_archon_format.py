"""The original Archon JSON format: every construct keeps the meaning the original code gives it
(ScalingIntelligence/Archon, src/archon/completions), keys with no effect are warned about, and the
static calls per query equal what the original sends.

The configs here are small hand-made ones with the shapes of the original's config folder (object
layers, ignored branches, unit tests first, mixed layers, ...); the original files are not copied.
Expected counts are worked out from the original code: a generator or fuser makes ``samples``
calls, an LLM ranker 1, a critic 1, a verifier 2 per candidate, a unit-test generator 1, an
evaluator 1 per candidate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archon_cli.config import load_architecture, parse_architecture
from archon_cli.config.architecture import MAX_NAME
from archon_cli.config.archon_format import convert_archon_format, is_archon_format
from archon_cli.errors import ConfigError
from tests.conftest import ROOT, run_cli

ARCH_DIR = ROOT / "architectures"

LLAMA = "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"
QWEN = "Qwen/Qwen2-72B-Instruct"
SONNET = "claude-3-5-sonnet-20240620"


def comp(kind: str, model: str = LLAMA, model_type: str = "Together_API", **keys: Any) -> dict[str, Any]:
    """A component as the original's config files write it."""
    return {"type": kind, "model": model, "model_type": model_type, "temperature": 0.7, "max_tokens": 2048, **keys}


def gen(model: str = LLAMA, samples: int = 1, **keys: Any) -> dict[str, Any]:
    return comp("generator", model, top_k=1, samples=samples, **keys)


def fuser(model: str = QWEN, samples: int = 1, **keys: Any) -> dict[str, Any]:
    return comp("fuser", model, top_k=1, samples=samples, **keys)


def ranker(top_k: int, model: str = QWEN) -> dict[str, Any]:
    return comp("ranker", model, top_k=top_k, samples=1, use_critiques=True)


def critic(model: str = QWEN) -> dict[str, Any]:
    return comp("critic", model, samples=1)


def obj(*components: dict[str, Any], branches: int = 1) -> dict[str, Any]:
    """An object layer, the older MoA-style layout."""
    return {"branches": branches, "models": list(components)}


def archon(*layers: Any) -> dict[str, Any]:
    return {"name": "hand-made", "layers": list(layers)}


def load(data: dict[str, Any]) -> tuple[Any, list[str]]:
    return parse_architecture(data, "orig.json")


def warned(warnings: list[str], *fragments: str) -> bool:
    return any(all(f in w for f in fragments) for w in warnings)


# The static calls per query the original code sends for each shape (census of its config folder).
ORIGINAL_CALLS: dict[str, tuple[Callable[[], dict[str, Any]], int]] = {
    # Six identical proposers in object layers, then 6, 6 and 1 fusers: 6 + 6 + 6 + 1.
    "moa-object-layers": (
        lambda: archon(obj(*[gen(QWEN)] * 6), obj(*[fuser()] * 6), obj(*[fuser()] * 6), obj(fuser())),
        19,
    ),
    # branches is never read: one generator + one fuser, not 5 + 1.
    "branches-ignored": (lambda: archon(obj(gen(QWEN), branches=5), obj(fuser(QWEN))), 2),
    # Two identical generators without samples (default 1), then a fuser: 1 + 1 + 1.
    "identical-generators": (lambda: archon([comp("generator", QWEN)] * 2, [comp("fuser", QWEN)]), 3),
    # Unit tests first (Anthropic, cap 5), 8 generators seeing them, rank top 5, critic, fuser: 1+8+1+1+1.
    "unit-tests-first": (
        lambda: archon(
            [comp("unit_test_generator", SONNET, "Anthropic_API", samples=1, unit_test_cap=5)],
            [gen()] * 8,
            [ranker(5)],
            [critic()],
            [fuser()],
        ),
        12,
    ),
    # 8 generators x 2 samples, a verifier (2 calls per candidate), a fuser: 16 + 32 + 1.
    "verifier": (lambda: archon([gen(samples=2)] * 8, [comp("verifier", samples=1)], [fuser()]), 49),
    # 8 x 3 samples, ranker top 3, critic, fuser: 24 + 1 + 1 + 1.
    "rank-critic-fuse": (lambda: archon([gen(samples=3)] * 8, [ranker(3)], [critic()], [fuser()]), 27),
    # 8 generators, fusers with 3, 3, 3, 1, 3, 1 samples, a final fuser: 8 + 14 + 1.
    "fusers-with-samples": (
        lambda: archon([gen()] * 8, [fuser(samples=s) for s in (3, 3, 3, 1, 3, 1)], [fuser()]),
        23,
    ),
    # Sonnet 3 + GPT-4o 3, critic, 2 fusers x 3, critic, ranker top 5, fuser (max_tokens 20000):
    # 6 + 1 + 6 + 1 + 1 + 1.
    "two-fusion-layers": (
        lambda: archon(
            [gen(SONNET, 3, model_type="Anthropic_API"), gen("gpt-4o", 3, model_type="OpenAI_API")],
            [critic(SONNET) | {"model_type": "Anthropic_API"}],
            [fuser(SONNET, 3) | {"model_type": "Anthropic_API"}, fuser("gpt-4o", 3) | {"model_type": "OpenAI_API"}],
            [critic(SONNET) | {"model_type": "Anthropic_API"}],
            [ranker(5, "gpt-4o") | {"model_type": "OpenAI_API"}],
            [fuser(SONNET) | {"model_type": "Anthropic_API", "max_tokens": 20000}],
        ),
        16,
    ),
    # A generator layer after a generator layer (the first one's answers are dropped): 8 + 8 + 1.
    "generators-twice": (lambda: archon([gen()] * 8, [gen()] * 8, [fuser()]), 17),
    # One generator with 10 samples alone: 10.
    "samples-alone": (lambda: archon([gen("mistralai/Mixtral-8x22B-Instruct-v0.1", 10)]), 10),
    # Unit tests (cap 3), 5 samples, an evaluator (1 per candidate, first_pass): 1 + 5 + 5.
    "unit-test-evaluator": (
        lambda: archon(
            [comp("unit_test_generator", "gpt-4o", "OpenAI_API", samples=1, unit_test_cap=3)],
            [gen("gpt-4o", 5, model_type="OpenAI_API")],
            [
                comp(
                    "unit_test_evaluator",
                    "gpt-4o",
                    "OpenAI_API",
                    samples=1,
                    top_k=1,
                    remove_unit_tests_from_prompt=True,
                    first_pass=True,
                )
            ],
        ),
        11,
    ),
}


@pytest.mark.parametrize("shape", sorted(ORIGINAL_CALLS))
def test_static_calls_equal_what_the_original_sends(shape: str) -> None:
    build, calls = ORIGINAL_CALLS[shape]
    arch, _ = load(build())
    assert arch.static_calls() == calls


def test_object_layers_are_their_models_and_branches_is_ignored() -> None:
    as_objects, warnings = load(archon(obj(gen(), gen(QWEN), branches=5), obj(fuser())))
    as_lists, _ = load(archon([gen(), gen(QWEN)], [fuser()]))
    assert as_objects.layers == as_lists.layers
    assert warned(warnings, "layers[0].branches, layers[1].branches", "no effect")


def test_a_bare_component_layer_is_a_layer_of_one_with_a_warning() -> None:
    arch, warnings = load(archon({"type": "generator", "model": "facebook/opt-125m", "model_type": "vLLM"}))
    assert arch.models() == ["hosted_vllm/facebook/opt-125m"] and arch.static_calls() == 1
    assert warned(warnings, "layers[0]: a single component, not a list")


def test_unit_tests_first_become_the_number_of_tests_and_reach_the_generators() -> None:
    build, _ = ORIGINAL_CALLS["unit-tests-first"]
    arch, warnings = load(build())
    assert arch.layers[0][0].type == "unit_test_generator" and arch.layers[0][0].num_tests == 5
    assert [c.type for c in arch.layers[1]] == ["generator"] * 8
    assert arch.layer_calls() == [1, 8, 1, 1, 1]
    assert warned(warnings, "layers[0][0].max_tokens", "4096")  # Anthropic, as the original sends


def test_a_mixed_generator_and_fuser_layer_loads_with_its_fusers_idle() -> None:
    """The original crashes here (its fusers get no candidates); archon runs the generators and says
    the fusers do nothing."""
    arch, warnings = load(archon([gen()] * 3 + [fuser()] * 2, [critic()], [fuser()]))
    assert arch.layer_calls() == [3, 1, 1]
    assert warned(warnings, "layers[0][3]", "no candidates reach it", "the original Archon fails here")
    assert warned(warnings, "layers[0][4]", "no candidates reach it")


def test_a_mixed_layer_after_candidates_fuses_and_samples() -> None:
    arch, warnings = load(archon([gen()] * 4, [gen(QWEN), fuser(samples=2)], [fuser()]))
    assert arch.layer_calls() == [4, 3, 1]
    assert not warned(warnings, "ignore the candidates")


def test_generators_after_candidates_are_legal_and_the_drop_is_warned() -> None:
    arch, warnings = load(archon([gen()] * 2, [gen(QWEN)] * 2, [fuser()]))
    assert arch.layer_calls() == [2, 2, 1]
    assert warned(warnings, "layers[1]: its generators ignore the candidates")


def test_top_k_on_generators_and_fusers_has_no_effect() -> None:
    arch, warnings = load(archon([gen(samples=3)], [fuser(samples=2)]))
    assert arch.layer_calls() == [3, 2]
    assert warned(warnings, "layers[0][0].top_k", "no effect on a generator")
    assert warned(warnings, "layers[1][0].top_k", "no effect on a fuser")


def test_identical_warnings_are_grouped_into_one_line() -> None:
    _, warnings = load(archon([gen()] * 8, [fuser()]))
    lines = [w for w in warnings if "no effect on a generator" in w]
    assert len(lines) == 1
    assert "layers[0][0].top_k, layers[0][1].top_k, layers[0][2].top_k and 5 more" in lines[0]


def test_max_tokens_as_the_original_sends_it() -> None:
    """Anthropic components get 4096 whatever the file says (the original always sends that);
    other values over archon's limit are lowered to it, with a warning each."""
    arch, warnings = load(
        archon(
            [gen(SONNET, model_type="Anthropic_API", max_tokens=200000), gen(max_tokens=200000, samples=1000)],
            [fuser(max_tokens=20000)],
        )
    )
    sonnet, llama = arch.layers[0]
    assert sonnet.max_tokens == 4096 and llama.max_tokens == 65536 and llama.samples == 256
    assert arch.layers[1][0].max_tokens == 20000
    assert warned(warnings, "layers[0][0].max_tokens", "sent as 4096")
    assert warned(warnings, "layers[0][1].max_tokens", "200000 is over archon's limit", "65536")
    assert warned(warnings, "layers[0][1].samples", "1000 is over archon's limit", "256")


def test_pairrm_ranker_loads_with_a_warning_and_an_unroutable_model() -> None:
    arch, warnings = load(
        archon([gen()] * 6, [comp("ranker", "llm-blender/PairRM", "", top_k=3, ranker_batch_size=16)], [fuser()])
    )
    assert arch.layers[1][0].model == "llm-blender/PairRM"
    assert arch.layer_calls() == [6, 1, 1]  # the original's PairRM makes no API call: 7
    assert warned(warnings, "layers[1][0]: llm-blender/PairRM is a reward model", "give it an LLM model")
    assert not warned(warnings, "model_type: unknown value")


def test_unit_test_evaluator_keys() -> None:
    build, _ = ORIGINAL_CALLS["unit-test-evaluator"]
    arch, warnings = load(build())
    evaluator = arch.layers[2][0]
    assert (evaluator.top_k, evaluator.first_k) == (1, 1)  # first_pass is first_k: 1
    assert not warned(warnings, "remove_unit_tests_from_prompt")
    assert warned(warnings, "layers[0][0].samples", "no effect on a unit_test_generator")
    # Without top_k the original keeps every candidate, best first.
    data = build()
    del data["layers"][2][0]["top_k"]
    data["layers"][2][0]["remove_unit_tests_from_prompt"] = False
    arch, warnings = load(data)
    assert arch.layers[2][0].top_k is None and arch.layers[2][0].call_count(5) == (5, 5)
    assert warned(warnings, "remove_unit_tests_from_prompt", "without the tests")


def test_length_control_only_with_critiques_and_the_misspelling_is_ignored() -> None:
    arch, warnings = load(archon([gen()] * 3, [fuser(length_control=True, length_contorl=True)]))
    assert arch.layers[1][0].length_control is False
    assert warned(warnings, "layers[1][0].length_control", "no critic comes before this fuser")
    assert warned(warnings, "layers[1][0].length_contorl", "never reads this misspelling")
    arch, _ = load(archon([gen()] * 3, [critic()], [fuser(length_control=True)]))
    assert arch.layers[2][0].length_control is True


def test_judges_use_one_reply_and_say_so_when_samples_asks_for_more() -> None:
    arch, warnings = load(archon([gen()] * 3, [comp("critic", samples=3)], [fuser()]))
    assert arch.layer_calls() == [3, 1, 1]
    assert warned(warnings, "layers[1][0].samples", "makes 3 calls here and uses only the first reply")


def test_a_ranker_of_one_candidate_makes_no_call() -> None:
    """A documented difference: the original asks its ranker even about a single candidate (3 calls
    here); archon skips a call whose reply cannot change anything."""
    arch, _ = load(archon([gen("meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo")], [critic()], [ranker(1)]))
    assert arch.layer_calls() == [1, 1, 0]


def test_unknown_type_and_unit_test_only_files_fail_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"orig.json: layers\[0\]\[0\]: unknown component type 'summoner'"):
        load(archon([comp("summoner")]))
    with pytest.raises(ConfigError, match="no layer holds generators"):
        load(archon([comp("unit_test_generator", samples=1)]))
    with pytest.raises(ConfigError, match=r"layers\[0\]: Input should be a valid list"):
        load(archon({"branches": 1}, [gen()]))


def test_archon_original_format_maps_providers_and_warns() -> None:
    arch, warnings = load_architecture(ARCH_DIR / "archon-original-format.json")
    assert arch.models() == [
        "openai/gpt-4o",
        "together_ai/Qwen/Qwen2-72B-Instruct",
        "anthropic/claude-3-5-sonnet-20240620",
    ]
    gen_together = arch.layers[0][1]
    assert gen_together.max_tokens == 2048  # from the legacy max_context_length
    assert arch.layers[1][0].max_tokens == 4096  # Anthropic, as the original sends
    assert arch.layers[2][0].length_control is False  # the original never reads length_contorl
    assert any("layers[0][0].top_k" in w and "no effect" in w for w in warnings)
    assert any("layers[1][0].samples" in w for w in warnings)


def test_archon_format_all_model_types() -> None:
    data = {
        "name": "x",
        "layers": [
            [
                {"type": "generator", "model": "m", "model_type": t, "samples": 1}
                for t in ("OpenAI_API", "Together_API", "Anthropic_API", "Groq_API", "Google_API", "vLLM")
            ]
        ],
    }
    assert is_archon_format(data)
    converted, warnings = convert_archon_format(data)
    assert [c["model"] for c in converted["layers"][0]] == [
        "openai/m",
        "together_ai/m",
        "anthropic/m",
        "groq/m",
        "gemini/m",
        "hosted_vllm/m",
    ]
    assert [c["max_tokens"] for c in converted["layers"][0] if "max_tokens" in c] == [4096]  # Anthropic
    assert warnings == ["layers[0][2].max_tokens: sent as 4096, as the original Archon does for every Anthropic model"]
    assert is_archon_format(archon(obj(gen())))


# Names as the original's config folder writes them: the file name, the name inside (hand-made here).
LONG_NAMES = [
    "archon-gpt-4o-sample_5_then_unit_test_generation_5_with_gpt-4o_then_unit_test_evaluation_with_gpt-4o_first_pass",
    "archon-gpt-4o-sample_5_then_unit_test_generation_5_with_gpt-4o_then_unit_test_evaluation_with_gpt-4o_second_pass",
    "archon-claude-3-5-sonnet-20240620-sample_10_then_critic_then_ranker_top_5_then_fuser_with_claude-3-5-sonnet",
]


def _write_long_configs(folder: Path) -> list[Path]:
    paths = []
    for i, name in enumerate(LONG_NAMES):
        data = {"name": name, "layers": [[gen(samples=5)], [fuser()]] if i < 2 else [[gen(samples=10)], [critic()]]}
        path = folder / f"{name}.json"
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        paths.append(path)
    return paths


def test_long_original_names_are_shortened_with_a_hash_and_kept_whole_in_the_description(tmp_path: Path) -> None:
    assert all(len(n) > MAX_NAME for n in LONG_NAMES)
    loaded = [load_architecture(p) for p in _write_long_configs(tmp_path)]
    names = [arch.name for arch, _ in loaded]
    assert all(len(n) <= MAX_NAME for n in names) and len(set(names)) == len(names)
    # The two names that differ only at their end stay apart (the hash is of the whole name).
    assert names[0][:80] == names[1][:80] and names[0] != names[1]
    for (arch, warnings), full in zip(loaded, LONG_NAMES, strict=True):
        assert arch.name.startswith(full[:60]) and full in arch.description
        assert any("name: " in w and "shortened to " + arch.name in w for w in warnings)
    # Our own format keeps its limit: a long name there is the user's to fix.
    with pytest.raises(ConfigError, match="name"):
        parse_architecture({"name": LONG_NAMES[0], "layers": [[{"type": "generator", "model": "openai/m"}]]})


def test_check_passes_long_names_and_broken_json_files_are_one_line_errors(tmp_path: Path) -> None:
    good = _write_long_configs(tmp_path)
    broken = [tmp_path / "archon-trailing-comma.json", tmp_path / "archon-cut-short.json"]
    broken[0].write_text('{"name": "x", "layers": [[{"type": "generator", "model": "m"},]]}', encoding="utf-8")
    broken[1].write_text('{"name": "x", "layers": [[{"type": "generator",', encoding="utf-8")
    result = run_cli("check", *map(str, good + broken))
    assert result.code == 2 and "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("OK    ") for line in lines) == 3
    errors = [line for line in lines if line.startswith("ERROR ")]
    assert len(errors) == 2 and all("invalid JSON at line" in line for line in errors)
    assert [e.split()[1].rstrip(":") for e in errors] == [str(p) for p in broken]
    assert lines[-1] == "3 of 5 files valid"
