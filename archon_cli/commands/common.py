"""What every command shares: warnings on the terminal, and the checks of an architecture file
before any call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from archon_cli.commands.settings import EngineSettings
from archon_cli.config.architecture import Architecture, load_architecture
from archon_cli.config.budget import check_budget


def print_warnings(console: Console, warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)


def warner(console: Console) -> Callable[[str], None]:
    """A callback that prints one warning line (for the library's notices: a damaged cache, ...)."""
    return lambda warning: print_warnings(console, [warning])


def load_checked(path: Path, settings: EngineSettings, console: Console) -> Architecture:
    """Load and validate an architecture file (warnings printed) and check its cost against the budget."""
    architecture, warnings = load_architecture(path, settings.caps)
    print_warnings(console, warnings)
    check_budget(architecture, settings.budget)
    return architecture


def print_table(console: Console, table: Table) -> None:
    """A table on a terminal as Rich lays it out (fitted to its width); anywhere else (a pipe, a log
    file, CI) at its full natural width, every cell whole, instead of squeezed to 80 columns."""
    if console.is_terminal:
        console.print(table)
        return
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update_width(100_000), table).maximum
    # Console.print never goes wider than its console, so a console of the table's width prints it.
    wide = Console(file=console.file, width=max(natural, console.width), no_color=console.no_color)
    wide.print(table)
