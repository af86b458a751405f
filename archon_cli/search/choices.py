"""The search's named choices, each with its one-line description: the algorithms (``--algorithm``)
and the final stages (a space's ``final``). Light (names only, classes imported when used), since
``archon --help`` reads it; the README's tables are checked against it (tests/test_registry.py)."""

from __future__ import annotations

from archon_cli.registry import Registry

ALGORITHMS: Registry[str] = Registry(
    "search algorithm",
    [
        (
            "gp",
            "archon_cli.search.algorithms:GPSearch",
            "Gaussian-process Bayesian optimisation (scikit-optimize's GP, expected improvement over the architectures not yet evaluated)",
        ),
        ("random", "archon_cli.search.algorithms:RandomSearch", "the feasible architectures in a seeded random order"),
        (
            "greedy",
            "archon_cli.search.algorithms:GreedySearch",
            "from the cheapest architecture, one dimension at a time around the best so far",
        ),
    ],
)

# A final stage's entry is its short form in architecture labels ("g2x3-mv").
FINAL_STAGES: Registry[str] = Registry(
    "final stage",
    [
        ("none", "", "no last stage: the first candidate is the answer"),
        ("majority_vote", "mv", "the most common final answer (no call; with the point's stopping rule)"),
        ("verifier", "ver", "a model verifies each candidate and keeps those judged correct"),
        ("unit_tests", "ut", "a model writes unit tests, then judges each candidate against them"),
        (
            "executed_tests",
            "xut",
            "code tasks: generated asserts run against each candidate, ranked by CodeT's dual agreement",
        ),
        ("ranker", "rk", "a model ranks the candidates and keeps the first"),
    ],
)
