"""What every command shares: warnings on the terminal, and the checks of an architecture file
before any call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from archon_cli.commands.settings import EngineSettings
from archon_cli.config.architecture import Architecture, load_architecture
from archon_cli.config.budget import check_budget


def print_warnings(console: Console, warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


def warner(console: Console) -> Callable[[str], None]:
    """A callback that prints one warning line (for the library's notices: a damaged cache, ...)."""
    return lambda warning: print_warnings(console, [warning])


def load_checked(path: Path, settings: EngineSettings, console: Console) -> Architecture:
    """Load and validate an architecture file (warnings printed) and check its cost against the budget."""
    architecture, warnings = load_architecture(path, settings.caps)
    print_warnings(console, warnings)
    check_budget(architecture, settings.budget)
    return architecture
