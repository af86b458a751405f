"""Validated settings: architectures (and the original Archon JSON format), budget files."""

from archon_cli.config.architecture import Architecture, load_architecture, parse_architecture
from archon_cli.config.budget import check_budget, load_budget

__all__ = ["Architecture", "check_budget", "load_architecture", "load_budget", "parse_architecture"]
