"""The registries (components, benchmarks, search algorithms, final stages) are the one list of
each: the README's tables, `archon benchmarks` and `--help` agree with them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from archon_cli.benchmarks import BENCHMARKS, get_benchmark
from archon_cli.benchmarks.tiny_arith import PER_CATEGORY
from archon_cli.components import REGISTRY as COMPONENTS
from archon_cli.errors import UserError
from archon_cli.registry import Registry, import_target
from archon_cli.search.algorithms import SearchAlgorithm, make_algorithm
from archon_cli.search.choices import ALGORITHMS, FINAL_STAGES
from archon_cli.search.space import SearchSpace

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_table(header: str) -> list[list[str]]:
    """The rows of the README table whose header line starts with ``header``, cells stripped."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows


def expected_rows(registry: Registry[object] | Registry[str]) -> list[list[str]]:
    return [[f"`{name}`", description] for name, description in registry.described()]


@pytest.mark.parametrize(
    ("header", "registry"),
    [
        ("| benchmark | what it is", BENCHMARKS),
        ("| `--algorithm` |", ALGORITHMS),
        ("| `final` (space file) |", FINAL_STAGES),
    ],
)
def test_the_readme_tables_are_the_registries(header: str, registry: Registry[str]) -> None:
    expected = "\n".join(f"| {a} | {b} |" for a, b in expected_rows(registry))
    assert readme_table(header) == expected_rows(registry), f"README table {header!r} should be:\n{expected}"


def test_the_readme_component_table_names_every_component_in_order() -> None:
    names = [n.strip(" `") for row in readme_table("| component |") for n in row[0].split("+")]
    assert names == COMPONENTS.names()
    assert all(COMPONENTS[name].kind == name for name in COMPONENTS)


def test_lazy_entries_name_what_they_load() -> None:
    for name in BENCHMARKS:
        assert import_target(BENCHMARKS[name]).name == name
    for name in ALGORITHMS:
        cls = import_target(ALGORITHMS[name])
        assert issubclass(cls, SearchAlgorithm) and cls.name == name
    assert f"{3 * PER_CATEGORY} questions" in BENCHMARKS.description("tiny-arith")
    assert get_benchmark("gsm8k").name == "gsm8k"


def test_final_stages_are_the_space_choices() -> None:
    assert set(SearchSpace().final) <= set(FINAL_STAGES)
    with pytest.raises(ValueError, match="'none', 'majority_vote', 'verifier'"):
        SearchSpace(final=("voting",))  # type: ignore[arg-type]


def test_an_unknown_name_is_one_line_naming_the_choices() -> None:
    with pytest.raises(UserError, match=r"^unknown search algorithm 'bayes' \(expected one of: gp, random, greedy\)$"):
        make_algorithm("bayes", None, 0)  # type: ignore[arg-type]
    assert ALGORITHMS.choices() == "gp, random or greedy"
    with pytest.raises(ValueError, match="registered twice"):
        Registry("thing", [("a", 1, "one"), ("a", 2, "two")])


def test_cli_help_and_listing_come_from_the_registries(capsys: pytest.CaptureFixture[str]) -> None:
    from archon_cli.commands.benchmarks import list_benchmarks

    assert list_benchmarks() == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:-1]] == sorted(BENCHMARKS)
    assert all(BENCHMARKS.description(line.split()[0]) in line for line in out[:-1])


def test_the_algorithm_help_is_the_registry() -> None:
    from typer.testing import CliRunner

    from archon_cli.cli import app

    result = CliRunner().invoke(app, ["search", "--help"], env={"COLUMNS": "250", "NO_COLOR": "1"})
    assert result.exit_code == 0 and f"{ALGORITHMS.choices()}." in result.output
