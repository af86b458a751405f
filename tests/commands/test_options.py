"""The shared option groups are declared once: every command that offers an option of a group
gets the same flag, and its default is the group's (serve's concurrency aside, on purpose)."""

from __future__ import annotations

import dataclasses

import typer

from archon_cli.cli import app
from archon_cli.commands.options import EngineOptions, EvaluationOptions


def _params(command: str) -> dict[str, object]:
    click_app = typer.main.get_command(app)
    sub = click_app.commands[command]  # type: ignore[attr-defined]
    return {p.name: p for p in sub.params}


def test_every_command_takes_its_groups_options_with_the_groups_defaults() -> None:
    offered = {
        "run": (EngineOptions, None),
        "eval": (EngineOptions, EvaluationOptions),
        "search": (EngineOptions, EvaluationOptions),
        "serve": (EngineOptions, None),
        "compare": (EngineOptions, EvaluationOptions),
    }
    for command, groups in offered.items():
        params = _params(command)
        for group in filter(None, groups):
            for f in dataclasses.fields(group):
                if f.name not in params:
                    continue
                default = params[f.name].default  # type: ignore[attr-defined]
                expected = 32 if (command, f.name) == ("serve", "concurrency") else f.default
                assert default == expected, (command, f.name, default)
    assert "budget" in _params("compare") and "no_cache" not in _params("compare")
    assert "split" not in _params("search") and "max_attempts" not in _params("search")
    assert _params("search")["budget"].required  # type: ignore[attr-defined]


def test_one_flag_one_help_across_commands() -> None:
    helps = {name: {_params(c)[name].help for c in ("eval", "compare", "search")} for name in ("judge", "data_dir")}  # type: ignore[attr-defined]
    assert all(len(h) == 1 for h in helps.values()), helps
    assert {p.opts[0] for p in _params("eval").values() if p.name == "no_trace"} == {"--no-trace"}  # type: ignore[attr-defined]
