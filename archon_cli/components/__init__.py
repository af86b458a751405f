"""Inference-time components, registered by the name used in architecture files.

Adding a component: write one module with its config (declaring its layer rules), prompt,
parser and ``Component`` subclass, then add it to ``_COMPONENTS`` below.
"""

from __future__ import annotations

from archon_cli.components.base import Component, ComponentConfig
from archon_cli.components.critic import Critic
from archon_cli.components.fuser import Fuser
from archon_cli.components.generator import Generator
from archon_cli.components.majority_vote import MajorityVote
from archon_cli.components.ranker import Ranker
from archon_cli.components.unit_test_evaluator import UnitTestEvaluator
from archon_cli.components.unit_test_generator import UnitTestGenerator
from archon_cli.components.verifier import Verifier

_COMPONENTS: tuple[type[Component], ...] = (  # type: ignore[type-arg]
    Generator,
    Fuser,
    Ranker,
    Critic,
    Verifier,
    UnitTestGenerator,
    UnitTestEvaluator,
    MajorityVote,
)

REGISTRY: dict[str, type[Component]] = {c.kind: c for c in _COMPONENTS}  # type: ignore[type-arg]


def build_component(config: ComponentConfig) -> Component:  # type: ignore[type-arg]
    """The component object for a validated config."""
    return REGISTRY[config.type](config)


__all__ = ["REGISTRY", "Component", "ComponentConfig", "build_component"]
