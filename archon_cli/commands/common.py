"""What every command shares: warnings on the terminal, the checks of an architecture file
before any call, and the report's imports started early."""

from __future__ import annotations

import contextlib
import importlib
import threading
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


def preload_report() -> None:
    """Import what the report at the end of a command takes (the report modules and matplotlib,
    about 0.4 s) in a background thread, while the command waits on the network: the report is
    then written at once. Nothing else runs in that thread."""

    def load() -> None:
        with contextlib.suppress(Exception):  # an import that fails fails again, with its message, where used
            importlib.import_module("archon_cli.commands.view")
            importlib.import_module("archon_cli.report.plots").import_matplotlib()

    # Not a daemon: the interpreter waits for it at exit. A daemon thread stopped at exit in the
    # middle of an import would keep that module's lock, and an import at exit (LiteLLM's clients
    # import as they close) would wait for it for ever.
    threading.Thread(target=load, name="archon-preload-report").start()
