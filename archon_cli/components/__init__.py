"""Inference-time components, registered by the name used in architecture files.

Adding a component: write one module with its config (declaring its layer rules), prompt,
parser and ``Component`` subclass, then add it to ``REGISTRY`` below (and to the README's table).
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
from archon_cli.registry import Registry

# The order is the README's component table's.
REGISTRY: Registry[type[Component]] = Registry(  # type: ignore[type-arg]
    "component",
    [
        (Generator.kind, Generator, "samples candidates from the query, in a prompt style"),
        (Fuser.kind, Fuser, "merges all candidates (and critiques) into new ones"),
        (Ranker.kind, Ranker, "keeps the top_k best candidates"),
        (Critic.kind, Critic, "writes strengths and weaknesses per candidate"),
        (Verifier.kind, Verifier, "keeps the candidates judged correct"),
        (UnitTestGenerator.kind, UnitTestGenerator, "writes num_tests checks from the query alone"),
        (UnitTestEvaluator.kind, UnitTestEvaluator, "keeps the candidates passing most unit tests"),
        (MajorityVote.kind, MajorityVote, "keeps the most common final answer (no call)"),
    ],
)


def build_component(config: ComponentConfig) -> Component:  # type: ignore[type-arg]
    """The component object for a validated config."""
    return REGISTRY[config.type](config)  # type: ignore[no-any-return]


__all__ = ["REGISTRY", "Component", "ComponentConfig", "build_component"]
