"""Architecture files: every shipped file loads with its static call count; bad files fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archon_cli.components.base import ComponentConfig
from archon_cli.components.critic import CriticConfig
from archon_cli.components.fuser import FuserConfig
from archon_cli.components.generator import GeneratorConfig
from archon_cli.config import load_architecture, parse_architecture
from archon_cli.config.architecture import construction_errors
from archon_cli.errors import ConfigError, UserError
from tests.conftest import ROOT

ARCH_DIR = ROOT / "architectures"

# Static calls per query, worked out by hand from the counting rules in the issue.
EXPECTED_CALLS = {
    "single-call.yaml": 1,  # generator 1
    "best-of-n-ranker.yaml": 5,  # 4 samples + ranker 1
    "gen-ranker-fuser.yaml": 6,  # 4 + ranker 1 + fuser 1
    "moa-two-fusers.yaml": 8,  # (3 + 2) + (1 + 1) + 1
    "critic-ranker-fuser.yaml": 8,  # 5 + critic 1 + ranker 1 + fuser 1
    "verifier.yaml": 9,  # 3 + 2 per candidate x 3
    "unit-tests.yaml": 7,  # 3 + test generator 1 + evaluator 1 per candidate x 3
    "majority-vote.yaml": 5,  # 5 + vote 0
    "archon-original-format.json": 7,  # (3 + 2) + ranker 1 + fuser 1
    "prompt-styles-vote.yaml": 2,  # two prompt styles, one greedy call each + vote 0
    "program.yaml": 1,  # one greedy program (run in the sandbox: no call)
    "program-vote.yaml": 5,  # 5 sampled programs + vote 0
    "program-vote-stop.yaml": 20,  # at most: 20 sampled programs, drawn until the vote is decided
    "sampled-vote.yaml": 20,  # 20 samples + vote 0
    "sampled-vote-stop.yaml": 20,  # at most: the adaptive vote stops drawing once decided
}


def test_every_architecture_file_is_covered() -> None:
    assert sorted(p.name for p in ARCH_DIR.iterdir() if p.suffix in (".yaml", ".json")) == sorted(EXPECTED_CALLS)


@pytest.mark.parametrize("name", sorted(EXPECTED_CALLS))
def test_static_call_count_of_each_file(name: str) -> None:
    arch, _ = load_architecture(ARCH_DIR / name)
    assert arch.static_calls() == EXPECTED_CALLS[name]
    assert sum(arch.layer_calls()) == arch.static_calls()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nlayers:\n  - - type: generator\n      sampels: 3\n", "layers[0][0].sampels: unknown key"),
        (
            "name: x\nlayers:\n  - - type: generator\n      samples: many\n",
            "layers[0][0].samples: Input should be a valid integer",
        ),
        (
            "name: x\nlayers:\n  - - type: generator\n  - - type: ranker\n      top_k: 0\n",
            "layers[1][0].top_k: Input should be greater than or equal to 1",
        ),
        ("name: x\nlayers:\n  - - type: summoner\n", "layers[0][0]: unknown component type 'summoner'"),
        ("layers:\n  - - type: generator\n", "name: Field required"),
        (
            "name: x\nlayers:\n  - - type: ranker\n",
            "layers[0]: a ranker needs candidates, but no layer before it holds generators",
        ),
        (
            "name: x\nlayers:\n  - - type: unit_test_generator\n  - - type: critic\n",
            "layers[1]: a critic needs candidates, but no layer before it holds generators",
        ),
        (
            "name: x\nlayers:\n  - - type: unit_test_generator\n",
            "layers: no layer holds generators, so no answer is ever written",
        ),
        (
            "name: x\nlayers:\n  - - type: generator\n  - - type: fuser\n    - type: ranker\n",
            "layers[1]: one component type per layer (only generators or fusers may share one)",
        ),
        (
            "name: x\nlayers:\n  - - type: generator\n  - - type: unit_test_evaluator\n",
            "layers[1]: a unit_test_evaluator needs a unit_test_generator in an earlier layer",
        ),
        (
            "name: x\nlayers:\n  - - type: generator\n  - - type: ranker\n    - type: ranker\n",
            "layers[1]: a ranker layer holds exactly one component",
        ),
        ("name: x\nlayers: []\n", "layers: List should have at least 1 item"),
        ("name: x\nlayers:\n  - []\n", "layers[0]: a layer needs at least one component"),
    ],
)
def test_invalid_architectures_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "arch.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_architecture(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


class _Checker(ComponentConfig):
    """A component that is not registered, declaring its own layer rules (as a new one would)."""

    type: str = "checker"
    single_per_layer = True
    needs_earlier = "critic"


def test_layer_rules_come_from_each_component_declaration() -> None:
    generator, critic = GeneratorConfig(), CriticConfig()
    assert construction_errors([[generator], [critic], [_Checker()]]) == []
    assert construction_errors([[generator], [critic], [FuserConfig()], [_Checker()]]) == []
    assert construction_errors([[generator], [_Checker()]]) == [
        "layers[1]: a checker needs a critic in an earlier layer"
    ]
    assert construction_errors([[generator], [critic], [_Checker(), _Checker()]]) == [
        "layers[2]: a checker layer holds exactly one component, found 2"
    ]
    assert construction_errors([[_Checker()]])[0] == (
        "layers[0]: a checker needs candidates, but no layer before it holds generators"
    )


def test_malformed_yaml_and_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"invalid YAML at line 3, column 3"):
        load_architecture(_write(tmp_path, "a.yaml", "name: x\nlayers: [[\n  - : :\n"))
    with pytest.raises(ConfigError, match=r"invalid JSON at line 1, column"):
        load_architecture(_write(tmp_path, "a.json", '{"name": "x", "layers": [}'))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is empty"):
        load_architecture(_write(tmp_path, "e.yaml", "  \n"))
    with pytest.raises(UserError, match="not found"):
        load_architecture(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not UTF-8"):
        load_architecture(bad)
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_architecture(_write(tmp_path, "list.yaml", "- 1\n- 2\n"))


def test_json_and_yaml_forms_are_equivalent(tmp_path: Path) -> None:
    yaml_arch, _ = load_architecture(ARCH_DIR / "critic-ranker-fuser.yaml")
    json_path = _write(tmp_path, "same.json", json.dumps(yaml_arch.model_dump()))
    json_arch, _ = load_architecture(json_path)
    assert json_arch == yaml_arch


def test_defaults_use_the_embedded_model() -> None:
    arch, _ = parse_architecture({"name": "d", "layers": [[{"type": "generator"}], [{"type": "ranker"}]]})
    assert arch.models() == ["local/smollm2-135m"]


def test_wasteful_shapes_are_warnings() -> None:
    _, warnings = parse_architecture(
        {"name": "w", "layers": [[{"type": "generator"}], [{"type": "generator"}], [{"type": "unit_test_generator"}]]}
    )
    assert warnings == [
        "<architecture>: layers[1]: its generators ignore the candidates this layer receives, which are dropped "
        "(as in the original Archon)",
        "<architecture>: layers[2]: nothing after this unit_test_generator uses what it writes",
    ]
